"""Gamma rays from the detector materials: ER near the walls, top and bottom.

The cryostat, PMTs, PTFE and electrodes hold 238U, 232Th, 40K and 60Co; their MeV gamma
rays enter the active xenon from outside. An event in the low-energy window is a gamma
that Compton-scatters at a small angle (depositing a few keV), possibly scatters again
just as gently, and leaves: most such events sit within an attenuation length of a
surface, and some are multi-site.

Transport Monte Carlo in the active cylinder (written here because no offline library
in the stack tracks photons; Geant4 is out of reach), sharing the entry model of the
neutron transport (:func:`~wimpsift.sources.neutron_scatters.surface_entry`):

1. Entry: a point on the cylinder's surface, side, top and bottom weighted by area,
   inward cosine-law direction (an isotropic flux outside), energy ``gamma_energy_kev``
   (one representative line for the materials' 0.6–2.6 MeV lines: a detector setting).
2. Steps: exponential path lengths with the Compton mean free path
   ``1 / (Z n_Xe σ_KN(E))`` (Klein–Nishina cross-section per electron, xenon's 54
   electrons, :func:`attenuation_length_cm`). Photoabsorption and coherent scattering
   are left out. Compton scattering is not all of xenon's attenuation below a few MeV:
   73 % at 500 keV, 80 % at 609 keV, 86 % at 790 keV (xraylib 4.3, EPDL97) and about
   90 % at 1 MeV (extrapolated); coherent scattering barely deflects a gamma, but
   photoabsorption ends it, so the length is about 8 % too long for the default
   1000 keV line, 20 % for a 609 keV line and 30 % at 500 keV. A gamma that stays in
   the low-energy window keeps nearly all its energy, so its length is that line's.
3. Scatters: angle from the Klein–Nishina distribution (rejection sampling), deposit
   ``E − E'`` (all of it an electron recoil: NEST ``beta`` yields per scatter), new
   direction rotated by that angle about the old one. A track is dropped as soon as its
   deposits exceed the window's upper energy (it can no longer enter the window). The
   first scatter's angle is drawn from the Klein–Nishina distribution restricted to
   deposits below that energy: a track whose first deposit is larger is never a window
   event, so this skips those tracks (about 96 % of them at 1 MeV) without changing the
   distribution of window events — only that distribution is used (rate below).
4. Kept events: total deposit in [``energy_min_kev``, ``energy_max_kev``] with at least
   one scatter in the sampled volume (as for neutrons,
   :func:`wimpsift.sources.positions.in_sampled_volume`); interaction times from the path at the speed of
   light.

Rate: the detector gives the materials' published single-scatter rate in the fiducial
volume (``fiducial_rate_per_kg_day_kev``). Events of any multiplicity with a scatter in
the sampled volume are ``1 / fiducial_single_fraction`` times as frequent, the fraction
(exactly one scatter, inside the fiducial volume) coming from this same Monte Carlo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.detectors.backgrounds import ELECTRON_MASS_KEV
from wimpsift.microphysics import nest_quanta
from wimpsift.seeding import generator
from wimpsift.sources.electronic import FlatElectronicRecoils
from wimpsift.sources.interactions import XENON_MOLAR_MASS, InteractionList
from wimpsift.sources.neutron_scatters import AVOGADRO, surface_entry
from wimpsift.sources.positions import Volume, in_sampled_volume

CLASSICAL_ELECTRON_RADIUS_CM = 2.8179403262e-13
XENON_Z = 54
SPEED_OF_LIGHT_CM_NS = 29.9792458
MAX_SCATTERS = 40
_FRACTIONS: dict[tuple, float] = {}


@dataclass
class ExternalGammas(FlatElectronicRecoils):
    """Materials' gammas: a flat ER spectrum at the fiducial single-scatter rate; the
    positions and multiple scatters come from the transport (module docstring)."""

    gamma_energy_kev: float = 1000.0
    waveform_only: ClassVar[bool] = True


def klein_nishina_cm2(energy_kev: np.ndarray) -> np.ndarray:
    """Total Klein–Nishina cross-section per electron (cm²) at photon energy ``energy_kev``."""
    k = np.asarray(energy_kev, dtype=float) / ELECTRON_MASS_KEV
    log = np.log1p(2 * k)
    bracket = ((1 + k) / k**2 * (2 * (1 + k) / (1 + 2 * k) - log / k)
               + log / (2 * k) - (1 + 3 * k) / (1 + 2 * k) ** 2)
    return 2 * np.pi * CLASSICAL_ELECTRON_RADIUS_CM**2 * bracket


def attenuation_length_cm(energy_kev, detector: Detector) -> np.ndarray:
    """Compton mean free path of gammas of ``energy_kev`` in the detector's liquid xenon."""
    n_electrons = (detector.geometry.liquid_density_g_cm3 * AVOGADRO / XENON_MOLAR_MASS
                   * XENON_Z)
    return 1.0 / (n_electrons * klein_nishina_cm2(energy_kev))


