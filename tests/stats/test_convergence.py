"""Convergence in simulated events: the study's bookkeeping and a toy-scale run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from band_model import BandScorer
from band_model import band_source as _source

from wimpsift.detectors import load_detector
from wimpsift.errors import DataError
from wimpsift.stats.comparison import ComparisonConfig
from wimpsift.stats.convergence import (
    convergence_decision,
    convergence_study,
    events_needed,
    first_per_source,
    speedup_with_simulation_needed,
)


def test_events_needed_is_the_first_size_that_stays_within_tolerance():
    sizes = [1000, 3000, 10000, 30000]
    assert events_needed(sizes, [0.5, 0.9, 0.97, 1.0]) == 10000
    # a value inside the band followed by one outside does not count
    assert events_needed(sizes, [0.99, 0.9, 0.97, 1.0]) == 10000
    assert events_needed(sizes, [0.5, 0.6, 0.8, 1.0]) is None  # not converged
    assert events_needed(sizes, [1.01, 1.0, 1.02, 1.0]) == 1000


def test_first_per_source_keeps_every_source():
    t = pd.DataFrame({"source": ["a"] * 5 + ["b"] * 3, "x": range(8)})
    sub = first_per_source(t, 2)
    assert list(sub["x"]) == [0, 1, 5, 6]


def test_convergence_study_toy_scale():
    rng = np.random.default_rng(3)
    table = pd.concat([_source("er", 6000, False, 0, 200.0, rng), _source("wall", 6000, False, 0, 10.0, rng),
                       _source("wimp", 6000, True, 1, 5.0, rng)], ignore_index=True)
    truth = pd.concat([_source("er", 20000, False, 0, 200.0, rng),
                       _source("wall", 20000, False, 0, 10.0, rng)], ignore_index=True)
    config = ComparisonConfig.build(n_bins=10, traditional_bins=(2, 2, 6, 6))
    out = convergence_study(50.0, table, truth, [500, 2000, 6000], lambda m, t, p: (BandScorer(), None),
                            load_detector("lux_2013"), 1e-45, config)
    net = [r["median_limit_network_cm2"] for r in out["rows"]]
    trad = [r["median_limit_traditional_cm2"] for r in out["rows"]]
    assert all(np.isfinite(net)) and all(np.isfinite(trad)) and min(net + trad) > 0
    # the fixed 1-D discriminant needs few events: 10 bins filled by thousands
    assert net[1] == pytest.approx(net[2], rel=0.1)


def _synthetic(sizes, l_inf, a, p, rel_error_at_1, replicas, rng):
    """Replica limits of a curve L(N) = L∞ (1 + a N^-p) with N^-1/2 statistical scatter."""
    out = []
    for n in sizes:
        k = 1 if n == sizes[-1] else replicas
        mean = l_inf * (1.0 + a * n**-p)
        out.append(list(mean * (1.0 + rel_error_at_1 / np.sqrt(n) * rng.standard_normal(k))))
    return out


def test_decision_finds_the_size_of_a_precise_curve_and_the_fit_recovers_it():
    # L = 1 + 100/N: 10 % off at 1000, 1 % at 10^4; scatter 0.1 % at 10^4
    sizes = [300, 1000, 3000, 10000, 30000, 100000]
    reps = _synthetic(sizes, 1.0, 100.0, 1.0, 0.1, 3, np.random.default_rng(0))
    d = convergence_decision(sizes, reps)
    assert d["events_needed"] == 3000 and d["events_needed_above"] == 1000
    assert [r["status"] for r in d["rows"]] == ["outside", "outside", "within", "within", "within"]
    # N_5% of the true curve: 100 / 0.05 = 2000
    lo, hi = d["fit"]["events_within_tolerance_range"]
    assert lo < 2000 < hi and d["fit"]["p"] == pytest.approx(1.0, abs=0.2)
    assert d["reference_rel_error"] == pytest.approx(0.1 / np.sqrt(100000), rel=0.6)


def test_decision_is_null_when_errors_do_not_decide():
    # same curve, 100x the scatter: 10 % at 10^4, the reference alone 3 % (2 sigma > 5 %)
    sizes = [1000, 3000, 10000, 30000, 100000]
    reps = _synthetic(sizes, 1.0, 100.0, 1.0, 10.0, 3, np.random.default_rng(1))
    d = convergence_decision(sizes, reps)
    assert d["events_needed"] is None and "not converged" in d["reason"]
    assert d["rows"][-1]["status"] == "undecided"


def test_events_needed_above_is_the_largest_size_decided_outside_past_an_undecided_one():
    """The usual shape of a converging analysis: far off at the smallest size, undecided
    in between, within near the reference. The smallest size is decided outside, so the
    analysis needs more than it; that bound was dropped (None) whenever an undecided
    size lay above it, and with it the speed-up's lower bound."""
    sizes = [1000, 3000, 10000, 30000]
    reps = [[1.30, 1.32, 1.28], [1.05, 1.10, 1.00], [1.01, 1.02, 1.00], [1.0, 1.01, 0.99]]
    d = convergence_decision(sizes, reps)
    assert [r["status"] for r in d["rows"]] == ["outside", "undecided", "within"]
    assert d["events_needed"] == 10000 and d["events_needed_above"] == 1000
    # not converged below the reference: the outside size still bounds it from below
    d = convergence_decision(sizes[:3], reps[:3])
    assert [r["status"] for r in d["rows"]] == ["outside", "undecided"]
    assert d["events_needed"] is None and d["events_needed_above"] == 1000


