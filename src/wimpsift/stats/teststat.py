"""Profile-likelihood-ratio test statistics and their asymptotic distributions.

Conventions (Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727; arXiv:2105.00599):

* upper limits use the one-sided bounded statistic ``q~_mu`` (eq. 16): with
  ``mu_hat >= 0`` enforced by the fit bounds, ``q~_mu = -2 ln lambda(mu)`` for
  ``mu_hat <= mu`` and 0 for ``mu_hat > mu``;
* its asymptotic distribution (eqs. 65-67) needs ``sigma`` of ``mu_hat``, taken from
  the Asimov data set of the background-only hypothesis, ``q_mu,A = mu^2 / sigma^2``;
  the Asimov data set is built at the background normalisations profiled on the
  observed data at ``mu = 0`` (as pyhf does), with the global observables set to them;
* discovery uses ``q_0`` (eq. 12) with ``Z = sqrt(q_0)`` (eq. 53).

Everything here uses the iminuit fits of :mod:`wimpsift.stats.fit`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from wimpsift.errors import bad_value
from wimpsift.stats.fit import FitResult, fit
from wimpsift.stats.likelihood import BinnedLikelihood


def check_cl(cl: float, parameter: str = "confidence_level") -> float:
    """Return ``cl`` if it is inside (0, 1), else raise ConfigError naming ``parameter``."""
    try:
        value = float(cl)
    except (TypeError, ValueError) as err:
        raise bad_value(parameter, cl, "a number strictly between 0 and 1") from err
    if not (np.isfinite(value) and 0.0 < value < 1.0):
        raise bad_value(parameter, cl, "a number strictly between 0 and 1")
    return value


def qtilde(
    lik: BinnedLikelihood, counts: np.ndarray, aux: np.ndarray | None, mu: float,
    free: FitResult | None = None,
) -> float:
    """q~_mu of one data set (iminuit fits)."""
    free = free if free is not None else fit(lik, counts, aux)
    if free.mu > mu:
        return 0.0
    cond = fit(lik, counts, aux, mu=mu)
    return max(2.0 * (cond.nll - free.nll), 0.0)


@dataclass(frozen=True)
class AsimovBackground:
    """Background-only Asimov data set and global observables."""

    counts: np.ndarray
    aux: np.ndarray

    def q_asimov(self, lik: BinnedLikelihood, mu: float) -> float:
        """q~_mu of the Asimov data set; its unconditional minimum is 0 by construction."""
        if mu <= 0:
            return 0.0
        cond = fit(lik, self.counts, self.aux, mu=mu)
        return max(2.0 * cond.nll, 0.0)


def asimov_background(
    lik: BinnedLikelihood, counts: np.ndarray, aux: np.ndarray | None = None
) -> AsimovBackground:
    """Asimov data for ``mu = 0`` at the nuisances profiled on the data at ``mu = 0``."""
    counts, aux = lik.check_data(counts, aux)
    cond = fit(lik, counts, aux, mu=0.0)
    n_a, aux_a = lik.asimov(cond.params, lik.gamma_hat(cond.params, counts, aux))
    return AsimovBackground(counts=n_a, aux=aux_a)


def pvalue_qtilde(q: np.ndarray | float, q_asimov: np.ndarray | float) -> np.ndarray:
    """Asymptotic p_mu = 1 - F(q~_mu | mu) (Cowan et al. eq. 67)."""
    q = np.clip(np.asarray(q, dtype=float), 0.0, None)
    qa = np.clip(np.asarray(q_asimov, dtype=float), 1e-300, None)
    small = stats.norm.sf(np.sqrt(q))
    large = stats.norm.sf((q + qa) / (2.0 * np.sqrt(qa)))
    return np.where(q <= qa, small, large)


def threshold_qtilde(q_asimov: np.ndarray | float, cl: float = 0.9) -> np.ndarray:
    """Asymptotic critical value of q~_mu at confidence level ``cl`` (p_mu = 1 - cl)."""
    cl = check_cl(cl)
    z = stats.norm.ppf(cl)
    qa = np.clip(np.asarray(q_asimov, dtype=float), 0.0, None)
    return np.where(qa >= z * z, z * z, 2.0 * z * np.sqrt(qa) - qa)


def discovery(lik: BinnedLikelihood, counts: np.ndarray, aux: np.ndarray | None = None) -> dict[str, float]:
    """Discovery test of the background-only hypothesis: q_0, p_0 and Z = sqrt(q_0)."""
    free = fit(lik, counts, aux)
    if free.mu <= 0:
        q0 = 0.0
    else:
        null = fit(lik, counts, aux, mu=0.0)
        q0 = max(2.0 * (null.nll - free.nll), 0.0)
    return {
        "mu_hat": free.mu,
        "q0": q0,
        "p0": float(stats.norm.sf(np.sqrt(q0))),
        "significance_sigma": float(np.sqrt(q0)),
    }
