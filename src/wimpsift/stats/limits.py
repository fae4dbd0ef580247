"""90 % CL upper limits on the signal strength and the WIMP-nucleon cross-section.

Two threshold methods, one statistic (q~_mu, :mod:`wimpsift.stats.teststat`):

* ``asymptotic``: p-values from Cowan et al. (arXiv:1007.1727) with the Asimov data
  set; median expected limit and bands from ``sqrt(q_mu,A) = Phi^-1(CL) + N``
  (their eq. 89, solved self-consistently because ``sigma`` depends on ``mu``;
  ``Phi^-1(CL)`` taken as 0 at CL <= 0.5, where every limit is ``max(mu_hat, 0)``);
* ``toys``: a Neyman construction on a grid of strengths (:mod:`wimpsift.stats.toys`);
  median and bands are quantiles of the limits of background-only toys. With
  ``toy_nuisances="profiled"`` (the default) the toys of each strength are drawn at
  the data's conditional best-fit nuisance parameters at that strength, and the
  background-only toys at those of ``mu = 0`` (alea's and pyhf's construction);
  ``"nominal"`` draws every toy at the nominal values. Fits that did not converge are
  counted in ``LimitResult.extra`` (``n_fits``, ``n_fits_not_converged``) and warned
  about; so are the MIGRAD fits of the asymptotic part (``n_migrad_fits``,
  ``n_migrad_fits_invalid``).

``auto`` (the default) picks between them by the rule below. Cowan et al.'s formulae
assume many events; with few, the asymptotic limit is far off (one bin, no
background, none observed: 0.82 events instead of 2.30). The rule: take the bins
holding ``signal_region_fraction`` (90 %) of the signal, best signal-to-background
first; count the events expected there, background plus signal at the asymptotic
observed limit; if fewer than ``asymptotic_min_events`` (10), use toys (and say so in
``extra["signal_region_events"]``, always recorded), else the asymptotic formulae.

Toy limits are refined: from two grid strengths below the observed limit to one above,
``refine_points`` strengths get their own toys, and ``log p(mu)`` is fitted by a
straight line there (least squares), which removes the linear interpolation's
bias and averages the toys' noise (one bin, no background: 2.30 events within 1 %).

``power_constraint`` (the critical power ``pi_crit``: 0.159 is the -1 sigma band,
0.5 the median; arXiv:2105.00599 reports that LUX's two results used different
thresholds, a factor ~2 on the limit, and asks for one convention) stops
the reported limit from going below the expected-limit quantile ``pi_crit`` of
background-only experiments (``power_constraint_floor_mu``). The expected bands stay
those of the unconstrained limit, as collaborations draw them beside a constrained one.
Cross-sections are ``mu * sigma_ref_cm2`` of the templates.

How each band value was obtained is in ``LimitResult.band_status`` (:data:`BAND_STATUS`).
No band is ever a silent 0: with CLs+b at CL, background-only experiments below the
quantile ``1 - CL`` exclude every strength (asymptotically ``mu_hat < -Phi^-1(CL) sigma``),
so the asymptotic band ``Phi^-1(CL) + N <= 0`` (the -2 sigma band at 90 % CL, the median
and below at CL <= 0.5) is empty
and reported as NaN (``"empty"``); a toy band whose quantile falls on background-only
toys that exclude even the lowest tested strength is NaN too (``"below_grid"``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator
from scipy import optimize, stats

from wimpsift.errors import DataError
from wimpsift.progress import Progress
from wimpsift.stats._config import StatsConfig
from wimpsift.stats.fit import counting_fits, fit
from wimpsift.stats.likelihood import BinnedLikelihood
from wimpsift.stats.teststat import (
    AsimovBackground,
    asimov_background,
    check_cl,
    discovery,
    pvalue_qtilde,
    qtilde,
)
from wimpsift.stats.toys import (
    StageTimer,
    _no_timer,
    build_distribution,
    check_mu_grid,
    limits_from_pvalues,
    nominal_nuisances,
    profiled_nuisances,
    qtilde_on_grid,
    warn_not_converged,
)

BAND_SIGMAS = (-2, -1, 0, 1, 2)

#: Phi(-1): the critical power of a constraint at the -1 sigma band (the command line's default)
POWER_CONSTRAINT_MINUS_1_SIGMA = 0.15865525393145707

#: what ``LimitResult.band_status`` says of each band value
BAND_STATUS = {
    "asymptotic": "Cowan et al. eq. 89 on the Asimov background-only data set",
    "toys": "quantile of the limits of background-only toy experiments",
    "empty": "NaN: background-only experiments at this quantile exclude every strength "
             "(CLs+b, Phi^-1(CL) + N <= 0)",
    "below_grid": "NaN: background-only toys at this quantile exclude the lowest tested strength",
    "beyond_grid": "NaN: background-only toys at this quantile exclude no tested strength "
                   "(raise --mu-grid-points or check the templates)",
}


def band_key(n_sigma: int) -> str:
    return "median" if n_sigma == 0 else f"{n_sigma:+d}sigma"


class LimitConfig(StatsConfig):
    """How limits are computed."""

    confidence_level: float = Field(default=0.9, gt=0.0, lt=1.0)
    method: Literal["auto", "asymptotic", "toys"] = "auto"
    n_toys: int = Field(default=2000, ge=10, validate_default=True,  # the CL rule below
                        description="toys per grid strength")
    n_background_toys: int = Field(default=1000, ge=10, description="background-only toys for bands")
    mu_grid_points: int = Field(default=24, ge=3)
    refine_points: int = Field(default=16, ge=0, description="toys: strengths added around the limit")
    asymptotic_min_events: float = Field(
        default=10.0, ge=0.0, description="auto: fewer expected events in the signal region -> toys")
    signal_region_fraction: float = Field(default=0.9, gt=0.0, le=1.0)
    power_constraint: float | None = Field(default=None, gt=0.0, lt=1.0)
    toy_nuisances: Literal["profiled", "nominal"] = "profiled"
    seed: int = Field(default=0, ge=0)

    @field_validator("n_toys")
    @classmethod
    def _toys_reach_the_cl(cls, n_toys: int, info: ValidationInfo) -> int:
        """Toys must be able to give a p-value below ``1 - CL``: with fewer than
        ``1 / (1 - CL)`` per strength no toy lies beyond the critical value, every strength
        whose toys happen to miss the observed statistic counts as excluded, and the limit
        comes out at a lower CL than it says (99.9 % CL, no background, none observed: 4.6
        events from 50 toys instead of 6.9)."""
        cl, method = info.data.get("confidence_level"), info.data.get("method")
        if cl is None or method == "asymptotic":
            return n_toys
        needed = int(np.ceil(1.0 / (1.0 - cl) - 1e-6))
        if n_toys < needed:
            raise ValueError(f"expected at least {needed} toys per strength at a confidence level "
                             f"of {cl:g}: fewer cannot give a p-value below {1.0 - cl:.3g}")
        return n_toys


@dataclass
class LimitResult:
    """A limit with its expected bands, in signal strength and in cm²."""

    method: str
    confidence_level: float
    sigma_ref_cm2: float
    mass_gev: float | None
    observed_mu: float
    expected_mu: dict[str, float]
    mu_hat: float
    power_constrained_mu: float | None = None
    extra: dict[str, float] = field(default_factory=dict)
    #: per key of ``expected_mu``: a key of :data:`BAND_STATUS`
    band_status: dict[str, str] = field(default_factory=dict)
    #: the critical power and the expected-limit quantile it sets (None without one)
    power_constraint: float | None = None
    power_constraint_floor_mu: float | None = None
    #: quantiles (same keys as ``expected_mu``) of the limits of externally supplied
    #: background-only pseudo-experiments (e.g. event-level, independent of the templates);
    #: NaN (null in JSON) below or beyond the tested strengths as the bands, with
    #: ``fraction_below_grid`` and ``fraction_beyond_grid`` of the experiments
    pseudo_experiment_mu: dict[str, float] | None = None

    @property
    def reported_mu(self) -> float:
        return self.power_constrained_mu if self.power_constrained_mu is not None else self.observed_mu

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: an empty band (NaN) is ``None`` (null), its reason in ``band_status``."""
        out = asdict(self)
        s = self.sigma_ref_cm2
        out["expected_mu"] = {k: _or_none(v) for k, v in self.expected_mu.items()}
        out["observed_sigma_nucleon_cm2"] = self.observed_mu * s
        out["reported_sigma_nucleon_cm2"] = self.reported_mu * s
        out["expected_sigma_nucleon_cm2"] = {k: _or_none(v * s) for k, v in self.expected_mu.items()}
        if self.power_constraint_floor_mu is not None:
            out["power_constraint_floor_sigma_nucleon_cm2"] = self.power_constraint_floor_mu * s
        if self.pseudo_experiment_mu is not None:
            out["pseudo_experiment_mu"] = {k: _or_none(v) for k, v in self.pseudo_experiment_mu.items()}
            out["pseudo_experiment_sigma_nucleon_cm2"] = {
                k: _or_none(v * s) for k, v in self.pseudo_experiment_mu.items()
                if not k.startswith("fraction_")}
        return out


