"""Event topology of each source: which interactions make up one event.

The waveform simulation (:func:`wimpsift.waveforms.event.source_interactions`) asks
here for the interaction list of a source:

- radiogenic neutrons: several elastic scatters per event
  (:mod:`wimpsift.sources.neutron_scatters`), NEST NR quanta per scatter;
- accidental coincidences: two interactions, a lone S1 (a low-energy ER whose charge
  is lost) and a lone S2 from an unrelated ER. The lone S2's electrons come from a
  true depth uniform over the whole drift length, but it lands in the event at an
  *apparent* drift time from the sampled volume (its own S1 was missed: the pairing is
  random in time). Its width therefore follows its true depth, not the drift time the
  event shows — the handle of XENON1T's S2-width cut;
- wall events: an ER on the PTFE wall whose electrons partly stick to the wall (kept
  fraction from the detector). Their S1 hit pattern is that of the wall; the surviving
  electrons follow field lines bent inward near the charged-up PTFE, so the S2 is made
  at a radius R − Δ, with Δ half-normal of scale
  ``WALL_RECONSTRUCTION_SPREAD`` × the position resolution at the expected top S2 — the
  same inward displacement the event-level simulation applies
  (:mod:`wimpsift.response.event_level`). The event is two interactions at one time and depth:
  the light at the wall, the charge just inside it; the S2 hit pattern sits at the
  array's edge and small S2s can leak into the fiducial volume;
- surface events (:mod:`wimpsift.sources.surface`): 206Pb recoils and betas on the
  whole wall, built like wall events;
- external gammas (:mod:`wimpsift.sources.external_gammas`): one ER interaction per
  Compton scatter of a materials' gamma, mostly near the walls, top and bottom;
- anomalous events: one interaction that keeps only part of its charge;
- everything else (WIMPs, ER, CEvNS): one interaction per event.
"""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.response.charge import drift_time_us, electron_survival
from wimpsift.response.event_level import WALL_RECONSTRUCTION_SPREAD
from wimpsift.response.interaction_level import Interactions, sample_interactions
from wimpsift.response.position import xy_resolution_cm
from wimpsift.sources.base import Source
from wimpsift.sources.external_gammas import (
    ExternalGammas,
    external_gamma_interactions,
    fiducial_single_fraction,
)
from wimpsift.sources.interactions import InteractionList, single_interactions
from wimpsift.sources.neutron_scatters import neutron_interactions, single_scatter_fraction
from wimpsift.sources.neutrons import RadiogenicNeutrons
from wimpsift.sources.positions import Volume, volume_mass_kg
from wimpsift.sources.surface import SurfaceEvents, sample_wall_decays

_FIELDS = ("event", "recoil_type", "x_cm", "y_cm", "z_cm", "t_ns", "n_photons",
           "n_electrons", "energy_kev")


def _interleave(first: InteractionList, second: InteractionList) -> InteractionList:
    """One event of each list's row i, ``first``'s interaction before ``second``'s."""
    order = np.argsort(np.concatenate([first.event, second.event]), kind="stable")
    return InteractionList(**{
        name: np.concatenate([getattr(first, name), getattr(second, name)])[order]
        for name in _FIELDS})


def accidental_interactions(detector: Detector, source: Source, it: Interactions,
                            rng: np.random.Generator) -> InteractionList:
    """Lone S1 + lone S2 pairs; the S2's true depth is independent of its drift time."""
    n = it.energy_kev.size
    light = single_interactions(source.recoil_type, it.x_cm, it.y_cm, it.z_cm,
                                it.quanta.n_photons, np.zeros(n), it.energy_kev)
    true_z = -detector.geometry.tpc_length_cm * rng.random(n)
    charge = single_interactions(source.recoil_type, it.s2_x_cm, it.s2_y_cm, true_z,
                                 np.zeros(n), it.n_electrons, np.full(n, np.nan))
    apparent_us = drift_time_us(it.s2_z_cm, detector)
    charge.t_ns = (apparent_us - drift_time_us(true_z, detector)) * 1000.0
    return _interleave(light, charge)


