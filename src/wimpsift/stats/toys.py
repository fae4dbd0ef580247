"""Toy Monte Carlo Neyman construction for q~_mu, vectorised over toys.

For each signal strength on a grid, toys are drawn at ``(mu, theta)`` (counts by
Poisson, global observables by Gaussian) as one numpy array and fitted at once by
:mod:`wimpsift.stats.batchfit`. The sorted toy statistics give p-values
``p_mu(q_obs) = P(q~_mu >= q_obs | mu)`` (ties included, which is what makes the
construction exact for discrete data: see the zero-background Poisson test) and
critical values. A data set's upper limit is where its p-value first falls below
``1 - CL``, interpolated linearly between grid points.

Toys are drawn at the nominal background normalisations unless ``theta`` is given
(e.g. profiled on the data at each ``mu``: the "profile construction").
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np

from wimpsift.errors import bad_value
from wimpsift.stats.batchfit import fit_batch, qtilde_batch
from wimpsift.stats.likelihood import BinnedLikelihood
from wimpsift.stats.teststat import check_cl

StageTimer = Callable[[str], AbstractContextManager[object]]


def _no_timer(_: str) -> AbstractContextManager[object]:
    return nullcontext()


def check_mu_grid(mu_grid: np.ndarray) -> np.ndarray:
    grid = np.asarray(mu_grid, dtype=float)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)) or np.any(grid < 0) \
            or np.any(np.diff(grid) <= 0):
        raise bad_value("mu_grid", mu_grid, "at least 2 finite, non-negative, increasing strengths")
    return grid


@dataclass(frozen=True)
class ToyDistribution:
    """Sorted toy values of q~_mu, one row per grid strength: ``q_sorted`` is ``(G, T)``."""

    mu_grid: np.ndarray
    q_sorted: np.ndarray

    @property
    def n_toys(self) -> int:
        return int(self.q_sorted.shape[1])

    def pvalues(self, q_obs: np.ndarray) -> np.ndarray:
        """p-values of observed statistics ``(..., G)`` (fraction of toys with q >= q_obs)."""
        q_obs = np.asarray(q_obs, dtype=float)
        out = np.empty(np.broadcast_shapes(q_obs.shape, self.mu_grid.shape))
        q_b = np.broadcast_to(q_obs, out.shape)
        for j in range(self.mu_grid.size):
            tol = 1e-9 * (1.0 + np.abs(q_b[..., j]))
            below = np.searchsorted(self.q_sorted[j], q_b[..., j] - tol, side="left")
            out[..., j] = 1.0 - below / self.n_toys
        return out

    def thresholds(self, cl: float = 0.9) -> np.ndarray:
        """Critical values: smallest t with P(q~_mu <= t) >= cl, per grid strength."""
        cl = check_cl(cl)
        k = int(np.ceil(cl * self.n_toys)) - 1
        return self.q_sorted[:, min(max(k, 0), self.n_toys - 1)]


def build_distribution(
    lik: BinnedLikelihood,
    mu_grid: np.ndarray,
    n_toys: int,
    rng: np.random.Generator,
    theta: np.ndarray | None = None,
    timer: StageTimer = _no_timer,
) -> ToyDistribution:
    """Toy distributions of q~_mu at each grid strength (``theta``: ``(G, K)`` or ``(K,)``)."""
    grid = check_mu_grid(mu_grid)
    if int(n_toys) < 10:
        raise bad_value("n_toys", n_toys, "an integer >= 10")
    th = np.ones((grid.size, lik.n_params - 1)) if theta is None else np.broadcast_to(
        np.asarray(theta, dtype=float), (grid.size, lik.n_params - 1))
    rows = []
    for j, mu in enumerate(grid):
        with timer("toy_generation"):
            counts, aux = lik.sample(np.concatenate([[mu], th[j]]), int(n_toys), rng)
        with timer("hypothesis_testing"):
            rows.append(np.sort(qtilde_batch(lik, counts, aux, mu)))
    return ToyDistribution(mu_grid=grid, q_sorted=np.stack(rows))


def qtilde_on_grid(
    lik: BinnedLikelihood, counts: np.ndarray, aux: np.ndarray, mu_grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """q~_mu of each data set ``(N, n_bins)`` at each grid strength: ``(N, G)``; and mu_hat."""
    counts = np.atleast_2d(counts)
    aux = np.broadcast_to(aux, (counts.shape[0], lik.n_params - 1))
    free = fit_batch(lik, counts, aux)
    q = np.column_stack([qtilde_batch(lik, counts, aux, mu, free=free) for mu in mu_grid])
    return q, free.mu


def limits_from_pvalues(mu_grid: np.ndarray, pvalues: np.ndarray, cl: float = 0.9) -> np.ndarray:
    """Upper limits where p_mu first drops below ``1 - cl`` (linear interpolation).

    A data set excluded already at ``mu_grid[0]`` gets ``mu_grid[0]``; one never
    excluded on the grid gets ``inf`` (extend the grid).
    """
    alpha = 1.0 - check_cl(cl)
    grid = np.asarray(mu_grid, dtype=float)
    p = np.atleast_2d(pvalues)
    below = p < alpha
    first = np.argmax(below, axis=1)
    never = ~below.any(axis=1)
    limits = np.empty(p.shape[0])
    at_start = (first == 0) & ~never
    limits[at_start] = grid[0]
    mid = ~at_start & ~never
    j = first[mid]
    p_lo, p_hi = p[mid, j - 1], p[mid, j]
    frac = np.where(p_lo > p_hi, (p_lo - alpha) / np.where(p_lo > p_hi, p_lo - p_hi, 1.0), 1.0)
    limits[mid] = grid[j - 1] + np.clip(frac, 0.0, 1.0) * (grid[j] - grid[j - 1])
    limits[never] = np.inf
    return limits


def toy_limits(
    lik: BinnedLikelihood,
    dist: ToyDistribution,
    counts: np.ndarray,
    aux: np.ndarray,
    cl: float = 0.9,
    timer: StageTimer = _no_timer,
) -> np.ndarray:
    """Upper limits on mu for data sets ``(N, n_bins)`` from a toy construction."""
    with timer("hypothesis_testing"):
        q, _ = qtilde_on_grid(lik, counts, aux, dist.mu_grid)
        return limits_from_pvalues(dist.mu_grid, dist.pvalues(q), cl)
