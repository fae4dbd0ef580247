"""Limits: textbook Poisson limit, coverage, asymptotic vs toy thresholds, validators."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from wimpsift.errors import ConfigError
from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.limits import (
    LimitConfig,
    asymptotic_upper_limit,
    discovery_significance,
    upper_limit,
)
from wimpsift.stats.templates import TemplateSet
from wimpsift.stats.teststat import asimov_background, check_cl, pvalue_qtilde, threshold_qtilde
from wimpsift.stats.toys import (
    build_distribution,
    check_mu_grid,
    limits_from_pvalues,
    toy_limits,
)


def _zero_background_counting() -> BinnedLikelihood:
    # one bin, one expected signal event per unit mu, a background known to be zero
    templates = TemplateSet(signal=np.array([1.0]), backgrounds={"none": np.array([0.0])},
                            allow_background_free_bins=True)
    return BinnedLikelihood(templates, LikelihoodConfig.build(background_rel_uncertainty=0.1))


def test_zero_background_zero_events_gives_textbook_poisson_limit():
    """n = 0, b = 0: the 90 % CL limit is -ln(0.1) = 2.303 signal events.

    With 0 observed, q~_mu(0) = 2 mu is the largest value q~_mu takes (it falls with
    n for n < mu and is 0 for n >= mu), so p_mu = P(q~_mu >= 2 mu | mu) = P(n = 0 | mu)
    = exp(-mu). p_mu = 0.1 gives mu = ln 10 = 2.3026, the classical Poisson upper
    limit (Neyman; also Feldman-Cousins' is 2.44 and the Bayesian flat prior's 2.303).
    That needs the toy construction with ties counted in the p-value; the asymptotic
    formula, which assumes a Gaussian mu_hat, gives 0.82 here (q_A = 2 mu, limit where
    2 mu = 1.28^2), a known failure at zero counts that we assert too.
    """
    lik = _zero_background_counting()
    grid = np.linspace(2.0, 2.6, 13)
    dist = build_distribution(lik, grid, 40_000, np.random.default_rng(11))
    # p-values of n = 0 match exp(-mu) within the toy statistics (sd ~ 0.0015 at p = 0.1)
    q_obs = 2.0 * grid
    np.testing.assert_allclose(dist.pvalues(q_obs[None, :])[0], np.exp(-grid), atol=0.006)
    limit = toy_limits(lik, dist, np.array([[0.0]]), np.array([[1.0]]))[0]
    assert limit == pytest.approx(np.log(10.0), abs=0.03)
    asym, _ = asymptotic_upper_limit(lik, np.array([0.0]))
    assert asym == pytest.approx(stats.norm.ppf(0.9) ** 2 / 2.0, rel=1e-3)


def test_toys_too_few_for_the_confidence_level_are_refused():
    """n = 0, b = 0 at 99.9 % CL: the limit is -ln(0.001) = 6.91 events. 50 toys per
    strength cannot give a p-value below 0.001 (p < alpha only where no toy reaches the
    observed q~, which at mu = 4.57 happens in 59 % of 50-toy sets): the limit came out at
    4.57 with exit 0. Fewer than 1 / (1 - CL) toys are refused; 1000 reach the Poisson value
    (a few per cent above it: the fit of log p keeps the strengths with a toy beyond)."""
    lik = _zero_background_counting()
    with pytest.raises(ConfigError, match=r"n_toys: expected at least 1000 toys per strength"):
        LimitConfig.build(method="toys", confidence_level=0.999, n_toys=50)
    assert LimitConfig.build(method="asymptotic", confidence_level=0.999, n_toys=50).n_toys == 50
    with pytest.raises(ConfigError, match=r"n_toys: expected at least 10000 toys"):  # the default too
        LimitConfig.build(method="toys", confidence_level=0.9999)
    config = LimitConfig.build(method="toys", confidence_level=0.999, n_toys=1000,
                               n_background_toys=20, seed=1)
    limit = upper_limit(lik, np.array([0.0]), config=config).observed_mu
    assert np.log(1000.0) <= limit <= 1.15 * np.log(1000.0)


@pytest.mark.parametrize("mu_true", [0.5, 1.5, 3.0])
def test_toy_upper_limit_covers_at_90_percent(make_model, mu_true):
    """Independent toys at mu_true: the limit is >= mu_true in 90 +- 2 % of them.

    4000 toys give a binomial sd of 0.47 %, so +-2 % is a 4 sd band.
    """
    lik = make_model()
    rng = np.random.default_rng(int(mu_true * 100))
    grid = np.geomspace(0.1, 8.0, 28)
    dist = build_distribution(lik, grid, 3000, rng)
    counts, aux = lik.sample(lik.nominal_parameters(mu_true), 4000, rng)
    limits = toy_limits(lik, dist, counts, aux, cl=0.9)
    assert np.isfinite(limits).mean() > 0.99
    coverage = np.mean(limits >= mu_true)
    assert coverage == pytest.approx(0.90, abs=0.02)


def test_asymptotic_thresholds_agree_with_toys_at_large_counts(make_model):
    """Thousands of background events: toy critical values of q~_mu match Cowan's."""
    lik = make_model(signal=300.0, er=5000.0, wall=500.0, widths={"er": 0.05, "wall": 0.2})
    counts, aux = lik.asimov(lik.nominal_parameters(0.0))
    asimov = asimov_background(lik, counts, aux)
    grid = np.array([0.3, 0.6, 1.2])
    dist = build_distribution(lik, grid, 6000, np.random.default_rng(5))
    toy_t = dist.thresholds(0.9)
    asym_t = threshold_qtilde([asimov.q_asimov(lik, m) for m in grid], 0.9)
    # quantile sd ~ 0.08 for 6000 toys at the 90 % point of a half chi-square
    np.testing.assert_allclose(toy_t, asym_t, atol=0.3)
    # and the expected limits agree
    cfg_toys = LimitConfig.build(method="toys", n_toys=1500, n_background_toys=1500, seed=3)
    toys = upper_limit(lik, counts, aux, cfg_toys)
    asym = upper_limit(lik, counts, aux, LimitConfig.build())
    assert toys.expected_mu["median"] == pytest.approx(asym.expected_mu["median"], rel=0.1)
    assert toys.expected_mu["+1sigma"] == pytest.approx(asym.expected_mu["+1sigma"], rel=0.1)


