"""S1 light: position-dependent light collection and photon detection.

No maintained offline library provides a XENON1T/LUX detector response (pax and
its successors need private maps or old software), so the response is written
here. The relative light-collection efficiency (LCE) is a smooth parametric map

    lce(r, z) = (1 + a (d/L - 1/2)) (1 + b ((r/R)^2 - 1/2)),   d = -z,

which has mean one over the active cylinder (uniform in r² and d), so the detector's
g1 is the volume-averaged photon detection efficiency. ``a`` (``lce_z_slope``) makes
events near the cathode brighter (the bottom array sees most S1 light) and ``b``
(``lce_r2_coefficient``) dims the wall.
"""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import Detector


def relative_lce(x_cm: np.ndarray, y_cm: np.ndarray, z_cm: np.ndarray, detector: Detector) -> np.ndarray:
    """Relative S1 light-collection efficiency, mean one over the active volume."""
    r2 = (np.asarray(x_cm) ** 2 + np.asarray(y_cm) ** 2) / detector.geometry.tpc_radius_cm**2
    depth = -np.asarray(z_cm) / detector.geometry.tpc_length_cm
    light = detector.light
    return (1 + light.lce_z_slope * (depth - 0.5)) * (1 + light.lce_r2_coefficient * (r2 - 0.5))


def photon_detection_probability(
    x_cm: np.ndarray, y_cm: np.ndarray, z_cm: np.ndarray, detector: Detector
) -> np.ndarray:
    """Probability that one S1 photon gives a first photoelectron (g1 without double-PE)."""
    g1_photon = detector.light.g1_pe_per_photon / (1 + detector.light.double_pe_probability)
    return np.clip(g1_photon * relative_lce(x_cm, y_cm, z_cm, detector), 0.0, 1.0)


def distinct_pmts_hit(n_detected: np.ndarray, n_pmts: int, rng: np.random.Generator) -> np.ndarray:
    """Number of distinct PMTs hit by ``n_detected`` photoelectrons.

    Photons are shared evenly among ``n_pmts`` PMTs; the number of photons that land on an
    already-hit PMT is Poisson with the birthday-problem mean n(n-1)/(2 N), exact enough
    for the coincidence requirement, which only matters for a handful of photons.
    """
    n = np.asarray(n_detected, dtype=np.int64)
    collisions = rng.poisson(n * np.clip(n - 1, 0, None) / (2.0 * n_pmts))
    return np.clip(n - collisions, np.minimum(n, 1), n_pmts)


def s1_area_pe(n_detected: np.ndarray, detector: Detector, rng: np.random.Generator) -> np.ndarray:
    """S1 area: detected photons with double-PE emission and single-PE gain spread, in PE."""
    n = np.asarray(n_detected, dtype=np.int64)
    n_pe = n + rng.binomial(n, detector.light.double_pe_probability)
    spread = detector.light.spe_resolution * np.sqrt(n_pe)
    return np.clip(n_pe + spread * rng.standard_normal(n.size), 0.0, None)
