"""``peak`` images: the main S1 waveform | the main S2 waveform, log amplitude.

Each column is the mean amplitude (PE per sample) of its time slice of the trace
(slices may split samples: the cumulative area is interpolated), log-scaled between
``peak_min_pe_per_sample`` and ``peak_max_pe_per_sample``; the curve is filled from the
bottom, with the top pixel of each column anti-aliased by its partial height.
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


def render_peak(s1_trace_pe, s2_trace_pe, shape, settings) -> np.ndarray:
    """``peak`` images (N, H, W): main S1 (left) and main S2 (right) waveforms."""
    height, width = shape
    left = width // 2
    out = np.empty((np.asarray(s1_trace_pe).shape[0], height, width), dtype=np.float32)
    out[:, :, :left] = render_trace(s1_trace_pe, height, left, settings)
    out[:, :, left:] = render_trace(s2_trace_pe, height, width - left, settings)
    return out
