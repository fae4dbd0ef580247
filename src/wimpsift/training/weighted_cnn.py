"""`WeightedCNN`: the paper's CNN with K softmax outputs and per-event weights.

The paper's network (:class:`~wimpsift.models.cnn.PaperCNN`, its architecture and
Keras-style L2 penalties) with ``n_outputs`` = K classes, trained with Adam on the
*weighted* mean cross-entropy Σ wᵢ CEᵢ / Σ wᵢ (+ the L2 penalties). Two uses against
every background of a detector (:mod:`wimpsift.training.background_classifiers`):

- WIMP against all (K = 2): background events weighted by their expected rate (the
  expected mix), the two classes to equal total weight — the softmax of two outputs
  is the paper's sigmoid;
- multi-class (K = 1 + number of backgrounds): each class to equal total weight; the
  softmax then estimates p(x | c) / Σ_c' p(x | c') and the caller combines it with the
  expected mix into a likelihood ratio.

With ``n_scalars`` = S > 0 the network is the hybrid of :class:`PaperCNN`: its dense
layer also reads S event-level numbers per event (``scalars`` of :meth:`fit` and
:meth:`predict_log_proba`), standardised with the training set's mean and standard
deviation (stored in ``scalar_mean_``/``scalar_scale_``).

Why not :class:`~wimpsift.training.cnn_estimator.CNNClassifier`: that is the paper's
unweighted binary sigmoid estimator (its grid search, resume and export depend on
it); weighted and multi-class losses need the weights and the class index in every
batch. The training loop here is kept minimal: fixed epochs, the weights of the epoch
with the lowest weighted validation loss are kept (the paper's best-weights rule).

:class:`WeightedCNNEnsemble` trains several of them with different seeds and averages
their log-softmax outputs (scikit-learn's ``VotingClassifier`` would need estimators of
one input array; these read images and event scalars, with per-event weights).

Reproducibility: initialisation, dropout and shuffling draw from their own
``torch.Generator`` objects, children of ``random_state`` (torch's global generator is
never seeded or used), so the same seed gives the same weights on CPU; on CUDA, fits and
predictions ask for deterministic kernels (:mod:`wimpsift.training.torch_state`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import logsumexp
from torch.nn import functional as F  # noqa: N812

from wimpsift.cache import Cache, CacheEntry, array_digest
from wimpsift.errors import DataError, bad_value
from wimpsift.execution import Executor, Task, in_process
from wimpsift.models.cnn import PaperCNN, count_parameters
from wimpsift.provenance import source_digest
from wimpsift.seeding import int_seed, torch_generator
from wimpsift.training.cnn_estimator import CNNTrainingConfig, as_image_array, resolve_device
from wimpsift.training.torch_state import same_bits


def _weighted_loss(model: PaperCNN, x: torch.Tensor, s: torch.Tensor | None, y: torch.Tensor,
                   w: torch.Tensor) -> torch.Tensor:
    ce = F.cross_entropy(model(x, s), y, reduction="none")
    return (w * ce).sum() / w.sum().clamp_min(1e-30)


class WeightedCNN:
    """Softmax CNN over ``n_classes`` classes trained on weighted events (see module)."""

    def __init__(self, n_classes: int, epochs: int = 8, batch_size: int = 100,
                 learning_rate: float = 0.001, validation_fraction: float = 0.2,
                 random_state: int = 0, device: str | None = None, threads: int = 1,
                 n_scalars: int = 0, **architecture: Any) -> None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise bad_value("n_classes", n_classes, "at least 2 classes")
        if isinstance(n_scalars, bool) or not isinstance(n_scalars, int) or n_scalars < 0:
            raise bad_value("n_scalars", n_scalars, "a non-negative number of event scalars")
        self.n_scalars = n_scalars
        if not 0 < validation_fraction < 1:
            raise bad_value("validation_fraction", validation_fraction, "a fraction in (0, 1)")
        self.n_classes = n_classes
        self.validation_fraction = validation_fraction
        self.threads = threads
        self.config = CNNTrainingConfig(epochs=epochs, batch_size=batch_size,
                                        learning_rate=learning_rate, random_state=random_state,
                                        device=device, **architecture)

    def _scalars(self, scalars: Any, n: int) -> torch.Tensor | None:
        if not self.n_scalars:
            return None
        s = np.asarray(scalars if scalars is not None else np.empty((0, 0)), dtype=float)
        if s.shape != (n, self.n_scalars) or not np.isfinite(s).all():
            raise DataError(f"scalars: expected finite values of shape ({n}, {self.n_scalars})")
        if not hasattr(self, "scalar_mean_"):
            self.scalar_mean_ = s.mean(axis=0)
            self.scalar_scale_ = np.where(s.std(axis=0) > 0, s.std(axis=0), 1.0)
        return torch.from_numpy(((s - self.scalar_mean_) / self.scalar_scale_).astype(np.float32))

    def fit(self, X: Any, labels: Any, sample_weight: Any, scalars: Any = None) -> WeightedCNN:
        """Train on images ``X`` with class indices ``labels`` (0..K-1) and weights
        (and, for the hybrid, the event ``scalars``, shape (N, ``n_scalars``))."""
        arr = as_image_array(X, "X")
        for name in ("scalar_mean_", "scalar_scale_"):
            self.__dict__.pop(name, None)
        y = np.asarray(labels)
        w = np.asarray(sample_weight, dtype=float)
        if y.shape != (len(arr),) or w.shape != (len(arr),):
            raise DataError(f"labels, sample_weight: expected shape ({len(arr)},)")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= self.n_classes:
            raise DataError(f"labels: expected class indices 0..{self.n_classes - 1}")
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise DataError("sample_weight: expected finite non-negative weights, not all 0")
        cfg = self.config
        device = resolve_device(cfg.device)
        rng = np.random.default_rng(cfg.random_state)
        order = rng.permutation(len(arr))
        n_val = max(1, int(round(self.validation_fraction * len(arr))))
        val, train = order[:n_val], order[n_val:]
        tensors = (torch.from_numpy(arr), self._scalars(scalars, len(arr)),
                   torch.from_numpy(y.astype(np.int64)),
                   torch.from_numpy((w / w.mean()).astype(np.float32)))
        with same_bits(device, self.threads):
            self._train(cfg, device, tensors, torch.from_numpy(train), torch.from_numpy(val))
        return self

    def _train(self, cfg: CNNTrainingConfig, device: torch.device,
               tensors: tuple[torch.Tensor, ...], train: torch.Tensor, val: torch.Tensor
               ) -> None:
        X, S, y, w = tensors

        def rows(idx: torch.Tensor) -> torch.Tensor | None:
            return None if S is None else S[idx].to(device)

        model = self._network(tuple(X.shape[1:]), device)
        optimiser = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
        shuffle = torch_generator(cfg.random_state, "shuffle")
        self.history_: dict[str, list[float]] = {"epoch": [], "loss": [], "val_loss": []}
        best, self.best_epoch_ = np.inf, 0
        best_state = None
        start = time.perf_counter()
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            perm = train[torch.randperm(len(train), generator=shuffle)]
            total, weight = 0.0, 0.0
            for i in range(0, len(perm), cfg.batch_size):
                idx = perm[i:i + cfg.batch_size]
                xb, yb, wb = X[idx].to(device), y[idx].to(device), w[idx].to(device)
                loss = _weighted_loss(model, xb, rows(idx), yb, wb) + model.l2_penalty()
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * float(wb.sum())
                weight += float(wb.sum())
            model.eval()
            with torch.no_grad():
                vloss = sum(float(_weighted_loss(model, X[b].to(device), rows(b),
                                                 y[b].to(device), w[b].to(device)))
                            * float(w[b].sum())
                            for b in val.split(1000)) / float(w[val].sum())
            vloss += float(model.l2_penalty().detach())
            self.history_["epoch"].append(epoch)
            self.history_["loss"].append(total / max(weight, 1e-30))
            self.history_["val_loss"].append(vloss)
            if vloss < best:
                best, self.best_epoch_ = vloss, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.fit_time_s_ = time.perf_counter() - start
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        self.model_, self.device_ = model, device
        self.image_shape_ = tuple(int(n) for n in X.shape[1:])
        self.n_parameters_ = count_parameters(model)

    def _network(self, image_shape: tuple[int, ...], device: torch.device) -> PaperCNN:
        cfg = self.config
        return PaperCNN(image_shape, cfg.architecture(),
                        generator=torch_generator(cfg.random_state, "weights"),
                        dropout_generator=torch_generator(cfg.random_state, "dropout",
                                                          device=device),
                        n_outputs=self.n_classes, n_scalars=self.n_scalars).to(device)

    def lineage(self) -> dict[str, Any]:
        """What a fit reads besides its events, for a cache key: the settings."""
        return {"n_classes": self.n_classes, "n_scalars": self.n_scalars,
                "validation_fraction": self.validation_fraction, "threads": self.threads,
                "device": resolve_device(self.config.device).type,
                "settings": self.config.model_dump(mode="json")}

    def state(self) -> dict[str, Any]:
        """The fitted network as numbers (its weights as arrays ``weight:<name>``) and
        its training summary: what :meth:`restore` reads back, as the run's cache stores
        it (arrays and JSON, no pickle)."""
        if not hasattr(self, "model_"):
            raise DataError("WeightedCNN: not fitted yet; call fit first")
        out: dict[str, Any] = {f"weight:{k}": v.detach().cpu().numpy()
                               for k, v in self.model_.state_dict().items()}
        out.update(image_shape=list(self.image_shape_), history=self.history_,
                   best_epoch=self.best_epoch_, fit_time_s=self.fit_time_s_)
        if self.n_scalars:
            out.update(scalar_mean=self.scalar_mean_, scalar_scale=self.scalar_scale_)
        return out

    def restore(self, state: Mapping[str, Any]) -> WeightedCNN:
        """This network as :meth:`state` recorded it (the same predictions, bit for bit)."""
        device = resolve_device(self.config.device)
        shape = tuple(int(n) for n in state["image_shape"])
        model = self._network(shape, device)
        model.load_state_dict({k.removeprefix("weight:"): torch.from_numpy(np.asarray(v))
                               for k, v in state.items() if k.startswith("weight:")})
        model.eval()
        if self.n_scalars:
            self.scalar_mean_ = np.asarray(state["scalar_mean"], float)
            self.scalar_scale_ = np.asarray(state["scalar_scale"], float)
        self.history_ = {k: list(v) for k, v in state["history"].items()}
        self.best_epoch_ = int(state["best_epoch"])
        self.fit_time_s_ = float(state["fit_time_s"])
        self.model_, self.device_, self.image_shape_ = model, device, shape
        self.n_parameters_ = count_parameters(model)
        return self

    @torch.no_grad()
    def predict_log_proba(self, X: Any, scalars: Any = None, batch_size: int = 500
                          ) -> np.ndarray:
        """log softmax outputs, (N, K) float64."""
        if not hasattr(self, "model_"):
            raise DataError("WeightedCNN: not fitted yet; call fit first")
        arr = torch.from_numpy(as_image_array(X, "X"))
        s = self._scalars(scalars, len(arr))
        out = []
        with same_bits(self.device_, self.threads):  # as in fit: the same bits anywhere
            for start in range(0, len(arr), batch_size):
                part = slice(start, start + batch_size)
                logits = self.model_(arr[part].to(self.device_),
                                     None if s is None else s[part].to(self.device_))
                out.append(F.log_softmax(logits.double(), dim=1).cpu())
        return torch.cat(out).numpy()

    def predict_proba(self, X: Any, scalars: Any = None) -> np.ndarray:
        """Softmax outputs, (N, K) float64."""
        return np.exp(self.predict_log_proba(X, scalars))

    def fit_info(self) -> dict[str, Any]:
        """Training summary for metrics.json."""
        return {"n_classes": self.n_classes, "n_scalars": self.n_scalars,
                "best_epoch": self.best_epoch_,
                "fit_time_s": self.fit_time_s_, "n_parameters": self.n_parameters_,
                "history": self.history_, "settings": self.config.model_dump(mode="json")}


class WeightedCNNEnsemble:
    """``size`` :class:`WeightedCNN` of one configuration trained on the same events with
    different seeds (member 0 with ``random_state`` itself, so ``size`` 1 is the single
    network; member k with ``int_seed(random_state, "ensemble", k)``). The prediction is
    the mean of the members' log-softmax outputs, renormalised — for two classes the mean
    logit. Retrained with another seed, one network's remaining background at 50 % WIMP
    acceptance moves by tens of per cent (:mod:`wimpsift.training.background_classifiers`);
    averaging members cuts that training noise at ``size`` × the training time."""

    def __init__(self, size: int, n_classes: int, random_state: int = 0, **kwargs: Any
                 ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise bad_value("size", size, "at least one network")
        self.members = [WeightedCNN(n_classes, random_state=(
            random_state if k == 0 else int_seed(random_state, "ensemble", k)), **kwargs)
            for k in range(size)]

    def fit(self, X: Any, labels: Any, sample_weight: Any, scalars: Any = None,
            executor: Executor | None = None) -> WeightedCNNEnsemble:
        """Fit every member on the same events (see :meth:`WeightedCNN.fit`), as parallel
        tasks on ``executor`` if given (:func:`fit_ensembles`)."""
        fit_ensembles({"ensemble": (self, X, labels, sample_weight, scalars)}, executor)
        return self

    def predict_member_log_proba(self, X: Any, scalars: Any = None,
                                 executor: Executor | None = None) -> np.ndarray:
        """Every member's log softmax outputs; (size, N, K) float64 (the members as
        parallel tasks on ``executor`` if given: :func:`predict_ensembles`)."""
        return predict_ensembles({"ensemble": (self, X, scalars)}, executor)["ensemble"]

    @staticmethod
    def combine(member_log_proba: np.ndarray) -> np.ndarray:
        """The ensemble's output from :meth:`predict_member_log_proba`'s: the members'
        mean, renormalised; (N, K)."""
        mean = np.mean(member_log_proba, axis=0)
        return mean - logsumexp(mean, axis=1, keepdims=True)

    def predict_log_proba(self, X: Any, scalars: Any = None) -> np.ndarray:
        """Mean of the members' log softmax outputs, renormalised; (N, K) float64."""
        return self.combine(self.predict_member_log_proba(X, scalars))

    def fit_info(self) -> dict[str, Any]:
        """Member 0's training summary, with every member's best epoch and fit time."""
        first = self.members[0].fit_info()
        return {**first, "ensemble_size": len(self.members),
                "best_epoch_members": [m.best_epoch_ for m in self.members],
                "fit_time_s": float(sum(m.fit_time_s_ for m in self.members)),
                "seeds": [m.config.random_state for m in self.members]}


