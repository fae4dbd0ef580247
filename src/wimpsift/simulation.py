"""Event-level simulation: source → NEST quanta → detector response → event table.

``simulate_events`` is the vectorised kernel for one chunk; ``simulate_to_parquet``
runs many chunks with a progress bar, writes them to a ``<output>.partial/`` folder so
an interrupted run resumes where it stopped, and finally merges them into one Parquet
file (written under a temporary name, then renamed) whose metadata carries the
provenance. Each chunk's random numbers depend only on (seed, chunk index), so the
same seed and configuration give identical files however the run was interrupted.
The ``.partial`` folder appears (by a rename) only with its resume stamp complete, each
chunk is renamed into place once written and one that does not read back is simulated
again; a request whose output cannot fit on disk is refused before it starts
(:func:`check_simulation_size`).

``simulate_to_parquet`` is the user-facing writer (``wimpsift simulate``). Pipelines that
reuse a simulation call :func:`cached_simulation`, which keeps the file in the lineage
cache (:mod:`wimpsift.cache`, stage ``simulation.events``) keyed by the validated
configuration, the detector definition and the package versions.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, ValidationError, model_validator

from wimpsift.cache import Cache
from wimpsift.config import WimpsiftConfig
from wimpsift.detectors import Detector, load_detector
from wimpsift.errors import ConfigError, DataError, validation_message
from wimpsift.microphysics import Quanta, nest_quanta
from wimpsift.processing.corrections import corrected_s1_pe, corrected_s2_pe
from wimpsift.processing.selection import in_fiducial, in_window, passes_threshold
from wimpsift.provenance import (
    PROVENANCE_KEY,
    atomic_path,
    check_resources,
    check_writable,
    config_hash,
    provenance,
    write_json,
)
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
from wimpsift.sources import DataDrivenSource, HaloModel, Source, make_source, sample_positions
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


def table_bytes_per_event() -> int:
    """Bytes of one row of the event table in memory (numeric columns' item sizes)."""
    frame = _empty_frame()
    return int(sum(frame[c].dtype.itemsize for c in frame.columns))


def check_simulation_size(n_events: int, chunk_size: int, output: str | Path,
                          parameter: str = "events") -> None:
    """Refuse a simulation whose output cannot fit on disk or whose chunk cannot fit in
    memory, before it starts (lower bounds, see :func:`wimpsift.provenance.check_resources`).

    Parquet stores the mostly random floats of a row in about 0.9 of their in-memory
    size (measured: 169 of 187 bytes per event), so half a row is a lower bound of the
    file's size per event; the chunks (``.partial/``) and the merged file exist together
    before the chunks are removed, hence twice that.
    """
    row = table_bytes_per_event()
    check_resources(f"{parameter} ({n_events:,} events)", disk_bytes=2 * n_events * row / 2,
                    memory_bytes=min(chunk_size, n_events) * row, where=Path(output).parent)


def _empty_frame() -> pd.DataFrame:
    from wimpsift.events import EVENT_COLUMNS

    return pd.DataFrame(
        {c: pd.Series(dtype="object" if k == "str" else k) for c, (k, _) in EVENT_COLUMNS.items()}
    )


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


def sample_interactions(
    detector: Detector, source: Source, n: int, rng: np.random.Generator,
    volume: Volume = "fiducial", photon_times: bool = False,
) -> Interactions:
    """Draw energies and positions, NEST quanta, detected S1 photons and extracted electrons.

    Data-driven sources are handled here: wall events sit on the wall and lose charge,
    anomalous events lose charge, and an accidental coincidence takes its S2 (charge and
    position) from an unrelated interaction.
    """
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


def _n_events(config: SimulationConfig, detector: Detector, source: Source) -> int:
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


def simulate_to_parquet(
    config: SimulationConfig,
    output: str | Path,
    progress: bool = True,
    detector: Detector | None = None,
) -> Path:
    """Run a (possibly large) simulation chunk by chunk into one Parquet file; resumable."""
    from tqdm import tqdm

    output = check_writable(output, "output")
    detector = detector or load_detector(config.detector)
    source = make_source(detector, config.source, config.mass_gev, config.sigma_cm2, config.halo,
                         config.signal_energy_min_kev)
    n_total = _n_events(config, detector, source)
    record = provenance(config, config.seed, "simulate")
    record["detector"] = detector.model_dump(mode="json")
    record["n_events"] = n_total
    check_simulation_size(n_total, config.chunk_size, output)

    partial = output.with_name(output.name + ".partial")
    stamp = partial / "config.json"
    if partial.exists():
        try:
            previous = json.loads(stamp.read_text())
            previous_hash = previous["config_hash"]
        except (OSError, ValueError, TypeError, KeyError):
            raise ConfigError(
                f"output: {str(partial)!r} holds an interrupted run without a valid resume "
                f"stamp ({stamp.name} is missing or damaged); remove that folder to start again"
            ) from None
        if previous_hash != config_hash(record):
            raise ConfigError(
                f"output: {str(partial)!r} holds an interrupted run with another configuration; "
                "remove it or rerun with the same settings"
            )
    else:  # the folder appears, by a rename, only with its stamp complete inside
        # mkdir applies the process umask itself (mkdtemp's 0700 would need the umask,
        # and reading it means setting it: a process-wide toggle)
        fresh = partial.with_name(f".{partial.name}.{secrets.token_hex(6)}")
        fresh.mkdir()
        try:
            write_json(fresh / stamp.name, {"config_hash": config_hash(record)})
            fresh.rename(partial)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise

    starts = list(range(0, n_total, config.chunk_size))
    # each source has its own child of the run's seed; chunk i draws from its child i
    stream = seed_sequence(config.seed, "simulate", config.source)
    bar = tqdm(total=n_total, unit="ev", desc=f"simulate {config.source}", disable=not progress)
    for index, start in enumerate(starts):
        size = min(config.chunk_size, n_total - start)
        chunk_path = partial / f"chunk_{index:06d}.parquet"
        if not _readable_chunk(chunk_path):
            frame = simulate_events(
                detector, source, size, stream, config.volume, config.prompt_fraction, chunk_index=index
            )
            frame["event_id"] = np.arange(start, start + size, dtype=np.int64)
            with atomic_path(chunk_path) as tmp:
                pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
        bar.update(size)
    bar.close()

    with atomic_path(output) as tmp:
        writer = None
        for index in range(len(starts)):
            table = pq.read_table(partial / f"chunk_{index:06d}.parquet")
            if writer is None:
                meta = dict(table.schema.metadata or {})
                meta[PROVENANCE_KEY.encode()] = json.dumps(record, sort_keys=True).encode()
                writer = pq.ParquetWriter(tmp, table.schema.with_metadata(meta))
            writer.write_table(table.replace_schema_metadata(writer.schema.metadata))
        assert writer is not None
        writer.close()
    shutil.rmtree(partial)
    return output


CACHE_STAGE = "simulation.events"
CACHE_STAGE_VERSION = 1  # bump when a simulated table's content changes meaning


def cached_simulation(cache: Cache | str | Path, config: SimulationConfig,
                      detector: Detector | None = None, progress: bool = False) -> Path:
    """The Parquet event table of ``config`` from the lineage cache under ``cache``,
    simulated there (chunk by chunk, resumable) on the first call."""
    detector = detector or load_detector(config.detector)
    cache = cache if isinstance(cache, Cache) else Cache(cache)
    lineage = {"config": config, "detector": detector.model_dump(mode="json")}
    return cache.file(CACHE_STAGE, CACHE_STAGE_VERSION, lineage, "events.parquet",
                      lambda path: simulate_to_parquet(config, path, progress, detector))


def _readable_chunk(path: Path) -> bool:
    """A finished chunk (chunks are renamed into place once written; a damaged one is
    simulated again)."""
    if not path.is_file():
        return False
    try:
        pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return False
    return True


def read_events(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """Read an event table and its provenance record."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as err:
        raise DataError(f"events: cannot read {str(path)!r} as Parquet: {err}") from err
    meta = table.schema.metadata or {}
    record = json.loads(meta[PROVENANCE_KEY.encode()]) if PROVENANCE_KEY.encode() in meta else {}
    return table.to_pandas(), record
