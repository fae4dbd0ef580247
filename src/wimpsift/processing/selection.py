"""Event selections: detection threshold, fiducial volume and analysis window."""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import Detector


def passes_threshold(s1_n_pmts, s2_area_pe, detector: Detector) -> np.ndarray:
    """S1 seen in enough PMTs in coincidence and S2 above the raw S2 threshold."""
    return (np.asarray(s1_n_pmts) >= detector.light.s1_coincidence_pmts) & (
        np.asarray(s2_area_pe) >= detector.charge.s2_threshold_pe
    )


def in_fiducial(r_cm, z_cm, detector: Detector) -> np.ndarray:
    """Inside the fiducial volume: its cylinder, or its (r, z) boundary table."""
    return detector.fiducial.contains(r_cm, z_cm)


def in_window(cs1_pe, s2_area_pe, detector: Detector, cs2_bottom_pe=None) -> np.ndarray:
    """cS1 range, raw S2 threshold and, where the detector sets one, the cS2_b range."""
    w = detector.window
    cs1 = np.asarray(cs1_pe)
    inside = (cs1 >= w.cs1_min_pe) & (cs1 <= w.cs1_max_pe) & (np.asarray(s2_area_pe) >= w.s2_min_pe)
    if w.cs2_bottom_min_pe is not None or w.cs2_bottom_max_pe is not None:
        if cs2_bottom_pe is None:
            raise ValueError("in_window: this detector's window needs cS2_b")
        cs2_b = np.asarray(cs2_bottom_pe)
        inside &= (cs2_b >= (w.cs2_bottom_min_pe or 0.0)) & (cs2_b <= (w.cs2_bottom_max_pe or np.inf))
    return inside
