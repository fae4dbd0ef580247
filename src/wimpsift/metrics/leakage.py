"""Weighted ROC curve, its area, and background leakage at a fixed signal efficiency.

Conventions (as in the LUX machine-learning paper, Sec. III A): larger scores are more
signal-like; an event passes a cut ``score >= t``. The ROC curve is the background
leakage (weighted fraction of background passing, the false-positive rate) against the
signal efficiency (weighted fraction of signal passing, the true-positive rate). Tied
scores move together, so the curve has one point per distinct score: it is
``sklearn.metrics.roc_curve(labels, scores, sample_weight=w, drop_intermediate=False)``.

The one definition of "leakage at ε" used by every analysis (the LUX discriminants and
the CNN's ER rejection, :func:`wimpsift.metrics.classification.background_rejection_at_acceptance`):
the leakage read off this curve at signal efficiency ε by linear interpolation between
its points (the curve that ``sklearn.metrics.auc`` integrates). :func:`cut_at` gives the
cut of the first point that reaches ε, for reporting a threshold and a count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wimpsift.errors import ConfigError, DataError


@dataclass(frozen=True)
class RocCurve:
    """Weighted ROC: background leakage and signal efficiency per score threshold."""

    leakage: np.ndarray
    signal_efficiency: np.ndarray
    thresholds: np.ndarray

    @property
    def auc(self) -> float:
        return float(np.trapezoid(self.signal_efficiency, self.leakage))


def validate_scores(
    scores: object, labels: object, weights: object | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check (scores, labels, weights); raise DataError naming the bad parameter."""
    try:
        s = np.asarray(scores, dtype=float)
    except (TypeError, ValueError) as err:
        raise DataError(f"scores: cannot convert to a float array: {err}") from err
    y = np.asarray(labels)
    if s.ndim != 1:
        raise DataError(f"scores: got shape {s.shape}, expected a 1-D array")
    if s.size == 0:
        raise DataError("scores: the sample is empty, expected events of both classes")
    if y.shape != s.shape:
        raise DataError(f"labels: got shape {y.shape}, expected {s.shape} to match scores")
    if not np.all(np.isfinite(s)):
        raise DataError(f"scores: {int(np.sum(~np.isfinite(s)))} non-finite value(s)")
    if not np.isin(y, [0, 1]).all():
        raise DataError("labels: expected 0 (background) or 1 (signal) only")
    y = y.astype(int)
    if np.unique(y).size < 2:
        raise DataError(f"labels: one class only ({int(y[0])}), expected signal and background")
    if weights is None:
        w = np.ones_like(s)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != s.shape:
            raise DataError(f"weights: got shape {w.shape}, expected {s.shape}")
        if not np.all(np.isfinite(w)):
            raise DataError("weights: non-finite weights (NaN or inf)")
        if np.any(w < 0):
            raise DataError(f"weights: {int(np.sum(w < 0))} negative weight(s), expected >= 0")
        for c in (0, 1):
            if w[y == c].sum() <= 0:
                raise DataError(f"weights: class {c} has zero total weight")
    return s, y, w


def roc_curve(scores: object, labels: object, weights: object | None = None) -> RocCurve:
    """Weighted ROC curve (scikit-learn's), starting at (0, 0) and ending at (1, 1)."""
    from sklearn.metrics import roc_curve as sk_roc_curve

    s, y, w = validate_scores(scores, labels, weights)
    fpr, tpr, thresholds = sk_roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    thresholds = np.asarray(thresholds, dtype=float).copy()
    thresholds[0] = np.inf  # the (0, 0) point: nothing passes
    return RocCurve(leakage=np.asarray(fpr, dtype=float), signal_efficiency=np.asarray(tpr, dtype=float),
                    thresholds=thresholds)


def cut_at(curve: RocCurve, signal_efficiency: float = 0.5) -> tuple[float, float, float]:
    """(threshold, signal efficiency, leakage) of the first point reaching ``signal_efficiency``."""
    if not 0.0 < signal_efficiency <= 1.0:
        raise ConfigError(f"signal_efficiency: got {signal_efficiency!r}, expected 0 < e <= 1")
    j = int(np.searchsorted(curve.signal_efficiency, signal_efficiency, side="left"))
    return (float(curve.thresholds[j]), float(curve.signal_efficiency[j]), float(curve.leakage[j]))


def leakage_from_curve(curve: RocCurve, signal_efficiency: float = 0.5) -> float:
    """Background leakage at ``signal_efficiency``, linear interpolation on the curve."""
    if not 0.0 < signal_efficiency <= 1.0:
        raise ConfigError(f"signal_efficiency: got {signal_efficiency!r}, expected 0 < e <= 1")
    tpr, fpr = curve.signal_efficiency, curve.leakage
    # first point at or above the target, and the one before it
    j = int(np.searchsorted(tpr, signal_efficiency, side="left"))
    if tpr[j] == signal_efficiency or j == 0:
        return float(fpr[j])
    t0, t1, f0, f1 = tpr[j - 1], tpr[j], fpr[j - 1], fpr[j]
    return float(f0 + (f1 - f0) * (signal_efficiency - t0) / (t1 - t0))


def auc(scores: object, labels: object, weights: object | None = None) -> float:
    """Area under the weighted ROC curve (0.5: no discrimination, 1: perfect)."""
    return roc_curve(scores, labels, weights).auc


def leakage_at_signal_efficiency(
    scores: object, labels: object, weights: object | None = None, signal_efficiency: float = 0.5
) -> float:
    """Weighted background fraction passing the cut that keeps ``signal_efficiency``."""
    return leakage_from_curve(roc_curve(scores, labels, weights), signal_efficiency)


def discrimination_summary(
    scores: object, labels: object, weights: object | None = None
) -> dict[str, float]:
    """AUC and leakage at 50 % signal efficiency, as a JSON-able dict."""
    curve = roc_curve(scores, labels, weights)
    return {"auc": curve.auc, "leakage_at_50pct_signal": leakage_from_curve(curve, 0.5)}
