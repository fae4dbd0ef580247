"""``hitpeak`` images: the 2 × 2 of ``hit`` (top half) and ``peak`` (bottom half).

Top left: main S1 on the bottom array; top right: main S2 on the top array; bottom
left: main S1 waveform; bottom right: main S2 waveform (scales as in ``hit``/``peak``;
with ``peak_secondary_s2`` the bottom half has the ``peak`` images' three panels).
"""

from __future__ import annotations

import numpy as np

from wimpsift.images.hit import render_hit
from wimpsift.images.peak import render_peak
from wimpsift.images.raster import hit_shape


def render_hitpeak(processed, shape, settings) -> np.ndarray:
    """``hitpeak`` images (N, H, W) of processed events."""
    height, width = shape
    top = hit_shape("hitpeak", shape)[0]
    out = np.empty((len(processed), height, width), dtype=np.float32)
    out[:, :top] = render_hit(processed.s1_pmt_area_pe, processed.s2_pmt_area_pe,
                              processed.arrays, (top, width), settings)
    out[:, top:] = render_peak(processed.s1_trace_pe, processed.s2_trace_pe,
                               (height - top, width), settings, processed.event_trace_pe)
    return out