def _compton_cosines(energy_kev: np.ndarray, rng: np.random.Generator,
                     max_deposit_kev: float | None = None) -> np.ndarray:
    """Scattering-angle cosines from the Klein–Nishina distribution (rejection sampling:
    dσ/dΩ ∝ P²(P + 1/P − sin²θ), P = E'/E, at most 2 at θ = 0), restricted to deposits
    ``E − E' ≤ max_deposit_kev`` when given."""
    energy = np.asarray(energy_kev, dtype=float)
    k = energy / ELECTRON_MASS_KEV
    cos_min = np.full(k.size, -1.0)
    if max_deposit_kev is not None:
        # E - E' <= T  <=>  1 - cos θ <= T / ((E - T) k)
        room = np.clip(energy - max_deposit_kev, 1e-12, None)
        cos_min = np.clip(1.0 - max_deposit_kev / (room * k), -1.0, 1.0)
    cos_t = np.empty(k.size)
    todo = np.arange(k.size)
    while todo.size:
        c = rng.uniform(cos_min[todo], 1.0)
        p = 1.0 / (1.0 + k[todo] * (1.0 - c))
        accept = 2.0 * rng.random(todo.size) < p**2 * (p + 1.0 / p - (1.0 - c**2))
        cos_t[todo[accept]] = c[accept]
        todo = todo[~accept]
    return cos_t


def _rotate(direction: np.ndarray, cos_t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors at polar angle arccos(cos_t) about ``direction``, uniform azimuth."""
    helper = np.where(np.abs(direction[:, [2]]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    u = np.cross(direction, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(direction, u)
    sin_t = np.sqrt(np.clip(1.0 - cos_t**2, 0.0, None))
    psi = rng.uniform(0, 2 * np.pi, cos_t.size)
    out = (cos_t[:, None] * direction + (sin_t * np.cos(psi))[:, None] * u
           + (sin_t * np.sin(psi))[:, None] * v)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def gamma_tracks(n_tracks: int, detector: Detector, gamma_energy_kev: float,
                 max_deposit_kev: float, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Compton scatters of ``n_tracks`` gammas entering the active cylinder.

    Returns (track index, positions (k, 3) cm, deposits keV, path from entry cm) of every
    scatter inside the cylinder, ordered by track then time, and a per-track flag that
    is False for tracks dropped because their deposits exceeded ``max_deposit_kev``.
    """
    radius, length = detector.geometry.tpc_radius_cm, detector.geometry.tpc_length_cm
    pos, direction = surface_entry(n_tracks, radius, length, rng)
    energy = np.full(n_tracks, float(gamma_energy_kev))
    total = np.zeros(n_tracks)
    path = np.zeros(n_tracks)
    alive = np.arange(n_tracks)
    kept = np.ones(n_tracks, bool)
    tracks, points, deposits, paths = [], [], [], []
    for n_scatter in range(MAX_SCATTERS):
        if alive.size == 0:
            break
        step = rng.exponential(attenuation_length_cm(energy, detector))
        pos = pos + step[:, None] * direction
        path = path + step
        inside = (np.hypot(pos[:, 0], pos[:, 1]) <= radius) & (pos[:, 2] <= 0) & \
            (pos[:, 2] >= -length)
        alive, pos, path, energy, direction, total = (
            alive[inside], pos[inside], path[inside], energy[inside], direction[inside],
            total[inside])
        cos_t = _compton_cosines(energy, rng, max_deposit_kev if n_scatter == 0 else None)
        after = energy / (1.0 + energy / ELECTRON_MASS_KEV * (1.0 - cos_t))
        deposit = energy - after
        total = total + deposit
        tracks.append(alive)
        points.append(pos)
        deposits.append(deposit)
        paths.append(path)
        over = total > max_deposit_kev
        kept[alive[over]] = False
        go = ~over
        alive, pos, path, energy, total = alive[go], pos[go], path[go], after[go], total[go]
        direction = _rotate(direction[go], cos_t[go], rng)
    kept[alive] = False  # still scattering after MAX_SCATTERS: not a window event
    if not tracks:
        return np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0), np.zeros(0), kept
    track = np.concatenate(tracks)
    order = np.argsort(track, kind="stable")
    return (track[order], np.concatenate(points)[order], np.concatenate(deposits)[order],
            np.concatenate(paths)[order], kept)