def _or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _bracket_increasing(func, lo: float, start: float, max_doublings: int = 60) -> tuple[float, float]:
    """Find ``hi > lo`` with ``func(hi) > 0`` for an increasing function, doubling ``start``."""
    hi = max(start, lo * 2.0, 1e-12)
    for _ in range(max_doublings):
        if func(hi) > 0:
            return lo, hi
        lo, hi = hi, hi * 2.0
    raise DataError("upper limit: no exclusion found; is the signal template empty in the data's bins?")


def _mu_scale(lik: BinnedLikelihood) -> float:
    """A first guess of a limit: 2.3 events plus the background's sqrt, in units of mu."""
    s = lik.design[0].sum()
    b = lik.nominal_background().sum()
    return (2.3 + 1.64 * np.sqrt(b)) / max(s, 1e-300)


def asymptotic_upper_limit(
    lik: BinnedLikelihood, counts: np.ndarray, aux: np.ndarray | None = None, cl: float = 0.9,
    asimov: AsimovBackground | None = None,
) -> tuple[float, float]:
    """Observed asymptotic upper limit on mu and the best fit mu_hat (iminuit fits)."""
    alpha = 1.0 - check_cl(cl)
    counts, aux = lik.check_data(counts, aux)
    asimov = asimov or asimov_background(lik, counts, aux)
    free = fit(lik, counts, aux)

    def excess(mu: float) -> float:
        q = qtilde(lik, counts, aux, mu, free=free)
        return alpha - float(pvalue_qtilde(q, asimov.q_asimov(lik, mu)))

    # start just above mu_hat: at mu_hat itself q~ and q_A are both ~0 and their ratio
    # is fit noise. A data set with a strong deficit excludes every mu above that point
    # (asymptotically p(mu -> mu_hat) = Phi(mu_hat / sigma) < alpha): report it.
    scale = _mu_scale(lik)
    lo = max(free.mu, 0.0) + 1e-4 * scale
    if excess(lo) > 0:
        return float(lo), free.mu
    lo, hi = _bracket_increasing(excess, lo, lo + scale)
    return float(optimize.brentq(excess, lo, hi, xtol=1e-6 * hi, rtol=1e-6)), free.mu


