"""Likelihood, iminuit fits and the vectorised solver."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wimpsift.errors import ConfigError, DataError
from wimpsift.stats.batchfit import fit_batch, qtilde_batch
from wimpsift.stats.fit import fit
from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.teststat import qtilde


def test_config_rejects_non_positive_width():
    with pytest.raises(ConfigError, match="background_rel_uncertainty"):
        LikelihoodConfig.build(background_rel_uncertainty=0.0)
    with pytest.raises(ConfigError, match="background_rel_uncertainty"):
        LikelihoodConfig.build(background_rel_uncertainty={"er": -0.1})


def test_config_rejects_unknown_key():
    with pytest.raises(ConfigError, match="bkg_width"):
        LikelihoodConfig.build(bkg_width=0.1)


def test_width_mapping_must_name_every_background(small_model):
    with pytest.raises(ConfigError, match="background_rel_uncertainty.*missing \\['wall'\\]"):
        BinnedLikelihood(small_model.templates,
                         LikelihoodConfig.build(background_rel_uncertainty={"er": 0.1}))


def test_observed_counts_are_checked(small_model):
    with pytest.raises(DataError, match="observed: 3 bins, expected 10"):
        fit(small_model, np.ones(3))
    with pytest.raises(DataError, match="observed"):
        fit(small_model, np.full(10, np.nan))
    with pytest.raises(DataError, match="observed"):
        fit(small_model, -np.ones(10))
    with pytest.raises(DataError, match="aux"):
        fit(small_model, np.ones(10), aux=np.ones(5))


def test_gradient_matches_finite_differences(small_model):
    rng = np.random.default_rng(3)
    counts, aux = small_model.sample(small_model.nominal_parameters(1.0), 1, rng)
    x = np.array([0.7, 1.05, 0.8])
    g = small_model.grad(x, counts[0], aux[0])
    eps = 1e-6
    num = [(small_model.nll(x + eps * e, counts[0], aux[0]) - small_model.nll(x - eps * e, counts[0], aux[0]))
           / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6)


def test_asimov_fit_recovers_truth(small_model):
    truth = np.array([1.5, 1.0, 1.0])
    counts, aux = small_model.asimov(truth)
    result = fit(small_model, counts, aux)
    np.testing.assert_allclose(result.params, truth, atol=2e-3)
    assert result.valid


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), mu_true=st.floats(0.0, 5.0), mu_test=st.floats(0.1, 6.0))
def test_vectorised_solver_agrees_with_iminuit(make_model, seed, mu_true, mu_test):
    lik = make_model()
    counts, aux = lik.sample(lik.nominal_parameters(mu_true), 4, np.random.default_rng(seed))
    free = fit_batch(lik, counts, aux)
    q_batch = qtilde_batch(lik, counts, aux, mu_test, free=free)
    assert free.converged.all()
    for i in range(4):
        ref = fit(lik, counts[i], aux[i])
        # the batch minimum is never worse than MIGRAD's (tolerance 1e-4 in EDM)
        assert free.nll[i] <= ref.nll + 1e-6
        assert abs(free.nll[i] - ref.nll) < 1e-3
        assert q_batch.q[i] == pytest.approx(qtilde(lik, counts[i], aux[i], mu_test), abs=2e-3)


def test_zero_counts_fit_to_boundary(small_model):
    free = fit_batch(small_model, np.zeros((2, 10)), np.ones((2, 2)))
    assert free.converged.all()
    np.testing.assert_allclose(free.mu, 0.0, atol=1e-12)


def test_combined_background_option(small_model):
    """The paper's 2013 reproduction: one combined background with sigma = mu (width 1)."""
    combined = small_model.templates.combined()
    assert combined.background_names == ["background"]
    total = small_model.templates.flat_backgrounds().sum(0)
    np.testing.assert_allclose(combined.flat_backgrounds()[0], total)
    lik = BinnedLikelihood(combined, LikelihoodConfig.build(background_rel_uncertainty=1.0))
    counts = lik.expected(lik.nominal_parameters(0.0))
    # the broad constraint leaves the normalisation to the data: a 30 % excess is absorbed
    result = fit(lik, 1.3 * counts)
    assert result.theta["background"] == pytest.approx(1.3, rel=0.05)


@pytest.mark.parametrize("scale", [1e-5, 1e-7])
def test_vectorised_solver_does_not_depend_on_the_signal_units(make_model, scale):
    """A signal template at a small reference cross-section (1e-4 events per unit mu, a
    low WIMP mass at 1e-45 cm^2) is the same model in other units of mu: the toy fits must
    give the same minimum and ``mu_hat / scale``. Damping by the largest curvature (the
    background constraint's) once froze mu there: 43 % of the toy fits of a one-bin limit
    did not converge and its limit in cm^2 was 9 % low."""
    lik, small = make_model(), make_model(signal=10.0 * scale)
    counts, aux = lik.sample(lik.nominal_parameters(1.0), 16, np.random.default_rng(3))
    big_fit, small_fit = fit_batch(lik, counts, aux), fit_batch(small, counts, aux)
    assert small_fit.converged.all()
    np.testing.assert_allclose(small_fit.nll, big_fit.nll, atol=1e-8)
    np.testing.assert_allclose(small_fit.mu * scale, big_fit.mu, rtol=1e-5, atol=1e-7)
    q_big = qtilde_batch(lik, counts, aux, 2.0, free=big_fit)
    q_small = qtilde_batch(small, counts, aux, 2.0 / scale, free=small_fit)
    np.testing.assert_allclose(q_small.q, q_big.q, atol=1e-7)
