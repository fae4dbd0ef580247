"""Convergence in simulated events: the study's bookkeeping and a toy-scale run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from band_model import BandScorer
from band_model import band_source as _source

from wimpsift.detectors import load_detector
from wimpsift.stats.comparison import ComparisonConfig
from wimpsift.stats.convergence import convergence_study, events_needed, first_per_source


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
