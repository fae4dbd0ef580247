"""Maximum-likelihood fits of one data set with iminuit (MIGRAD, analytic gradient).

:func:`fit` is the unconditional fit (``mu`` free, ``mu >= 0``) or, with ``mu``
given, the conditional fit that profiles the background normalisations (and, inside
the likelihood, the MC-statistics parameters). Parameters are named
(:attr:`BinnedLikelihood.parameter_names`); both fitters start from
:meth:`BinnedLikelihood.start_parameters`. These are
the fits reported for a real (or pseudo-) data set; toys use the vectorised solver
of :mod:`wimpsift.stats.batchfit`, checked against this one in the tests.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
from iminuit import Minuit

from wimpsift.stats.likelihood import BinnedLikelihood


class NonConvergenceWarning(UserWarning):
    """A fit (or some toy fits) did not converge; their count is in the results."""


@dataclass
class MigradCount:
    """MIGRAD fits made and how many of them MIGRAD did not call valid."""

    n_fits: int = 0
    n_invalid: int = 0


_COUNTS: ContextVar[tuple[MigradCount, ...]] = ContextVar("migrad_counts", default=())


@contextmanager
def counting_fits() -> Iterator[MigradCount]:
    """Count the :func:`fit` calls made inside the block (nested blocks count too)."""
    count = MigradCount()
    token = _COUNTS.set((*_COUNTS.get(), count))
    try:
        yield count
    finally:
        _COUNTS.reset(token)


@dataclass(frozen=True)
class FitResult:
    """Best-fit parameters by name, minimum ``nll`` and MIGRAD's validity.

    ``values`` maps :attr:`BinnedLikelihood.parameter_names` (``mu``, ``theta_<name>``)
    to their best fits; ``params`` is the same as an array in that order.
    """

    values: dict[str, float]
    nll: float
    valid: bool

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.values)

    @property
    def params(self) -> np.ndarray:
        return np.array(list(self.values.values()), dtype=float)

    @property
    def mu(self) -> float:
        return self.values["mu"]

    @property
    def theta(self) -> dict[str, float]:
        return {k.removeprefix("theta_"): v for k, v in self.values.items() if k.startswith("theta_")}


def initial_steps(lik: BinnedLikelihood, counts: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """MIGRAD's initial step sizes: each nuisance parameter's constraint width and, for
    ``mu``, the Poisson error of the counts in units of the signal (at least a tenth of
    the start). iminuit's default (a percent of the start value) is vanishingly small for
    a parameter that starts at ~0, e.g. a shape parameter at a profiled 1e-9, and MIGRAD
    then reports a valid minimum without moving it."""
    s_tot = max(float(lik.design[0].sum()), 1e-300)
    mu_step = max(0.1 * abs(float(x0[0])), float(np.sqrt(np.sum(counts) + 1.0)) / s_tot)
    return np.concatenate([[mu_step], lik.sigma])


def fit(
    lik: BinnedLikelihood,
    counts: np.ndarray,
    aux: np.ndarray | None = None,
    mu: float | None = None,
    *,
    strategy: int = 1,
    tol: float = 1e-4,
) -> FitResult:
    """Fit one data set; ``mu=None`` fits the signal strength, else fixes it.

    A fit MIGRAD does not call valid is returned with ``valid=False`` and a
    :class:`NonConvergenceWarning`; callers count them inside :func:`counting_fits`
    (:mod:`wimpsift.stats.limits`, :mod:`wimpsift.stats.distributed`).
    """
    counts, aux = lik.check_data(counts, aux)
    names = lik.parameter_names
    x0 = lik.start_parameters(counts, aux, mu)

    def fcn(x: np.ndarray) -> float:
        value = float(lik.nll(x, counts, aux))
        return value if np.isfinite(value) else 1e300

    def grad(x: np.ndarray) -> np.ndarray:
        return lik.grad(x, counts, aux)

    m = Minuit(fcn, x0, grad=grad, name=names)
    m.errors = initial_steps(lik, counts, x0)
    m.errordef = Minuit.LIKELIHOOD
    m.strategy = strategy
    m.tol = tol
    m.print_level = 0
    for name, lower in zip(names, lik.lower, strict=True):
        m.limits[name] = (float(lower) if np.isfinite(lower) else None, None)
    if mu is not None:
        m.fixed["mu"] = True
    m.migrad()
    params = np.array(m.values, dtype=float)
    valid = bool(m.valid)
    for count in _COUNTS.get():
        count.n_fits += 1
        count.n_invalid += 0 if valid else 1
    if not valid:
        warnings.warn(
            f"fit did not converge (MIGRAD invalid) at mu={'free' if mu is None else f'{mu:g}'}",
            NonConvergenceWarning, stacklevel=2)
    return FitResult(values=dict(zip(names, (float(p) for p in params), strict=True)),
                     nll=float(lik.nll(params, counts, aux)), valid=valid)
