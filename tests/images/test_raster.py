"""Image rasterisation: shapes, ranges, content and validators."""

import numpy as np
import pytest

from wimpsift.errors import ConfigError
from wimpsift.images import DEFAULT_SHAPES, render_images
from wimpsift.images.hit import log_scale
from wimpsift.images.peak import column_means
from wimpsift.images.raster import check_kinds, image_settings


def test_default_shapes_and_ranges(nr_processed):
    images = render_images(nr_processed)
    assert set(images) == {"hit", "peak", "hitpeak"}
    for kind, array in images.items():
        assert array.shape == (len(nr_processed), *DEFAULT_SHAPES[kind])
        assert array.dtype == np.float32
        assert array.min() >= 0.0 and array.max() <= 1.0
        # an image is blank exactly when the event has no peak at all (a recoil below
        # threshold: the signal spectrum starts at 0.5 keVnr)
        has_peak = (nr_processed.table.s1_area_pe + nr_processed.table.s2_area_pe).to_numpy() > 0
        assert has_peak.mean() > 0.9
        np.testing.assert_array_equal(array.reshape(len(array), -1).max(axis=1) > 0, has_peak)


def test_custom_shapes(nr_processed):
    settings = image_settings({"hit": (40, 80), "hitpeak": (64, 64), "peak": (9, 13)})
    images = render_images(nr_processed, ["hit", "peak", "hitpeak"], settings)
    assert images["hit"].shape[1:] == (40, 80)
    assert images["peak"].shape[1:] == (9, 13)
    assert images["hitpeak"].shape[1:] == (64, 64)


def test_hitpeak_is_hit_over_peak(nr_processed):
    settings = image_settings({"hit": (37, 75), "peak": (38, 75)})
    images = render_images(nr_processed, ["hit", "peak", "hitpeak"], settings)
    assert np.array_equal(images["hitpeak"][:, :37], images["hit"])
    assert np.array_equal(images["hitpeak"][:, 37:], images["peak"])


def test_s2_panel_brightness_follows_true_position(er_processed):
    ok = er_processed.table.passes_threshold.to_numpy()
    events = er_processed.select(ok)
    hit = render_images(events, ["hit"])["hit"]
    panel = hit[:, :, 50:]  # S2 on the top array, 50 x 50, +y up
    h, w = panel.shape[1:]
    weights = panel ** 4
    cols = (weights.sum(axis=1) * np.arange(w)).sum(axis=1) / weights.sum(axis=(1, 2))
    rows = (weights.sum(axis=2) * np.arange(h)).sum(axis=1) / weights.sum(axis=(1, 2))
    assert np.corrcoef(cols, events.table.x_true_cm)[0, 1] > 0.9
    assert np.corrcoef(-rows, events.table.y_true_cm)[0, 1] > 0.9


def test_bigger_s2_fills_more_of_the_peak_panel(er_processed):
    ok = er_processed.table.passes_threshold.to_numpy()
    events = er_processed.select(ok)
    peak = render_images(events, ["peak"])["peak"]
    filled = peak[:, :, 50:].sum(axis=(1, 2))
    assert np.corrcoef(np.log(events.table.s2_area_pe), filled)[0, 1] > 0.5


def test_scaling_helpers():
    assert log_scale(np.array([0.0, 30.0, 1e6]), 30.0).tolist() == [0.0, 1.0, 1.0]
    trace = np.arange(12, dtype=np.float32)[None, :]
    assert np.allclose(column_means(trace, 3), [[1.5, 5.5, 9.5]])
    assert np.allclose(column_means(trace, 12), trace)


@pytest.mark.parametrize("kinds", ["", "hit,foo", ["hit", "hit"], ["HIT"]])
def test_unknown_or_empty_kinds_are_rejected(kinds):
    with pytest.raises(ConfigError, match="kinds"):
        check_kinds(kinds)


@pytest.mark.parametrize("shape", [(0, 100), (50, -1), (1, 1), (50.5, 100), ("a", 3), (5,)])
def test_bad_sizes_are_rejected(shape):
    with pytest.raises(ConfigError, match="shapes"):
        image_settings({"hit": shape})


def test_bad_scaling_and_unknown_shape_kind_are_rejected():
    with pytest.raises(ConfigError, match="kinds"):
        image_settings({"hot": (10, 10)})
    with pytest.raises(ConfigError, match="hit_s2_max_pe"):
        image_settings(None, hit_s2_max_pe=0.0)
