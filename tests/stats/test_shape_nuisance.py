"""A shape-changing nuisance parameter: ±1σ templates interpolated linearly per bin."""

from __future__ import annotations

import numpy as np
import pytest

from wimpsift.errors import DataError
from wimpsift.stats.batchfit import fit_batch
from wimpsift.stats.fit import fit
from wimpsift.stats.limits import asymptotic_expected
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


def test_gradient_and_hessian_with_a_shape_parameter(make_model):
    lik = make_model(tilt=0.8, mc_events=300)
    counts, aux = lik.sample(lik.nominal_parameters(1.0), 1, np.random.default_rng(2))
    counts, aux = counts[0], aux[0]
    x = np.array([0.9, 1.1, 0.9, -0.4])
    eps, eye = 1e-5, np.eye(4)
    num_g = [(lik.nll(x + eps * e, counts, aux) - lik.nll(x - eps * e, counts, aux)) / (2 * eps) for e in eye]
    np.testing.assert_allclose(lik.grad(x, counts, aux), num_g, rtol=1e-5, atol=1e-6)
    num_h = np.array([(lik.grad(x + eps * e, counts, aux) - lik.grad(x - eps * e, counts, aux)) / (2 * eps)
                      for e in eye])
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
