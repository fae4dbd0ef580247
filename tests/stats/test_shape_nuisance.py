"""A shape-changing nuisance parameter: ±1σ templates interpolated linearly per bin."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from wimpsift.errors import DataError
from wimpsift.stats.batchfit import fit_batch
from wimpsift.stats.fit import fit
from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.limits import asymptotic_expected
from wimpsift.stats.pyhf_export import linear_zero_crossings, workspace_dict
from wimpsift.stats.templates import TemplateSet
from wimpsift.stats.teststat import asimov_background


def test_shape_parameter_is_named_unbounded_and_recovered(make_model):
    lik = make_model(tilt=0.8, mc_events=5000)
    assert lik.parameter_names[-1] == "alpha_er_tilt"
    assert lik.nominal_parameters(0.0)[-1] == 0.0 and lik.nominal_aux()[2] == 0.0
    truth = np.array([1.0, 1.0, 1.0, -0.7])
    counts, aux = lik.asimov(truth)
    result = fit(lik, counts, aux)
    assert result.valid
    assert result.values["alpha_er_tilt"] == pytest.approx(-0.7, abs=5e-3)
    batch = fit_batch(lik, counts[None, :], aux[None, :])
    assert batch.column("alpha_er_tilt")[0] == pytest.approx(-0.7, abs=5e-3)


def test_gradient_and_hessian_with_a_shape_parameter(make_model, finite_differences):
    lik = make_model(tilt=0.8, mc_events=300)
    counts, aux = lik.sample(lik.nominal_parameters(1.0), 1, np.random.default_rng(2))
    counts, aux = counts[0], aux[0]
    x = np.array([0.9, 1.1, 0.9, -0.4])
    num_g, num_h = finite_differences(lik, x, counts, aux, 1e-5)
    np.testing.assert_allclose(lik.grad(x, counts, aux), num_g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lik.hessian(x, counts, aux), num_h, rtol=1e-4, atol=1e-6)


def test_a_shape_uncertainty_weakens_the_expected_limit(make_model):
    def median(lik):
        data = lik.expected(lik.nominal_parameters(0.0))
        return asymptotic_expected(lik, asimov_background(lik, data), 0.9, (0,))[0]

    plain, small, large = make_model(), make_model(tilt=0.3), make_model(tilt=1.5)
    assert median(plain) < median(small) < median(large)


def test_shape_variations_validated_and_round_trip():
    signal, bkg = np.array([0.0, 1.0, 2.0]), {"er": np.array([5.0, 3.0, 1.0])}
    with pytest.raises(DataError, match="shape_variations.*down"):
        TemplateSet(signal=signal, backgrounds=bkg, shape_variations={"g": (np.ones(2), np.ones(3))})
    with pytest.raises(DataError, match="valid identifier"):
        TemplateSet(signal=signal, backgrounds=bkg, shape_variations={"a b": (np.ones(3), np.ones(3))})
    ts = TemplateSet(signal=signal, backgrounds=bkg,
                     shape_variations={"g": (np.array([4.0, 3.0, 2.0]), np.array([6.0, 3.0, 0.0]))})
    back = TemplateSet.from_dict(ts.to_dict())
    np.testing.assert_array_equal(back.flat_shape_deltas(), [[1.0, 0.0, -1.0]])


def band_edge_model(mc_events: float | None = None, shift: float = 1.0) -> BinnedLikelihood:
    """One ER template whose band, shifted by ±1σ, moves events across its edge: the last
    bins hold a trace at nominal, none when shifted down, many when shifted up (the sparse
    traditional templates' case). Linear interpolation crosses zero at alpha = -0.25 in
    bin 4 and -0.1 in bin 5, for nominal normalisation. ``mc_events``: MC-statistics
    parameters as if the template were filled by that many equal-weight events; ``shift``
    scales the ±1σ changes."""
    er = np.array([5.0, 3.0, 1.0, 0.3, 0.05, 0.01])
    down = er + shift * (np.array([6.0, 2.8, 0.7, 0.1, 0.0, 0.0]) - er)
    up = er + shift * (np.array([4.0, 3.2, 1.4, 0.8, 0.4, 0.2]) - er)
    variances = None if mc_events is None else {"er": er * er.sum() / mc_events}
    templates = TemplateSet(signal=np.array([0.0, 0.1, 0.3, 1.0, 2.0, 3.0]), backgrounds={"er": er},
                            background_variances=variances,
                            shape_variations={"band": (down, up)}, bin_edges=[np.linspace(0.0, 1.0, 7)],
                            sigma_ref_cm2=1e-46, mass_gev=50.0)
    return BinnedLikelihood(templates, LikelihoodConfig.build(background_rel_uncertainty=0.2))


def test_a_bin_whose_interpolation_crosses_zero_is_floored_not_a_wall():
    lik = band_edge_model()
    linear = np.array([5.0, 3.0, 1.0, 0.3, 0.05, 0.01]) - 0.5 * np.array([-1.0, 0.2, 0.35, 0.35, 0.2, 0.1])
    truth = np.array([0.0, 1.0, -0.5])
    expected = lik.expected(truth)
    # bins 0-3 follow the line; bins 4 and 5, whose line is below 0, keep a positive
    # expectation below their floor scale / e (1 % of |template| + |delta|)
    np.testing.assert_allclose(expected[:4], linear[:4], rtol=1e-12)
    assert np.all(linear[4:] < 0) and np.all((expected[4:] > 0) & (expected[4:] < lik.floor_scale[4:] / np.e))
    np.testing.assert_allclose(lik.floor_scale, 0.01 * (np.array([5.0, 3.0, 1.0, 0.3, 0.05, 0.01])
                                                        + np.array([1.0, 0.2, 0.35, 0.35, 0.2, 0.1])))
    # nominal expectations untouched (the limits' first guesses use them)
    np.testing.assert_allclose(lik.nominal_background(), [5.0, 3.0, 1.0, 0.3, 0.05, 0.01])
    counts, aux = lik.asimov(truth)
    assert np.isfinite(lik.nll(truth, counts, aux))


@pytest.mark.parametrize("mc_events", [None, 50.0])
def test_derivatives_where_the_background_is_floored(mc_events, finite_differences):
    """At a point with bins 4 and 5 below their floor, with and without MC-statistics
    parameters: gradient and Hessian (with the floor's curvature and the gammas' Schur
    term) match finite differences."""
    lik = band_edge_model(mc_events)
    counts, aux = lik.sample(np.array([0.5, 1.0, -0.5]), 1, np.random.default_rng(4))
    counts, aux = counts[0], aux[0]
    counts[4] = 2.0  # a count where the floored background dominates
    x = np.array([0.01, 1.1, -0.6])
    assert np.all(lik.background(x)[4:] < lik.floor_scale[4:])
    num_g, num_h = finite_differences(lik, x, counts, aux, 1e-6)
    np.testing.assert_allclose(lik.grad(x, counts, aux), num_g, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(lik.hessian(x, counts, aux), num_h, rtol=1e-5, atol=1e-5)


def test_fits_beyond_a_crossing_find_the_truth_and_agree():
    lik = band_edge_model()
    truth = np.array([0.0, 1.0, -0.5])
    counts, aux = lik.asimov(truth)
    result = fit(lik, counts, aux)
    assert result.valid
    assert result.values["alpha_band"] == pytest.approx(-0.5, abs=5e-3)
    # 40 Poisson toys at that truth: every MIGRAD fit valid, the vectorised solver converged,
    # both at the same minima (with a plain clip at 0, 5 of these 40 stopped MIGRAD-invalid
    # on a bin's kink)
    counts, aux = lik.sample(truth, 40, np.random.default_rng(1))
    batch = fit_batch(lik, counts, aux)
    assert batch.n_not_converged == 0
    single = [fit(lik, c, a) for c, a in zip(counts, aux, strict=True)]
    assert all(r.valid for r in single)
    np.testing.assert_allclose([r.nll for r in single], batch.nll, atol=1e-5)
    # the toys' fitted shape parameters scatter around the truth: within 3 standard errors
    alpha = batch.column("alpha_band")
    assert abs(alpha.mean() + 0.5) < 3 * alpha.std() / np.sqrt(alpha.size)


def test_export_warns_where_pyhf_and_our_model_part():
    """The exported workspace's linear histosys goes negative where our background is
    floored: the export names the parameter, the bin and the value when it happens within
    pyhf's bounds, and stays silent when it does not."""
    lik = band_edge_model()
    assert linear_zero_crossings(lik) == {"band": (pytest.approx(-0.1), 5)}
    observed = np.round(lik.expected(lik.nominal_parameters(0.0)))
    with pytest.warns(UserWarning, match=r"alpha_band: bin 5's background reaches 0 at alpha = -0.1 "):
        workspace_dict(lik, observed)
    mild = band_edge_model(shift=0.01)
    (alpha, _), = linear_zero_crossings(mild).values()
    assert abs(alpha) > 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        workspace_dict(mild, observed)