def asymptotic_expected(
    lik: BinnedLikelihood, asimov: AsimovBackground, cl: float = 0.9,
    n_sigmas: tuple[float, ...] = BAND_SIGMAS,
) -> dict[float, float]:
    """Expected limits ``mu_N`` with ``sqrt(q_mu,A) = max(Phi^-1(cl), 0) + N``; NaN where
    that is <= 0 (an empty band: those background-only experiments exclude every mu > 0).

    ``max(.., 0)``: q~_mu is 0 for every ``mu <= mu_hat``, so p_mu = 1 there (all toys have
    q~ >= 0) and no limit is below ``mu_hat``; above it ``p_mu <= 1/2``. At CL <= 0.5 the
    limit is therefore ``max(mu_hat, 0)`` whatever the CL (so is :func:`asymptotic_upper_limit`,
    which starts above ``mu_hat``), not ``mu_hat + Phi^-1(CL) sigma < mu_hat``."""
    z = max(float(stats.norm.ppf(check_cl(cl))), 0.0)
    out: dict[float, float] = {}
    for n in n_sigmas:
        target = z + n
        if target <= 0:
            out[n] = float("nan")
            continue

        def f(mu: float, target: float = target) -> float:
            return np.sqrt(asimov.q_asimov(lik, mu)) - target

        lo, hi = _bracket_increasing(f, 0.0, _mu_scale(lik))
        out[n] = float(optimize.brentq(f, lo, hi, xtol=1e-6 * hi, rtol=1e-6))
    return out


