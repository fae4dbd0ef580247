"""Position corrections: cS1 for light collection, cS2 for electron lifetime.

cS1 divides the S1 area by the relative LCE at the *reconstructed* position; cS2 and
the bottom-array cS2_b divide by the electron survival at the measured drift time.
"""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.response.charge import electron_survival
from wimpsift.response.light import relative_lce


def corrected_s1_pe(s1_area_pe, x_cm, y_cm, z_cm, detector: Detector) -> np.ndarray:
    return np.asarray(s1_area_pe) / relative_lce(x_cm, y_cm, z_cm, detector)


def corrected_s2_pe(s2_area_pe, drift_time_us, detector: Detector) -> np.ndarray:
    return np.asarray(s2_area_pe) / electron_survival(drift_time_us, detector)
