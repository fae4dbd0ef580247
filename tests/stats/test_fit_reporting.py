"""Named fit parameters, one start point, non-converged fits counted and warned."""

from __future__ import annotations

import numpy as np
import pytest

from wimpsift.stats.batchfit import fit_batch, qtilde_batch
from wimpsift.stats.fit import NonConvergenceWarning, counting_fits, fit
from wimpsift.stats.likelihood import BinnedLikelihood
from wimpsift.stats.limits import LimitConfig, upper_limit
from wimpsift.stats.templates import TemplateSet
from wimpsift.stats.toys import warn_not_converged


def test_parameters_are_named(make_model):
    lik = make_model()
    assert lik.parameter_names == ("mu", "theta_er", "theta_wall")
    truth = np.array([1.5, 1.2, 0.8])
    counts, aux = lik.asimov(truth)
    result = fit(lik, counts, aux)
    assert set(result.values) == {"mu", "theta_er", "theta_wall"}
    assert result.mu == pytest.approx(1.5, abs=2e-3)
    assert result.theta["er"] == pytest.approx(1.2, abs=2e-3)
    batch = fit_batch(lik, counts[None, :], aux[None, :])
    assert batch.column("theta_wall")[0] == pytest.approx(0.8, abs=2e-3)


def test_both_fitters_start_from_one_point(make_model):
    lik = make_model()
    counts, aux = lik.sample(lik.nominal_parameters(2.0), 3, np.random.default_rng(0))
    x0 = lik.start_parameters(counts, aux)
    assert x0.shape == (3, lik.n_params)
    # one data set and the batch give the same start; a fixed mu is kept
    np.testing.assert_allclose(lik.start_parameters(counts[1], aux[1]), x0[1], rtol=1e-12)
    assert np.all(lik.start_parameters(counts, aux, 0.7)[:, 0] == 0.7)
    # an excess over the background gives a positive signal start
    assert np.all(x0[:, 0] > 0)


def test_non_converged_fits_are_counted(make_model):
    lik = make_model()
    counts, aux = lik.sample(lik.nominal_parameters(1.0), 50, np.random.default_rng(1))
    stopped = fit_batch(lik, counts, aux, max_iter=1)
    assert stopped.n_not_converged > 0
    assert fit_batch(lik, counts, aux).n_not_converged == 0
    qt = qtilde_batch(lik, counts, aux, 1.0)
    # a free fit per data set, a conditional one only where q~ is not 0 by definition
    assert qt.n_fits == 50 + np.count_nonzero(qt.mu_hat <= 1.0) and qt.n_not_converged == 0
    assert 50 < qt.n_fits < 100


def test_warning_names_the_count():
    with pytest.warns(NonConvergenceWarning, match="3 of 40 fits did not converge"):
        warn_not_converged(3, 40, "toys")


def test_limit_reports_its_fits(make_model):
    lik = make_model()
    counts, aux = lik.asimov(lik.nominal_parameters(0.0))
    cfg = LimitConfig.build(method="toys", n_toys=50, n_background_toys=40, mu_grid_points=5,
                            refine_points=4)
    result = upper_limit(lik, counts, aux, cfg)
    # free fits: one per toy and strength, one for the data set and each background toy;
    # the profiled nuisances: one per strength and mu = 0; conditional fits at most one
    # per toy and strength, data set and strength, background toy and strength; the same
    # again for the refined limit's strengths (refine_points + 2 of them: the points
    # between and the two grid strengths around; no background toys there)
    free = 5 * 50 + 1 + 40 + 6 + 6 * 50 + 1 + 7
    assert free < result.extra["n_fits"] <= free + 5 * 50 + 5 + 40 * 5 + 6 * 50 + 6
    assert result.extra["n_fits_not_converged"] == 0


def test_refined_limit_fits_are_counted(make_model):
    """The refinement's toys are fitted too (a free fit per toy and strength, one for the
    data set): ``n_fits`` counted only the coarse grid's (one bin, b = 3, n = 5, the
    defaults: 95397 reported of 149993 made) and none of the refinement's failures."""
    lik = make_model()
    counts, aux = lik.asimov(lik.nominal_parameters(0.0))
    fits = {}
    for points in (0, 4):
        cfg = LimitConfig.build(method="toys", n_toys=50, n_background_toys=40, mu_grid_points=5,
                                refine_points=points)
        fits[points] = upper_limit(lik, counts, aux, cfg).extra["n_fits"]
    # six strengths (refine_points + 2), each with its toys and profiled nuisances, and mu = 0
    assert fits[4] - fits[0] >= 6 * 50 + 1 + 7


def test_invalid_migrad_fits_are_counted(make_model):
    # an observed event where no component expects any: -log L is infinite everywhere,
    # MIGRAD cannot call that a minimum
    impossible = BinnedLikelihood(TemplateSet(signal=np.array([0.0, 1.0, 2.0]),
                                              backgrounds={"er": np.array([0.0, 3.0, 1.0])}))
    lik = make_model()
    counts, aux = lik.asimov(lik.nominal_parameters(0.0))
    with counting_fits() as outer:
        assert fit(lik, counts, aux).valid
        with counting_fits() as inner, pytest.warns(NonConvergenceWarning):
            assert not fit(impossible, np.array([1.0, 2.0, 1.0])).valid
    assert (inner.n_fits, inner.n_invalid) == (1, 1)
    assert (outer.n_fits, outer.n_invalid) == (2, 1)
    # the limits report the asymptotic part's MIGRAD fits
    result = upper_limit(lik, counts, aux, LimitConfig.build(method="asymptotic"))
    assert result.extra["n_migrad_fits"] > 3 and result.extra["n_migrad_fits_invalid"] == 0
