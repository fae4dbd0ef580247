"""Expected background events that remain at a given WIMP acceptance, per source.

For a score (higher = more WIMP-like) on a labelled, weighted test set: the threshold
is the weighted ``acceptance`` quantile of the signal scores (the signal share above it
equals ``acceptance``); each background source's remaining events are the sum of the
weights (expected events in the exposure per simulated event) of its events at or
above the threshold.

Errors. ``error`` is the Monte Carlo statistical error √(Σ w²) of a sum; when no event
of a source remains it is the Feldman–Cousins 68.27 % upper limit for zero observed
events (1.29) × the source's largest weight, so an empty cell is never reported as
exactly known. ``interval_68`` is the Feldman–Cousins 68.27 % confidence interval
(unified ordering, Poisson with no background; Feldman & Cousins, Phys. Rev. D 57,
3873 (1998)) for the number n of passing test events, times their weight (the
source's largest weight when none passes): meaningful at n = 0, 1, 2, where √n is not.
When every passing event of a source has the same weight (a plainly simulated source of
:mod:`wimpsift.training.mix_samples`) this is exact. With unequal weights (a
tail-sampled source, :mod:`wimpsift.waveforms.tail_sampling`) the passing events count
as n_eff = (Σ w)² / Σ w² events of weight Σ w² / Σ w — the scaled Poisson count with
the same mean and variance — and the Feldman–Cousins ends are interpolated linearly
between the integers around n_eff (:func:`feldman_cousins_68_effective`).
The total's interval adds the per-source lower and upper distances in quadrature.
These errors count test events only: the threshold's own error (from the finite number
of WIMP test events) is not included; :func:`total_at_acceptance`, the total alone, is
what a resampling of the signal events needs for it
(:func:`wimpsift.metrics.background_comparison.threshold_error`).

:func:`feldman_cousins_68` is hand-written (the construction is a few lines; neither
SciPy nor the project's statistics packages offer it): for each mean μ the acceptance
set collects n in decreasing order of P(n | μ) / P(n | μ_best = n) until it holds
68.27 % of the probability; the interval for an observed n is the μ whose set
contains n, found by bisection (the set's ends grow monotonically with μ).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.stats import poisson

from wimpsift.errors import DataError

CONFIDENCE_68 = 0.6827


def _acceptance_set(mu: float, cl: float = CONFIDENCE_68) -> tuple[int, int]:
    """The Feldman–Cousins acceptance set of n at mean ``mu`` (no background)."""
    n = np.arange(int(mu + 12 * math.sqrt(mu + 1) + 20))
    p = poisson.pmf(n, mu)
    best = poisson.pmf(n, n)  # μ_best = n
    order = np.argsort(-(p / best), kind="stable")
    k = int(np.searchsorted(np.cumsum(p[order]), cl)) + 1
    accepted = order[:k]
    return int(accepted.min()), int(accepted.max())


@lru_cache(maxsize=512)
def feldman_cousins_68(n: int) -> tuple[float, float]:
    """Feldman–Cousins 68.27 % interval (lower, upper) for a Poisson mean, n observed,
    no background (see module)."""
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise DataError(f"n: got {n!r}, expected a non-negative integer count")
    n = int(n)

    def bisect(inside, lo: float, hi: float) -> float:
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if inside(mid) else (lo, mid)
        return 0.5 * (lo + hi)

    upper = bisect(lambda mu: _acceptance_set(mu)[0] <= n, float(n),
                   n + 10 * math.sqrt(n + 1) + 10)
    lower = 0.0 if n == 0 else bisect(lambda mu: _acceptance_set(mu)[1] < n, 0.0, float(n))
    return lower, upper


def feldman_cousins_68_effective(n_eff: float) -> tuple[float, float]:
    """:func:`feldman_cousins_68` at a non-negative effective count, linear between the
    neighbouring integers (exact at integers; see module, unequal weights)."""
    if not math.isfinite(n_eff) or n_eff < 0:
        raise DataError(f"n_eff: got {n_eff!r}, expected a non-negative finite count")
    nearest = round(n_eff)
    if abs(n_eff - nearest) < 1e-9:
        return feldman_cousins_68(int(nearest))
    a = math.floor(n_eff)
    t = n_eff - a
    (lo_a, hi_a), (lo_b, hi_b) = feldman_cousins_68(a), feldman_cousins_68(a + 1)
    return (1 - t) * lo_a + t * lo_b, (1 - t) * hi_a + t * hi_b


ZERO_COUNT_UPPER_68 = feldman_cousins_68(0)[1]
"""upper limit on the mean for zero observed events (Feldman–Cousins, 68.27 %)"""


def _threshold(scores: np.ndarray, weights: np.ndarray, acceptance: float) -> float:
    order = np.argsort(scores)[::-1]
    share = np.cumsum(weights[order]) / weights.sum()
    k = int(np.searchsorted(share, acceptance, side="left"))
    return float(scores[order][min(k, order.size - 1)])


def total_at_acceptance(signal_scores: np.ndarray, signal_weights: np.ndarray,
                        background_scores: np.ndarray, background_weights: np.ndarray,
                        acceptance: float) -> float:
    """The ``total`` of :func:`remaining_at_acceptance` alone (no errors, no checks): the
    background weight at or above the signal's ``acceptance`` threshold."""
    cut = _threshold(signal_scores, signal_weights, acceptance)
    return float(background_weights[background_scores >= cut].sum())


