"""``peak`` images: the main S1 waveform | the main S2 waveform, log amplitude.

Each column is the mean amplitude (PE per sample) of its time slice of the trace
(slices may split samples: the cumulative area is interpolated), log-scaled between
``peak_min_pe_per_sample`` and ``peak_max_pe_per_sample``; the curve is filled from the
bottom, with the top pixel of each column anti-aliased by its partial height.

With ``peak_secondary_s2`` (image settings; off by default, when the images are those
above byte for byte) the image has three panels: the main S1 (left third), the main S2
(middle third: its width shows, as above) and the whole event's summed waveform
(right), where every S2 shows as its own spike at its drift time, so the secondary S2s
of multiple scatters appear beside the main one. That strip is drawn like ``event``
images (largest bin of each column's time slice, :func:`wimpsift.images.event.column_maxima`);
its first column holds the S1 (and any S2 less than one column's time after it).
"""

from __future__ import annotations

import numpy as np


def column_means(traces: np.ndarray, n_columns: int) -> np.ndarray:
    """(N, n_columns) mean of each trace over ``n_columns`` equal time slices."""
    traces = np.asarray(traces, dtype=np.float32)
    n, length = traces.shape
    cum = np.zeros((n, length + 1), dtype=np.float64)
    np.cumsum(traces, axis=1, out=cum[:, 1:])
    edges = np.linspace(0.0, length, n_columns + 1)
    lo = np.clip(np.floor(edges).astype(np.int64), 0, length - 1)
    frac = edges - lo
    at_edges = cum[:, lo] + frac * (cum[:, lo + 1] - cum[:, lo])
    return (np.diff(at_edges, axis=1) / (length / n_columns)).astype(np.float32)


def log_height(amplitude: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fractional curve height in [0, 1] of a log axis from ``lo`` to ``hi``."""
    a = np.maximum(amplitude, np.float32(lo * 1e-3))
    h = (np.log10(a) - np.float32(np.log10(lo))) / np.float32(np.log10(hi / lo))
    return np.clip(h, 0.0, 1.0).astype(np.float32)


def fill_curve(heights: np.ndarray, n_rows: int) -> np.ndarray:
    """(N, n_rows, n_columns) filled-curve image of column heights in [0, 1]."""
    from_bottom = np.arange(n_rows - 1, -1, -1, dtype=np.float32)[None, :, None]
    return np.clip(heights[:, None, :] * n_rows - from_bottom, 0.0, 1.0)


def render_trace(traces: np.ndarray, height: int, width: int, settings) -> np.ndarray:
    means = column_means(traces, width)
    heights = log_height(means, settings.peak_min_pe_per_sample, settings.peak_max_pe_per_sample)
    return fill_curve(heights, height)


def render_peak(s1_trace_pe, s2_trace_pe, shape, settings, event_trace_pe=None) -> np.ndarray:
    """``peak`` images (N, H, W): main S1 (left) and main S2 (right) waveforms; with
    ``settings.peak_secondary_s2`` a third panel, the whole-event strip (``event_trace_pe``)."""
    height, width = shape
    out = np.empty((np.asarray(s1_trace_pe).shape[0], height, width), dtype=np.float32)
    if not getattr(settings, "peak_secondary_s2", False):
        left = width // 2
        out[:, :, :left] = render_trace(s1_trace_pe, height, left, settings)
        out[:, :, left:] = render_trace(s2_trace_pe, height, width - left, settings)
        return out
    from wimpsift.images.event import render_event

    if event_trace_pe is None:
        from wimpsift.errors import DataError

        raise DataError("events: no whole-event profiles (event_trace_pe) for 'peak' images "
                        "with peak_secondary_s2; process the events again")
    third = width // 3
    out[:, :, :third] = render_trace(s1_trace_pe, height, third, settings)
    out[:, :, third:2 * third] = render_trace(s2_trace_pe, height, third, settings)
    out[:, :, 2 * third:] = render_event(event_trace_pe, (height, width - 2 * third), settings)
    return out
