"""Interaction positions, uniform in the fiducial or the active volume (gate at z = 0)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.errors import bad_value

Volume = Literal["fiducial", "active"]


def sample_positions(
    n: int, detector: Detector, rng: np.random.Generator, volume: Volume = "fiducial"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return x, y, z in cm, uniform in the chosen cylinder."""
    if volume == "fiducial":
        radius, z_lo, z_hi = (
            detector.fiducial.radius_cm,
            detector.fiducial.z_min_cm,
            detector.fiducial.z_max_cm,
        )
    elif volume == "active":
        radius, z_lo, z_hi = detector.geometry.tpc_radius_cm, -detector.geometry.tpc_length_cm, 0.0
    else:
        raise bad_value("volume", volume, "'fiducial' or 'active'")
    r = radius * np.sqrt(rng.random(n))
    phi = rng.uniform(0, 2 * np.pi, n)
    z = rng.uniform(z_lo, z_hi, n)
    return r * np.cos(phi), r * np.sin(phi), z


def sample_wall_positions(
    n: int, detector: Detector, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions on the TPC wall within the fiducial depth range (wall events)."""
    phi = rng.uniform(0, 2 * np.pi, n)
    z = rng.uniform(detector.fiducial.z_min_cm, detector.fiducial.z_max_cm, n)
    radius = detector.geometry.tpc_radius_cm
    return radius * np.cos(phi), radius * np.sin(phi), z


def volume_mass_kg(detector: Detector, volume: Volume) -> float:
    """Target mass of the sampled volume: published fiducial mass, or the active cylinder."""
    if volume == "fiducial":
        return detector.fiducial_mass_kg
    g = detector.geometry
    return float(np.pi * g.tpc_radius_cm**2 * g.tpc_length_cm * g.liquid_density_g_cm3 / 1000.0)
