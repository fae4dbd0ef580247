"""Binary classification metrics for WIMP (positive, label 1) against ER (label 0).

Threshold metrics (accuracy, recall, precision) use a score threshold of 0.5, as the
paper's Table IV; threshold-free ones (average precision, ROC AUC) and the curves come
from scikit-learn. :func:`background_rejection_at_acceptance` gives the paper's headline
number: the fraction of ER events rejected when the cut keeps a given fraction (50 %)
of WIMP events (the leakage definition of :mod:`wimpsift.metrics.leakage`), with its
uncertainty (:func:`rejection_error`).

Figures: ROC and PR curves of several image kinds on one figure each (paper Figs. 15,
16) and a confusion matrix (Fig. 17). Figure functions import matplotlib lazily and
use the non-interactive Agg backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics as skm

from wimpsift.errors import DataError, bad_value
from wimpsift.metrics.leakage import RocCurve, cut_at, leakage_from_curve, roc_curve
from wimpsift.metrics.remaining import ZERO_COUNT_UPPER_68
from wimpsift.plots import pyplot as _pyplot
from wimpsift.plots import save_figure


def _check(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise DataError(
            f"scores: got labels of shape {y.shape} and scores of shape {s.shape}, "
            "expected two 1-D arrays of equal length"
        )
    if not np.isfinite(s).all():
        raise DataError("scores: contain non-finite values")
    classes = np.unique(y)
    if not (len(classes) == 2 and set(classes.tolist()) <= {0, 1}):
        raise DataError(
            f"y_true: got classes {classes.tolist()}, expected both 0 (background) and 1 (signal)"
        )
    return y.astype(int), s


def rejection_error(curve: RocCurve, signal_acceptance: float, n_signal: int, n_background: int) -> float:
    """Standard error of the rejection read off ``curve`` at ``signal_acceptance``.

    Two independent parts, added in quadrature:

    * the background events: binomial, ``sqrt(n L (1 - L))`` leaked events for leakage ``L``,
      but at least :data:`~wimpsift.metrics.remaining.ZERO_COUNT_UPPER_68` (1.29) events, the
      Feldman-Cousins 68 % upper limit for none observed (what :mod:`wimpsift.metrics.remaining`
      quotes for zero counts, applied here as a floor at any count), so that a cut leaking
      nothing is not reported as exactly known; without the floor a classifier at 99.9 %
      rejection on 300 ER test events got an error of 0 in 2/3 of the test sets, and
      ``rejection ± error`` held the truth in 27 % of them instead of 68 %;
    * the cut: it is placed on the signal events, so its true acceptance scatters by
      ``delta = sqrt(A (1 - A) / n_signal)`` around ``A``, and the leakage with it by the
      curve's slope times ``delta`` (the secant over ``A ± delta``). Leaving it out
      understated the error by a factor 1.31 for two unit Gaussians one sigma apart
      (1000 events of each class).
    """
    a = float(signal_acceptance)
    leak = leakage_from_curve(curve, a)
    counts = max(np.sqrt(n_background * leak * (1.0 - leak)), ZERO_COUNT_UPPER_68) / n_background
    delta = np.sqrt(a * (1.0 - a) / n_signal)
    lo, hi = max(a - delta, 0.5 * a), min(a + delta, 1.0)
    slope = (leakage_from_curve(curve, hi) - leakage_from_curve(curve, lo)) / (hi - lo)
    return float(np.hypot(counts, slope * delta))


def background_rejection_at_acceptance(
    y_true: Any, scores: Any, signal_acceptance: float = 0.5
) -> dict[str, float]:
    """ER rejection at ``signal_acceptance`` of WIMPs: 1 − the leakage read off the ROC
    curve (:mod:`wimpsift.metrics.leakage`, the one definition shared with the LUX
    discriminants: linear interpolation between the curve's points).

    Also returns the cut of the first ROC point that reaches the acceptance (its
    threshold, the acceptance it reaches, the background events it lets through), the
    standard error of the rejection (:func:`rejection_error`: background events and
    the cut's placement on the signal events) and the number of background events.
    """
    if not 0.0 < signal_acceptance < 1.0:
        raise bad_value("signal_acceptance", signal_acceptance, "a fraction in (0, 1)")
    y, s = _check(y_true, scores)
    curve = roc_curve(s, y)
    rejection = 1.0 - leakage_from_curve(curve, signal_acceptance)
    threshold, acceptance, _ = cut_at(curve, signal_acceptance)
    n_background = int((y == 0).sum())
    return {
        "threshold": threshold,
        "signal_acceptance": acceptance,
        "background_rejection": rejection,
        "background_rejection_error": rejection_error(curve, signal_acceptance, int((y == 1).sum()),
                                                      n_background),
        "background_leaked": int((s[y == 0] >= threshold).sum()),
        "n_background": n_background,
    }


def classification_metrics(y_true: Any, scores: Any, threshold: float = 0.5) -> dict[str, Any]:
    """Accuracy, recall, precision (at ``threshold``), average precision, ROC AUC,
    ER rejection at 50 % WIMP acceptance (with error) and the confusion matrix."""
    y, s = _check(y_true, scores)
    pred = (s >= threshold).astype(int)
    rej = background_rejection_at_acceptance(y, s, 0.5)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "accuracy": float(skm.accuracy_score(y, pred)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "average_precision": float(skm.average_precision_score(y, s)),
        "roc_auc": float(skm.roc_auc_score(y, s)),
        "er_rejection_at_50pct": rej["background_rejection"],
        "er_rejection_at_50pct_error": rej["background_rejection_error"],
        "er_leaked_at_50pct": rej["background_leaked"],
        "confusion_matrix": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        "n_signal": int((y == 1).sum()),
        "n_background": int((y == 0).sum()),
    }


# --------------------------------------------------------------------------- figures


def plot_roc_curves(curves: Mapping[str, tuple[Any, Any]], path: str | Path,
                    title: str = "ROC curves (test set)", log_background: bool = True,
                    provenance: Mapping[str, Any] | None = None) -> Path:
    """ROC curves of several classifiers (``{label: (y_true, scores)}``) on one figure.

    With ``log_background`` the ER acceptance (false positive rate) is on a log axis down
    to half an event of the test set, where classifiers at 99 % rejection differ.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 6))
    lowest = 1.0
    for label, (y_true, scores) in curves.items():
        y, s = _check(y_true, scores)
        fpr, tpr, _ = skm.roc_curve(y, s)
        lowest = min(lowest, 0.5 / max(1, int(np.sum(y == 0))))
        ax.plot(fpr, tpr, drawstyle="steps-post" if log_background else "default",
                label=f"{label} (AUC = {skm.roc_auc_score(y, s):.3f})")
    if log_background:
        ax.set_xscale("log")
        ax.set_xlim(lowest, 1)
        grid = np.logspace(np.log10(lowest), 0, 100)
        ax.plot(grid, grid, ls=":", color="grey", label="random guess")
    else:
        ax.set_xlim(0, 1)
        ax.plot([0, 1], [0, 1], ls=":", color="grey", label="random guess")
    ax.set(xlabel="ER acceptance (false positive rate)", ylabel="WIMP acceptance (true positive rate)",
           title=title, ylim=(0, 1.01))
    ax.grid(True, which="major", alpha=0.3)
    # below the axes: inside, the legend would hide the curves of weak classifiers
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, ncol=2, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, provenance=provenance)


