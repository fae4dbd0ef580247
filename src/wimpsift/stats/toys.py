"""Toy Monte Carlo Neyman construction for q~_mu, vectorised over toys.

For each signal strength on a grid, toys are drawn at ``(mu, theta)`` (counts by
Poisson, global observables by Gaussian) as one numpy array and fitted at once by
:mod:`wimpsift.stats.batchfit`. The sorted toy statistics give p-values
``p_mu(q_obs) = P(q~_mu >= q_obs | mu)`` (ties included, which is what makes the
construction exact for discrete data: see the zero-background Poisson test) and
critical values. A data set's upper limit is where its p-value first falls below
``1 - CL``, interpolated linearly between grid points.

Toys are drawn at the nuisance values ``nuisances`` gives per grid strength: the
nominal ones (``None``), or, with :func:`profiled_nuisances`, the conditional
best fits of the data at each ``mu`` (the profile construction of alea and pyhf, the
default of :mod:`wimpsift.stats.limits`). Fits that did not converge are counted in
:attr:`ToyDistribution.n_not_converged` and warned about.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np

from wimpsift.errors import bad_value
from wimpsift.progress import Progress
from wimpsift.stats.batchfit import QTildeBatch, fit_batch, qtilde_batch
from wimpsift.stats.fit import NonConvergenceWarning
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
    n_fits: int = 0
    n_not_converged: int = 0

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


@dataclass(frozen=True)
class Nuisances:
    """Values the toys are drawn at: normalisations ``theta`` ``(G, K)`` and MC-statistics
    parameters ``gamma`` ``(G, n_gamma)``, one row per grid strength."""

    theta: np.ndarray
    gamma: np.ndarray

    def row(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        return self.theta[j], self.gamma[j]

    def split_first(self) -> tuple[tuple[np.ndarray, np.ndarray], Nuisances]:
        """The first row (e.g. ``mu = 0``) and the rest."""
        return self.row(0), Nuisances(theta=self.theta[1:], gamma=self.gamma[1:])


def nominal_nuisances(lik: BinnedLikelihood, mu_grid: np.ndarray) -> Nuisances:
    g = np.asarray(mu_grid).size
    return Nuisances(theta=np.tile(lik.nominal[1:], (g, 1)), gamma=np.ones((g, lik.n_gamma)))


def profiled_nuisances(
    lik: BinnedLikelihood, counts: np.ndarray, aux: np.ndarray, mu_grid: np.ndarray
) -> tuple[Nuisances, int]:
    """Conditional best fits of one data set at each grid strength (and the number of
    those fits that did not converge)."""
    grid = np.asarray(mu_grid, dtype=float)
    n = np.broadcast_to(counts, (grid.size, lik.n_bins))
    a = np.broadcast_to(aux, (grid.size, lik.n_aux))
    cond = fit_batch(lik, n, a, grid)
    gamma = lik.gamma_hat(cond.params, n, a)
    return Nuisances(theta=cond.params[:, 1:], gamma=gamma), cond.n_not_converged


def warn_not_converged(n_not_converged: int, n_fits: int, what: str) -> None:
    if n_not_converged:
        warnings.warn(f"{what}: {n_not_converged} of {n_fits} fits did not converge",
                      NonConvergenceWarning, stacklevel=3)


def build_distribution(
    lik: BinnedLikelihood,
    mu_grid: np.ndarray,
    n_toys: int,
    rng: np.random.Generator,
    nuisances: Nuisances | None = None,
    timer: StageTimer = _no_timer,
    progress: Progress | None = None,
) -> ToyDistribution:
    """Toy distributions of q~_mu at each grid strength, drawn at ``nuisances`` (nominal
    when None); ``progress`` hears of every strength done (:mod:`wimpsift.progress`)."""
    grid = check_mu_grid(mu_grid)
    if int(n_toys) < 10:
        raise bad_value("n_toys", n_toys, "an integer >= 10")
    nuisances = nuisances or nominal_nuisances(lik, grid)
    rows, n_fits, failed = [], 0, 0
    if progress is not None:
        progress("toy strengths", 0, grid.size)
    for j, mu in enumerate(grid):
        theta, gamma = nuisances.row(j)
        truth = np.concatenate([[mu], theta])
        with timer("toy_generation"):
            counts, aux = lik.sample(truth, int(n_toys), rng, gamma=gamma)
        with timer("hypothesis_testing"):
            qt = qtilde_batch(lik, counts, aux, mu, free_start=truth)
        rows.append(np.sort(qt.q))
        n_fits += qt.n_fits
        failed += qt.n_not_converged
        if progress is not None:
            progress("toy strengths", j + 1, grid.size)
    warn_not_converged(failed, n_fits, "toy construction")
    return ToyDistribution(mu_grid=grid, q_sorted=np.stack(rows), n_fits=n_fits, n_not_converged=failed)


def qtilde_on_grid(
    lik: BinnedLikelihood, counts: np.ndarray, aux: np.ndarray, mu_grid: np.ndarray,
    progress: Progress | None = None, free_start: np.ndarray | None = None,
) -> QTildeBatch:
    """q~_mu of each data set ``(N, n_bins)`` at each grid strength (increasing): ``q`` is
    ``(N, G)``. One free fit per data set, then conditional fits strength by strength,
    each started from the previous strength's; the free fits from ``free_start`` (e.g.
    the parameters toys were drawn at) when given. ``progress`` hears of the free fit
    and of every strength fitted."""
    counts = np.atleast_2d(counts)
    aux = np.broadcast_to(aux, (counts.shape[0], lik.n_aux))
    steps = len(mu_grid) + 1
    if progress is not None:
        progress("fits (free, then each strength)", 0, steps)
    free = fit_batch(lik, counts, aux, start=free_start)
    # each strength's conditional fits start from the previous strength's (warm start)
    parts, start = [], free.params
    for j, mu in enumerate(np.asarray(mu_grid, dtype=float)):
        if progress is not None:
            progress("fits (free, then each strength)", j + 1, steps)
        parts.append(qtilde_batch(lik, counts, aux, mu, free=free, start=start))
        start = parts[-1].params
    if progress is not None:
        progress("fits (free, then each strength)", steps, steps)
    return QTildeBatch(
        q=np.column_stack([p.q for p in parts]), mu_hat=free.mu,
        n_fits=counts.shape[0] + sum(p.n_fits for p in parts),
        n_not_converged=free.n_not_converged + sum(p.n_not_converged for p in parts),
    )


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
        qt = qtilde_on_grid(lik, counts, aux, dist.mu_grid)
        warn_not_converged(qt.n_not_converged, qt.n_fits, "limits of data sets")
        return limits_from_pvalues(dist.mu_grid, dist.pvalues(qt.q), cl)
