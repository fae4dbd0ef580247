"""`WeightedCNN`: the paper's CNN with K softmax outputs and per-event weights.

The paper's network (:class:`~wimpsift.models.cnn.PaperCNN`, its architecture and
Keras-style L2 penalties) with ``n_outputs`` = K classes, trained with Adam on the
*weighted* mean cross-entropy Σ wᵢ CEᵢ / Σ wᵢ (+ the L2 penalties). Two uses against
every background of a detector (:mod:`wimpsift.pipelines.cnn_backgrounds`):

- WIMP against all (K = 2): background events weighted by their expected rate (the
  expected mix), the two classes to equal total weight — the softmax of two outputs
  is the paper's sigmoid;
- multi-class (K = 1 + number of backgrounds): each class to equal total weight; the
  softmax then estimates p(x | c) / Σ_c' p(x | c') and the caller combines it with the
  expected mix into a likelihood ratio.

Why not :class:`~wimpsift.training.cnn_estimator.CNNClassifier`: that is the paper's
unweighted binary sigmoid estimator (its grid search, resume and export depend on
it); weighted and multi-class losses need the weights and the class index in every
batch. The training loop here is kept minimal: fixed epochs, the weights of the epoch
with the lowest weighted validation loss are kept (the paper's best-weights rule).

Reproducibility: initialisation, dropout and shuffling draw from their own
``torch.Generator`` objects, children of ``random_state`` (torch's global generator is
never seeded or used), so the same seed gives the same weights on CPU.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from wimpsift.errors import DataError, bad_value
from wimpsift.models.cnn import PaperCNN, count_parameters
from wimpsift.seeding import torch_generator
from wimpsift.training.cnn_estimator import CNNTrainingConfig, as_image_array, resolve_device


def _weighted_loss(model: PaperCNN, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor
                   ) -> torch.Tensor:
    ce = F.cross_entropy(model(x), y, reduction="none")
    return (w * ce).sum() / w.sum().clamp_min(1e-30)


class WeightedCNN:
    """Softmax CNN over ``n_classes`` classes trained on weighted events (see module)."""

    def __init__(self, n_classes: int, epochs: int = 8, batch_size: int = 100,
                 learning_rate: float = 0.001, validation_fraction: float = 0.2,
                 random_state: int = 0, device: str | None = None, threads: int = 1,
                 **architecture: Any) -> None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise bad_value("n_classes", n_classes, "at least 2 classes")
        if not 0 < validation_fraction < 1:
            raise bad_value("validation_fraction", validation_fraction, "a fraction in (0, 1)")
        self.n_classes = n_classes
        self.validation_fraction = validation_fraction
        self.threads = threads
        self.config = CNNTrainingConfig(epochs=epochs, batch_size=batch_size,
                                        learning_rate=learning_rate, random_state=random_state,
                                        device=device, **architecture)

    def fit(self, X: Any, labels: Any, sample_weight: Any) -> WeightedCNN:
        """Train on images ``X`` with class indices ``labels`` (0..K-1) and weights."""
        arr = as_image_array(X, "X")
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
        tensors = (torch.from_numpy(arr), torch.from_numpy(y.astype(np.int64)),
                   torch.from_numpy((w / w.mean()).astype(np.float32)))
        old_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            self._train(cfg, device, tensors, torch.from_numpy(train), torch.from_numpy(val))
        finally:
            torch.set_num_threads(old_threads)
        return self

    def _train(self, cfg: CNNTrainingConfig, device: torch.device,
               tensors: tuple[torch.Tensor, ...], train: torch.Tensor, val: torch.Tensor
               ) -> None:
        X, y, w = tensors
        model = PaperCNN(tuple(X.shape[1:]), cfg.architecture(),
                         generator=torch_generator(cfg.random_state, "weights"),
                         dropout_generator=torch_generator(cfg.random_state, "dropout", device=device),
                         n_outputs=self.n_classes)
        model = model.to(device)
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
                loss = _weighted_loss(model, xb, yb, wb) + model.l2_penalty()
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * float(wb.sum())
                weight += float(wb.sum())
            model.eval()
            with torch.no_grad():
                vloss = sum(float(_weighted_loss(model, X[b].to(device), y[b].to(device),
                                                 w[b].to(device))) * float(w[b].sum())
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
        self.n_parameters_ = count_parameters(model)

    @torch.no_grad()
    def predict_log_proba(self, X: Any, batch_size: int = 500) -> np.ndarray:
        """log softmax outputs, (N, K) float64."""
        if not hasattr(self, "model_"):
            raise DataError("WeightedCNN: not fitted yet; call fit first")
        arr = torch.from_numpy(as_image_array(X, "X"))
        out = [F.log_softmax(self.model_(b.to(self.device_)).double(), dim=1).cpu()
               for b in arr.split(batch_size)]
        return torch.cat(out).numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax outputs, (N, K) float64."""
        return np.exp(self.predict_log_proba(X))

    def fit_info(self) -> dict[str, Any]:
        """Training summary for metrics.json."""
        return {"n_classes": self.n_classes, "best_epoch": self.best_epoch_,
                "fit_time_s": self.fit_time_s_, "n_parameters": self.n_parameters_,
                "history": self.history_, "settings": self.config.model_dump(mode="json")}
