"""Limits at confidence levels other than 90 %, down to and below 50 %.

At CL = 0.5 the median expected limit ``Phi^-1(CL) sigma`` is 0 (an empty band); the toy
grid used to be scaled by it alone and was all NaN, so ``--cl 0.5`` failed.
"""

from __future__ import annotations

import numpy as np
import pytest

from wimpsift.stats.limits import LimitConfig, asymptotic_expected, upper_limit
from wimpsift.stats.teststat import asimov_background

N_TOYS = 1000
N_BACKGROUND_TOYS = 400


@pytest.fixture(scope="module")
def asimov_limits(make_model):
    """Toy and asymptotic limits on the background-only Asimov data set, per CL."""
    lik = make_model()
    counts = lik.expected(lik.nominal_parameters(0.0))
    # sigma: the strength with q_mu,A = 1 (the +1 sigma band at CL = 0.5)
    sigma = asymptotic_expected(lik, asimov_background(lik, counts), 0.5, (1,))[1]
    out = {}
    for cl in (0.3, 0.5, 0.6, 0.9):
        toys = upper_limit(lik, counts, config=LimitConfig.build(
            method="toys", confidence_level=cl, n_toys=N_TOYS, n_background_toys=N_BACKGROUND_TOYS,
            mu_grid_points=12, seed=1))
        asym = upper_limit(lik, counts, config=LimitConfig.build(method="asymptotic", confidence_level=cl))
        out[cl] = (toys, asym)
    return out, sigma


def test_limits_grow_with_the_confidence_level_and_toys_agree_with_asymptotics(asimov_limits):
    results, sigma = asimov_limits
    assert np.isfinite(sigma) and sigma > 0
    for method in (0, 1):
        limits = [results[cl][method].observed_mu for cl in (0.5, 0.6, 0.9)]
        assert all(np.isfinite(v) and v > 0 for v in limits), limits
        assert limits[0] < limits[1] < limits[2], limits
    for cl in (0.3, 0.5, 0.6, 0.9):
        toys, asym = results[cl]
        # toy errors: p-values +-0.016 (N_TOYS), <= 0.1 sigma on the observed limit; the
        # +1 sigma quantile of N_BACKGROUND_TOYS limits +-0.08 sigma (seeds 1-5: within 0.18 sigma)
        assert toys.observed_mu == pytest.approx(asym.observed_mu, abs=0.3 * sigma), cl
        assert toys.expected_mu["+1sigma"] == pytest.approx(asym.expected_mu["+1sigma"], abs=0.3 * sigma), cl
    # asymptotically the 50 % CL limit of data without excess is mu_hat = 0; the +1 sigma band sigma
    assert results[0.5][1].observed_mu < 0.01 * sigma
    assert results[0.5][1].expected_mu["+1sigma"] == pytest.approx(sigma, rel=1e-4)
    assert results[0.5][1].band_status["median"] == "empty"


def test_below_half_the_limit_is_that_of_half(asimov_limits):
    """q~_mu = 0 below mu_hat (p = 1), so no limit is below mu_hat, and above it p <= 1/2:
    at CL <= 0.5 every limit is max(mu_hat, 0), whatever the CL."""
    results, _ = asimov_limits
    low, half = results[0.3][1], results[0.5][1]
    assert low.observed_mu == pytest.approx(half.observed_mu)
    for key, value in half.expected_mu.items():
        assert low.expected_mu[key] == pytest.approx(value, nan_ok=True), key


@pytest.mark.parametrize("cl", [0.01, 0.3, 0.5, 0.5001, 0.6, 0.9, 0.999])
def test_toy_grid_is_finite_and_spans_the_limit_at_any_cl(make_model, cl):
    from wimpsift.stats.limits import _mu_grid, asymptotic_sigma

    lik = make_model()
    counts = lik.expected(lik.nominal_parameters(0.0))
    asimov = asimov_background(lik, counts)
    sigma = asymptotic_sigma(lik, asimov)
    expected = asymptotic_expected(lik, asimov, cl)
    grid = _mu_grid(expected, 1e-4 * sigma, sigma, 12)
    assert np.all(np.isfinite(grid)) and np.all(np.diff(grid) > 0) and grid[0] > 0
    # from below the limits of data without excess to above the +2 sigma band
    median = expected[0] if np.isfinite(expected[0]) else 0.0
    assert grid[0] <= 0.1 * max(median, 0.2 * sigma) * (1 + 1e-12)
    assert grid[-1] >= 2.0 * max(v for v in expected.values() if np.isfinite(v))
    assert grid[-1] / grid[0] < 1e4  # no decades spent near 0 just above CL = 0.5