#: the toy grid's scale, in units of sigma, where the median expected limit is smaller
#: (CL below about 0.58) or an empty band (CL <= 0.5); see :func:`_mu_grid`
MIN_GRID_MEDIAN_SIGMAS = 0.2


def asymptotic_sigma(lik: BinnedLikelihood, asimov: AsimovBackground) -> float:
    """The strength ``sigma`` with ``q_mu,A = 1``: the asymptotic standard deviation of
    ``mu_hat`` near ``mu = 0`` (Cowan et al. eq. 31), a scale that does not depend on the CL."""
    return asymptotic_expected(lik, asimov, 0.5, (1,))[1]


def _mu_grid(
    expected: dict[float, float], observed: float, sigma: float, points: int, wide: bool = False,
) -> np.ndarray:
    """Geometric grid from a tenth of the asymptotic median (below the -1 sigma band,
    0.22 of the median at 90 % CL) to twice the highest band, 1.5 times the observed
    limit, 3 times the median or 4 ``sigma`` (:func:`asymptotic_sigma`), whichever is
    highest.

    The median is ``Phi^-1(CL) sigma``: 0 at CL = 0.5 and an empty band (NaN) below, so a
    grid scaled by it alone collapses (NaN strengths at CL <= 0.5, decades of useless
    range just above). It is therefore taken as at least :data:`MIN_GRID_MEDIAN_SIGMAS`
    ``sigma`` (no change where the median is larger, CL >= 0.6 on the usual templates);
    the 4 ``sigma`` (twice the +2 sigma band at CL = 0.5) are a floor for the top.

    Toy limits below the first point are reported as the first point (conservative):
    at CL <= 0.5 a data set without excess excludes every ``mu > 0`` (asymptotically
    ``mu_hat``, see :func:`asymptotic_expected`), and its limit is that point, 0.02 ``sigma``.
    ``wide`` reaches 6 times the median, for data sets not drawn from the templates.
    """
    median = expected[0]
    floor = MIN_GRID_MEDIAN_SIGMAS * sigma
    centre = median if np.isfinite(median) and median >= floor else floor
    lo = 0.1 * centre
    highest = max((v for v in expected.values() if np.isfinite(v)), default=0.0)
    hi = max(2.0 * highest, 1.5 * observed, (6.0 if wide else 3.0) * centre, 4.0 * sigma)
    return check_mu_grid(np.geomspace(lo, hi, points))


def signal_region_events(lik: BinnedLikelihood, mu: float, fraction: float = 0.9) -> float:
    """Events expected (background + ``mu`` × signal) in the bins holding ``fraction`` of
    the signal, taken in order of decreasing signal-to-background ratio."""
    s = lik.design[0]
    b = lik.nominal_background()
    order = np.argsort(-s / np.maximum(b, 1e-300), kind="stable")
    share = np.cumsum(s[order]) / max(s.sum(), 1e-300)
    chosen = order[: int(np.searchsorted(share, fraction - 1e-12)) + 1]
    return float((mu * s[chosen] + b[chosen]).sum())


