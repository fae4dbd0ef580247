"""Interaction positions, uniform in the volume an analysis samples (gate at z = 0).

``fiducial``: the fiducial analysis's events are drawn in the whole TPC radius between the
fiducial volume's depths, not in the fiducial volume itself. The fiducial cut is applied
to *reconstructed* positions (:func:`wimpsift.processing.selection.in_fiducial`), which
scatter by the (x, y) resolution, several cm for small S2s: drawn inside the volume only,
events would migrate out across its radial edge and none would migrate in, and every
expected count would come out low (by 2-10 %, most at low energies and in small TPCs).
The published fiducial mass is a volume of reconstructed positions, so the counts
normalise to the mass of the sampled slab (:func:`volume_mass_kg`). Depth comes from the
drift time, which is not smeared, so the slab keeps the fiducial depth range.

``active``: the whole TPC.

Tracks of several scatters (neutrons, external gammas) are kept when one scatter lies in
the sampled volume (:func:`in_sampled_volume`), for the same reason.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.errors import bad_value

Volume = Literal["fiducial", "active"]


def sample_positions(
    n: int, detector: Detector, rng: np.random.Generator, volume: Volume = "fiducial"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return x, y, z in cm, uniform in the volume sampled for ``volume`` (module docstring)."""
    if volume == "fiducial":
        z_lo, z_hi = detector.fiducial.z_min_cm, detector.fiducial.z_max_cm
    elif volume == "active":
        z_lo, z_hi = -detector.geometry.tpc_length_cm, 0.0
    else:
        raise bad_value("volume", volume, "'fiducial' or 'active'")
    r = detector.geometry.tpc_radius_cm * np.sqrt(rng.random(n))
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
    """Target mass of the volume :func:`sample_positions` samples, in the units of the
    published fiducial mass: for ``fiducial`` that mass times the slab's volume over the
    fiducial volume's; for ``active`` the TPC cylinder times the liquid density."""
    g = detector.geometry
    if volume == "fiducial":
        f = detector.fiducial
        slab_cm3 = math.pi * g.tpc_radius_cm**2 * (f.z_max_cm - f.z_min_cm)
        return detector.fiducial_mass_kg * slab_cm3 / f.volume_cm3
    return float(np.pi * g.tpc_radius_cm**2 * g.tpc_length_cm * g.liquid_density_g_cm3 / 1000.0)


def sampled_mass_ratio(detector: Detector, volume: Volume = "fiducial") -> float:
    """The mass :func:`sample_positions` samples for ``volume`` over the published fiducial
    mass: the factor from a count per fiducial mass to the sampled events' count."""
    return volume_mass_kg(detector, volume) / detector.fiducial_mass_kg


def in_sampled_volume(xyz_cm: np.ndarray, detector: Detector, volume: Volume) -> np.ndarray:
    """Which points (rows of x, y, z in cm, inside the TPC) lie in the volume sampled for
    ``volume``: for ``fiducial`` the fiducial depths at any radius, for ``active`` all."""
    z = np.asarray(xyz_cm, dtype=float)[:, 2]
    if volume == "active":
        return np.ones(z.size, bool)
    return (z >= detector.fiducial.z_min_cm) & (z <= detector.fiducial.z_max_cm)
