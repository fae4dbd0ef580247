"""Interaction-level truth shared by the event-level and the waveform-level responses.

:func:`sample_interactions` draws a source's energies and positions, NEST quanta, the
detected S1 photons and the extracted electrons (after drift, lifetime, charge loss and
extraction). The event-level response (:mod:`wimpsift.response.event_level`) turns them
into an event table; the near-wall topologies (:mod:`wimpsift.sources.topology`) into
interaction lists for the waveforms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.errors import ConfigError
from wimpsift.microphysics import Quanta, nest_quanta
from wimpsift.response.charge import drift_time_us, extracted_electrons
from wimpsift.response.light import photon_detection_probability
from wimpsift.sources import DataDrivenSource, Source, sample_positions
from wimpsift.sources.positions import Volume, sample_wall_positions


@dataclass
class Interactions:
    """Interaction-level truth shared by the event-level and waveform-level responses:
    where the S1 and the S2 come from, NEST quanta, detected S1 photons and extracted
    electrons (after drift, lifetime, charge loss and extraction)."""

    kind: str | None
    energy_kev: np.ndarray
    x_cm: np.ndarray
    y_cm: np.ndarray
    z_cm: np.ndarray
    s2_x_cm: np.ndarray
    s2_y_cm: np.ndarray
    s2_z_cm: np.ndarray
    quanta: Quanta
    n_electrons: np.ndarray
    n_detected: np.ndarray
    drift_time_us: np.ndarray
    n_extracted: np.ndarray


def check_event_level(source: Source) -> None:
    """Refuse a source only the waveform route simulates (near-wall populations)."""
    if source.waveform_only:
        raise ConfigError(f"source: {source.name!r} is simulated at waveform level only "
                          "(its positions and scatters come from wimpsift.sources.topology)")


def sample_interactions(
    detector: Detector, source: Source, n: int, rng: np.random.Generator,
    volume: Volume = "fiducial", photon_times: bool = False,
) -> Interactions:
    """Draw energies and positions, NEST quanta, detected S1 photons and extracted electrons.

    Data-driven sources are handled here: wall events sit on the wall and lose charge,
    anomalous events lose charge, and an accidental coincidence takes its S2 (charge and
    position) from an unrelated interaction.
    """
    check_event_level(source)
    nest_seed = int(rng.integers(1, 2**31 - 1))
    kind = source.kind if isinstance(source, DataDrivenSource) else None
    energy = source.sample_energies_kev(n, rng)
    if kind == "wall":
        x, y, z = sample_wall_positions(n, detector, rng)
    else:
        x, y, z = sample_positions(n, detector, rng, volume)
    quanta = nest_quanta(energy, source.recoil_type, z, detector, nest_seed, photon_times=photon_times)
    n_detected = rng.binomial(quanta.n_photons, photon_detection_probability(x, y, z, detector))
    s2_x, s2_y, s2_z, n_electrons = x, y, z, quanta.n_electrons
    if kind == "accidental":
        s2_x, s2_y, s2_z = sample_positions(n, detector, rng, volume)
        other_seed = int(rng.integers(1, 2**31 - 1))  # the unrelated interaction's own NEST stream
        other = nest_quanta(source.sample_energies_kev(n, rng), "er", s2_z, detector, other_seed)
        n_electrons = other.n_electrons
    charge_kept = source.charge_kept_fraction(n, rng) if kind in ("wall", "anomalous") else 1.0
    dt = drift_time_us(s2_z, detector)
    n_extracted = extracted_electrons(n_electrons, dt, detector, rng, charge_kept)
    return Interactions(kind, energy, x, y, z, s2_x, s2_y, s2_z, quanta, n_electrons, n_detected,
                        dt, n_extracted)
