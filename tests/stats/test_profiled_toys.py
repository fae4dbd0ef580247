"""Profiled toy construction: toys at the data's conditional best-fit nuisances."""

from __future__ import annotations

import numpy as np
import pytest

from wimpsift.stats.batchfit import qtilde_batch
from wimpsift.stats.limits import LimitConfig, upper_limit
from wimpsift.stats.toys import profiled_nuisances


def test_profiled_nuisances_follow_the_data(make_model):
    lik = make_model(er=100.0, widths={"er": 0.3, "wall": 0.3}, mc_events=2000)
    truth = np.array([0.0, 1.4, 1.0])
    counts, aux = lik.asimov(truth)
    nuis, n_bad = profiled_nuisances(lik, counts, aux, np.array([0.0, 1.0, 3.0]))
    assert n_bad == 0
    assert nuis.theta.shape == (3, 2) and nuis.gamma.shape == (3, lik.n_gamma)
    assert nuis.theta[0, 0] == pytest.approx(1.4, abs=1e-3)
    # at a larger tested mu the fit lowers the background to make room for the signal
    assert nuis.theta[2, 0] < nuis.theta[1, 0] < nuis.theta[0, 0]


def test_profiled_construction_covers_with_an_off_nominal_background(make_model):
    """Truth: the ER background 1.5 sigma above its nominal value (global observable
    drawn around the truth), few events. For each of 400 data sets the toys at the true
    mu are drawn at its own conditional best fit; the data set is covered when its
    p-value at the true mu is >= 0.1. Coverage 90 % with a binomial sd of 1.5 %:
    +-4.5 % is a 3 sd band."""
    lik = make_model(signal=6.0, er=20.0, wall=4.0, widths={"er": 0.3, "wall": 0.3})
    mu_true = 1.0
    truth = np.array([mu_true, 1.45, 1.0])
    rng = np.random.default_rng(2026)
    counts, aux = lik.sample(truth, 400, rng)
    covered = []
    for n, a in zip(counts, aux, strict=True):
        nuis, _ = profiled_nuisances(lik, n, a, np.array([mu_true]))
        theta, gamma = nuis.row(0)
        toy_n, toy_a = lik.sample(np.concatenate([[mu_true], theta]), 400, rng, gamma=gamma)
        q_toys = qtilde_batch(lik, toy_n, toy_a, mu_true).q
        q_obs = qtilde_batch(lik, n, a[None, :], mu_true).q[0]
        covered.append(np.mean(q_toys >= q_obs - 1e-9 * (1 + q_obs)) >= 0.1)
    assert np.mean(covered) == pytest.approx(0.90, abs=0.045)


def test_limits_default_to_profiled_toys(make_model):
    lik = make_model()
    assert LimitConfig().toy_nuisances == "profiled"
    counts, aux = lik.asimov(np.array([0.0, 1.3, 1.0]))
    cfg = LimitConfig.build(method="toys", n_toys=200, n_background_toys=200, mu_grid_points=6, seed=1)
    profiled = upper_limit(lik, counts, aux, cfg)
    nominal = upper_limit(lik, counts, aux, cfg.model_copy(update={"toy_nuisances": "nominal"}))
    # with more background than nominal, background-only toys at the profiled values
    # carry more background: the expected limit is weaker than at nominal values
    assert profiled.expected_mu["median"] > nominal.expected_mu["median"]
