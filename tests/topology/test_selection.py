"""XENON1T's standard selection on processed events, and the remaining-background metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wimpsift.errors import DataError
from wimpsift.metrics.remaining import ZERO_COUNT_UPPER_68, remaining_at_acceptance
from wimpsift.processing.background_mix import processed_mix
from wimpsift.processing.standard_selection import FLAG_COLUMNS, StandardSelection
from wimpsift.training.background_classifiers import cnn_scalars

NAMES = ["wimp", "er", "neutrons", "accidental"]


@pytest.fixture(scope="module")
def mixes(xenon1t):
    """Training and test mixes of a 50 GeV WIMP and three backgrounds (about 25 s)."""
    # more WIMPs: the S2-width band is their 99 % quantile, and over a quarter of those drawn in
    # the fiducial slab lie outside the fiducial volume
    train = processed_mix(xenon1t, 200, seed=10, mass_gev=50.0, names=NAMES, n_events={"wimp": 400})
    test = processed_mix(xenon1t, 200, seed=20, mass_gev=50.0, names=NAMES)
    return train, test


def test_standard_selection_keeps_half_the_wimps_and_rejects_multiples(mixes, xenon1t):
    train, test = mixes
    selection = StandardSelection(xenon1t).fit(train, (train["source"] == "wimp").to_numpy())
    flags = selection.flags(test)
    assert list(flags.columns) == list(FLAG_COLUMNS)
    by = {name: flags[test["source"] == name] for name in NAMES}
    topology = ["window", "fiducial", "single_scatter", "s2_width"]
    wimp_topo = by["wimp"][topology].all(axis=1)
    # the cS1-cS2 cut sits at the NR median: about half the WIMPs that pass cuts 1-4
    assert by["wimp"]["passes"].sum() / wimp_topo.sum() == pytest.approx(0.5, abs=0.1)
    # the S2-width band keeps about 99 % of the (fiducial, single-scatter) WIMPs
    base = by["wimp"][["window", "fiducial", "single_scatter"]].all(axis=1)
    assert by["wimp"].loc[base, "s2_width"].mean() > 0.95
    # true neutron multiples seen in the fiducial volume: nearly all fail the
    # single-scatter cut (those that pass had their scatters at one depth: merged S2s)
    multi = (test["source"] == "neutrons") & (test["n_interactions"] >= 2) & \
        test["passes_threshold"] & flags["fiducial"]
    assert multi.sum() > 50
    assert flags.loc[multi, "single_scatter"].mean() < 0.1
    # accidentals fail the S2-width cut far more often than ER single scatters
    def width_fail(f):
        base = f[["window", "fiducial", "single_scatter"]].all(axis=1)
        return 1 - f.loc[base, "s2_width"].mean()
    assert width_fail(by["accidental"]) > 5 * max(width_fail(by["er"]), 0.02)
    assert by["er"]["passes"].mean() < 0.05
    score = selection.score(test)
    assert np.array_equal(np.isfinite(score), flags[topology].all(axis=1).to_numpy())
    # the CNNs' nr_band_distance scalar is the score's cS1-cS2 statistic on every event:
    # equal where cuts 1-4 pass, positive exactly where the cS1-cS2 cut passes
    positive = ((test["cs1_pe"] > 0) & (test["cs2_pe"] > 0)).to_numpy()
    distance = selection.nr_band_distance(test[positive])
    finite = np.isfinite(score[positive])
    assert finite.sum() > 100 and np.isfinite(distance).all()
    assert np.array_equal(distance[finite], score[positive][finite])
    assert np.array_equal(distance > 0, flags["cs1_cs2"].to_numpy()[positive])
    scalars = cnn_scalars(test[positive], ("cs1_pe", "nr_band_distance"), selection)
    assert np.array_equal(scalars, np.column_stack([test["cs1_pe"][positive], distance]))


def test_selection_refuses_unprocessed_tables(xenon1t):
    table = pd.DataFrame({"cs1_pe": [1.0], "cs2_pe": [100.0]})
    with pytest.raises(DataError, match="missing columns"):
        StandardSelection(xenon1t).fit(table, np.array([1]))


def test_remaining_at_acceptance_analytic():
    # signal scores 0..99 (weight 1), background "a" at scores 0..9 weight 0.5 and
    # "b" at 95..99 weight 2; 50 % acceptance: threshold at 50 -> a: 0, b: 5 x 2
    scores = np.r_[np.arange(100.0), np.arange(10.0), np.arange(95.0, 100.0)]
    source = np.array(["wimp"] * 100 + ["a"] * 10 + ["b"] * 5, dtype=object)
    weights = np.r_[np.ones(100), np.full(10, 0.5), np.full(5, 2.0)]
    out = remaining_at_acceptance(scores, source, weights, acceptance=0.5)
    assert out["threshold"] == 50.0
    assert out["signal_acceptance"] == pytest.approx(0.5)
    assert out["b"]["events"] == pytest.approx(10.0)
    assert out["b"]["error"] == pytest.approx(np.sqrt(5 * 4.0))
    assert out["a"]["events"] == 0.0
    assert out["a"]["error"] == pytest.approx(0.5 * ZERO_COUNT_UPPER_68)
    assert out["total"] == pytest.approx(10.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"acceptance": 1.5}, "acceptance"),
    ({"signal": "nothing"}, "source"),
])
def test_remaining_bad_input(kwargs, match):
    with pytest.raises(DataError, match=match):
        remaining_at_acceptance([1.0, 2.0], ["wimp", "er"], [1.0, 1.0], **kwargs)


def test_mix_is_reproducible_and_weights_follow_the_published_counts(xenon1t):
    from wimpsift.processing.background_mix import processed_source

    a, wa = processed_source(xenon1t, "accidental", 40, seed=3)
    b, wb = processed_source(xenon1t, "accidental", 40, seed=3)
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(wa, wb)
    # data-driven: the weighted events in the window are the published count
    assert wa[a["in_window"].to_numpy()].sum() == pytest.approx(0.22)


def test_window_cut_applies_the_cs2_bottom_range_of_the_detector():
    """XENON1T SR1's window has a cS2_b range: the standard selection applies it (it raised
    'this detector's window needs cS2_b' before) and its window and fiducial cuts then
    agree with the processed table's ``in_window`` event by event."""
    from wimpsift.detectors import load_detector
    from wimpsift.processing.reconstruction import process_events
    from wimpsift.sources import make_source
    from wimpsift.waveforms.event import simulate_waveform_events

    sr1 = load_detector("xenon1t_sr1")
    assert sr1.window.cs2_bottom_max_pe is not None
    tables = []
    for name in ("wimp", "er"):
        raw = simulate_waveform_events(sr1, make_source(sr1, name, mass_gev=50.0), 150, seed=3)
        tables.append(process_events(raw).table)
    table = pd.concat(tables, ignore_index=True)
    y = (table["source"] == "wimp").to_numpy()
    selection = StandardSelection(sr1).fit(table, y)
    flags = selection.flags(table)
    assert np.array_equal((flags["window"] & flags["fiducial"]).to_numpy(),
                          table["in_window"].to_numpy())
    # an event whose cS2_b lies above the range fails the window cut, whatever else it passes
    inside = flags["window"].to_numpy()
    assert inside.sum() > 20
    moved = table.assign(cs2_bottom_pe=np.where(inside, 1.01 * sr1.window.cs2_bottom_max_pe,
                                                table["cs2_bottom_pe"]))
    assert not selection.flags(moved)["window"].any()
