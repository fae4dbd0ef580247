"""Randomness: spawned children of one root SeedSequence, no stream shared by two stages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from wimpsift.detectors import load_detector
from wimpsift.rates import rate_table, window_efficiency
from wimpsift.seeding import generator, int_seed, seed_sequence, torch_generator
from wimpsift.sources import make_source
from wimpsift.sources.positions import volume_mass_kg
from wimpsift.training.samples import EventSamples, validated_sample_config


def test_integer_paths_are_the_spawned_children():
    spawned = np.random.SeedSequence(7).spawn(3)
    for i in range(3):
        assert generator(7, i).random() == np.random.default_rng(spawned[i]).random()
    grandchild = np.random.SeedSequence(7).spawn(3)[2].spawn(2)[1]
    assert int_seed(seed_sequence(7, 2), 1) == int_seed(7, 2, 1)
    assert seed_sequence(7, 2, 1).spawn_key == grandchild.spawn_key


def test_names_and_numbers_give_distinct_reproducible_streams():
    draws = {path: generator(5, *path).random() for path in
             [("a",), ("b",), ("a", 1), ("a", 6.5), ("a", 6.25), (1,), ("1",)]}
    assert len(set(draws.values())) == len(draws)
    assert generator(5, "a", 6.5).random() == draws[("a", 6.5)]
    assert generator(5, "wimp", 50).random() == generator(5, "wimp", 50.0).random()
    with pytest.raises(TypeError, match="seed"):
        seed_sequence(-1)
    with pytest.raises(TypeError, match="path"):
        seed_sequence(1, True)


def test_torch_generator_leaves_the_global_generator_alone():
    before = torch.get_rng_state()
    a = torch.rand(3, generator=torch_generator(3, "weights"))
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(a, torch.rand(3, generator=torch_generator(3, "weights")))
    assert not torch.equal(a, torch.rand(3, generator=torch_generator(3, "shuffle")))


def test_wimp_mass_50_and_50_0_give_the_same_sample(tmp_path):
    cfg = validated_sample_config(detector="lux_2013", n_signal=40, n_background_per_source=40,
                                  max_simulated=20_000, chunk_size=10_000, seed=3,
                                  cache_dir=str(tmp_path))
    as_int = EventSamples(cfg).source_sample("wimp", 50)
    as_float = EventSamples(cfg.model_copy(update={"cache_dir": None})).source_sample("wimp", 50.0)
    pd.testing.assert_frame_equal(as_int, as_float)
    other = EventSamples(cfg.model_copy(update={"cache_dir": None, "stream": "independent"}))
    assert not np.array_equal(other.source_sample("wimp", 50.0)["cs1_pe"], as_int["cs1_pe"])
    # the second call is read from the lineage cache, identical
    pd.testing.assert_frame_equal(EventSamples(cfg).source_sample("wimp", 50.0), as_int)
    assert list((tmp_path / "training.source_sample").iterdir())


def test_rates_give_each_source_its_own_efficiency_stream():
    detector = load_detector("xenon1t_sr0")
    rows = {r.source: r for r in rate_table(detector, n_mc=3000, seed=1)}
    again = {r.source: r for r in rate_table(detector, n_mc=3000, seed=1)}
    assert {s: r.efficiency for s, r in rows.items()} == {s: r.efficiency for s, r in again.items()}
    # efficiencies are Monte Carlo fractions of n_mc drawn in the fiducial slab, times its
    # mass over the fiducial mass; each source with its own draws
    slab = volume_mass_kg(detector, "fiducial") / detector.fiducial_mass_kg
    physical = [r for r in rows.values() if r.before_selection == r.before_selection]
    assert all(0.0 <= r.efficiency <= slab for r in physical)
    assert rows["wimp"].efficiency > rows["er"].efficiency
    # the WIMP efficiency run draws from child ("rates", "wimp"), not from the ER one's
    wimp = make_source(detector, "wimp", 500.0, 1e-45)
    assert rows["wimp"].efficiency == pytest.approx(window_efficiency(
        detector, wimp, 3000, seed_sequence(1, "rates", "wimp")) * slab, rel=1e-12)
    assert rows["wimp"].efficiency != pytest.approx(window_efficiency(
        detector, wimp, 3000, seed_sequence(1, "rates", "er")) * slab, rel=1e-12)