def remaining_at_acceptance(scores: Any, source: Any, weights: Any, signal: str = "wimp",
                            acceptance: float = 0.5) -> dict[str, Any]:
    """Remaining expected events per background source and in total at ``acceptance``.

    Returns ``{"threshold", "signal_acceptance", "total", "total_error", "total_interval_68",
    "<source>": {"events", "error", "interval_68", "n_simulated", "n_passing"}}``.
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
    total, variance, below, above = 0.0, 0.0, 0.0, 0.0
    for name in sorted(set(source[~is_signal].tolist())):
        rows = source == name
        w = weights[rows & passing]
        events = float(w.sum())
        if w.size:
            error = float(np.sqrt((w**2).sum()))
            # effective count and unit: n_eff × unit = Σ w, n_eff × unit² = Σ w²
            unit = float((w**2).sum() / events) if events > 0 else 0.0
            n_eff = events / unit if unit > 0 else float(w.size)
        else:
            unit = float(weights[rows].max(initial=0.0))
            error = unit * ZERO_COUNT_UPPER_68
            n_eff = 0.0
        lo, hi = feldman_cousins_68_effective(n_eff)
        interval = (min(lo * unit, events), max(hi * unit, events))
        out[name] = {"events": events, "error": error, "interval_68": interval,
                     "n_simulated": int(rows.sum()), "n_passing": int(w.size)}
        total += events
        variance += error**2
        below += (events - interval[0]) ** 2
        above += (interval[1] - events) ** 2
    out["total"] = total
    out["total_error"] = float(np.sqrt(variance))
    out["total_interval_68"] = (total - math.sqrt(below), total + math.sqrt(above))
    return out


def ratio_interval(numerator: tuple[float, float, float], denominator: tuple[float, float, float]
                   ) -> tuple[float, float, float] | None:
    """``(value, lower, upper)`` of a ratio of two totals given as ``(value, lower, upper)``
    (68 % intervals), relative errors added in quadrature: the upper end takes the
    numerator's upper and the denominator's lower distance. The two totals are treated
    as independent; on shared test events they are positively correlated, so this
    overstates the ratio's error. None when the denominator is 0."""
    a, a_lo, a_hi = numerator
    b, b_lo, b_hi = denominator
    if b <= 0:
        return None
    r = a / b
    if a <= 0:
        return r, 0.0, a_hi / b
    up = r * math.hypot((a_hi - a) / a, (b - b_lo) / b)
    down = r * math.hypot((a - a_lo) / a, (b_hi - b) / b)
    return r, max(r - down, 0.0), r + up