def test_decision_is_null_when_the_curve_is_still_falling_at_the_largest_size():
    sizes = [1000, 3000, 10000, 30000, 100000]
    reps = _synthetic(sizes, 1.0, 3.0, 0.25, 0.01, 3, np.random.default_rng(2))  # 17 % at 10^5
    d = convergence_decision(sizes, reps)
    assert d["events_needed"] is None
    assert d["rows"][-1]["status"] == "outside"


def test_decision_needs_replicas_and_ordered_sizes():
    d = convergence_decision([1000, 3000], [[1.1], [1.0]])
    assert d["events_needed"] is None and "replicas" in d["reason"]
    with pytest.raises(DataError, match="increasing"):
        convergence_decision([3000, 1000], [[1.0, 1.1], [1.0]])


def test_replicas_are_disjoint():
    t = pd.DataFrame({"source": ["a"] * 6 + ["b"] * 4, "x": range(10)})
    assert list(first_per_source(t, 2, replica=1)["x"]) == [2, 3, 8, 9]


def _study(need_net, above_net, need_trad, above_trad, reason_trad=None):
    return {"decision_network": {"events_needed": need_net, "events_needed_above": above_net, "reason": None},
            "decision_traditional": {"events_needed": need_trad, "events_needed_above": above_trad,
                                     "reason": reason_trad}}


def test_speedup_charges_each_analysis_the_simulation_it_needs():
    # 10 s network, 100 s traditional, 1 ms per event, 2 sources
    out = speedup_with_simulation_needed(10.0, 100.0, 1e-3, _study(3000, 1000, 100000, 30000), 2)
    assert out["value"] == pytest.approx((100 + 200) / (10 + 6))
    low, high = out["range"]
    assert low == pytest.approx((100 + 60) / (10 + 6)) and high == pytest.approx((100 + 200) / (10 + 2))
    assert low < out["value"] < high and out["speedup_without_simulation"] == pytest.approx(10.0)
    # the traditional analysis not converged, decided outside at 100k: a lower bound only
    study = _study(3000, 1000, None, 100000, "not converged")
    out = speedup_with_simulation_needed(10.0, 100.0, 1e-3, study, 2)
    assert out["value"] is None and out["lower_bound"] == pytest.approx((100 + 200) / (10 + 6))
    assert "not converged" in out["reason"]
    # nothing decided: null with the reasons
    out = speedup_with_simulation_needed(10.0, 100.0, 1e-3, _study(None, None, None, None, "errors"), 2)
    assert out["value"] is None and out["lower_bound"] is None and "errors" in out["reason"]


def test_speedup_fit_estimate_charges_the_fitted_sizes():
    study = _study(None, None, None, None, "undecided")
    for k, n in (("network", 2000.0), ("traditional", 20000.0)):
        study[f"decision_{k}"]["fit"] = {"events_within_tolerance": n,
                                         "events_within_tolerance_range": [n / 2, n * 2]}
    out = speedup_with_simulation_needed(10.0, 100.0, 1e-3, study, 1)
    assert out["value"] is None  # the rule decided nothing
    fit = out["fit_estimate"]
    assert fit["value"] == pytest.approx((100 + 20) / (10 + 2))
    assert fit["range"] == pytest.approx([(100 + 10) / (10 + 4), (100 + 40) / (10 + 1)])
