"""Radiogenic neutrons with their topology: several elastic scatters per event.

Radiogenic neutrons (from (α, n) reactions and fission in the detector materials) have
MeV energies. In liquid xenon their mean free path between interactions is

    λ = 1 / (n_Xe σ_tot),   n_Xe = ρ N_A / M_Xe,

with σ_tot natural xenon's neutron total cross-section from ENDF/B-VII.1
(``wimpsift.sources.neutron_cross_section``), averaged uniformly over 1–2 MeV
(``NEUTRON_ENERGY_RANGE_MEV``, a modelling choice: the energies of radiogenic neutrons
from the materials; λ is kept fixed along a track). It is 6.6 b, λ ≈ 11.5 cm at
2.86 g/cm³. Every interaction is treated as an elastic scatter (the total includes
inelastic scattering), so the multiplicity counts interaction sites. Earlier versions
used an unsourced estimate of the elastic cross-section, 5.5 b (λ ≈ 14 cm; CHANGELOG);
the mean multiplicity scales about as 1/λ.

Topology model (a transport Monte Carlo in the active cylinder, written here because
no offline library in the stack tracks neutrons; Geant4 is out of reach):

1. Entry: a point on the active cylinder's surface (side, top, bottom weighted by
   area), direction from an isotropic outside flux (cosine law about the inward normal).
2. Steps: exponential path lengths with mean λ; every step that ends inside the
   cylinder is an elastic scatter; the neutron leaves when a step ends outside.
   Scattering is isotropic in the lab (for A = 131 the centre-of-mass and lab angles
   nearly coincide); the neutron keeps over 97 % of its energy per scatter
   (4A/(1+A)² = 3 %), so λ stays fixed along the track.
3. Recoil energy per scatter: drawn independently from the source's recoil spectrum
   (the detector's exponential single-scatter spectrum) — a stated approximation.
4. Times: the neutron's speed at 1 MeV (1.38 cm/ns) gives the interaction times.
   Tracking stops after ``MAX_SCATTERS`` scatters (for XENON1T 0.004 % of the events
   with a fiducial scatter reach it).
5. Kept events: those with at least one scatter in the sampled volume
   (:func:`wimpsift.sources.positions.in_sampled_volume`: for the fiducial analysis the
   fiducial depths at any radius, so that single scatters just outside the fiducial
   volume can be reconstructed inside it; or the active volume).

Rate: the detector gives the published *single-scatter* rate (``rate_per_tonne_year``
in a recoil-energy interval in the fiducial volume). Neutron events of any
multiplicity with a scatter in the sampled volume are ``1 / single_scatter_fraction``
times as frequent, where the fraction (exactly one scatter in the whole active volume,
inside the fiducial volume, given at least one in the sampled volume) is computed by
this same Monte Carlo.
"""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.microphysics import nest_quanta
from wimpsift.seeding import generator
from wimpsift.sources.base import Source
from wimpsift.sources.interactions import XENON_MOLAR_MASS, InteractionList
from wimpsift.sources.neutron_cross_section import mean_total_cross_section_barn
from wimpsift.sources.positions import Volume, in_sampled_volume

NEUTRON_ENERGY_RANGE_MEV = (1.0, 2.0)
"""neutron energies over which the total cross-section is averaged (see module docstring)"""
TOTAL_CROSS_SECTION_BARN = mean_total_cross_section_barn(*NEUTRON_ENERGY_RANGE_MEV)
"""σ_tot of natural xenon averaged over ``NEUTRON_ENERGY_RANGE_MEV``, ENDF/B-VII.1"""
NEUTRON_SPEED_CM_NS = 1.38
"""speed of a 1 MeV neutron, √(2E/m) c"""
AVOGADRO = 6.02214076e23
MAX_SCATTERS = 100
_SINGLE_FRACTIONS: dict[tuple, float] = {}


def mean_free_path_cm(detector: Detector) -> float:
    """Mean free path of MeV neutrons in the detector's liquid xenon, cm."""
    n_xe = detector.geometry.liquid_density_g_cm3 * AVOGADRO / XENON_MOLAR_MASS
    return float(1.0 / (n_xe * TOTAL_CROSS_SECTION_BARN * 1e-24))


