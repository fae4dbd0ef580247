"""Expected background events that remain at a given WIMP acceptance, per source.

For a score (higher = more WIMP-like) on a labelled, weighted test set: the threshold
is the weighted ``acceptance`` quantile of the signal scores (the signal share above it
equals ``acceptance``); each background source's remaining events are the sum of the
weights (expected events in the exposure per simulated event) of its events at or
above the threshold. Errors are the Monte Carlo statistical errors √(Σ w²) of those
sums; when no event of a source remains, the error is the one-event upper value
(w_max × 1.14, the 68 % CL Poisson upper limit for zero counts), so an empty cell is
never reported as exactly known.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wimpsift.errors import DataError

ZERO_COUNT_UPPER_68 = 1.14


def _threshold(scores: np.ndarray, weights: np.ndarray, acceptance: float) -> float:
    order = np.argsort(scores)[::-1]
    share = np.cumsum(weights[order]) / weights.sum()
    k = int(np.searchsorted(share, acceptance, side="left"))
    return float(scores[order][min(k, order.size - 1)])


def remaining_at_acceptance(scores: Any, source: Any, weights: Any, signal: str = "wimp",
                            acceptance: float = 0.5) -> dict[str, Any]:
    """Remaining expected events per background source and in total at ``acceptance``.

    Returns ``{"threshold", "signal_acceptance", "total", "total_error",
    "<source>": {"events", "error", "n_simulated", "n_passing"}}``.
    """
    scores = np.asarray(scores, dtype=float)
    source = np.asarray(source, dtype=object)
    weights = np.asarray(weights, dtype=float)
    if not (scores.shape == source.shape == weights.shape) or scores.ndim != 1:
        raise DataError("scores, source, weights: expected 1-D arrays of equal length")
    if not 0 < acceptance < 1:
        raise DataError(f"acceptance: got {acceptance!r}, expected a fraction in (0, 1)")
    if np.isnan(scores).any() or not np.isfinite(weights).all() or (weights < 0).any():
        raise DataError("scores/weights: expected no NaN scores and finite non-negative weights")
    is_signal = source == signal
    if not is_signal.any() or weights[is_signal].sum() <= 0:
        raise DataError(f"source: no {signal!r} events with positive weight")
    cut = _threshold(scores[is_signal], weights[is_signal], acceptance)
    passing = scores >= cut
    out: dict[str, Any] = {
        "threshold": cut,
        "signal_acceptance": float(weights[is_signal & passing].sum() / weights[is_signal].sum()),
    }
    total, variance = 0.0, 0.0
    for name in sorted(set(source[~is_signal].tolist())):
        rows = source == name
        w = weights[rows & passing]
        events = float(w.sum())
        if w.size:
            error = float(np.sqrt((w**2).sum()))
        else:
            error = float(weights[rows].max(initial=0.0) * ZERO_COUNT_UPPER_68)
        out[name] = {"events": events, "error": error, "n_simulated": int(rows.sum()),
                     "n_passing": int(w.size)}
        total += events
        variance += error**2
    out["total"] = total
    out["total_error"] = float(np.sqrt(variance))
    return out