MEMBER_STAGE = "cnn.ensemble_member"
MEMBER_STAGE_VERSION = 1


def _fit_member(member: WeightedCNN, X: Any, labels: Any, sample_weight: Any,
                scalars: Any, entry: CacheEntry | None = None) -> WeightedCNN:
    """Fit ``member``; with its cache ``entry`` (:func:`fit_ensembles`), a stored member
    is read back instead of trained, and a trained one stored."""
    if entry is None:
        return member.fit(X, labels, sample_weight, scalars)
    state = entry.load()
    if state is not None:
        with contextlib.suppress(KeyError, ValueError, TypeError, RuntimeError):
            return member.restore(state)  # a damaged entry is trained again
    member.fit(X, labels, sample_weight, scalars)
    entry.store(member.state())
    return member


def _predict_member(member: WeightedCNN, X: Any, scalars: Any) -> np.ndarray:
    return member.predict_log_proba(X, scalars)


def _sender(executor: Executor) -> Callable[[Any], Any]:
    """``send(array)``: ``array`` scattered to the workers once however often it is sent
    (None stays None)."""
    sent: dict[int, Any] = {}

    def send(array: Any) -> Any:
        if array is None:
            return None
        if id(array) not in sent:
            sent[id(array)] = executor.scatter(np.asarray(array))
        return sent[id(array)]

    return send


