"""Property tests (hypothesis) of the numerical kernels of waveforms, peaks and images."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from wimpsift.images.hit import log_scale
from wimpsift.images.peak import column_means, fill_curve, log_height
from wimpsift.processing.peaks import find_peak_windows
from wimpsift.waveforms.pulse import shape_from_times, spe_kernel

finite = st.floats(0, 1e4, allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 300)), elements=finite),
       st.integers(1, 80))
def test_column_means_conserve_area(traces, n_columns):
    means = column_means(traces, n_columns)
    width = traces.shape[1] / n_columns
    assert np.allclose(means.sum(axis=1) * width, traces.sum(axis=1), rtol=1e-4, atol=1e-2)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, st.integers(1, 400), elements=st.floats(-1, 5, width=32)),
       st.integers(1, 30))
def test_peak_windows_cover_every_sample_above_threshold_once(waveform, gap):
    starts, ends = find_peak_windows(waveform, 0.5, gap)
    above = np.flatnonzero(waveform > 0.5)
    inside = np.zeros(waveform.size, int)
    for a, b in zip(starts, ends, strict=True):
        assert waveform[a] > 0.5 and waveform[b - 1] > 0.5
        inside[a:b] += 1
    assert np.all(inside[above] == 1)
    assert np.all(starts[1:] - ends[:-1] >= gap)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.integers(1, 50), elements=st.floats(0, 1e3)),
       arrays(np.float64, st.integers(1, 50), elements=st.floats(0, 5)))
def test_pulse_shape_conserves_area(times, areas):
    n = min(times.size, areas.size)
    kernel = spe_kernel(10.0, 3.0, 10.0)
    start, waveform = shape_from_times(times[:n], areas[:n], 10.0, kernel)
    assert start == int(np.floor(times[:n].min() / 10.0))
    assert np.isclose(waveform.sum(), areas[:n].sum(), rtol=1e-5, atol=1e-4)


@given(arrays(np.float32, st.integers(1, 100), elements=st.floats(0, 1e7, width=32)))
def test_grey_levels_in_unit_interval_and_monotone(values):
    for scaled in (log_scale(values, 30.0), log_height(values, 0.1, 100.0)):
        assert scaled.dtype == np.float32
        assert np.all((scaled >= 0) & (scaled <= 1))
        order = np.argsort(values, kind="stable")
        assert np.all(np.diff(scaled[order]) >= 0)


@given(arrays(np.float32, st.tuples(st.integers(1, 3), st.integers(1, 20)),
              elements=st.floats(0, 1, width=32)), st.integers(1, 40))
def test_filled_curve_has_the_column_height(heights, rows):
    image = fill_curve(heights, rows)
    assert image.shape == (heights.shape[0], rows, heights.shape[1])
    assert np.allclose(image.sum(axis=1), heights * rows, atol=1e-4)