def sample_gamma_events(n_events: int, detector: Detector, source: ExternalGammas,
                        rng: np.random.Generator, volume: Volume = "active"
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(event, positions, deposits, path) of ``n_events`` window events (module docstring)."""
    lo, hi = source.energy_range_kev
    events, points, deposits, paths = [], [], [], []
    found = 0
    while found < n_events:
        batch = 200_000
        track, xyz, dep, path, kept = gamma_tracks(batch, detector, source.gamma_energy_kev,
                                                   hi, rng)
        total = np.bincount(track, weights=dep, minlength=batch)
        hit = np.zeros(batch, bool)
        hit[track[in_sampled_volume(xyz, detector, volume)]] = True
        good = np.flatnonzero(kept & hit & (total >= lo) & (total <= hi))[: n_events - found]
        new_index = np.full(batch, -1)
        new_index[good] = np.arange(good.size) + found
        rows = new_index[track] >= 0
        events.append(new_index[track][rows])
        points.append(xyz[rows])
        deposits.append(dep[rows])
        paths.append(path[rows])
        found += good.size
    return (np.concatenate(events), np.concatenate(points), np.concatenate(deposits),
            np.concatenate(paths))


def external_gamma_interactions(detector: Detector, source: ExternalGammas, n_events: int,
                                rng: np.random.Generator, volume: Volume = "active"
                                ) -> InteractionList:
    """``n_events`` gamma events in the window, one ER interaction per Compton scatter."""
    event, xyz, deposit, path = sample_gamma_events(int(n_events), detector, source, rng, volume)
    k = event.size
    starts = np.searchsorted(event, np.arange(int(n_events)))
    quanta = nest_quanta(deposit, "er", xyz[:, 2], detector, int(rng.integers(1, 2**31 - 1)))
    return InteractionList(
        event=event.astype(np.int64), recoil_type=np.full(k, "er", dtype=object),
        x_cm=xyz[:, 0].copy(), y_cm=xyz[:, 1].copy(), z_cm=xyz[:, 2].copy(),
        t_ns=(path - path[starts][event]) / SPEED_OF_LIGHT_CM_NS,
        n_photons=quanta.n_photons.astype(np.int64),
        n_electrons=quanta.n_electrons.astype(np.int64), energy_kev=deposit,
    )


def fiducial_single_fraction(detector: Detector, source: ExternalGammas,
                             volume: Volume = "active", n_mc: int = 50_000, seed: int = 0
                             ) -> float:
    """P(exactly one scatter, inside the fiducial volume | window event in ``volume``)."""
    key = (detector.geometry, detector.fiducial, source.gamma_energy_kev,
           source.energy_range_kev, volume, int(n_mc), int(seed))
    if key not in _FRACTIONS:
        rng = generator(int(seed), "external_gammas")
        event, xyz, _, _ = sample_gamma_events(int(n_mc), detector, source, rng, volume)
        multiplicity = np.bincount(event, minlength=int(n_mc))
        # the published rate is of single scatters in the fiducial volume
        in_fv = detector.fiducial.contains(np.hypot(xyz[:, 0], xyz[:, 1]), xyz[:, 2])
        single_fv = (multiplicity[event] == 1) & in_fv
        _FRACTIONS[key] = float(single_fv.sum() / n_mc)
    return _FRACTIONS[key]