def fit_ensembles(jobs: Mapping[str, tuple[WeightedCNNEnsemble, Any, Any, Any, Any]],
                  executor: Executor | None = None, cache_dir: str | Path | None = None
                  ) -> None:
    """Fit the members of several ensembles, each ensemble on its own ``(X, labels,
    sample_weight, scalars)``, every member as one task of a single batch on ``executor``
    (default: one after another in this process), each distinct array sent once to each
    worker. A member's training depends only on its seed and events, so the fitted
    members are the same wherever they ran (bit for bit on CPU with one thread each,
    ``threads=1``, the default). With ``cache_dir`` each member is kept in the lineage
    cache there as soon as it is trained, and read back by a later call on the same
    events (:func:`_fit_member`; stage :data:`MEMBER_STAGE`, keyed by the member's
    settings, a digest of its ensemble's events, computed once here, and the source
    digest): a stopped run loses only the members in training."""
    executor = executor or in_process()
    send = _sender(executor)
    cache = None if cache_dir is None else Cache(cache_dir)
    tasks = {}
    for name, (ensemble, *data) in jobs.items():
        events = None if cache is None else array_digest(*data)
        for k, member in enumerate(ensemble.members):
            entry = None if cache is None else cache.entry(
                MEMBER_STAGE, MEMBER_STAGE_VERSION,
                {**member.lineage(), "data": events, "source_sha256": source_digest()})
            tasks[name, k] = Task(_fit_member, (member, *(send(a) for a in data), entry))
    for (name, k), member in executor.map(tasks, "CNN ensemble members").items():
        jobs[name][0].members[k] = member


def predict_ensembles(jobs: Mapping[str, tuple[WeightedCNNEnsemble, Any, Any]],
                      executor: Executor | None = None) -> dict[str, np.ndarray]:
    """Every member's log softmax outputs, (size, N, K), of each ensemble of ``jobs``
    on its own ``(X, scalars)``, every member as one task of a single batch on
    ``executor`` (default: in this process), each distinct array sent once. Members
    predict on their own ``threads`` (as they were fitted), so the outputs are the same
    bits wherever they ran."""
    executor = executor or in_process()
    send = _sender(executor)
    tasks = {(name, k): Task(_predict_member, (member, *(send(a) for a in data)))
             for name, (ensemble, *data) in jobs.items()
             for k, member in enumerate(ensemble.members)}
    out = executor.map(tasks, "CNN ensemble predictions")
    return {name: np.stack([out[name, k] for k in range(len(ensemble.members))])
            for name, (ensemble, *_) in jobs.items()}