def _refined_limit(
    lik: BinnedLikelihood, grid: np.ndarray, coarse: float, counts: np.ndarray, aux: np.ndarray,
    config: LimitConfig, rng: np.random.Generator, timer: StageTimer,
) -> tuple[float, int, int]:
    """Observed toy limit refined between the grid strengths bracketing ``coarse``, with
    the fits this made and how many of them did not converge."""
    if config.refine_points == 0 or not np.isfinite(coarse) or coarse <= grid[0]:
        return coarse, 0, 0
    j = int(np.clip(np.searchsorted(grid, coarse), 1, grid.size - 1))
    lo, hi = grid[max(j - 2, 0)], grid[min(j + 1, grid.size - 1)]
    fine = np.linspace(lo, hi, config.refine_points + 2)
    with timer("hypothesis_testing"):  # toys at the same nuisance values as the coarse grid's
        at = np.concatenate([[0.0], fine])
        nuisances, n_bad = (profiled_nuisances(lik, counts, aux, at)
                            if config.toy_nuisances == "profiled" else (nominal_nuisances(lik, at), 0))
    _, per_mu = nuisances.split_first()
    dist = build_distribution(lik, fine, config.n_toys, rng, nuisances=per_mu, timer=timer)
    with timer("hypothesis_testing"):
        q_obs = qtilde_on_grid(lik, counts[None, :], aux[None, :], fine)
        p = dist.pvalues(q_obs.q)[0]
    n_fits = dist.n_fits + q_obs.n_fits + (at.size if config.toy_nuisances == "profiled" else 0)
    n_bad += dist.n_not_converged + q_obs.n_not_converged
    alpha = 1.0 - config.confidence_level
    usable = p > 0
    if usable.sum() < 3:
        return float(limits_from_pvalues(fine, p, config.confidence_level)[0]), n_fits, n_bad
    slope, intercept = np.polyfit(fine[usable], np.log(p[usable]), 1)
    if slope >= 0:
        return coarse, n_fits, n_bad
    return float(np.clip((np.log(alpha) - intercept) / slope, lo, hi)), n_fits, n_bad


