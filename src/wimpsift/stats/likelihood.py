"""Binned Poisson likelihood with Gaussian-constrained background normalisations.

Expected events in bin ``i``::

    nu_i(mu, theta) = mu * s_i + sum_k theta_k * b_ki

with ``s`` the signal template at the reference cross-section (``mu = 1`` means
``sigma_nucleon_cm2 = sigma_ref_cm2``) and ``b_k`` the background templates at
nominal normalisation. Each ``theta_k`` (nominal 1) carries a Gaussian constraint of
relative width ``sigma_k`` around its global observable ``a_k`` (the auxiliary
measurement, 1 for the real data set, randomised in toys)::

    -log L = sum_i [nu_i - n_i + n_i log(n_i / nu_i)] + 1/2 sum_k ((theta_k - a_k) / sigma_k)^2

(the Poisson term is written as half the deviance, which is >= 0 and numerically
stable; it differs from ``-log L`` by a data-only constant). The parameters are
bounded below by 0 (physical ``mu >= 0``, the bounded statistic q~_mu of Cowan et
al. arXiv:1007.1727, as recommended in arXiv:2105.00599; non-negative rates).
All functions are vectorised over a leading axis of data sets.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import Field, field_validator

from wimpsift.errors import DataError, bad_value
from wimpsift.stats._config import StatsConfig
from wimpsift.stats.templates import TemplateSet


class LikelihoodConfig(StatsConfig):
    """Constraints of the likelihood.

    ``background_rel_uncertainty`` is one relative Gaussian width for every background
    or a ``{name: width}`` mapping (the seed's 2013 reproduction uses one combined
    background with ``sigma = mu``, i.e. width 1.0; its Sec. IV C uses 0.25 for the
    non-wall and 0.5 for the wall backgrounds).
    """

    background_rel_uncertainty: float | dict[str, float] = Field(default=0.25)

    @field_validator("background_rel_uncertainty")
    @classmethod
    def _positive(cls, value: float | dict[str, float]) -> float | dict[str, float]:
        widths = value.values() if isinstance(value, dict) else [value]
        for w in widths:
            if not (np.isfinite(w) and w > 0):
                raise ValueError("relative uncertainties must be finite and > 0")
        return value


def _poisson_half_deviance(n: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """sum over bins of nu - n + n log(n/nu), with 0 log 0 = 0; +inf where nu=0<n."""
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / nu), 0.0)
    total = np.sum(nu - n + term, axis=-1)
    return np.where(np.isnan(total), np.inf, total)


class BinnedLikelihood:
    """The likelihood of one :class:`TemplateSet` under one :class:`LikelihoodConfig`."""

    def __init__(self, templates: TemplateSet, config: LikelihoodConfig | None = None) -> None:
        self.templates = templates
        self.config = config or LikelihoodConfig()
        names = templates.background_names
        widths = self.config.background_rel_uncertainty
        if isinstance(widths, Mapping):
            missing = sorted(set(names) - set(widths))
            extra = sorted(set(widths) - set(names))
            if missing or extra:
                raise bad_value(
                    "background_rel_uncertainty", widths,
                    f"one width per background {names} (missing {missing}, unknown {extra})",
                )
            self.sigma = np.array([float(widths[n]) for n in names])
        else:
            self.sigma = np.full(len(names), float(widths))
        self.background_names = names
        # (P, n_bins): row 0 is the signal, rows 1.. the backgrounds
        self.design = np.vstack([templates.flat_signal()[None, :], templates.flat_backgrounds()])
        self.n_params = self.design.shape[0]
        self.n_bins = self.design.shape[1]

    # --- model -----------------------------------------------------------------
    @property
    def sigma_ref_cm2(self) -> float:
        return self.templates.sigma_ref_cm2

    def mu_to_sigma_cm2(self, mu: np.ndarray | float) -> np.ndarray | float:
        """Signal strength to WIMP-nucleon cross-section in cm²."""
        return np.asarray(mu) * self.sigma_ref_cm2

    def nominal_parameters(self, mu: float = 0.0) -> np.ndarray:
        return np.concatenate([[mu], np.ones(self.n_params - 1)])

    def nominal_aux(self) -> np.ndarray:
        return np.ones(self.n_params - 1)

    def expected(self, params: np.ndarray) -> np.ndarray:
        """Expected counts per bin for parameters ``(..., P)``."""
        return np.asarray(params, dtype=float) @ self.design

    def check_data(self, counts: np.ndarray, aux: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Validate observed counts (and global observables); return them as float arrays."""
        n = np.asarray(counts, dtype=float)
        if n.shape[-1:] != (self.n_bins,):
            if n.size == self.n_bins:
                n = n.reshape(self.n_bins)
            else:
                raise DataError(
                    f"observed: {n.shape[-1] if n.ndim else 0} bins, expected {self.n_bins} "
                    "(the templates' binning)"
                )
        if not np.all(np.isfinite(n)) or np.any(n < 0):
            raise DataError("observed: counts must be finite and >= 0")
        a = np.broadcast_to(self.nominal_aux(), n.shape[:-1] + (self.n_params - 1,)) if aux is None \
            else np.asarray(aux, dtype=float)
        if a.shape[-1] != self.n_params - 1 or not np.all(np.isfinite(a)):
            raise DataError(f"aux: expected {self.n_params - 1} finite global observables")
        return n, a

    # --- objective -------------------------------------------------------------
    def nll(self, params: np.ndarray, counts: np.ndarray, aux: np.ndarray) -> np.ndarray:
        """Negative log-likelihood (half deviance + constraints), vectorised."""
        params = np.asarray(params, dtype=float)
        nu = self.expected(params)
        theta = params[..., 1:]
        constraint = 0.5 * np.sum(((theta - aux) / self.sigma) ** 2, axis=-1)
        return _poisson_half_deviance(counts, nu) + constraint

    def grad(self, params: np.ndarray, counts: np.ndarray, aux: np.ndarray) -> np.ndarray:
        nu = self.expected(params)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(counts > 0, counts / nu, 0.0)
        g = (1.0 - ratio) @ self.design.T
        g[..., 1:] += (np.asarray(params)[..., 1:] - aux) / self.sigma**2
        return g

    def hessian(self, params: np.ndarray, counts: np.ndarray) -> np.ndarray:
        nu = self.expected(params)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(counts > 0, counts / nu**2, 0.0)
        h = np.einsum("...i,pi,qi->...pq", w, self.design, self.design, optimize=True)
        idx = np.arange(1, self.n_params)
        h[..., idx, idx] += 1.0 / self.sigma**2
        return h

    # --- data sets ---------------------------------------------------------------
    def asimov(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Asimov data set (expected counts) and global observables at ``params``."""
        params = np.asarray(params, dtype=float)
        return self.expected(params), params[..., 1:].copy()

    def sample(
        self, params: np.ndarray, n_toys: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n_toys`` Poisson toys and Gaussian-randomised global observables.

        Counts are drawn at ``params``; the global observables ``a_k`` around
        ``theta_k`` with the constraint widths (the frequentist treatment of the
        auxiliary measurement).
        """
        params = np.asarray(params, dtype=float)
        nu = self.expected(params)
        counts = rng.poisson(np.broadcast_to(nu, (n_toys, self.n_bins))).astype(float)
        aux = params[1:] + self.sigma * rng.standard_normal((n_toys, self.n_params - 1))
        return counts, aux
