"""`CNNClassifier`: the paper's CNN behind a scikit-learn estimator.

``__init__`` only stores settings; :meth:`CNNClassifier.fit` validates the settings
(pydantic, ``extra="forbid"``) and the data, trains with Adam on binary cross-entropy
plus the Keras-style L2 penalties, and sets trailing-underscore attributes:

``classes_``, ``input_shape_``, ``model_`` (the :class:`~wimpsift.models.cnn.PaperCNN`),
``history_`` (per-epoch loss, accuracy, precision, recall for training and, when
``validation_data`` is given, validation), ``checkpoints_`` (state dicts at the epochs in
``checkpoint_epochs``), ``best_epoch_``/``best_state_`` (best validation ``monitor``),
``fit_time_s_`` and ``images_per_s_``.

Inputs: a float32 array ``(N, H, W)`` or ``(N, C, H, W)`` with pixels in [0, 1] and a
label vector, or any ``torch.utils.data.Dataset`` whose items are ``(image, label)``.
The input checks live in :mod:`wimpsift.training.image_inputs` (shared with the grid
search); saving, loading and export in :mod:`wimpsift.io.cnn_model`.

Reproducibility: the weights' initialisation, dropout masks and shuffling come from
``random_state`` only, through three ``torch.Generator`` objects seeded from its
children ``"weights"``, ``"dropout"`` and ``"shuffle"`` (:mod:`wimpsift.seeding`);
torch's global generator is neither seeded nor used, so the caller's random state is
untouched. On CPU the same seed gives bit-identical
weights, and stopping at epoch *k* of a longer run gives the same weights as a run of
*k* epochs (the random streams do not depend on the total number of epochs): this is
what lets the grid search read every epoch of its grid from one training. Training and
prediction run inside :func:`~wimpsift.training.torch_state.same_bits`: the thread count
pinned and, on CUDA, deterministic kernels asked for.

Resuming: after ``fit``, ``training_state_`` holds everything the next epoch needs (the
weights, Adam's moments, the dropout and shuffling generators' states, the history).
``fit(X, y, resume_from=state)`` with a larger ``epochs`` continues from it, and on CPU
gives bit-identical weights to one uninterrupted training (tested). The successive-halving
grid search uses this to extend only the surviving trials. During ``fit``,
``current_state()`` (called from ``epoch_callback``) gives the same state after any
epoch (with the best validation epoch's weights when trained with ``validation_data``,
so ``restore_best_weights`` restores the same weights after a continuation). The grid
search's trials and the CNN reproduction's final models save it as a checkpoint
(:mod:`wimpsift.training.checkpoints`), so a training stopped part-way (a killed batch
job) continues from its last checkpoint instead of from scratch.

Speed: on Linux/glibc, training is much faster with malloc's mmap and trim thresholds
raised (:mod:`wimpsift.allocator`); ``fit`` does not change this process-wide setting
itself: the command line and the executor's worker processes set it once.

Metrics during training follow Keras: the training columns are averaged over the
batches of the epoch (dropout active), the validation columns are computed on the
whole validation set in evaluation mode after the epoch; both losses include the L2
penalty.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, ValidationError, field_validator
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from torch.nn import functional as F  # noqa: N812
from torch.utils.data import DataLoader, Dataset

from wimpsift.config import WimpsiftConfig
from wimpsift.errors import ConfigError, DataError, validation_message
from wimpsift.models.cnn import CNNArchitecture, PaperCNN, count_parameters
from wimpsift.seeding import torch_generator
from wimpsift.training.image_inputs import as_image_array, check_labels, resolve_device
from wimpsift.training.torch_state import same_bits

EpochCallback = Callable[[int, "CNNClassifier"], None]
_HISTORY_KEYS = ("loss", "accuracy", "precision", "recall")


class CNNTrainingConfig(WimpsiftConfig):
    """Validated settings of :class:`CNNClassifier` (built from ``get_params()``)."""

    n_conv_layers: int = Field(1, ge=1, le=3)
    leaky_alpha: float = Field(0.05, ge=0.0, lt=1.0)
    pool_stride: int = Field(2, ge=1)
    n_filters: int = Field(16, ge=1)
    dense_units: int = Field(32, ge=1)
    conv_dropout: float = Field(0.25, ge=0.0, lt=1.0)
    dense_dropout: float = Field(0.5, ge=0.0, lt=1.0)
    conv_l2: float = Field(0.005, ge=0.0)
    dense_l2: float = Field(0.001, ge=0.0)
    epochs: int = Field(50, ge=1)
    batch_size: int = Field(100, ge=1)
    learning_rate: float = Field(0.001, gt=0.0)
    random_state: int = Field(0, ge=0)
    device: str | None = None
    checkpoint_epochs: tuple[int, ...] = ()
    monitor: Literal["val_loss", "val_accuracy", "val_precision", "val_recall"] = "val_loss"
    restore_best_weights: bool = False
    eval_batch_size: int = Field(200, ge=1)
    num_threads: int | None = Field(None, ge=1)
    verbose: bool = False

    @field_validator("checkpoint_epochs")
    @classmethod
    def _positive(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(e < 1 for e in value):
            raise ValueError("checkpoint epochs must be >= 1")
        return tuple(sorted(set(value)))

    def architecture(self) -> CNNArchitecture:
        return CNNArchitecture(
            n_conv_layers=self.n_conv_layers, n_filters=self.n_filters,
            leaky_alpha=self.leaky_alpha, pool_stride=self.pool_stride,
            conv_dropout=self.conv_dropout, dense_units=self.dense_units,
            dense_dropout=self.dense_dropout, conv_l2=self.conv_l2, dense_l2=self.dense_l2,
        )


def _dataset_labels(dataset: Dataset) -> np.ndarray:
    labels = getattr(dataset, "labels", None)
    if labels is None:
        labels = [float(dataset[i][1]) for i in range(len(dataset))]  # type: ignore[arg-type]
    return np.asarray(labels)


def _check_batch(x: torch.Tensor, shape: tuple[int, ...], parameter: str) -> torch.Tensor:
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if tuple(x.shape[1:]) != shape:
        raise DataError(
            f"{parameter}: mismatched image shapes: got {tuple(x.shape[1:])}, expected {shape}"
        )
    if not torch.isfinite(x).all():
        raise DataError(f"{parameter}: images have non-finite pixels (NaN or inf)")
    return x.float()


class _Batches:
    """Uniform batching over an in-memory array or a torch Dataset."""

    def __init__(self, X: Any, y: Any, parameter: str, classes: np.ndarray | None = None):
        self.parameter = parameter
        if isinstance(X, Dataset):
            if y is not None:
                raise ConfigError(f"{parameter}: pass labels inside the Dataset, not as y")
            self.dataset: Dataset | None = X
            self.n = len(X)  # type: ignore[arg-type]
            if self.n == 0:
                raise DataError(f"{parameter}: the Dataset is empty")
            first = torch.as_tensor(np.asarray(X[0][0], dtype=np.float32))
            self.shape = tuple((first.unsqueeze(0) if first.ndim == 2 else first).shape)
            raw = _dataset_labels(X)
            self.X = self.y = None
        else:
            self.dataset = None
            arr = as_image_array(X, parameter)
            self.n, self.shape = len(arr), tuple(arr.shape[1:])
            self.X = torch.from_numpy(arr)
            raw = y
        if y is None and self.dataset is None:
            raise DataError(f"{parameter}: labels are missing")
        if classes is None:
            self.classes, y01 = check_labels(raw, self.n)
        else:
            raw = np.asarray(raw)
            if len(raw) != self.n:
                raise DataError(f"{parameter}: got {len(raw)} labels for {self.n} images")
            unknown = np.setdiff1d(np.unique(raw), classes)
            if len(unknown):
                raise DataError(f"{parameter}: labels {unknown.tolist()} not seen in fit")
            self.classes, y01 = classes, (raw == classes[1]).astype(np.float32)
        self.y = torch.from_numpy(y01)

    def iterate(self, batch_size: int, generator: torch.Generator | None):
        """Yield (x, y01) batches, shuffled when a generator is given."""
        if self.dataset is None:
            order = (torch.randperm(self.n, generator=generator) if generator is not None
                     else torch.arange(self.n))
            for start in range(0, self.n, batch_size):
                idx = order[start:start + batch_size]
                yield self.X[idx], self.y[idx]
            return
        # a DataLoader draws a base seed from its generator on every pass: without one it
        # would draw it from torch's global generator
        loader = DataLoader(self.dataset, batch_size=batch_size, shuffle=generator is not None,
                            generator=generator if generator is not None else torch.Generator())
        positive = self.classes[1]
        for xb, yb in loader:
            xb = _check_batch(torch.as_tensor(xb), self.shape, self.parameter)
            yb = torch.from_numpy((np.asarray(yb) == positive).astype(np.float32))
            yield xb, yb


def _counts(pred: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    p, t = pred.bool(), truth.bool()
    return np.array([(p & t).sum().item(), (p & ~t).sum().item(), (~p & t).sum().item(),
                     (~p & ~t).sum().item()], dtype=np.int64)


def _rates(counts: np.ndarray) -> tuple[float, float, float]:
    tp, fp, fn, tn = (int(c) for c in counts)
    total = tp + fp + fn + tn
    accuracy = (tp + tn) / total if total else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return accuracy, precision, recall


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """The paper's CNN with scikit-learn conventions (see the module docstring)."""

    def __init__(
        self,
        n_conv_layers: int = 1,
        leaky_alpha: float = 0.05,
        pool_stride: int = 2,
        epochs: int = 50,
        batch_size: int = 100,
        learning_rate: float = 0.001,
        n_filters: int = 16,
        dense_units: int = 32,
        conv_dropout: float = 0.25,
        dense_dropout: float = 0.5,
        conv_l2: float = 0.005,
        dense_l2: float = 0.001,
        random_state: int = 0,
        device: str | None = None,
        checkpoint_epochs: Sequence[int] = (),
        monitor: str = "val_loss",
        restore_best_weights: bool = False,
        eval_batch_size: int = 200,
        num_threads: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.n_conv_layers = n_conv_layers
        self.leaky_alpha = leaky_alpha
        self.pool_stride = pool_stride
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_filters = n_filters
        self.dense_units = dense_units
        self.conv_dropout = conv_dropout
        self.dense_dropout = dense_dropout
        self.conv_l2 = conv_l2
        self.dense_l2 = dense_l2
        self.random_state = random_state
        self.device = device
        self.checkpoint_epochs = checkpoint_epochs
        self.monitor = monitor
        self.restore_best_weights = restore_best_weights
        self.eval_batch_size = eval_batch_size
        self.num_threads = num_threads
        self.verbose = verbose

    # ------------------------------------------------------------------ settings
    def config(self) -> CNNTrainingConfig:
        """The validated settings; raises :class:`ConfigError` naming every bad one."""
        params = self.get_params()
        params["checkpoint_epochs"] = tuple(params["checkpoint_epochs"] or ())
        try:
            return CNNTrainingConfig(**params)
        except ValidationError as err:
            raise ConfigError(f"CNNClassifier: {validation_message(err)}") from err

    # ------------------------------------------------------------------ training
    def fit(
        self,
        X: Any,
        y: Any = None,
        validation_data: tuple[Any, Any] | Dataset | None = None,
        epoch_callback: EpochCallback | None = None,
        resume_from: dict[str, Any] | None = None,
    ) -> CNNClassifier:
        """Train; ``epoch_callback(epoch, self)`` runs after every epoch (1-based).

        ``resume_from``: a ``training_state_`` of an earlier fit with the same settings
        and data; training continues from its epoch up to ``epochs``.
        """
        cfg = self.config()
        if cfg.restore_best_weights and validation_data is None:  # it would be ignored
            raise ConfigError("restore_best_weights: only with validation_data (the best epoch is "
                              f"the best {cfg.monitor} on it); give validation_data to fit, or "
                              "restore_best_weights=False for the last epoch's weights")
        if resume_from is not None:
            _check_resume(resume_from, cfg)
        device = resolve_device(cfg.device)
        train = _Batches(X, y, "X")
        val = None
        if validation_data is not None:
            vx, vy = ((validation_data, None) if isinstance(validation_data, Dataset)
                      else validation_data)
            val = _Batches(vx, vy, "validation_data", classes=train.classes)
            if val.shape != train.shape:
                raise DataError(
                    f"validation_data: mismatched image shapes: got {val.shape}, "
                    f"expected {train.shape} as in X"
                )
        self.classes_ = train.classes
        self.input_shape_ = train.shape
        self.n_features_in_ = int(np.prod(train.shape))
        with same_bits(device, cfg.num_threads):
            self._train(cfg, device, train, val, epoch_callback, resume_from)
        return self

    def _train(self, cfg: CNNTrainingConfig, device: torch.device, train: _Batches,
               val: _Batches | None, epoch_callback: EpochCallback | None,
               resume_from: dict[str, Any] | None = None) -> None:
        model = PaperCNN(
            train.shape, cfg.architecture(),
            generator=torch_generator(cfg.random_state, "weights"),
            dropout_generator=torch_generator(cfg.random_state, "dropout", device=device),
        ).to(device)
        self.model_ = model
        self.device_ = device
        self.n_parameters_ = count_parameters(model)
        optimiser = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
        shuffle = torch_generator(cfg.random_state, "shuffle")  # its own child stream
        history: dict[str, list[float]] = {"epoch": []}
        for key in _HISTORY_KEYS:
            history[key] = []
            if val is not None:
                history[f"val_{key}"] = []
        first_epoch = 1
        if resume_from is not None:
            first_epoch = _restore(resume_from, model, optimiser, shuffle, history)
        self.history_ = history
        self._live = (cfg, model, optimiser, shuffle)
        self.checkpoints_: dict[int, dict[str, torch.Tensor]] = {}
        self.best_epoch_: int | None = None
        self.best_state_: dict[str, torch.Tensor] | None = None
        best_value: float | None = None
        sign = 1.0 if cfg.monitor == "val_loss" else -1.0
        if resume_from is not None and val is not None:
            # the best epoch so far, from the history, by the rule of the loop below
            for epoch, current in zip(history["epoch"], history[cfg.monitor], strict=True):
                if best_value is None or sign * current < sign * best_value:
                    best_value, self.best_epoch_ = current, epoch
            if self.best_epoch_ is not None:
                if resume_from.get(_BEST_KEY) is None:
                    raise DataError("resume_from: has no best_state, expected the weights of "
                                    "its best epoch (a state saved with validation_data)")
                self.best_state_ = {k: v.clone() for k, v in resume_from[_BEST_KEY].items()}
        start = time.perf_counter()
        seen = 0
        for epoch in range(first_epoch, cfg.epochs + 1):
            model.train()
            loss_sum, counts, n_epoch = 0.0, np.zeros(4, dtype=np.int64), 0
            for xb, yb in train.iterate(cfg.batch_size, shuffle):
                xb, yb = xb.to(device), yb.to(device)
                logits = model(xb)
                loss = F.binary_cross_entropy_with_logits(logits, yb) + model.l2_penalty()
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                loss_sum += float(loss.detach()) * len(xb)
                counts += _counts(logits.detach() >= 0, yb)
                n_epoch += len(xb)
            seen += n_epoch
            acc, prec, rec = _rates(counts)
            history["epoch"].append(epoch)
            for key, value in zip(_HISTORY_KEYS, (loss_sum / n_epoch, acc, prec, rec),
                                  strict=True):
                history[key].append(value)
            if val is not None:
                vloss, vacc, vprec, vrec = self._evaluate(val, cfg.eval_batch_size)
                for key, value in zip(_HISTORY_KEYS, (vloss, vacc, vprec, vrec), strict=True):
                    history[f"val_{key}"].append(value)
                current = history[cfg.monitor][-1]
                if best_value is None or sign * current < sign * best_value:
                    best_value, self.best_epoch_ = current, epoch
                    self.best_state_ = cpu_state(model)
            if epoch in cfg.checkpoint_epochs:
                self.checkpoints_[epoch] = cpu_state(model)
            if cfg.verbose:
                line = " ".join(f"{k}={v[-1]:.4f}" for k, v in history.items() if k != "epoch")
                print(f"epoch {epoch}/{cfg.epochs}: {line}", flush=True)
            if epoch_callback is not None:
                epoch_callback(epoch, self)
        self.fit_time_s_ = time.perf_counter() - start
        self.images_per_s_ = seen / self.fit_time_s_ if self.fit_time_s_ > 0 else float("nan")
        self.n_epochs_trained_ = cfg.epochs
        self.training_state_ = self.current_state()
        self._live = None
        if cfg.restore_best_weights and self.best_state_ is not None:
            model.load_state_dict(self.best_state_)
        model.eval()

    def current_state(self) -> dict[str, Any]:
        """The training state after the last finished epoch, as ``training_state_``:
        callable from ``epoch_callback`` during ``fit`` (to save a checkpoint that a later
        ``fit(resume_from=...)`` continues exactly), and after it."""
        live = getattr(self, "_live", None)
        if live is None:
            self._check_fitted()
            return self.training_state_
        cfg, model, optimiser, shuffle = live
        state = {
            "epoch": int(self.history_["epoch"][-1]) if self.history_["epoch"] else 0,
            "settings": _resume_settings(cfg),
            "model": cpu_state(model),
            "optimiser": copy.deepcopy(optimiser.state_dict()),
            "dropout_rng": model.dropout_generator.get_state(),
            "shuffle_rng": shuffle.get_state(),
            "history": copy.deepcopy(self.history_),
        }
        if self.best_state_ is not None:  # trained with validation_data
            state[_BEST_KEY] = {k: v.clone() for k, v in self.best_state_.items()}
        return state

    def _evaluate(self, data: _Batches, batch_size: int) -> tuple[float, float, float, float]:
        logits = self._logits_batches(data, batch_size)
        y = data.y
        loss = float(F.binary_cross_entropy_with_logits(logits, y)) + float(
            self.model_.l2_penalty().detach().cpu()
        )
        acc, prec, rec = _rates(_counts(logits >= 0, y))
        return loss, acc, prec, rec

    @torch.no_grad()
    def _logits_batches(self, data: _Batches, batch_size: int) -> torch.Tensor:
        was_training = self.model_.training
        self.model_.eval()
        with same_bits(self.device_, None):
            out = [self.model_(xb.to(self.device_)).float().cpu()
                   for xb, _ in data.iterate(batch_size, None)]
        self.model_.train(was_training)
        return torch.cat(out)

    # ------------------------------------------------------------------ inference
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("CNNClassifier is not fitted yet; call fit first")

    def _as_batches(self, X: Any) -> _Batches:
        if isinstance(X, Dataset):
            data = _Batches.__new__(_Batches)
            data.parameter, data.dataset, data.n = "X", X, len(X)  # type: ignore[arg-type]
            first = torch.as_tensor(np.asarray(X[0][0], dtype=np.float32))
            data.shape = tuple((first.unsqueeze(0) if first.ndim == 2 else first).shape)
            data.y = torch.zeros(data.n)
            data.classes = self.classes_
        else:
            arr = as_image_array(X, "X")
            data = _Batches.__new__(_Batches)
            data.parameter, data.dataset, data.n = "X", None, len(arr)
            data.shape, data.X = tuple(arr.shape[1:]), torch.from_numpy(arr)
            data.y = torch.zeros(len(arr))
        if data.shape != tuple(self.input_shape_):
            raise DataError(
                f"X: mismatched image shapes: got {data.shape}, the model was fitted on "
                f"{tuple(self.input_shape_)}"
            )
        return data

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits (the sigmoid's input), float64, shape (N,)."""
        self._check_fitted()
        logits = self._logits_batches(self._as_batches(X), int(self.eval_batch_size))
        return logits.double().numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities ``[P(classes_[0]), P(classes_[1])]``, float64, shape (N, 2).

        The sigmoid is applied in float64 to float32 logits, so scores of very
        confident events stay distinct (no ties at exactly 1.0) for ROC/rejection.
        """
        p1 = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: Any) -> np.ndarray:
        """Class labels at probability threshold 0.5."""
        return self.classes_[(self.decision_function(X) >= 0).astype(int)]

    def load_checkpoint(self, epoch: int) -> CNNClassifier:
        """Set the model's weights to those saved at ``epoch``; returns self."""
        self._check_fitted()
        if epoch not in self.checkpoints_:
            raise ConfigError(
                f"epoch: got {epoch!r}, expected one of the checkpoint epochs "
                f"{sorted(self.checkpoints_)}"
            )
        self.model_.load_state_dict(self.checkpoints_[epoch])
        self.model_.eval()
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if "device_" in state:
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "device_" in state:
            state["device_"] = torch.device(state["device_"])
        self.__dict__.update(state)


_RESUME_KEYS = ("epoch", "settings", "model", "optimiser", "dropout_rng", "shuffle_rng",
                "history")
#: the weights of the best validation epoch, in the state of a training with validation_data
_BEST_KEY = "best_state"


def is_training_state(state: Any) -> bool:
    """Whether ``state`` has the keys of a ``training_state_``."""
    return isinstance(state, dict) and set(_RESUME_KEYS) <= set(state) <= {*_RESUME_KEYS,
                                                                          _BEST_KEY}


def _resume_settings(cfg: CNNTrainingConfig) -> dict[str, Any]:
    """The settings a resumed training must share with the one it continues."""
    return cfg.model_dump(exclude={"epochs", "device", "checkpoint_epochs", "monitor",
                                   "restore_best_weights", "eval_batch_size", "num_threads",
                                   "verbose"})


def _check_resume(state: dict[str, Any], cfg: CNNTrainingConfig) -> None:
    if not is_training_state(state):
        raise DataError(f"resume_from: expected a training_state_ dict with keys "
                        f"{list(_RESUME_KEYS)} (and {_BEST_KEY!r} with validation_data)")
    if state["epoch"] >= cfg.epochs:
        raise ConfigError(f"epochs: got {cfg.epochs}, expected more than the "
                          f"{state['epoch']} epochs of resume_from")
    mine = _resume_settings(cfg)
    diff = sorted(k for k in mine if state["settings"].get(k) != mine[k])
    if diff:
        raise ConfigError(f"resume_from: trained with different settings {diff}: "
                          f"{ {k: state['settings'].get(k) for k in diff} }, expected "
                          f"{ {k: mine[k] for k in diff} }")


def _restore(state: dict[str, Any], model: PaperCNN, optimiser: torch.optim.Optimizer,
             shuffle: torch.Generator, history: dict[str, list[float]]) -> int:
    """Load a training_state_ into a fresh model and optimiser; returns the next epoch."""
    model.load_state_dict(state["model"])
    # a copy: Adam would otherwise update the saved moments in place, and a second
    # continuation of the same state would start from the first one's end
    optimiser.load_state_dict(copy.deepcopy(state["optimiser"]))
    model.dropout_generator.set_state(state["dropout_rng"])
    shuffle.set_state(state["shuffle_rng"])
    if set(state["history"]) != set(history):
        raise DataError("resume_from: its history has different columns; give the same "
                        "validation_data (or none) as the training it continues")
    for key, values in state["history"].items():
        history[key].extend(values)
    return int(state["epoch"]) + 1


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