def test_asymptotic_pvalue_formula_is_continuous_and_monotone():
    qa = 2.0
    q = np.linspace(0, 10, 101)
    p = pvalue_qtilde(q, qa)
    assert np.all(np.diff(p) <= 0)
    assert pvalue_qtilde(qa - 1e-9, qa) == pytest.approx(pvalue_qtilde(qa + 1e-9, qa), abs=1e-6)
    assert float(pvalue_qtilde(threshold_qtilde(qa, 0.9), qa)) == pytest.approx(0.1, abs=1e-9)
    assert float(pvalue_qtilde(threshold_qtilde(0.5, 0.9), 0.5)) == pytest.approx(0.1, abs=1e-9)


def test_bands_are_ordered_and_power_constraint_applies(make_model):
    lik = make_model()
    # a downward fluctuation: fewer events than expected from background
    counts = np.floor(0.6 * lik.expected(lik.nominal_parameters(0.0)))
    plain = upper_limit(lik, counts, config=LimitConfig.build())
    pcl = upper_limit(lik, counts, config=LimitConfig.build(power_constraint=0.5))
    bands = [plain.expected_mu[k] for k in ("-1sigma", "median", "+1sigma", "+2sigma")]
    assert bands == sorted(bands)
    assert np.isnan(plain.expected_mu["-2sigma"]) and plain.band_status["-2sigma"] == "empty"
    assert plain.observed_mu < plain.expected_mu["median"]
    assert pcl.reported_mu == pytest.approx(plain.expected_mu["median"], rel=1e-4)
    out = pcl.to_dict()
    assert out["reported_sigma_nucleon_cm2"] == pytest.approx(pcl.reported_mu * 1e-46)


def test_discovery_significance_of_strong_signal(make_model):
    lik = make_model()
    counts, aux = lik.asimov(lik.nominal_parameters(6.0))
    strong = discovery_significance(lik, counts, aux)
    none = discovery_significance(lik, *lik.asimov(lik.nominal_parameters(0.0)))
    assert strong["significance_sigma"] > 5.0
    assert strong["mu_hat"] == pytest.approx(6.0, rel=1e-3)
    assert none["significance_sigma"] == pytest.approx(0.0, abs=1e-3)


def test_limits_from_pvalues_interpolates():
    grid = np.array([1.0, 2.0, 3.0])
    p = np.array([[0.5, 0.2, 0.0], [0.05, 0.01, 0.0], [0.5, 0.4, 0.3]])
    lim = limits_from_pvalues(grid, p, 0.9)
    assert lim[0] == pytest.approx(2.5)
    assert lim[1] == 1.0
    assert np.isinf(lim[2])


@pytest.mark.parametrize("cl", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_confidence_level_outside_unit_interval(cl):
    with pytest.raises(ConfigError, match="confidence_level"):
        LimitConfig.build(confidence_level=cl)
    with pytest.raises(ConfigError, match="confidence_level"):
        check_cl(cl)


def test_limit_config_validators():
    with pytest.raises(ConfigError, match="method"):
        LimitConfig.build(method="bayesian")
    with pytest.raises(ConfigError, match="n_toys"):
        LimitConfig.build(n_toys=3)
    with pytest.raises(ConfigError, match="power_constraint"):
        LimitConfig.build(power_constraint=1.2)
    with pytest.raises(ConfigError, match="unknown_option"):
        LimitConfig.build(unknown_option=1)


def test_mu_grid_and_toy_count_validators(make_model):
    with pytest.raises(ConfigError, match="mu_grid"):
        check_mu_grid(np.array([1.0, 0.5]))
    with pytest.raises(ConfigError, match="mu_grid"):
        check_mu_grid(np.array([1.0]))
    with pytest.raises(ConfigError, match="n_toys"):
        build_distribution(make_model(), np.array([1.0, 2.0]), 2, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("key", "value"), [("n_background_toys", 5), ("mu_grid_points", 2), ("seed", -1)]
)
def test_more_limit_config_validators(key, value):
    with pytest.raises(ConfigError, match=key):
        LimitConfig.build(**{key: value})
