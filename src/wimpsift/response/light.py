"""S1 light: position-dependent light collection and photon detection.

No maintained offline library provides a XENON1T/LUX detector response (pax and
its successors need private maps or old software), so the response is written
here. The relative light-collection efficiency (LCE) is a smooth parametric map

    lce(r, z) = (1 + a (d/L - 1/2)) (1 + b ((r/R)^2 - 1/2)),   d = -z,

which has mean one over the active cylinder (uniform in r² and d), so the detector's
g1 is the volume-averaged photon detection efficiency. ``a`` (``lce_z_slope``) makes
events near the cathode brighter (the bottom array sees most S1 light) and ``b``
(``lce_r2_coefficient``) dims the wall.

Which PMT sees each detected photon follows the per-PMT pattern of
:mod:`wimpsift.response.pmt_light` (the one the waveform level uses); what is found
there, PMT by PMT, makes the S1 (:func:`detect_s1`). No library models a TPC's S1
hit finding at event level (NEST's own S1 uses an even spread over PMTs), so it is
written here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.detectors.pmt_arrays import pmt_arrays
from wimpsift.response.pmt_light import photons_to_pmts, s1_pattern_table


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


def found_probability(n_pe: np.ndarray, detector: Detector) -> np.ndarray:
    """Probability that a PMT with ``n_pe`` photoelectrons in an S1 has a found hit.

    Each photoelectron is above the hit finder's threshold with probability
    ``spe_acceptance``; the PMT's hit is found when at least one is, and then its whole
    area counts (the hit is extended over the neighbouring photoelectrons).
    """
    return 1.0 - np.power(1.0 - detector.light.spe_acceptance, np.asarray(n_pe, dtype=float))


@dataclass
class S1Detection:
    """The S1 as found: area (PE) and number of PMTs with a found hit, per event."""

    area_pe: np.ndarray
    n_pmts: np.ndarray


def detect_s1(
    n_detected: np.ndarray, x_cm: np.ndarray, y_cm: np.ndarray, z_cm: np.ndarray,
    detector: Detector, rng: np.random.Generator,
) -> S1Detection:
    """Per-PMT S1 detection: detected photons → PMTs (the detector's light-collection
    pattern), double-PE emission, single-PE gain spread and per-PMT hit finding.

    Only PMTs with a found hit count towards the N-fold coincidence and the S1 area.
    """
    arrays = pmt_arrays(detector)
    table = s1_pattern_table(arrays, detector.geometry.tpc_radius_cm, detector.geometry.tpc_length_cm)
    n = np.asarray(n_detected, dtype=np.int64)
    keys, photons = photons_to_pmts(n, table.node_index(x_cm, y_cm, z_cm), table, rng)
    n_pe, found = _pe_and_found(photons, detector, rng)
    n_pe, owner = n_pe[found], keys[found] // arrays.n_pmts
    gain = rng.standard_normal(owner.size, dtype=np.float32)
    gain *= np.float32(detector.light.spe_resolution) * np.sqrt(n_pe, dtype=np.float32)
    area = np.maximum(gain + n_pe, 0.0, dtype=np.float64)
    return S1Detection(
        area_pe=np.bincount(owner, weights=area, minlength=n.size),
        n_pmts=np.bincount(owner, minlength=n.size),
    )


def _pe_and_found(photons: np.ndarray, detector: Detector, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Photoelectrons (double-PE emission) and found-hit flags of PMTs with ``photons`` photons.

    Most PMTs of a small S1 see one photon; for them one uniform number decides both the
    double-PE emission and the hit finding (the four outcomes as consecutive intervals),
    which halves the random numbers drawn. PMTs with more photons draw a binomial and a
    found flag.
    """
    p_double = detector.light.double_pe_probability
    found_1, found_2 = found_probability(np.array([1, 2]), detector)
    u = rng.random(photons.size, dtype=np.float32)
    double = u < p_double
    n_pe = photons + double
    found = np.where(double, u < p_double * found_2, u < p_double + (1 - p_double) * found_1)
    many = np.flatnonzero(photons > 1)
    if many.size:
        n_pe[many] = photons[many] + rng.binomial(photons[many], p_double)
        found[many] = rng.random(many.size) < found_probability(n_pe[many], detector)
    return n_pe, found
