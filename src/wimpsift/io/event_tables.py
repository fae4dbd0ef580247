"""Event tables on disk: a simulation run chunk by chunk into Parquet, and read back.

:func:`wimpsift.response.event_level.simulate_events` is the vectorised kernel for one chunk;
``simulate_to_parquet`` runs many chunks with a progress bar, writes them to a
``<output>.partial/`` folder so an interrupted run resumes where it stopped, and
finally merges them into one Parquet file (written under a temporary name, then
renamed) whose metadata carries the provenance. Each chunk's random numbers depend
only on (seed, chunk index), so the same seed and configuration give identical files
however the run was interrupted. The ``.partial`` folder appears (by a rename) only
with its resume stamp complete, each chunk is renamed into place once written and one
that does not read back is simulated again; a request whose output cannot fit on disk
is refused before it starts (:func:`check_simulation_size`).

``simulate_to_parquet`` is the user-facing writer (``wimpsift simulate``). Pipelines that
reuse a simulation call :func:`cached_simulation`, which keeps the file in the lineage
cache (:mod:`wimpsift.cache`, stage ``simulation.events``) keyed by the validated
configuration, the detector definition and the package versions. :func:`read_events`
reads a table and its provenance back.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from wimpsift.cache import Cache
from wimpsift.detectors import Detector, load_detector
from wimpsift.errors import ConfigError, DataError
from wimpsift.execution import ExecutionConfig, Executor, Task
from wimpsift.provenance import (
    PROVENANCE_KEY,
    atomic_path,
    check_resources,
    check_writable,
    config_hash,
    provenance,
    write_json,
)
from wimpsift.rates import event_count
from wimpsift.response.event_level import simulate_events
from wimpsift.response.interaction_level import check_event_level
from wimpsift.seeding import seed_sequence
from wimpsift.simulation import SimulationConfig
from wimpsift.sources import make_source
from wimpsift.sources.wimp import halo_lineage


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


def simulate_chunk(detector: Detector, source, size: int, stream, config: SimulationConfig,
                   index: int, start: int) -> pd.DataFrame:
    """Chunk ``index`` of a run: ``size`` events from child ``index`` of ``stream``, event
    ids from ``start`` (a task of the executor: its inputs are all in its arguments)."""
    frame = simulate_events(detector, source, size, stream, config.volume, config.prompt_fraction,
                            chunk_index=index)
    frame["event_id"] = np.arange(start, start + size, dtype=np.int64)
    return frame


def simulate_to_parquet(
    config: SimulationConfig,
    output: str | Path,
    progress: bool = True,
    detector: Detector | None = None,
    execution: ExecutionConfig | None = None,
) -> Path:
    """Run a (possibly large) simulation chunk by chunk into one Parquet file; resumable.

    The chunks are tasks of :class:`wimpsift.execution.Executor` (``execution``: in
    process by default, or a local, scheduler or batch-system Dask cluster); whichever
    runs them, this process writes each finished chunk, and the file is the same.
    """
    output = check_writable(output, "output")
    detector = detector or load_detector(config.detector)
    source = make_source(detector, config.source, config.mass_gev, config.sigma_cm2, config.halo,
                         config.signal_energy_min_kev)
    check_event_level(source)  # before anything is written
    n_total = event_count(config, detector, source)
    record = table_record(config, detector, n_total)
    check_simulation_size(n_total, config.chunk_size, output,
                          "n_events" if config.n_events is not None else "exposure_kg_days")

    partial = output.with_name(output.name + ".partial")
    stamp = partial / "config.json"
    stamp_hash = resume_hash(record)
    if partial.exists():
        try:
            previous = json.loads(stamp.read_text())
            previous_hash = previous["config_hash"]
        except (OSError, ValueError, TypeError, KeyError):
            raise ConfigError(
                f"output: {str(partial)!r} holds an interrupted run without a valid resume "
                f"stamp ({stamp.name} is missing or damaged); remove that folder to start again"
            ) from None
        if previous_hash != stamp_hash:
            raise ConfigError(
                f"output: {str(partial)!r} holds an interrupted run with another configuration "
                "or code (wimpsift source, library versions); remove it or rerun with the same "
                "settings and code"
            )
    else:  # the folder appears, by a rename, only with its stamp complete inside
        # mkdir applies the process umask itself (mkdtemp's 0700 would need the umask,
        # and reading it means setting it: a process-wide toggle)
        fresh = partial.with_name(f".{partial.name}.{secrets.token_hex(6)}")
        fresh.mkdir()
        try:
            write_json(fresh / stamp.name, {"config_hash": stamp_hash})
            fresh.rename(partial)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise

    starts = list(range(0, n_total, config.chunk_size))
    # each source has its own child of the run's seed; chunk i draws from its child i
    stream = seed_sequence(config.seed, "simulate", config.source)
    tasks = {index: Task(simulate_chunk, (detector, source, min(config.chunk_size, n_total - start),
                                          stream, config, index, start))
             for index, start in enumerate(starts)
             if not _readable_chunk(partial / f"chunk_{index:06d}.parquet")}
    execution = (execution or ExecutionConfig()).model_copy(update={"progress": progress})
    with Executor(execution) as executor:
        for index, frame in executor.run(tasks, f"simulate {config.source} (chunks)",
                                         n_done=len(starts) - len(tasks)):
            with atomic_path(partial / f"chunk_{index:06d}.parquet") as tmp:
                pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)

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


def table_record(config: SimulationConfig, detector: Detector, n_events: int) -> dict[str, Any]:
    """The provenance record of a simulated table (and of its resume stamp): the
    configuration, the detector definition, the number of events and the table version
    (read by those that weight a table's events)."""
    record = provenance(config, config.seed, "simulate")
    record["detector"] = detector.model_dump(mode="json")
    record["n_events"] = n_events
    record["table_version"] = CACHE_STAGE_VERSION
    return record


def resume_hash(record: dict[str, Any]) -> str:
    """The hash of a simulation's provenance ``record`` that its resume stamp holds: all
    of it but the CPU, since the events are the same bits on AVX2 and AVX-512 kernels
    (measured: ``tests/data/cnn_backgrounds_seeds.README.md``), so chunks resume on any
    machine of a cluster."""
    return config_hash({k: v for k, v in record.items() if k != "cpu"})


CACHE_STAGE = "simulation.events"
CACHE_STAGE_VERSION = 2  # bump when a simulated table's content changes meaning; 2: fiducial slab
SLAB_TABLE_VERSION = 2
"""the first ``table_version`` (written in a table's provenance) whose fiducial events were
drawn in the fiducial slab (:mod:`wimpsift.sources.positions`)"""


def cached_simulation(cache: Cache | str | Path, config: SimulationConfig,
                      detector: Detector | None = None, progress: bool = False) -> Path:
    """The Parquet event table of ``config`` from the lineage cache under ``cache``,
    simulated there (chunk by chunk, resumable) on the first call."""
    detector = detector or load_detector(config.detector)
    cache = cache if isinstance(cache, Cache) else Cache(cache)
    # a WIMP table's key holds the revision of its spectrum (tables simulated with an
    # earlier one are not reused); a background's spectrum has no halo
    lineage = {"config": config, "detector": detector.model_dump(mode="json"),
               **halo_lineage(config.halo if config.source == "wimp" else None)}
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
    if not path.is_file():
        raise DataError(f"events: {str(path)!r} "
                        f"{'is a folder' if path.is_dir() else 'does not exist'}, expected a "
                        "Parquet event table (written by 'wimpsift simulate')")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as err:
        raise DataError(f"events: cannot read {str(path)!r} as Parquet: {err}") from err
    return table.to_pandas(), provenance_record(table.schema.metadata, f"events: {str(path)!r}")


def provenance_record(metadata: dict[bytes, bytes] | None, name: str) -> dict[str, Any]:
    """The provenance record in a Parquet file's ``metadata`` ({} when it has none); one
    that is not a JSON object is a DataError whose message starts with ``name``."""
    raw = (metadata or {}).get(PROVENANCE_KEY.encode())
    if raw is None:
        return {}
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        raise DataError(f"{name}: the provenance record in its Parquet metadata is not valid "
                        f"JSON ({err}); expected the record 'wimpsift simulate' writes") from None
    if not isinstance(record, dict):
        raise DataError(f"{name}: the provenance record in its Parquet metadata is a "
                        f"{type(record).__name__}, expected a JSON object")
    return record


def detector_differences(recorded: Any, given: dict[str, Any],
                         labels: tuple[str, str] = ("in the table", "given"),
                         ignore: re.Pattern[str] | None = None) -> list[str]:
    """The settings in which a detector definition a provenance record holds (``recorded``,
    as ``Detector.model_dump(mode="json")`` wrote it) differs from ``given`` (the same
    form), as ``section.setting: recorded <labels[0]>, given <labels[1]>`` texts; none
    when they are the same. Settings whose name (``backgrounds[2].note``) ``ignore`` matches
    in full are left out.

    Both are first put in their canonical form by :class:`Detector` where they validate, so
    a setting added to the definition since, at its default, is no difference."""
    flat = [_flat_definition(_canonical_detector(d)) for d in (recorded, given)]
    keys = dict.fromkeys([*flat[0], *flat[1]])
    return [f"{key}: {_shown(flat[0], key)} {labels[0]}, {_shown(flat[1], key)} {labels[1]}"
            for key in keys if flat[0].get(key, _ABSENT) != flat[1].get(key, _ABSENT)
            and not (ignore is not None and ignore.fullmatch(key))]


_ABSENT = object()


def _canonical_detector(definition: Any) -> Any:
    try:
        return Detector.model_validate(definition).model_dump(mode="json")
    except ValueError:  # pydantic's ValidationError, the project's own checks
        return definition


def _flat_definition(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"section.setting": value}``, lists by index (``x_cm[5]``, ``backgrounds[2].note``)."""
    if isinstance(value, dict):
        items = [(f"{prefix}.{key}" if prefix else str(key), item) for key, item in value.items()]
    elif isinstance(value, list):
        items = [(f"{prefix}[{i}]", item) for i, item in enumerate(value)]
    else:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in items:
        flat.update(_flat_definition(item, key))
    return flat


def _shown(flat: dict[str, Any], key: str) -> str:
    value = flat.get(key, _ABSENT)
    return "absent" if value is _ABSENT else repr(value)


def recorded_detector(record: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The detector definition a provenance ``record`` holds (None when it holds none); one
    that is not an object is a DataError whose message starts with ``name``."""
    recorded = record.get("detector")
    if recorded is not None and not isinstance(recorded, dict):
        raise DataError(f"{name}: the provenance record's 'detector' is a {type(recorded).__name__}, "
                        "expected the detector definition 'wimpsift simulate' records")
    return recorded


def check_simulated_for(record: dict[str, Any], detector: Detector, name: str) -> None:
    """Refuse an event table whose provenance ``record`` was not simulated for ``detector``:
    another detector's name, or the same name with another definition (a modified copy of
    a shipped TOML). DataError messages start with ``name``."""
    recorded = recorded_detector(record, name)
    made_for = None if recorded is None else recorded.get("name")
    if made_for is None:
        raise DataError(f"{name} has no provenance (not written by 'wimpsift simulate')")
    if made_for != detector.name:
        raise DataError(f"{name} was simulated for detector {made_for!r}, not {detector.name!r}")
    check_same_definition(recorded, detector.model_dump(mode="json"), name)


def check_same_definition(recorded: dict[str, Any], given: dict[str, Any], name: str,
                          given_as: str = "the one given", made: str = "simulated for",
                          labels: tuple[str, str] = ("in the table", "given"),
                          ignore: re.Pattern[str] | None = None) -> None:
    """Refuse an event table simulated for (or a network trained on: ``made``) a detector
    definition (``recorded``, from its provenance) other than ``given``
    (:func:`detector_differences`, which words the two values with ``labels``); the
    DataError's message starts with ``name`` and lists the first three differences (none
    that ``ignore`` matches)."""
    differences = detector_differences(recorded, given, labels, ignore)
    if differences:
        more = f"; {len(differences) - 3} more" if len(differences) > 3 else ""
        raise DataError(f"{name} was {made} a detector named {recorded.get('name')!r} whose "
                        f"definition differs from {given_as} ({'; '.join(differences[:3])}{more})")
