"""Template validation: every validator has a negative test."""

from __future__ import annotations

import numpy as np
import pytest

from wimpsift.errors import DataError, WimpsiftError
from wimpsift.stats.templates import TemplateSet, histogram_template

GOOD_SIGNAL = np.array([0.0, 1.0, 2.0])
GOOD_BKG = {"er": np.array([5.0, 3.0, 1.0])}


def test_valid_template_set_flattens_nd():
    ts = TemplateSet(signal=np.ones((2, 3)), backgrounds={"er": np.ones((2, 3))},
                     bin_edges=[[0, 1, 2], [0, 1, 2, 3]])
    assert ts.shape == (2, 3)
    assert ts.n_bins == 6
    assert ts.flat_backgrounds().shape == (1, 6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_signal(bad):
    with pytest.raises(DataError, match="signal.*non-finite"):
        TemplateSet(signal=np.array([1.0, bad, 1.0]), backgrounds=GOOD_BKG)


def test_non_finite_background():
    with pytest.raises(DataError, match=r"backgrounds\['er'\].*non-finite"):
        TemplateSet(signal=GOOD_SIGNAL, backgrounds={"er": np.array([1.0, np.nan, 1.0])})


def test_negative_counts():
    with pytest.raises(DataError, match="negative"):
        TemplateSet(signal=GOOD_SIGNAL, backgrounds={"er": np.array([1.0, -1.0, 1.0])})


def test_empty_signal_no_bins():
    with pytest.raises(DataError, match="signal.*empty"):
        TemplateSet(signal=np.array([]), backgrounds={"er": np.array([])})


def test_empty_signal_all_zero():
    with pytest.raises(DataError, match="signal.*empty"):
        TemplateSet(signal=np.zeros(3), backgrounds=GOOD_BKG)


def test_empty_background_template():
    with pytest.raises(DataError, match=r"backgrounds\['wall'\].*empty"):
        TemplateSet(signal=GOOD_SIGNAL, backgrounds={**GOOD_BKG, "wall": np.zeros(3)})


def test_no_background_model_at_all():
    with pytest.raises(DataError, match="backgrounds: no background model"):
        TemplateSet(signal=GOOD_SIGNAL, backgrounds={})


def test_mismatched_binning():
    with pytest.raises(DataError, match=r"backgrounds\['er'\].*binning"):
        TemplateSet(signal=GOOD_SIGNAL, backgrounds={"er": np.ones(4)})


def test_signal_bin_without_background_is_an_error():
    with pytest.raises(DataError, match="expected signal but no background model"):
        TemplateSet(signal=np.array([1.0, 1.0, 1.0]), backgrounds={"er": np.array([1.0, 0.0, 1.0])})


def test_background_free_bins_allowed_when_declared():
    ts = TemplateSet(signal=np.array([1.0]), backgrounds={"none": np.array([0.0])},
                     allow_background_free_bins=True)
    assert ts.flat_backgrounds().sum() == 0.0


def test_bad_background_name():
    with pytest.raises(DataError, match="not a valid identifier"):
        TemplateSet(signal=GOOD_SIGNAL, backgrounds={"bad name": np.ones(3)})


@pytest.mark.parametrize("edges", [[[0, 1, 2]], [[0, 2, 1, 3]], [[0, 1, np.nan, 3]], [[0, 1, 2, 3], [0, 1]]])
def test_bad_bin_edges(edges):
    with pytest.raises(DataError, match="bin_edges"):
        TemplateSet(signal=GOOD_SIGNAL, backgrounds=GOOD_BKG, bin_edges=edges)


@pytest.mark.parametrize("sigma", [0.0, -1e-45, np.nan])
def test_bad_reference_cross_section(sigma):
    with pytest.raises(DataError, match="sigma_ref_cm2"):
        TemplateSet(signal=GOOD_SIGNAL, backgrounds=GOOD_BKG, sigma_ref_cm2=sigma)


def test_dict_round_trip_and_missing_key():
    ts = TemplateSet(signal=np.ones((2, 2)), backgrounds={"er": np.full((2, 2), 2.0)}, mass_gev=10.0)
    back = TemplateSet.from_dict(ts.to_dict())
    np.testing.assert_array_equal(back.signal, ts.signal)
    assert back.mass_gev == 10.0
    with pytest.raises(DataError, match="missing key 'backgrounds'"):
        TemplateSet.from_dict({"signal": [1.0]})
    with pytest.raises(DataError, match="expected 4"):
        TemplateSet.from_dict({"signal": [1, 1, 1, 1], "shape": [2, 2], "backgrounds": {"er": [1, 1]}})


def test_histogram_template_normalises_inside_region():
    rng = np.random.default_rng(0)
    values = rng.uniform(-0.5, 1.5, 10_000)
    hist = histogram_template(values, [np.linspace(0, 1, 5)], expected_events=42.0).counts
    assert hist.sum() == pytest.approx(42.0)
    assert hist.shape == (4,)
    two_d = histogram_template([values, values], [np.linspace(0, 1, 3)] * 2, expected_events=1.0).counts
    assert two_d.shape == (2, 2)
    assert np.count_nonzero(two_d) == 2  # diagonal only


def test_histogram_template_errors():
    edges = [np.linspace(0, 1, 5)]
    with pytest.raises(DataError, match="no simulated events"):
        histogram_template(np.array([]), edges, 1.0)
    with pytest.raises(DataError, match="no simulated event falls inside"):
        histogram_template(np.array([5.0, 6.0]), edges, 1.0)
    with pytest.raises(DataError, match="expected_events"):
        histogram_template(np.array([0.5]), edges, np.nan)
    with pytest.raises(DataError, match="non-finite"):
        histogram_template(np.array([np.nan]), edges, 1.0)


def test_errors_are_wimpsift_errors():
    assert issubclass(DataError, WimpsiftError)


def test_more_histogram_and_dict_validators():
    edges = [np.linspace(0, 1, 5)]
    with pytest.raises(DataError, match="2 value columns for 1 axes"):
        histogram_template([np.ones(3), np.ones(3)], edges, 1.0)
    with pytest.raises(DataError, match="different lengths"):
        histogram_template([np.ones(3), np.ones(4)], edges * 2, 1.0)
    with pytest.raises(DataError, match="malformed"):
        TemplateSet.from_dict({"signal": ["a"], "backgrounds": {}})
    with pytest.raises(DataError, match="expected a mapping"):
        TemplateSet.from_dict({"signal": [1.0], "backgrounds": [1.0]})


@pytest.mark.parametrize(("extra", "message"), [
    ({"sigma_ref": 1e-40}, "unknown key 'sigma_ref'"),
    ({"sigma_ref_cm2": "1e-40"}, "sigma_ref_cm2: got '1e-40', expected a number"),
    ({"sigma_ref_cm2": True}, "sigma_ref_cm2: got True"),
    ({"mass_gev": "50"}, "mass_gev: got '50'"),
    ({"allow_background_free_bins": "false"}, "allow_background_free_bins: got 'false'"),
])
def test_a_templates_file_with_a_misspelt_key_or_a_wrong_kind_is_refused(extra, message):
    # a misspelt sigma_ref_cm2 left the default 1e-45 cm^2 and scaled every limit by it;
    # the string "false" read as true
    base = {"signal": [1.0], "backgrounds": {"er": [2.0]}}
    with pytest.raises(DataError, match=message):
        TemplateSet.from_dict({**base, **extra})
    # what 'wimpsift templates' adds to to_dict() is read
    written = {**base, "sigma_ref_cm2": 1e-40, "mass_gev": 10, "allow_background_free_bins": False,
               "detector": "lux_2013", "analysis": "cs1-cs2", "columns": ["cs1_pe", "cs2_pe"],
               "provenance": {}, "observed": [3]}
    assert TemplateSet.from_dict(written).sigma_ref_cm2 == 1e-40