def _wall_pairs(detector: Detector, x_cm, y_cm, z_cm, n_photons, n_electrons, energy_kev,
                recoil_type, kept: np.ndarray, rng: np.random.Generator) -> InteractionList:
    """Light at the wall, the kept charge displaced inward (see module docstring)."""
    n = np.asarray(x_cm).size
    top_pe = (n_electrons * kept * electron_survival(drift_time_us(z_cm, detector), detector)
              * detector.charge.extraction_efficiency * detector.se_gain_pe
              * detector.charge.s2_top_fraction)
    shift = np.abs(rng.standard_normal(n)) * WALL_RECONSTRUCTION_SPREAD * xy_resolution_cm(
        top_pe, detector)
    r = np.hypot(x_cm, y_cm)
    scale = np.clip(r - shift, 0.0, None) / np.maximum(r, 1e-9)
    light = single_interactions("er", x_cm, y_cm, z_cm, n_photons, np.zeros(n), energy_kev)
    charge = single_interactions("er", x_cm * scale, y_cm * scale, z_cm, np.zeros(n),
                                 n_electrons, np.full(n, np.nan))
    light.recoil_type = np.broadcast_to(np.asarray(recoil_type, dtype=object), (n,)).copy()
    charge.recoil_type = light.recoil_type.copy()
    both = _interleave(light, charge)
    both.charge_kept = np.repeat(kept, 2)
    return both


def wall_interactions(detector: Detector, source: Source, it: Interactions,
                      rng: np.random.Generator) -> InteractionList:
    """Light on the wall, partly lost charge displaced inward (see module docstring)."""
    kept = source.charge_kept_fraction(it.energy_kev.size, rng)
    return _wall_pairs(detector, it.x_cm, it.y_cm, it.z_cm, it.quanta.n_photons,
                       it.n_electrons, it.energy_kev, source.recoil_type, kept, rng)


def surface_interactions(detector: Detector, source: SurfaceEvents, n_events: int,
                         rng: np.random.Generator) -> InteractionList:
    """206Pb recoils and betas on the whole wall, as wall events (light at the wall,
    kept charge displaced inward; :mod:`wimpsift.sources.surface`)."""
    decays = sample_wall_decays(detector, source, int(n_events), rng)
    kept = source.charge_kept_fraction(int(n_events), rng)
    return _wall_pairs(detector, decays.x_cm, decays.y_cm, decays.z_cm, decays.n_photons,
                       decays.n_electrons, decays.energy_kev, decays.recoil_type, kept, rng)


def source_topology(detector: Detector, source: Source, n_events: int,
                    rng: np.random.Generator, volume: Volume = "fiducial") -> InteractionList:
    """The interaction list of ``n_events`` events of ``source`` (see module docstring)."""
    n = int(n_events)
    if isinstance(source, RadiogenicNeutrons):
        return neutron_interactions(detector, source, n, rng, volume)
    if isinstance(source, ExternalGammas):
        return external_gamma_interactions(detector, source, n, rng, volume)
    if isinstance(source, SurfaceEvents):
        return surface_interactions(detector, source, n, rng)
    it = sample_interactions(detector, source, n, rng, volume)
    if it.kind == "accidental":
        return accidental_interactions(detector, source, it, rng)
    if it.kind == "wall":
        return wall_interactions(detector, source, it, rng)
    single = single_interactions(source.recoil_type, it.x_cm, it.y_cm, it.z_cm,
                                 it.quanta.n_photons, it.n_electrons, it.energy_kev)
    if it.kind == "anomalous":
        single.charge_kept = np.broadcast_to(source.charge_kept_fraction(n, rng), (n,)).copy()
    return single


def expected_topology_events(detector: Detector, source: Source, volume: Volume = "fiducial"
                             ) -> float | None:
    """Expected events, in the detector's live time, of ``source`` as simulated here.

    Physical sources: rate × target mass of ``volume`` × live days; radiogenic neutrons:
    the published fiducial single-scatter rate divided by the simulated single-scatter
    fraction (:func:`~wimpsift.sources.neutron_scatters.single_scatter_fraction`), so
    multiple scatters come on top; external gammas likewise from the materials' published
    fiducial single-scatter rate. ``None`` for data-driven sources, whose published
    count holds in the analysis window only (weight them by their events in the window).
    """
    if source.expected_in_window is not None:
        return None
    live_days = detector.exposure.live_days
    if isinstance(source, RadiogenicNeutrons):
        return (source.rate_per_kg_day * detector.fiducial_mass_kg * live_days
                / single_scatter_fraction(detector, volume))
    if isinstance(source, ExternalGammas):
        return (source.rate_per_kg_day * detector.fiducial_mass_kg * live_days
                / fiducial_single_fraction(detector, source, volume))
    return source.rate_per_kg_day * volume_mass_kg(detector, volume) * live_days