def surface_entry(n: int, radius: float, length: float, rng: np.random.Generator):
    """Entry points on the cylinder surface (side, top and bottom weighted by area) and
    inward cosine-law directions: particles from an isotropic flux outside the cylinder."""
    side, cap = 2 * np.pi * radius * length, np.pi * radius**2
    face = rng.choice(3, size=n, p=np.array([side, cap, cap]) / (side + 2 * cap))
    phi = rng.uniform(0, 2 * np.pi, n)
    r_cap = radius * np.sqrt(rng.random(n))
    pos = np.empty((n, 3))
    normal = np.zeros((n, 3))  # inward normal
    s = face == 0
    pos[s] = np.column_stack([radius * np.cos(phi[s]), radius * np.sin(phi[s]),
                              -length * rng.random(s.sum())])
    normal[s] = np.column_stack([-np.cos(phi[s]), -np.sin(phi[s]), np.zeros(s.sum())])
    for f, z, nz in ((1, 0.0, -1.0), (2, -length, 1.0)):
        c = face == f
        pos[c] = np.column_stack([r_cap[c] * np.cos(phi[c]), r_cap[c] * np.sin(phi[c]),
                                  np.full(c.sum(), z)])
        normal[c, 2] = nz
    # cosine law: cos θ = √u about the inward normal
    cos_t = np.sqrt(rng.random(n))
    sin_t = np.sqrt(1 - cos_t**2)
    psi = rng.uniform(0, 2 * np.pi, n)
    helper = np.where(np.abs(normal[:, [2]]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    u = np.cross(normal, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(normal, u)
    direction = (cos_t[:, None] * normal + (sin_t * np.cos(psi))[:, None] * u
                 + (sin_t * np.sin(psi))[:, None] * v)
    return pos, direction


def _isotropic(n: int, rng: np.random.Generator) -> np.ndarray:
    cos_t = rng.uniform(-1, 1, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    sin_t = np.sqrt(1 - cos_t**2)
    return np.column_stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])


def scatter_tracks(n_tracks: int, detector: Detector, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scatter positions of ``n_tracks`` neutrons entering the active cylinder.

    Returns (track index, positions (k, 3) in cm, path length from entry in cm) of all
    scatters inside the cylinder, ordered by track then by time. Tracks with no scatter
    are absent.
    """
    radius, length = detector.geometry.tpc_radius_cm, detector.geometry.tpc_length_cm
    lam = mean_free_path_cm(detector)
    pos, direction = surface_entry(n_tracks, radius, length, rng)
    alive = np.arange(n_tracks)
    path = np.zeros(n_tracks)
    tracks, points, paths = [], [], []
    for _ in range(MAX_SCATTERS):
        if alive.size == 0:
            break
        step = rng.exponential(lam, alive.size)
        pos = pos + step[:, None] * direction
        path = path + step
        inside = (np.hypot(pos[:, 0], pos[:, 1]) <= radius) & (pos[:, 2] <= 0) & \
            (pos[:, 2] >= -length)
        tracks.append(alive[inside])
        points.append(pos[inside])
        paths.append(path[inside])
        alive, pos, path = alive[inside], pos[inside], path[inside]
        direction = _isotropic(alive.size, rng)
    track = np.concatenate(tracks)
    order = np.argsort(track, kind="stable")
    return track[order], np.concatenate(points)[order], np.concatenate(paths)[order]


def _sample_tracks(n_events: int, detector: Detector, rng: np.random.Generator,
                   volume: Volume) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(event, positions, path) of ``n_events`` tracks with ≥1 scatter in ``volume``."""
    events, points, paths = [], [], []
    found = 0
    while found < n_events:
        batch = max(4 * (n_events - found), 1000)
        track, xyz, path = scatter_tracks(batch, detector, rng)
        hit = np.zeros(batch, bool)
        hit[track[in_sampled_volume(xyz, detector, volume)]] = True
        keep_tracks = np.flatnonzero(hit)[: n_events - found]
        new_index = np.full(batch, -1)
        new_index[keep_tracks] = np.arange(keep_tracks.size) + found
        rows = new_index[track] >= 0
        events.append(new_index[track][rows])
        points.append(xyz[rows])
        paths.append(path[rows])
        found += keep_tracks.size
    return np.concatenate(events), np.concatenate(points), np.concatenate(paths)


def neutron_interactions(detector: Detector, source: Source, n_events: int,
                         rng: np.random.Generator, volume: Volume = "fiducial"
                         ) -> InteractionList:
    """``n_events`` neutron events (≥1 scatter in ``volume``), NEST NR quanta per scatter."""
    event, xyz, path = _sample_tracks(int(n_events), detector, rng, volume)
    k = event.size
    energy = source.sample_energies_kev(k, rng)
    starts = np.searchsorted(event, np.arange(int(n_events)))
    t_ns = (path - path[starts][event]) / NEUTRON_SPEED_CM_NS
    quanta = nest_quanta(energy, "nr", xyz[:, 2], detector, int(rng.integers(1, 2**31 - 1)))
    return InteractionList(
        event=event.astype(np.int64), recoil_type=np.full(k, "nr", dtype=object),
        x_cm=xyz[:, 0].copy(), y_cm=xyz[:, 1].copy(), z_cm=xyz[:, 2].copy(), t_ns=t_ns,
        n_photons=quanta.n_photons.astype(np.int64),
        n_electrons=quanta.n_electrons.astype(np.int64), energy_kev=energy,
    )


def single_scatter_fraction(detector: Detector, volume: Volume = "fiducial",
                            n_mc: int = 20_000, seed: int = 0) -> float:
    """P(exactly one scatter, inside the fiducial volume | ≥1 scatter in ``volume``)."""
    key = (detector.geometry, detector.fiducial, volume, int(n_mc), int(seed))
    if key not in _SINGLE_FRACTIONS:
        rng = generator(int(seed), "neutron_scatters")
        event, xyz, _ = _sample_tracks(int(n_mc), detector, rng, volume)
        multiplicity = np.bincount(event, minlength=int(n_mc))
        # the published rate is of single scatters in the fiducial volume
        in_fv = detector.fiducial.contains(np.hypot(xyz[:, 0], xyz[:, 1]), xyz[:, 2])
        single_fv = (multiplicity[event] == 1) & in_fv
        _SINGLE_FRACTIONS[key] = float(single_fv.sum() / n_mc)
    return _SINGLE_FRACTIONS[key]


def multiplicities(detector: Detector, n_events: int, rng: np.random.Generator,
                   volume: Volume = "fiducial") -> np.ndarray:
    """Scatter multiplicity of ``n_events`` neutron events (≥1 scatter in ``volume``)."""
    event, _, _ = _sample_tracks(int(n_events), detector, rng, volume)
    return np.bincount(event, minlength=int(n_events))