def upper_limit(
    lik: BinnedLikelihood,
    counts: np.ndarray,
    aux: np.ndarray | None = None,
    config: LimitConfig | None = None,
    timer: StageTimer = _no_timer,
    progress: Progress | None = None,
) -> LimitResult:
    """Observed limit, median expected limit with ±1σ/±2σ bands and (option) the PCL;
    ``progress`` hears of the toy construction (:mod:`wimpsift.progress`)."""
    config = config or LimitConfig()
    cl = config.confidence_level
    counts, aux = lik.check_data(counts, aux)
    with timer("hypothesis_testing"), counting_fits() as migrad:
        asimov = asimov_background(lik, counts, aux)
        sigmas = BAND_SIGMAS if config.power_constraint is None else (
            *BAND_SIGMAS, float(stats.norm.ppf(config.power_constraint)))
        asym_expected = asymptotic_expected(lik, asimov, cl, sigmas)
        asym_obs, mu_hat = asymptotic_upper_limit(lik, counts, aux, cl, asimov)
    extra: dict[str, float] = {"n_migrad_fits": float(migrad.n_fits),
                               "n_migrad_fits_invalid": float(migrad.n_invalid)}
    method = config.method
    events = signal_region_events(lik, asym_obs, config.signal_region_fraction)
    extra["signal_region_events"] = events
    if method == "auto":
        method = "toys" if events < config.asymptotic_min_events else "asymptotic"
    if method == "asymptotic":
        observed = asym_obs
        expected = {band_key(n): asym_expected[n] for n in BAND_SIGMAS}
        status = {band_key(n): "asymptotic" if np.isfinite(asym_expected[n]) else "empty"
                  for n in BAND_SIGMAS}
        pcl_floor = asym_expected[sigmas[-1]] if config.power_constraint is not None else None
    else:
        rng = np.random.default_rng(config.seed)
        with timer("hypothesis_testing"), counting_fits() as migrad_grid:
            sigma = asymptotic_sigma(lik, asimov)
        extra["n_migrad_fits"] += migrad_grid.n_fits
        extra["n_migrad_fits_invalid"] += migrad_grid.n_invalid
        grid = _mu_grid(asym_expected, asym_obs, sigma, config.mu_grid_points)
        with timer("hypothesis_testing"):
            nuisances, n_bad_profile = (
                profiled_nuisances(lik, counts, aux, np.concatenate([[0.0], grid]))
                if config.toy_nuisances == "profiled"
                else (nominal_nuisances(lik, np.concatenate([[0.0], grid])), 0))
        background, per_mu = nuisances.split_first()
        dist = build_distribution(lik, grid, config.n_toys, rng, nuisances=per_mu, timer=timer,
                                  progress=progress)
        with timer("hypothesis_testing"):
            q_obs = qtilde_on_grid(lik, counts, aux, grid)
            coarse = float(limits_from_pvalues(grid, dist.pvalues(q_obs.q), cl)[0])
        observed, n_refine, n_bad_refine = _refined_limit(lik, grid, coarse, counts, aux, config, rng, timer)
        with timer("toy_generation"):
            b_theta, b_gamma = background
            b_truth = np.concatenate([[0.0], b_theta])
            b_counts, b_aux = lik.sample(b_truth, config.n_background_toys, rng, gamma=b_gamma)
        with timer("hypothesis_testing"):
            q_b = qtilde_on_grid(lik, b_counts, b_aux, grid, free_start=b_truth)
            b_limits = limits_from_pvalues(grid, dist.pvalues(q_b.q), cl)
        n_profile = grid.size + 1 if config.toy_nuisances == "profiled" else 0
        n_fits = dist.n_fits + q_obs.n_fits + q_b.n_fits + n_profile + n_refine
        n_bad = (dist.n_not_converged + q_obs.n_not_converged + q_b.n_not_converged + n_bad_profile
                 + n_bad_refine)
        warn_not_converged(n_bad, n_fits, f"limit at {lik.templates.mass_gev} GeV")
        quantiles = {n: float(stats.norm.cdf(n)) for n in BAND_SIGMAS}
        expected, status = {}, {}
        for n, q in quantiles.items():
            value = float(np.quantile(b_limits, q))
            below = value <= grid[0]  # limits_from_pvalues puts "excluded everywhere" at grid[0]
            beyond = not np.isfinite(value)
            expected[band_key(n)] = float("nan") if below or beyond else value
            status[band_key(n)] = "below_grid" if below else "beyond_grid" if beyond else "toys"
        pcl_floor = float(np.quantile(b_limits, config.power_constraint)) \
            if config.power_constraint is not None else None
        extra |= {
            "asymptotic_observed_mu": asym_obs,
            "asymptotic_median_mu": asym_expected[0],
            "fraction_background_toys_beyond_grid": float(np.mean(~np.isfinite(b_limits))),
            "n_fits": float(n_fits),
            "n_fits_not_converged": float(n_bad),
        }
    if pcl_floor is not None and not np.isfinite(pcl_floor):
        pcl_floor = 0.0  # the quantile is an empty band: nothing to constrain
    pcl = None if pcl_floor is None else max(observed, pcl_floor)
    return LimitResult(
        method=method, confidence_level=cl, sigma_ref_cm2=lik.sigma_ref_cm2,
        mass_gev=lik.templates.mass_gev, observed_mu=observed, expected_mu=expected,
        mu_hat=mu_hat, power_constrained_mu=pcl, extra=extra, band_status=status,
        power_constraint=config.power_constraint, power_constraint_floor_mu=pcl_floor,
    )


def discovery_significance(
    lik: BinnedLikelihood, counts: np.ndarray, aux: np.ndarray | None = None
) -> dict[str, float]:
    """Discovery significance of a data set (asymptotic, Z = sqrt(q_0))."""
    counts, aux = lik.check_data(counts, aux)
    return discovery(lik, counts, aux)
