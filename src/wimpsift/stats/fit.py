"""Maximum-likelihood fits of one data set with iminuit (MIGRAD, analytic gradient).

:func:`fit` is the unconditional fit (``mu`` free, ``mu >= 0``) or, with ``mu``
given, the conditional fit that profiles the background normalisations. These are
the fits reported for a real (or pseudo-) data set; toys use the vectorised solver
of :mod:`wimpsift.stats.batchfit`, checked against this one in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from iminuit import Minuit

from wimpsift.stats.likelihood import BinnedLikelihood


@dataclass(frozen=True)
class FitResult:
    """Best-fit ``params`` (``[mu, theta_1, ...]``), minimum ``nll`` and MIGRAD status."""

    params: np.ndarray
    nll: float
    valid: bool
    names: tuple[str, ...]

    @property
    def mu(self) -> float:
        return float(self.params[0])

    @property
    def theta(self) -> np.ndarray:
        return self.params[1:]

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.names, (float(p) for p in self.params), strict=True))


def _start(lik: BinnedLikelihood, counts: np.ndarray, aux: np.ndarray, mu: float | None) -> np.ndarray:
    theta = np.clip(aux, 1e-3, None)
    if mu is not None:
        return np.concatenate([[mu], theta])
    excess = counts.sum() - theta @ lik.design[1:].sum(axis=1)
    s_tot = max(lik.design[0].sum(), 1e-300)
    mu0 = max(excess, 0.0) / s_tot + 0.1 * np.sqrt(max(counts.sum(), 1.0)) / s_tot
    return np.concatenate([[mu0], theta])


def fit(
    lik: BinnedLikelihood,
    counts: np.ndarray,
    aux: np.ndarray | None = None,
    mu: float | None = None,
    *,
    strategy: int = 1,
    tol: float = 1e-4,
) -> FitResult:
    """Fit one data set; ``mu=None`` fits the signal strength, else fixes it."""
    counts, aux = lik.check_data(counts, aux)
    names = ("mu", *(f"theta_{n}" for n in lik.background_names))
    x0 = _start(lik, counts, aux, mu)

    def fcn(x: np.ndarray) -> float:
        value = float(lik.nll(x, counts, aux))
        return value if np.isfinite(value) else 1e300

    def grad(x: np.ndarray) -> np.ndarray:
        return lik.grad(x, counts, aux)

    if not np.isfinite(lik.nll(x0, counts, aux)):
        x0 = np.maximum(x0, 1.0)
        if mu is not None:
            x0[0] = mu
    m = Minuit(fcn, x0, grad=grad, name=names)
    m.errordef = Minuit.LIKELIHOOD
    m.strategy = strategy
    m.tol = tol
    m.print_level = 0
    for name in names:
        m.limits[name] = (0.0, None)
    if mu is not None:
        m.values["mu"] = mu
        m.fixed["mu"] = True
    m.migrad()
    params = np.array(m.values, dtype=float)
    return FitResult(params=params, nll=float(lik.nll(params, counts, aux)), valid=bool(m.valid), names=names)
