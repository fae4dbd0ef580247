"""``event`` images: the whole event's summed waveform, log amplitude (optional kind).

The input is the whole-event profile of processing (mean PE per sample in fine time
bins from the window start to the longest possible drift,
:func:`wimpsift.processing.topology.event_profile`). Each image column shows the
*largest* bin of its time slice, so that a short S1 is not averaged away over a column
many microseconds wide; heights are log-scaled between ``peak_min_pe_per_sample`` and
``peak_max_pe_per_sample`` and drawn as the ``peak`` images' filled curve. Secondary
S2s (neutron multiple scatters) show as separate spikes.
"""

from __future__ import annotations

import numpy as np

from wimpsift.images.peak import fill_curve, log_height


def column_maxima(profiles: np.ndarray, n_columns: int) -> np.ndarray:
    """(N, n_columns) largest bin of each of ``n_columns`` equal slices of the profiles."""
    profiles = np.asarray(profiles, dtype=np.float32)
    n_bins = profiles.shape[1]
    edges = np.floor(np.linspace(0, n_bins, n_columns + 1)).astype(np.int64)
    stops = np.maximum(edges[1:], edges[:-1] + 1)  # at least one bin per column
    starts = np.minimum(edges[:-1], n_bins - 1)
    cum_max = [profiles[:, a:b].max(axis=1) for a, b in zip(starts, np.minimum(stops, n_bins),
                                                            strict=True)]
    return np.stack(cum_max, axis=1)


def render_event(event_trace_pe: np.ndarray, shape: tuple[int, int], settings) -> np.ndarray:
    """``event`` images (N, H, W) of whole-event profiles."""
    height, width = shape
    heights = log_height(column_maxima(event_trace_pe, width), settings.peak_min_pe_per_sample,
                         settings.peak_max_pe_per_sample)
    return fill_curve(heights, height)
