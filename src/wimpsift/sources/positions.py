"""Interaction positions, uniform in the fiducial or the active volume (gate at z = 0).

A fiducial volume with an (r, z) boundary table is sampled by rejection from its
bounding cylinder: uniform draws in the cylinder, kept where the boundary holds them,
in batches until ``n`` are kept (the order of the random draws is fixed by the seed).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.errors import bad_value

Volume = Literal["fiducial", "active"]


def sample_positions(
    n: int, detector: Detector, rng: np.random.Generator, volume: Volume = "fiducial"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return x, y, z in cm, uniform in the chosen volume."""
    if volume == "fiducial" and detector.fiducial.boundary is not None:
        return _sample_inside_boundary(n, detector, rng)
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


def _sample_inside_boundary(
    n: int, detector: Detector, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = detector.fiducial
    bounding = np.pi * f.radius_cm**2 * (f.z_max_cm - f.z_min_cm)
    acceptance = f.volume_cm3 / bounding
    xs, ys, zs, kept = [], [], [], 0
    while kept < n:
        m = int((n - kept) / acceptance * 1.05) + 16
        r = f.radius_cm * np.sqrt(rng.random(m))
        phi = rng.uniform(0, 2 * np.pi, m)
        z = rng.uniform(f.z_min_cm, f.z_max_cm, m)
        inside = f.contains(r, z)
        xs.append((r * np.cos(phi))[inside])
        ys.append((r * np.sin(phi))[inside])
        zs.append(z[inside])
        kept += int(inside.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n], np.concatenate(zs)[:n]


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
