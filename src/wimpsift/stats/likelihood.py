"""Binned Poisson likelihood with Gaussian-constrained background normalisations and
per-bin MC-statistics parameters (Barlow–Beeston lite).

Expected events in bin ``i``::

    nu_i(mu, theta, alpha, gamma) = mu * s_i + gamma_i * (sum_k theta_k * b_ki + sum_j alpha_j * d_ji)

with ``s`` the signal template at the reference cross-section (``mu = 1`` means
``sigma_nucleon_cm2 = sigma_ref_cm2``) and ``b_k`` the background templates at
nominal normalisation, and ``d_j = (up_j - down_j) / 2`` the per-bin change of the
total background per +1σ of shape parameter ``alpha_j`` (nominal 0, unit Gaussian
constraint, unbounded; :attr:`TemplateSet.shape_variations`: linear interpolation per
bin, pyhf's histosys ``code0`` for symmetric variations). With shape parameters a bin's
background expectation ``B_i = sum_k theta_k b_ki + sum_j alpha_j d_ji`` is kept positive,
the role of the positive-definite switch of ROOT HistFactory's ``PiecewiseInterpolation``
(which clips at 0). With sparse templates the linear interpolation of a bin at the edge of
a band can cross zero within a fraction of 1σ; a likelihood that vanishes beyond that point
puts a wall inside the parameter space, on which MIGRAD stops, invalid (the LUX comparison's
tiny test run: 46 such fits at ``alpha = -0.142``, and a limit ratio network / traditional
of 12.5 against 1.8 without the nuisance). A plain clip leaves a kink where MIGRAD cannot
converge either (14 invalid fits in that run; none with the floor, ratio 1.56), so below a small scale
``eps_i`` (:data:`FLOOR_FRACTION` of the sum of the bin's template and ``|d|`` entries) the
expectation follows ``eps_i exp(B_i / eps_i - 1)``, which meets the line with its value and
slope. The objective stays smooth and convex (each bin's expectation is a convex function
of an affine one, and its logarithm a concave one). Expectations at the nominal parameters
change only in bins whose ±1σ change exceeds 99× the nominal background. Without shape
parameters the background is a sum of non-negative templates with non-negative
normalisations and nothing changes. Each ``theta_k`` (nominal 1) carries a Gaussian constraint of
relative width ``sigma_k`` around its global observable ``a_k`` (the auxiliary
measurement, 1 for the real data set, randomised in toys). Where the templates carry
their simulation's Σw² (:attr:`TemplateSet.background_variances`) and
``mc_statistics`` is on, each bin with background has one ``gamma_i`` with a Gaussian
constraint of width ``delta_i = sqrt(sum_k Σw²_ki) / sum_k b_ki`` around its global
observable ``c_i`` (1 for the real data set): pyhf's ``staterror``::

    -log L = sum_i [nu_i - n_i + n_i log(n_i / nu_i)] + 1/2 sum_k ((theta_k - a_k) / sigma_k)^2
             + 1/2 sum_i ((gamma_i - c_i) / delta_i)^2

(the Poisson term is written as half the deviance, which is >= 0 and numerically
stable; it differs from ``-log L`` by a data-only constant). ``mu`` and the ``theta``
are bounded below by 0 (physical ``mu >= 0``, the bounded statistic q~_mu of Cowan et
al. arXiv:1007.1727, as recommended in arXiv:2105.00599; non-negative rates).

The ``gamma_i`` are profiled in closed form: for fixed ``(mu, theta)`` each bin's
``d(-log L)/d gamma_i = 0`` is a quadratic with one admissible root (Conway,
arXiv:1103.0354), so every function here takes the *fit parameters*
``[mu, theta_1, ..., alpha_1, ...]`` and profiles the gammas inside; the gradient is the partial
derivative at the profiled gammas (envelope theorem) and the Hessian the Schur
complement. This is hand-written rather than left to the minimiser because the
traditional analysis has thousands of bins: thousands of free parameters per toy fit
would make the vectorised toy fits impossible. Global observables ``aux`` are
``[a_1..a_K, alpha-observables, c_1..c_G]`` over the ``G`` bins with a gamma. All functions are
vectorised over a leading axis of data sets.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import Field, field_validator

from wimpsift.errors import DataError, bad_value
from wimpsift.stats._config import StatsConfig
from wimpsift.stats.templates import TemplateSet

#: a bin's background below this fraction of its scale (sum of its template and ``|d|``
#: entries) is floored smoothly, exponentially towards 0 (see the module docstring)
FLOOR_FRACTION = 0.01


class LikelihoodConfig(StatsConfig):
    """Constraints of the likelihood.

    ``background_rel_uncertainty`` is one relative Gaussian width for every background
    or a ``{name: width}`` mapping (the paper's 2013 reproduction uses one combined
    background with ``sigma = mu``, i.e. width 1.0; its Sec. IV C uses 0.25 for the
    non-wall and 0.5 for the wall backgrounds).
    """

    background_rel_uncertainty: float | dict[str, float] = Field(default=0.25)
    #: per-bin MC-statistics parameters when the templates carry Σw²
    mc_statistics: bool = True

    @field_validator("background_rel_uncertainty")
    @classmethod
    def _positive(cls, value: float | dict[str, float]) -> float | dict[str, float]:
        widths = value.values() if isinstance(value, dict) else [value]
        for w in widths:
            if not (np.isfinite(w) and w > 0):
                raise ValueError("relative uncertainties must be finite and > 0")
        return value


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
        shapes = templates.shape_names
        self.n_shapes = len(shapes)
        # constraint widths of the nuisance parameters: normalisations, then shapes (1)
        self.sigma = np.concatenate([self.sigma, np.ones(self.n_shapes)])
        # (P, n_bins): row 0 the signal, then the backgrounds, then the shape deltas
        self.design = np.vstack([templates.flat_signal()[None, :], templates.flat_backgrounds(),
                                 templates.flat_shape_deltas()])
        self.n_params = self.design.shape[0]
        #: per bin, the scale below which the background is floored (shape parameters only)
        self.floor_scale = FLOOR_FRACTION * np.abs(self.design[1:]).sum(axis=0)
        self.n_bins = self.design.shape[1]
        self.parameter_names = ("mu", *(f"theta_{n}" for n in names), *(f"alpha_{n}" for n in shapes))
        #: nominal values and lower bounds of the fit parameters
        self.nominal = np.concatenate([[0.0], np.ones(len(names)), np.zeros(self.n_shapes)])
        self.lower = np.concatenate([[0.0], np.zeros(len(names)), np.full(self.n_shapes, -np.inf)])
        delta = templates.mc_relative_uncertainty() if self.config.mc_statistics \
            else np.zeros(self.n_bins)
        #: flat bins with an MC-statistics parameter and their relative widths
        self.gamma_bins = np.flatnonzero(delta > 0)
        self.gamma_delta = delta[self.gamma_bins]
        self.n_gamma = int(self.gamma_bins.size)
        self.n_aux = self.n_params - 1 + self.n_gamma
        self._all_gamma = self.n_gamma == self.n_bins
        self._gamma_d2 = self.gamma_delta**2
        self._gamma_inv_d2 = 1.0 / self._gamma_d2
        # products of template rows for the Hessian (:meth:`evaluate`)
        rows = self.design[1:]
        self._dd00 = self.design[0] ** 2
        self._dd01 = (self.design[0] * rows).T
        self._dd11 = (rows[:, None, :] * rows[None, :, :]).reshape(-1, self.n_bins).T.copy()

    # --- model -----------------------------------------------------------------
    @property
    def sigma_ref_cm2(self) -> float:
        return self.templates.sigma_ref_cm2

    def nominal_parameters(self, mu: float = 0.0) -> np.ndarray:
        return np.concatenate([[mu], self.nominal[1:]])

    def nominal_aux(self) -> np.ndarray:
        return np.concatenate([self.nominal[1:], np.ones(self.n_gamma)])

    def start_parameters(
        self, counts: np.ndarray, aux: np.ndarray, mu: np.ndarray | float | None = None
    ) -> np.ndarray:
        """The one start point of every fit (``(..., P)``): normalisations at their global
        observables (at least 1e-3); ``mu`` as given, else the excess over the background
        in units of the signal plus a tenth of the counts' Poisson error."""
        counts = np.asarray(counts, dtype=float)
        theta = np.maximum(np.asarray(aux, dtype=float)[..., : self.n_params - 1],
                           np.where(np.isfinite(self.lower[1:]), 1e-3, -np.inf))
        if mu is None:
            n_tot = counts.sum(axis=-1)
            b_tot = theta @ self.design[1:].sum(axis=1)
            s_tot = max(self.design[0].sum(), 1e-300)
            mu0 = np.clip((n_tot - b_tot) / s_tot, 0.0, None) + 0.1 * np.sqrt(np.maximum(n_tot, 1.0)) / s_tot
        else:
            mu0 = np.broadcast_to(np.asarray(mu, dtype=float), theta.shape[:-1])
        x0 = np.concatenate([np.asarray(mu0, dtype=float)[..., None], theta], axis=-1)
        # a start with nu = 0 where n > 0 (possible with zero templates) is moved inside
        bad = ~np.isfinite(self.nll(x0, counts, aux))
        if np.any(bad):
            x0[bad, 1:] = np.where(np.isfinite(self.lower[1:]), np.clip(x0[bad, 1:], 1.0, None), 0.0)
            if mu is None:
                x0[bad, 0] = np.maximum(x0[bad, 0], 1.0)
        return x0

    def background(self, params: np.ndarray) -> np.ndarray:
        """Background expectation per bin (``(..., n_bins)``) before the MC-statistics
        parameters: the normalised templates plus the shape deltas, floored (see module
        docstring)."""
        background = np.asarray(params, dtype=float)[..., 1:] @ self.design[1:]
        return self._floor(background)[0] if self.n_shapes else background

    def _floor(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray | float, np.ndarray | float]:
        """The floored background of linear values ``raw``, its first and second derivative:
        ``raw`` above ``floor_scale``, ``eps exp(raw / eps - 1)`` below (bins without any
        template entry keep 0); scalar derivatives when no bin is below."""
        eps = self.floor_scale
        low = raw < eps
        if not low.any():
            return raw, 1.0, 0.0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            slope = np.where(low, np.exp(np.minimum(raw / eps - 1.0, 0.0)), 1.0)
            curvature = np.where(low, slope / eps, 0.0)
        return np.where(low, eps * slope, raw), slope, curvature

    def nominal_background(self) -> np.ndarray:
        """Background expectation per bin at the nominal parameters."""
        return self.background(self.nominal)

    def expected(self, params: np.ndarray, gamma: np.ndarray | None = None) -> np.ndarray:
        """Expected counts per bin for parameters ``(..., P)`` (and gammas ``(..., G)``)."""
        params = np.asarray(params, dtype=float)
        background = self.background(params)
        if gamma is not None:
            background = self._gamma_full(gamma) * background
        return params[..., :1] * self.design[0] + background

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
        a = np.broadcast_to(self.nominal_aux(), n.shape[:-1] + (self.n_aux,)) if aux is None \
            else np.asarray(aux, dtype=float)
        if a.shape[-1:] != (self.n_aux,) or not np.all(np.isfinite(a)):
            raise DataError(
                f"aux: expected {self.n_aux} finite global observables ({self.n_params - 1} "
                f"normalisations and shapes, {self.n_gamma} MC-statistics)"
            )
        return n, a

    # --- MC-statistics parameters ----------------------------------------------
    def _gamma_full(self, gamma: np.ndarray) -> np.ndarray:
        gamma = np.asarray(gamma, dtype=float)
        if self._all_gamma:
            return gamma
        full = np.ones(gamma.shape[:-1] + (self.n_bins,))
        full[..., self.gamma_bins] = gamma
        return full

    def _at_gamma_bins(self, values: np.ndarray) -> np.ndarray:
        return values if self._all_gamma else values[..., self.gamma_bins]

    def _profile_gamma(self, signal: np.ndarray, background: np.ndarray, counts: np.ndarray,
                       c: np.ndarray) -> np.ndarray:
        """Closed-form gammas ``(..., G)`` from the signal and background expectations per bin.

        d(-log L)/d gamma = 0 times d² gamma is ``b g² + (b² d² + ms - c b) g + d² b (ms - n)
        - c ms = 0``, whose larger root is the profiled gamma (clipped at 0). Without counts it
        factorises, ``(b g + ms)(g + b d² - c)``, so the root ``c - d² b`` needs no square root;
        the quadratic (Numerical Recipes' cancellation-free form) is solved only in bins with
        counts, which in sparse multi-dimensional templates are a few per cent.
        """
        ms, b = self._at_gamma_bins(signal), self._at_gamma_bins(background)
        n = self._at_gamma_bins(np.asarray(counts, dtype=float))
        c = np.asarray(c, dtype=float)
        d2 = self._gamma_d2
        shape = np.broadcast_shapes(ms.shape, b.shape, n.shape, c.shape)
        g = np.array(np.broadcast_to(c - d2 * b, shape))
        index = np.nonzero(np.broadcast_to(n, shape))
        if index[0].size:
            bk, mk, nk, ck, dk = (np.broadcast_to(v, shape)[index] for v in (b, ms, n, c, d2))
            qb = bk * bk * dk + mk - ck * bk
            qc = dk * bk * (mk - nk) - ck * mk
            q = -0.5 * (qb + np.copysign(np.sqrt(np.maximum(qb * qb - 4.0 * bk * qc, 0.0)), qb))
            with np.errstate(divide="ignore", invalid="ignore"):
                gk = np.fmax(q / bk, qc / q)  # the two roots are q / b and qc / q
            g[index] = np.where(np.isfinite(gk), gk, ck)
        no_background = ~(np.broadcast_to(b, shape) > 0)
        if np.any(no_background):
            g[no_background] = np.broadcast_to(c, shape)[no_background]
        return np.maximum(g, 0.0)

    def gamma_hat(self, params: np.ndarray, counts: np.ndarray, aux: np.ndarray) -> np.ndarray:
        """Profiled MC-statistics parameters ``(..., G)`` at fit parameters ``params``."""
        params = np.asarray(params, dtype=float)
        _, c = self._split_aux(aux)
        return self._profile_gamma(params[..., :1] * self.design[0], self.background(params), counts, c)

    # --- objective -------------------------------------------------------------
    def _split_aux(self, aux: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        aux = np.asarray(aux, dtype=float)
        return aux[..., : self.n_params - 1], aux[..., self.n_params - 1:]

    def evaluate(
        self, params: np.ndarray, counts: np.ndarray, aux: np.ndarray, order: int = 0
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(nll, gradient, Hessian)`` of the profiled objective, the gammas profiled once;
        the gradient only for ``order >= 1``, the Hessian only for ``order == 2``.

        The Hessian is ``sum_i D_pi D_qi K_{a_p a_q, i}`` with ``a_p`` 0 for ``mu`` and 1
        for the background parameters: each bin's 2×2 weights ``K`` (Poisson curvature
        minus the gamma Schur term) times products of template rows precomputed at
        construction, i.e. three matrix products per call.
        """
        params = np.asarray(params, dtype=float)
        counts = np.asarray(counts, dtype=float)
        a_theta, c = self._split_aux(aux)
        dev = params[..., 1:] - a_theta
        f = 0.5 * np.sum((dev / self.sigma) ** 2, axis=-1)
        signal = params[..., :1] * self.design[0]
        background = params[..., 1:] @ self.design[1:]
        # with shape parameters the background is floored: its derivatives by the
        # background parameters are slope x template rows, plus a curvature term
        slope = curvature = None
        if self.n_shapes:
            background, slope, curvature = self._floor(background)
            if np.isscalar(slope):  # no bin below its floor: the linear model's derivatives
                slope = curvature = None
        lead = np.broadcast_shapes(counts.shape[:-1], params.shape[:-1], a_theta.shape[:-1])
        shape = lead + (self.n_bins,)
        if self.n_gamma:
            gamma_g = self._profile_gamma(signal, background, counts, c)
            e = (gamma_g - c) / self.gamma_delta
            f = f + 0.5 * np.sum(e * e, axis=-1)
            gamma = self._gamma_full(gamma_g)
            nu = np.broadcast_to(signal + gamma * background, shape)
        else:
            gamma, gamma_g = None, None
            nu = np.broadcast_to(signal + background, shape)
        # Poisson half deviance sum_i nu_i - n_i + n_i log(n_i / nu_i): logarithms and
        # ratios only in bins with counts
        n_full = np.broadcast_to(counts, shape)
        index = np.nonzero(n_full)
        n_k, nu_k = n_full[index], nu[index]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio_k = n_k / nu_k
            term = np.zeros(shape)
            term[index] = n_k * np.log(ratio_k) - n_k
            total = np.sum(nu, axis=-1) + np.sum(term, axis=-1)
        f = np.where(np.isnan(total) | np.any(nu < 0, axis=-1), np.inf, total) + f
        if order < 1:
            return f, None, None
        ratio = np.zeros(shape)
        ratio[index] = ratio_k
        r = 1.0 - ratio
        g = np.empty(lead + (self.n_params,))
        g[..., 0] = r @ self.design[0]
        r_b = r if gamma is None else r * gamma
        if slope is not None:
            r_b = r_b * slope
        g[..., 1:] = r_b @ self.design[1:].T + dev / self.sigma**2
        if order < 2:
            return f, g, None
        w = np.zeros(shape)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            w[index] = ratio_k / nu_k
        if gamma is None:
            k00 = k01 = k11 = w
        else:
            # Schur term of each interior gamma (none for a gamma at its bound 0)
            w_g, b_g = self._at_gamma_bins(w), self._at_gamma_bins(background)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                values = np.where(gamma_g > 0, 1.0 / (w_g * b_g * b_g + self._gamma_inv_d2), 0.0)
            if self._all_gamma:
                inv_h = values
            else:
                inv_h = np.zeros(shape)
                inv_h[..., self.gamma_bins] = values
            c0 = w * background
            c1 = c0 * gamma + r
            k00 = w - c0 * c0 * inv_h
            k01 = w * gamma - c0 * c1 * inv_h
            k11 = w * gamma * gamma - c1 * c1 * inv_h
        if slope is not None:
            k01 = k01 * slope
            k11 = k11 * slope * slope + (r if gamma is None else r * gamma) * curvature
        m = self.n_params - 1
        h = np.empty(lead + (self.n_params, self.n_params))
        h[..., 0, 0] = k00 @ self._dd00
        h[..., 0, 1:] = k01 @ self._dd01
        h[..., 1:, 0] = h[..., 0, 1:]
        h[..., 1:, 1:] = (k11 @ self._dd11).reshape(lead + (m, m))
        idx = np.arange(1, self.n_params)
        h[..., idx, idx] += 1.0 / self.sigma**2
        return f, g, h

    def nll(self, params: np.ndarray, counts: np.ndarray, aux: np.ndarray) -> np.ndarray:
        """Negative log-likelihood (half deviance + constraints) with the gammas profiled."""
        return self.evaluate(params, counts, aux)[0]

    def grad(self, params: np.ndarray, counts: np.ndarray, aux: np.ndarray) -> np.ndarray:
        return self.evaluate(params, counts, aux, order=1)[1]

    def hessian(self, params: np.ndarray, counts: np.ndarray, aux: np.ndarray) -> np.ndarray:
        """Hessian of the profiled objective (Schur complement over the gammas)."""
        return self.evaluate(params, counts, aux, order=2)[2]

    # --- data sets ---------------------------------------------------------------
    def asimov(self, params: np.ndarray, gamma: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Asimov data set (expected counts) and global observables at ``params`` (and
        ``gamma``, nominal 1 when None)."""
        params = np.asarray(params, dtype=float)
        gamma = np.ones(params.shape[:-1] + (self.n_gamma,)) if gamma is None else np.asarray(gamma)
        counts = self.expected(params, gamma if self.n_gamma else None)
        return counts, np.concatenate([params[..., 1:], gamma], axis=-1)

    def sample(
        self, params: np.ndarray, n_toys: int, rng: np.random.Generator,
        gamma: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n_toys`` Poisson toys and Gaussian-randomised global observables.

        Counts are drawn at ``params`` (and ``gamma``, nominal 1 when None); the global
        observables around ``theta_k`` and ``gamma_i`` with the constraint widths (the
        frequentist treatment of the auxiliary measurements).
        """
        params = np.asarray(params, dtype=float)
        nu, centre = self.asimov(params, gamma)
        counts = rng.poisson(np.broadcast_to(nu, (n_toys, self.n_bins))).astype(float)
        widths = np.concatenate([self.sigma, self.gamma_delta])
        aux = centre + widths * rng.standard_normal((n_toys, self.n_aux))
        return counts, aux
