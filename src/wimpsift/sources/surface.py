"""Surface events: 210Pb-chain decays on the PTFE wall, over the whole drift length.

Radon daughters plate out on the PTFE reflector; 210Pb (22 yr) feeds 210Bi and 210Po.
Decays on the wall send into the liquid, half of the time each:

- the 206Pb nucleus recoiling from the 210Po alpha decay (the alpha goes into the
  PTFE): a nuclear recoil of at most ``E_α m_α / m_Pb`` = 103 keV
  (:data:`PB206_RECOIL_MAX_KEV`, computed from the 5304 keV alpha); daughters implanted
  below the surface lose part of it in the PTFE, so the energy is drawn uniform in
  [``energy_min_kev``, 103 keV] (a stated approximation);
- betas of 210Pb and 210Bi: electron recoils, deposited energy uniform over the
  source's beta range (a stated approximation: only the low-energy part can enter the
  window).

Both lose part of their electrons to the PTFE (kept fraction uniform in the source's
range) and, as for ``wall`` events (:func:`wimpsift.sources.topology.wall_interactions`),
the surviving electrons are pulled inward, so the S2 pattern sits at the array's edge
and small S2s can be reconstructed inside the fiducial volume. Positions are uniform
over the wall's whole height (gate to cathode): this is the population the fiducial
cut removes.

Rate: data-driven like ``wall``. The detector gives the published count of such events
in the analysis window (they are the same population as the ``wall`` entry, which is
listed for the fiducial volume only); the simulation spreads it over the whole wall, so
the active-volume total follows from the simulated share that leaks into the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.microphysics import nest_quanta
from wimpsift.sources.data_driven import DataDrivenSource

ALPHA_ENERGY_KEV = 5304.33
"""210Po alpha energy"""
ALPHA_MASS_U = 4.001506
PB206_MASS_U = 205.974465
PB206_RECOIL_MAX_KEV = ALPHA_ENERGY_KEV * ALPHA_MASS_U / PB206_MASS_U
"""206Pb recoil energy from a 210Po alpha decay at rest (momentum balance, non-relativistic)"""


@dataclass
class SurfaceEvents(DataDrivenSource):
    """210Pb-chain decays on the PTFE wall (module docstring)."""

    recoil_fraction: float = 0.5
    waveform_only: ClassVar[bool] = True


@dataclass
class WallDecays:
    """Recoils on the wall: position, energy, recoil type and NEST quanta per event."""

    x_cm: np.ndarray
    y_cm: np.ndarray
    z_cm: np.ndarray
    energy_kev: np.ndarray
    recoil_type: np.ndarray
    n_photons: np.ndarray
    n_electrons: np.ndarray


def sample_wall_decays(detector: Detector, source: SurfaceEvents, n: int,
                       rng: np.random.Generator) -> WallDecays:
    """``n`` decays on the wall, uniform over its height: 206Pb recoils and betas."""
    radius, length = detector.geometry.tpc_radius_cm, detector.geometry.tpc_length_cm
    phi = rng.uniform(0, 2 * np.pi, n)
    z = -length * rng.random(n)
    recoil = rng.random(n) < source.recoil_fraction
    energy = np.where(recoil, rng.uniform(source.energy_min_kev, PB206_RECOIL_MAX_KEV, n),
                      source.sample_energies_kev(n, rng))
    n_photons = np.zeros(n, np.int64)
    n_electrons = np.zeros(n, np.int64)
    for kind, rows in (("nr", recoil), ("er", ~recoil)):
        quanta = nest_quanta(energy[rows], kind, z[rows], detector,
                             int(rng.integers(1, 2**31 - 1)))
        n_photons[rows] = quanta.n_photons
        n_electrons[rows] = quanta.n_electrons
    return WallDecays(radius * np.cos(phi), radius * np.sin(phi), z, energy,
                      np.where(recoil, "nr", "er").astype(object), n_photons, n_electrons)
