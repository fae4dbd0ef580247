"""Event-level simulation: source → NEST quanta → detector response → event table.

``simulate_events`` is the vectorised kernel for one chunk; ``sample_interactions`` the
interaction-level truth it shares with the waveform-level response; ``expected_events``,
``window_efficiency`` and ``event_count`` turn an exposure into counts. Each chunk's
random numbers depend only on (seed, chunk index). Writing many chunks to Parquet (and
reading them back) is I/O and lives in :mod:`wimpsift.io.event_tables`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator

from wimpsift.config import WimpsiftConfig
from wimpsift.detectors import Detector
from wimpsift.errors import ConfigError, validation_message
from wimpsift.microphysics import Quanta, nest_quanta
from wimpsift.processing.corrections import corrected_s1_pe, corrected_s2_pe
from wimpsift.processing.selection import in_fiducial, in_window, passes_threshold
from wimpsift.response.charge import (
    depth_cm,
    drift_time_us,
    extracted_electrons,
    s2_areas_pe,
)
from wimpsift.response.light import detect_s1, photon_detection_probability
from wimpsift.response.position import reconstruct_xy, xy_resolution_cm
from wimpsift.response.pulse_shape import prompt_fraction as compute_prompt_fraction
from wimpsift.seeding import SeedLike, generator, seed_sequence
from wimpsift.sources import DataDrivenSource, HaloModel, Source, sample_positions
from wimpsift.sources.positions import Volume, sample_wall_positions
from wimpsift.sources.wimp import SIGNAL_ENERGY_MIN_KEV

WALL_RECONSTRUCTION_SPREAD = 3.0  # inward pull of wall events, in units of the xy resolution
MAX_EVENTS = 1e9  # most interactions one simulate run draws from an exposure


class SimulationConfig(WimpsiftConfig):
    """What to simulate: detector, source, how many events, seed and options."""

    detector: str = "xenon1t_sr0"
    source: str = "er"
    mass_gev: Annotated[float, Field(gt=0)] | None = None
    sigma_cm2: Annotated[float, Field(gt=0)] = 1e-45
    halo: HaloModel = Field(default_factory=HaloModel)
    signal_energy_min_kev: Annotated[float, Field(gt=0, lt=10)] = SIGNAL_ENERGY_MIN_KEV
    """lowest WIMP recoil energy simulated, keVnr (NEST decides what lower recoils produce)"""
    n_events: Annotated[int, Field(gt=0)] | None = None
    exposure_kg_days: Annotated[float, Field(gt=0)] | None = None
    seed: Annotated[int, Field(ge=0)] = 0
    volume: Volume = "fiducial"
    prompt_fraction: bool = False
    chunk_size: Annotated[int, Field(gt=0, le=2_000_000)] = 100_000

    @model_validator(mode="after")
    def _one_count(self) -> SimulationConfig:
        if (self.n_events is None) == (self.exposure_kg_days is None):
            raise ValueError("give exactly one of n_events and exposure_kg_days")
        if self.source == "wimp" and self.mass_gev is None:
            raise ValueError("source 'wimp' needs mass_gev")
        return self


def validated_config(**settings) -> SimulationConfig:
    """Build a SimulationConfig, turning validation errors into a ConfigError."""
    try:
        return SimulationConfig(**settings)
    except ValidationError as err:
        raise ConfigError(validation_message(err)) from err


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


def simulate_events(
    detector: Detector,
    source: Source,
    n_events: int,
    seed: SeedLike,
    volume: Volume = "fiducial",
    prompt_fraction: bool = False,
    chunk_index: int = 0,
) -> pd.DataFrame:
    """Simulate ``n_events`` interactions of ``source`` in ``detector`` (one chunk).

    The chunk draws from child ``chunk_index`` of ``seed``'s sequence
    (:mod:`wimpsift.seeding`).

    Returns the event table (see ``wimpsift.events.EVENT_COLUMNS``) for *all*
    simulated interactions; use the ``passes_threshold``, ``in_fiducial`` and
    ``in_window`` flags to select.
    """
    if n_events <= 0:
        raise ConfigError(f"n_events: got {n_events!r}, expected a positive number of events")
    rng = generator(seed, int(chunk_index))
    n = int(n_events)
    it = sample_interactions(detector, source, n, rng, volume, photon_times=prompt_fraction)
    x, y, z, dt, n_detected = it.x_cm, it.y_cm, it.z_cm, it.drift_time_us, it.n_detected
    found = detect_s1(n_detected, x, y, z, detector, rng)
    s1, s1_n_pmts = found.area_pe, found.n_pmts
    s2, s2_top, s2_bottom = s2_areas_pe(it.n_extracted, detector, rng)
    kind, quanta, n_electrons = it.kind, it.quanta, it.n_electrons

    bias = 0.0
    if kind == "wall":
        bias = (
            np.abs(rng.standard_normal(n)) * WALL_RECONSTRUCTION_SPREAD * xy_resolution_cm(s2_top, detector)
        )
    x_rec, y_rec = reconstruct_xy(it.s2_x_cm, it.s2_y_cm, s2_top, detector, rng, bias)
    r_rec = np.hypot(x_rec, y_rec)
    z_rec = depth_cm(dt, detector)
    cs1 = corrected_s1_pe(s1, x_rec, y_rec, z_rec, detector)
    cs2 = corrected_s2_pe(s2, dt, detector)
    cs2_b = corrected_s2_pe(s2_bottom, dt, detector)
    if prompt_fraction:
        pf = compute_prompt_fraction(quanta.photon_times_ns or [], n_detected, detector, rng)
    else:
        pf = np.full(n, np.nan)
    threshold = passes_threshold(s1_n_pmts, s2, detector)
    fiducial = in_fiducial(r_rec, z_rec, detector)
    return pd.DataFrame(
        {
            "event_id": np.arange(n, dtype=np.int64),
            "source": np.full(n, source.name, dtype=object),
            "recoil_type": np.full(n, source.recoil_type, dtype=object),
            "energy_kev": it.energy_kev,
            "x_true_cm": x,
            "y_true_cm": y,
            "z_true_cm": z,
            "n_photons": quanta.n_photons.astype(np.int64),
            "n_electrons": np.asarray(n_electrons, dtype=np.int64),
            "drift_time_us": dt,
            "x_cm": x_rec,
            "y_cm": y_rec,
            "z_cm": z_rec,
            "r_cm": r_rec,
            "s1_area_pe": s1,
            "s2_area_pe": s2,
            "s2_top_area_pe": s2_top,
            "s2_bottom_area_pe": s2_bottom,
            "s1_n_pmts": s1_n_pmts.astype(np.int64),
            "s1_prompt_fraction": pf,
            "cs1_pe": cs1,
            "cs2_pe": cs2,
            "cs2_bottom_pe": cs2_b,
            "passes_threshold": threshold,
            "in_fiducial": fiducial,
            "in_window": threshold & fiducial & in_window(cs1, s2, detector, cs2_b),
        }
    )


def volume_mass_kg(detector: Detector, volume: Volume) -> float:
    """Target mass of the sampled volume: published fiducial mass, or the active cylinder."""
    if volume == "fiducial":
        return detector.fiducial_mass_kg
    g = detector.geometry
    return float(np.pi * g.tpc_radius_cm**2 * g.tpc_length_cm * g.liquid_density_g_cm3 / 1000.0)


def window_efficiency(
    detector: Detector, source: Source, n_mc: int = 20_000, seed: SeedLike = 0,
    volume: Volume = "fiducial",
) -> float:
    """Fraction of simulated interactions that end up in the analysis window."""
    events = simulate_events(detector, source, n_mc, seed, volume)
    return float(events["in_window"].mean())


def expected_events(
    detector: Detector,
    source: Source,
    exposure_kg_days: float | None = None,
    n_mc: int = 20_000,
    seed: SeedLike = 0,
) -> dict[str, float]:
    """Expected events in the analysis window for an exposure (default: the detector's).

    Physical sources: rate × fiducial exposure × window efficiency (Monte Carlo).
    Data-driven sources: their published count scaled with exposure.
    """
    exposure = detector.exposure_kg_days if exposure_kg_days is None else exposure_kg_days
    if not np.isfinite(exposure) or exposure <= 0:
        raise ConfigError(f"exposure_kg_days: got {exposure!r}, expected a positive exposure")
    if source.expected_in_window is not None:
        count, reference = source.expected_in_window
        return {
            "rate_per_kg_day": float("nan"),
            "efficiency": 1.0,
            "before_selection": float("nan"),
            "expected": count * exposure / reference,
        }
    rate = source.rate_per_kg_day
    eff = window_efficiency(detector, source, n_mc, seed)
    return {
        "rate_per_kg_day": rate,
        "efficiency": eff,
        "before_selection": rate * exposure,
        "expected": rate * exposure * eff,
    }


def event_count(config: SimulationConfig, detector: Detector, source: Source) -> int:
    """The events one run simulates: ``n_events``, or a Poisson draw of the exposure's
    expected count (its own child stream of the seed)."""
    if config.n_events is not None:
        return config.n_events
    assert config.exposure_kg_days is not None
    rng = generator(config.seed, "exposure_count")
    if source.expected_in_window is not None:
        count, reference = source.expected_in_window
        eff = max(window_efficiency(detector, source, 20_000,
                                    seed_sequence(config.seed, "window_efficiency"), config.volume), 1e-6)
        mean = count * config.exposure_kg_days / reference / eff
    else:
        mass_ratio = volume_mass_kg(detector, config.volume) / detector.fiducial_mass_kg
        mean = source.rate_per_kg_day * config.exposure_kg_days * mass_ratio
    if not np.isfinite(mean) or mean > MAX_EVENTS:
        raise ConfigError(
            f"exposure_kg_days: {config.exposure_kg_days:g} gives {mean:.3g} expected events of "
            f"{source.name!r}, more than the {MAX_EVENTS:.0e} one run simulates; use a smaller exposure"
        )
    n = int(rng.poisson(mean))
    if n == 0:
        raise ConfigError(
            f"exposure_kg_days: {config.exposure_kg_days} gives no events of {source.name!r} "
            f"(expected {mean:.3g}); use a larger exposure or --events"
        )
    return n
