"""MC statistics of the templates: Σw² per bin and the Barlow–Beeston-lite gammas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from iminuit import Minuit

from wimpsift.errors import DataError
from wimpsift.stats.batchfit import fit_batch
from wimpsift.stats.fit import fit
from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.limits import asymptotic_expected
from wimpsift.stats.templates import TemplateSet, histogram_template
from wimpsift.stats.teststat import asimov_background
from wimpsift.stats.traditional import TraditionalBinning, traditional_templates


def test_histogram_template_keeps_sum_of_squared_weights():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 1.0, 5000)
    w = rng.exponential(2.0, 5000)
    edges = np.linspace(0.0, 1.0, 6)
    h = histogram_template(x, [edges], expected_events=10.0, weights=w)
    sw, _ = np.histogram(x, edges, weights=w)
    sw2, _ = np.histogram(x, edges, weights=w**2)
    scale = 10.0 / sw.sum()
    np.testing.assert_allclose(h.counts, sw * scale, rtol=1e-12)
    np.testing.assert_allclose(h.variances, sw2 * scale**2, rtol=1e-12)
    # a value on the last edge is inside, as in np.histogramdd
    last = histogram_template(np.array([0.5, 1.0]), [edges], expected_events=2.0)
    assert last.counts.sum() == pytest.approx(2.0) and last.counts[-1] == pytest.approx(1.0)


def test_template_variances_validated_and_round_trip():
    signal, bkg = np.array([0.0, 1.0, 2.0]), {"er": np.array([5.0, 3.0, 1.0])}
    with pytest.raises(DataError, match="background_variances"):
        TemplateSet(signal=signal, backgrounds=bkg, background_variances={"wall": np.ones(3)})
    with pytest.raises(DataError, match=r"background_variances\['er'\].*binning"):
        TemplateSet(signal=signal, backgrounds=bkg, background_variances={"er": np.ones(4)})
    with pytest.raises(DataError, match=r"background_variances\['er'\].*finite"):
        TemplateSet(signal=signal, backgrounds=bkg, background_variances={"er": -np.ones(3)})
    ts = TemplateSet(signal=signal, backgrounds=bkg, background_variances={"er": np.array([5.0, 3.0, 0.0])})
    back = TemplateSet.from_dict(ts.to_dict())
    np.testing.assert_array_equal(back.background_variances["er"], [5.0, 3.0, 0.0])
    np.testing.assert_allclose(ts.mc_relative_uncertainty(), [np.sqrt(5) / 5, np.sqrt(3) / 3, 0.0])


def _explicit_nll(lik: BinnedLikelihood, counts: np.ndarray, x: np.ndarray) -> float:
    """-log L with every gamma a free parameter (no closed-form profiling)."""
    k = lik.n_params
    params, gamma = x[:k], x[k:]
    full = np.ones(lik.n_bins)
    full[lik.gamma_bins] = gamma
    nu = params[0] * lik.design[0] + full * (params[1:] @ lik.design[1:])
    dev = np.sum(nu - counts + np.where(counts > 0, counts * np.log(np.where(counts > 0, counts, 1) / nu), 0))
    return float(dev + 0.5 * np.sum(((params[1:] - 1) / lik.sigma) ** 2)
                 + 0.5 * np.sum(((gamma - 1) / lik.gamma_delta) ** 2))


def test_closed_form_gammas_match_a_fit_with_every_gamma_free(make_model):
    lik = make_model(mc_events=300)
    assert lik.n_gamma == lik.n_bins
    counts, _ = lik.sample(lik.nominal_parameters(1.0), 1, np.random.default_rng(4))
    counts = counts[0]
    ours = fit(lik, counts)
    assert ours.valid
    x0 = np.concatenate([ours.params, np.ones(lik.n_gamma)])
    m = Minuit(lambda x: _explicit_nll(lik, counts, x), x0)
    m.errordef = Minuit.LIKELIHOOD
    m.limits = [(0.0, None)] * x0.size
    m.migrad()
    assert m.valid
    assert ours.nll == pytest.approx(m.fval, abs=1e-4)
    np.testing.assert_allclose(ours.params, np.array(m.values)[: lik.n_params], atol=5e-3)
    gamma = lik.gamma_hat(ours.params, counts, lik.nominal_aux())
    np.testing.assert_allclose(gamma, np.array(m.values)[lik.n_params:], atol=5e-3)


def test_gradient_and_hessian_of_the_profiled_objective(make_model, finite_differences):
    lik = make_model(mc_events=200)
    counts, aux = lik.sample(lik.nominal_parameters(2.0), 1, np.random.default_rng(7))
    counts, aux = counts[0], aux[0]
    x = np.array([1.4, 1.1, 0.8])
    num_g, num_h = finite_differences(lik, x, counts, aux, 1e-5)
    np.testing.assert_allclose(lik.grad(x, counts, aux), num_g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lik.hessian(x, counts, aux), num_h, rtol=1e-4, atol=1e-6)


def test_batch_solver_agrees_with_iminuit_with_gammas(make_model):
    lik = make_model(mc_events=100)
    counts, aux = lik.sample(lik.nominal_parameters(1.0), 6, np.random.default_rng(9))
    assert aux.shape == (6, lik.n_aux)
    free = fit_batch(lik, counts, aux)
    assert free.converged.all()
    for i in range(6):
        assert free.nll[i] == pytest.approx(fit(lik, counts[i], aux[i]).nll, abs=1e-3)


def test_fewer_simulated_events_weaken_the_expected_limit(make_model):
    """Ordering: the MC-statistics term costs sensitivity, less with more simulation, and
    vanishes as the simulation grows."""
    exact = make_model()
    medians = []
    for n in (50, 500, 50_000):
        lik = make_model(mc_events=n)
        data = lik.expected(lik.nominal_parameters(0.0))
        medians.append(asymptotic_expected(lik, asimov_background(lik, data), 0.9, (0,))[0])
    reference = asymptotic_expected(exact, asimov_background(exact, exact.expected(
        exact.nominal_parameters(0.0))), 0.9, (0,))[0]
    assert medians[0] > medians[1] > medians[2] > reference
    assert medians[2] == pytest.approx(reference, rel=2e-3)
    off = BinnedLikelihood(make_model(mc_events=50).templates, LikelihoodConfig.build(
        background_rel_uncertainty={"er": 0.1, "wall": 0.3}, mc_statistics=False))
    assert off.n_gamma == 0


def test_traditional_templates_carry_variances():
    rng = np.random.default_rng(2)

    def events(n: int, cs1: float) -> pd.DataFrame:
        return pd.DataFrame({"r_cm": rng.uniform(0, 10, n), "z_cm": rng.uniform(-20, 20, n),
                             "cs1_pe": rng.normal(cs1, 5, n).clip(1, 49),
                             "cs2_pe": 10 ** rng.uniform(2.1, 3.9, n)})

    binning = TraditionalBinning.build(r2_max_cm2=100.0, z_min_cm=-20.0, z_max_cm=20.0, cs1_min_pe=0.0,
                                       cs1_max_pe=50.0, log10_cs2_min=2.0, log10_cs2_max=4.0,
                                       r2_bins=2, z_bins=2, cs1_bins=4, log10_cs2_bins=4)
    full = binning.model_copy(update={"variant": "full"})
    rel = {}
    for b in (binning, full):
        ts = traditional_templates(events(2000, 20), {"er": events(2000, 30)}, {"signal": 5.0, "er": 50.0},
                                   b, 1e-45)
        assert ts.background_variances is not None
        rel[b.variant] = np.median(ts.mc_relative_uncertainty())
    # the factorised product fills two 2-D histograms of 4 and 16 bins, the full one 256
    # bins from the same events: its relative error is about sqrt(256 / 2000)
    assert 0.0 < rel["factorised"] < rel["full"]
    assert rel["full"] == pytest.approx(np.sqrt(256 / 2000), rel=0.3)
