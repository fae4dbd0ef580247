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
    z_lo, z_hi = _depth_range_cm(detector, volume)
    r = detector.geometry.tpc_radius_cm * np.sqrt(rng.random(n))
    phi = rng.uniform(0, 2 * np.pi, n)
    z = rng.uniform(z_lo, z_hi, n)
    return r * np.cos(phi), r * np.sin(phi), z


def _depth_range_cm(detector: Detector, volume: Volume) -> tuple[float, float]:
    """(lowest, highest) z of the volume sampled for ``volume``, at every radius of the TPC."""
    if volume == "fiducial":
        return detector.fiducial.z_min_cm, detector.fiducial.z_max_cm
    if volume == "active":
        return -detector.geometry.tpc_length_cm, 0.0
    raise bad_value("volume", volume, "'fiducial' or 'active'")


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
    z_lo, z_hi = _depth_range_cm(detector, volume)
    if volume == "fiducial":
        slab_cm3 = math.pi * g.tpc_radius_cm**2 * (z_hi - z_lo)
        return detector.fiducial_mass_kg * slab_cm3 / detector.fiducial.volume_cm3
    return float(math.pi * g.tpc_radius_cm**2 * (z_hi - z_lo) * g.liquid_density_g_cm3 / 1000.0)


def sampled_mass_ratio(detector: Detector, volume: Volume = "fiducial") -> float:
    """The mass :func:`sample_positions` samples for ``volume`` over the published fiducial
    mass: the factor from a count per fiducial mass to the sampled events' count."""
    return volume_mass_kg(detector, volume) / detector.fiducial_mass_kg


def in_sampled_volume(xyz_cm: np.ndarray, detector: Detector, volume: Volume) -> np.ndarray:
    """Which points (rows of x, y, z in cm, inside the TPC) lie in the volume sampled for
    ``volume``: for ``fiducial`` the fiducial depths at any radius, for ``active`` all."""
    z = np.asarray(xyz_cm, dtype=float)[:, 2]
    z_lo, z_hi = _depth_range_cm(detector, volume)
    return (z >= z_lo) & (z <= z_hi)