def plot_pr_curves(curves: Mapping[str, tuple[Any, Any]], path: str | Path,
                   title: str = "Precision-recall curves (test set)",
                   provenance: Mapping[str, Any] | None = None) -> Path:
    """Precision-recall curves with average precision, one figure for all classifiers."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for label, (y_true, scores) in curves.items():
        y, s = _check(y_true, scores)
        precision, recall, _ = skm.precision_recall_curve(y, s)
        ap = skm.average_precision_score(y, s)
        ax.step(recall, precision, where="post", label=f"{label} (AP = {ap:.3f})")
    ax.set(xlabel="Recall", ylabel="Precision", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left")
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, provenance=provenance)


def plot_confusion_matrix(y_true: Any, scores: Any, path: str | Path, threshold: float = 0.5,
                          title: str = "Confusion matrix",
                          provenance: Mapping[str, Any] | None = None) -> Path:
    """Confusion matrix at ``threshold`` with counts and fractions; recall, precision and
    accuracy in the title (as the paper's Fig. 17)."""
    y, s = _check(y_true, scores)
    pred = (s >= threshold).astype(int)
    cm = skm.confusion_matrix(y, pred, labels=[0, 1])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(cm, cmap="Blues")
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{cm[i, j]}\n({cm[i, j] / cm.sum():.1%})", ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["ER", "WIMP"],
           yticklabels=["ER", "WIMP"], xlabel="Predicted", ylabel="True")
    rec = skm.recall_score(y, pred, zero_division=0)
    prec = skm.precision_score(y, pred, zero_division=0)
    acc = skm.accuracy_score(y, pred)
    ax.set_title(f"{title}\nrecall {rec:.2%}, precision {prec:.2%}, accuracy {acc:.2%}",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, provenance=provenance)


def plot_history(history: Mapping[str, Any], path: str | Path,
                 title: str = "Training history", provenance: Mapping[str, Any] | None = None) -> Path:
    """Accuracy, loss, precision and recall per epoch, training and validation (Fig. 14)."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(2, 2, figsize=(9, 7), sharex=True)
    epochs = history["epoch"]
    for ax, key in zip(axes.ravel(), ("accuracy", "loss", "precision", "recall"), strict=True):
        ax.plot(epochs, history[key], label="training")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="validation")
        ax.set(title=key.capitalize(), xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, provenance=provenance)
