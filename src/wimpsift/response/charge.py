"""Charge: electron drift (velocity, lifetime, diffusion), extraction and S2.

Written here for the same reason as ``light.py``: no offline library provides the
response. S2 areas follow the detector's published gains: one extracted electron gives
``detector.se_gain_pe`` PE in total (bottom share ``1 - s2_top_fraction``), with a
relative spread ``se_gain_resolution`` per electron.
"""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import Detector


def drift_time_us(z_cm: np.ndarray, detector: Detector) -> np.ndarray:
    """Drift time from depth (gate at z = 0, z negative), µs."""
    return -np.asarray(z_cm, dtype=float) * 10.0 / detector.drift.drift_velocity_mm_us


def depth_cm(drift_time_us_: np.ndarray, detector: Detector) -> np.ndarray:
    """Inverse of :func:`drift_time_us`: z in cm (negative) from drift time."""
    return -np.asarray(drift_time_us_, dtype=float) * detector.drift.drift_velocity_mm_us / 10.0


def electron_survival(drift_time_us_: np.ndarray, detector: Detector) -> np.ndarray:
    """Fraction of electrons surviving attachment over the drift, exp(-t/τ)."""
    return np.exp(-np.asarray(drift_time_us_, dtype=float) / detector.drift.electron_lifetime_us)


def longitudinal_spread_us(drift_time_us_: np.ndarray, detector: Detector) -> np.ndarray:
    """RMS spread of the electron cloud's arrival times from longitudinal diffusion, µs."""
    v_cm_us = detector.drift.drift_velocity_mm_us / 10.0
    d_cm2_us = detector.drift.diffusion_longitudinal_cm2_s * 1e-6
    return np.sqrt(2 * d_cm2_us * np.asarray(drift_time_us_, dtype=float)) / v_cm_us


def extracted_electrons(
    n_electrons: np.ndarray,
    drift_time_us_: np.ndarray,
    detector: Detector,
    rng: np.random.Generator,
    charge_kept: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Electrons that survive the drift (and any charge loss) and are extracted into the gas."""
    p = electron_survival(drift_time_us_, detector) * detector.charge.extraction_efficiency
    p = np.clip(p * charge_kept, 0.0, 1.0)
    return rng.binomial(np.asarray(n_electrons, dtype=np.int64), p)


def s2_areas_pe(
    n_extracted: np.ndarray, detector: Detector, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Total, top and bottom S2 areas (PE) for the extracted electrons."""
    n = np.asarray(n_extracted, dtype=float)
    gain = detector.se_gain_pe
    spread = gain * detector.charge.se_gain_resolution * np.sqrt(n)
    total = np.clip(n * gain + spread * rng.standard_normal(n.size), 0.0, None)
    # top/bottom sharing of the electroluminescence photons (binomial in detected PE)
    top_fraction = detector.charge.s2_top_fraction
    top_sigma = np.sqrt(np.clip(total, 1.0, None) * top_fraction * (1 - top_fraction))
    top = np.clip(total * top_fraction + top_sigma * rng.standard_normal(n.size), 0.0, total)
    return total, top, total - top
