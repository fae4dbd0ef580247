"""Image datasets: build them in chunked HDF5, read them back, stream them to PyTorch.

Public API (stable; the CNN training code builds on it)::

    build_image_dataset(path, detector, signal="wimp:500", background="er",
                        events_per_class=N, kinds=("hit", "peak", "hitpeak"), seed=K,
                        shapes=None, progress=True, chunk_events=256,
                        selection="window", waveform=None, processing=None,
                        scaling=None, execution=None) -> Path
    build_instruction_dataset(path, detector, instructions="events.csv", label=None,
                              kinds=..., seed=K, shapes=None, progress=True,
                              chunk_events=256, waveform=None, processing=None,
                              scaling=None) -> Path
    cached_image_dataset(cache, detector, progress=True, execution=None, **settings) -> Path
    load_images(path, kind) -> (X float32 (N, H, W) in [0, 1], y int64 (N,), table DataFrame)
    ImageDataset(path, kind)   # torch.utils.data.Dataset -> (tensor (1, H, W), label float32)

``cached_image_dataset`` takes ``build_image_dataset``'s settings and returns the file
of the lineage cache (:mod:`wimpsift.cache`, stage ``images.dataset``) whose key hashes
the validated :class:`ImageDatasetConfig`, the detector definition and the package
versions: a pipeline asking twice for the same dataset builds it once (an interrupted
build resumes in the entry's work folder).

``build_instruction_dataset`` takes the events of an instruction CSV
(:mod:`wimpsift.io.instructions`, one event per instruction number, several
interactions each) instead of simulating sources: one row per instruction, labels from
the file's ``label`` column or ``label``.

``detector`` is a :class:`wimpsift.detectors.Detector` or its name; ``signal`` and
``background`` are source names, ``"wimp:<mass GeV>"`` (optionally
``"wimp:<mass>:<sigma cm2>"``) for a WIMP. Label 1 = signal, 0 = background. ``shapes``
maps a kind to (height, width); defaults are hit (50, 100), peak (50, 100),
hitpeak (75, 75) — the paper's "100×50" is width × height. ``selection`` keeps only
events in the analysis window (``"window"``: threshold, fiducial volume, cS1 and S2
window, as the paper's analysis), passing the detection threshold (``"threshold"``) or
all simulated events (``"none"``).

File layout (HDF5, written by h5py)::

    /images/<kind>        (N, H, W) float32, chunked and lzf-compressed
    /label                (N,) int8, 1 signal / 0 background
    /pmt/s1_area_pe       (N, n_pmts) float32 main-S1 hit pattern (top array first)
    /pmt/s2_area_pe       (N, n_pmts) float32 main-S2 hit pattern
    /events/<column>      (N,) the processed event table (wimpsift.events.EVENT_COLUMNS
                          plus processing extras); strings as UTF-8
    attrs: wimpsift (provenance JSON: config, seed, versions, detector, config_hash),
           format, n_rows, chunks_done

Events are simulated and written chunk by chunk (``chunk_events`` per class, signal and
background interleaved in a seeded random order), so memory stays bounded. A chunk is
marked done only after its data is flushed to the file: its digest goes to
``/chunk_digest`` and ``chunks_done`` is updated, then flushed again. Random numbers
depend only on (seed, chunk), so an interrupted build resumes where it stopped and gives
the same data as an uninterrupted one; on resume every chunk marked done is read back
and checked against its digest, and the build restarts at the first one that does not
match (data lost to a full disk or a crash). Before each chunk the free disk space is
checked (HDF5 can crash, not raise, when a write meets a full disk): too little is an
``OSError(ENOSPC)``, with the finished chunks kept. A request whose size cannot fit
(disk or memory, :func:`size_estimate`) is refused before the file is created, and a
file created by a build that fails before its first chunk is removed. Resuming against a
file of another configuration, or a file that is not a wimpsift image dataset, is an
error and leaves the file untouched.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError

from wimpsift.cache import Cache
from wimpsift.config import WimpsiftConfig
from wimpsift.detectors import Detector, load_detector
from wimpsift.errors import ConfigError, DataError, bad_value, validation_message
from wimpsift.execution import ExecutionConfig, Executor, Task, in_process
from wimpsift.images.raster import (
    ALL_IMAGE_KINDS,
    IMAGE_KINDS,
    ImageSettings,
    check_kinds,
    image_settings,
    render_images,
)
from wimpsift.processing.reconstruction import ProcessedEvents, ProcessingSettings, process_events
from wimpsift.provenance import (
    PROVENANCE_KEY,
    check_resources,
    check_writable,
    code_differences,
    config_hash,
    provenance,
)
from wimpsift.seeding import SeedLike, generator, seed_sequence
from wimpsift.waveforms.config import WaveformSettings
from wimpsift.waveforms.event import simulate_waveform_events

FORMAT = "wimpsift-images-1"
CACHE_STAGE = "images.dataset"
CACHE_STAGE_VERSION = 1  # bump when a dataset's content changes meaning
Selection = Literal["window", "threshold", "none"]
_MAX_ATTEMPTS = 200


class ImageDatasetConfig(WimpsiftConfig):
    """Everything that determines the content of an image dataset (hashed for resumes)."""

    detector: str
    signal: str = "wimp:500"
    background: str = "er"
    events_per_class: Annotated[int, Field(gt=0)]
    kinds: tuple[str, ...] = IMAGE_KINDS
    seed: Annotated[int, Field(ge=0)] = 0
    shapes: dict[str, tuple[int, int]]
    image: ImageSettings = Field(default_factory=ImageSettings)
    selection: Selection = "window"
    chunk_events: Annotated[int, Field(gt=0, le=100_000)] = 256
    waveform: WaveformSettings = Field(default_factory=WaveformSettings)
    processing: ProcessingSettings = Field(default_factory=ProcessingSettings)


def parse_source(detector: Detector, spec: str, parameter: str):
    """A source from ``"wimp:<mass>[:<sigma>]"`` or a background name of the detector."""
    from wimpsift.sources import make_source, source_names

    if not isinstance(spec, str) or not spec:
        raise bad_value(parameter, spec, "a source name such as 'wimp:500' or 'er'")
    name, _, rest = spec.partition(":")
    if name == "wimp":
        parts = rest.split(":") if rest else []
        try:
            mass = float(parts[0])
            sigma = float(parts[1]) if len(parts) > 1 else None
        except (IndexError, ValueError):
            raise bad_value(parameter, spec, "'wimp:<mass GeV>' or 'wimp:<mass>:<sigma cm2>'"
                            ) from None
        if not (mass > 0 and (sigma is None or sigma > 0)) or len(parts) > 2:
            raise bad_value(parameter, spec, "a positive WIMP mass (and cross-section)")
        return make_source(detector, "wimp", mass_gev=mass, sigma_cm2=sigma)
    if rest or name not in source_names(detector):
        raise bad_value(parameter, spec, f"one of {source_names(detector)} ('wimp:<mass>')")
    return make_source(detector, name)


def _detector(detector: Detector | str) -> Detector:
    return detector if isinstance(detector, Detector) else load_detector(detector)


def make_config(detector: Detector | str, signal="wimp:500", background="er",
                events_per_class: int = 1000, kinds=IMAGE_KINDS, seed: int = 0,
                shapes: dict | None = None, selection: str = "window", chunk_events: int = 256,
                waveform: WaveformSettings | None = None,
                processing: ProcessingSettings | None = None,
                scaling: dict | None = None) -> ImageDatasetConfig:
    """Validated dataset configuration (ConfigError naming the bad parameter).

    ``scaling`` holds optional :class:`ImageSettings` grey-level settings
    (``hit_s1_max_pe``, ``hit_s2_max_pe``, ``peak_min_pe_per_sample``, ...).
    """
    det = _detector(detector)
    kinds = check_kinds(kinds)
    settings = image_settings(shapes, **(scaling or {}))
    for name, value in (("events_per_class", events_per_class), ("chunk_events", chunk_events)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
            raise bad_value(name, value, "a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise bad_value("seed", seed, "a non-negative integer")
    if selection not in ("window", "threshold", "none"):
        raise bad_value("selection", selection, "'window', 'threshold' or 'none'")
    parse_source(det, signal, "signal")
    parse_source(det, background, "background")
    try:
        return ImageDatasetConfig(
            detector=det.name, signal=signal, background=background,
            events_per_class=int(events_per_class), kinds=kinds, seed=int(seed),
            shapes={k: settings.shape(k) for k in kinds}, image=settings, selection=selection,
            chunk_events=int(chunk_events), waveform=waveform or WaveformSettings(),
            processing=processing or ProcessingSettings(),
        )
    except ValidationError as err:
        raise ConfigError(validation_message(err)) from err


def simulate_selected(detector: Detector, source, n_events: int, seed: SeedLike,
                      config: ImageDatasetConfig) -> ProcessedEvents:
    """Simulate and process events of one source until ``n_events`` pass the selection.

    Deterministic in ``seed`` (a child sequence of the data set's seed): attempt ``i``
    simulates chunk ``i`` of it.
    """
    kept: list[ProcessedEvents] = []
    have, acceptance = 0, 0.5
    for attempt in range(_MAX_ATTEMPTS):
        need = n_events - have
        batch = int(min(max(math.ceil(1.2 * need / max(acceptance, 0.02)) + 4, 8), 20 * n_events + 64))
        raw = simulate_waveform_events(detector, source, batch, seed, config.waveform,
                                       chunk_index=attempt)
        processed = process_events(raw, config.processing)
        table = processed.table
        if config.selection == "window":
            mask = table["in_window"].to_numpy()
        elif config.selection == "threshold":
            mask = table["passes_threshold"].to_numpy()
        else:
            mask = np.ones(len(table), bool)
        acceptance = max(mask.mean(), 0.02)
        chosen = np.flatnonzero(mask)[:need]
        if chosen.size:
            sel = np.zeros(len(table), bool)
            sel[chosen] = True
            kept.append(processed.select(sel))
            have += chosen.size
        if have >= n_events:
            break
    else:
        raise ConfigError(
            f"selection: fewer than {n_events} events of {source.name!r} pass "
            f"selection={config.selection!r}; choose another source or selection"
        )
    first = kept[0]
    return ProcessedEvents(
        pd.concat([k.table for k in kept], ignore_index=True),
        np.concatenate([k.s1_pmt_area_pe for k in kept]),
        np.concatenate([k.s2_pmt_area_pe for k in kept]),
        np.concatenate([k.s1_trace_pe for k in kept]),
        np.concatenate([k.s2_trace_pe for k in kept]),
        first.arrays, first.sample_ns,
        np.concatenate([k.event_trace_pe for k in kept]),
    )


def _read_record(path: Path) -> dict:
    """Provenance of an existing dataset file; DataError when it is not one."""
    import h5py

    try:
        if not h5py.is_hdf5(path):
            raise DataError(f"dataset: {str(path)!r} is not an HDF5 file")
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT or PROVENANCE_KEY not in f.attrs:
                raise DataError(f"dataset: {str(path)!r} is not a wimpsift image dataset "
                                f"(format {FORMAT!r})")
            record = json.loads(f.attrs[PROVENANCE_KEY])
            record["_chunks_done"] = int(f.attrs["chunks_done"])
            record["_n_rows"] = int(f.attrs["n_rows"])
            record["_kinds"] = sorted(f["images"].keys())
            return record
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - a damaged file fails in h5py in many ways
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"dataset: cannot read {str(path)!r} ({first}); delete it to build "
                        "it again") from err


def size_estimate(config: ImageDatasetConfig, n_pmts: int) -> tuple[float, float]:
    """Lower bounds of (file bytes, memory bytes per chunk) of a dataset.

    File: the uncompressed label and event-table columns of every row (the images and
    PMT patterns are compressed, by an amount the data decides, so they are left out).
    Memory: one chunk's images and PMT patterns as float32.
    """
    from wimpsift.io.event_tables import table_bytes_per_event

    n_rows = 2 * config.events_per_class
    pixels = sum(h * w for h, w in (config.shapes[k] for k in config.kinds))
    disk = n_rows * (1 + table_bytes_per_event())
    memory = 2 * min(config.chunk_events, config.events_per_class) * 4 * (pixels + 2 * n_pmts)
    return float(disk), float(memory)


def _chunk_digest(images: dict[str, np.ndarray], labels: np.ndarray, s1: np.ndarray,
                  s2: np.ndarray) -> bytes:
    import hashlib

    h = hashlib.sha256()
    for kind in sorted(images):
        h.update(np.ascontiguousarray(images[kind], dtype=np.float32).tobytes())
    for array, dtype in ((labels, np.int8), (s1, np.float32), (s2, np.float32)):
        h.update(np.ascontiguousarray(array, dtype=dtype).tobytes())
    return h.hexdigest()[:32].encode()


def _verified_chunks(path: Path, done: int, rows_per_chunk: int, kinds: tuple[str, ...]) -> int:
    """How many of the ``done`` chunks marked done read back with their digest."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "chunk_digest" not in f:  # written before digests existed: trusted
                return done
            n_rows = int(f.attrs["n_rows"])
            for chunk in range(done):
                sl = slice(chunk * rows_per_chunk, min((chunk + 1) * rows_per_chunk, n_rows))
                stored = bytes(f["chunk_digest"][chunk])
                try:
                    digest = _chunk_digest({k: f[f"images/{k}"][sl] for k in kinds},
                                           f["label"][sl], f["pmt/s1_area_pe"][sl],
                                           f["pmt/s2_area_pe"][sl])
                except (OSError, KeyError, ValueError):
                    return chunk
                if digest != stored:
                    return chunk
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"dataset: cannot read {str(path)!r} ({err}); delete it to "
                        "build it again") from err
    return done


def _resume_point(path: Path, record: dict, kinds: tuple[str, ...]) -> int:
    """Chunks of an existing dataset that can be kept: it must have been made with the
    same configuration by the same code (source digest and library versions), and every
    chunk marked done must read back with its digest."""
    previous = _read_record(path)
    if previous.get("config_hash") != record["config_hash"]:
        raise ConfigError(
            f"output: {str(path)!r} was made with another configuration "
            f"(config_hash {previous.get('config_hash')} != {record['config_hash']}); "
            "use another output path or the same settings"
        )
    differ = code_differences(previous, record)  # chunks of two codes never mix
    if differ:
        raise ConfigError(
            f"output: {str(path)!r} was made by other code ({differ[0]} differs: wimpsift "
            "source or library versions); use another output path or delete it to build it "
            "again"
        )
    return _verified_chunks(path, previous["_chunks_done"], _rows_per_chunk(record["config"]), kinds)


def _check_free_space(path: Path, n_bytes: float) -> None:
    import errno
    import shutil

    free = shutil.disk_usage(path.parent).free
    if free < n_bytes:
        raise OSError(errno.ENOSPC, f"No space left on device (about {n_bytes / 1e6:.3g} MB "
                      f"needed for the next chunk, {free / 1e6:.3g} MB free)", str(path))


def _n_rows(config: dict) -> int:
    """Rows of a dataset from its stored configuration (sources: both classes)."""
    return int(config["n_events"]) if "instructions" in config else 2 * int(
        config["events_per_class"])


def _rows_per_chunk(config: dict) -> int:
    """Rows one chunk writes (sources: both classes; instructions: one row per event)."""
    per_chunk = int(config["chunk_events"])
    return per_chunk if "instructions" in config else 2 * per_chunk


def _create(path: Path, config: ImageDatasetConfig | InstructionDatasetConfig, record: dict,
            n_pmts: int) -> None:
    import h5py

    n = _n_rows(record["config"])
    rows = max(1, min(16, n))
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs[PROVENANCE_KEY] = json.dumps(record, sort_keys=True)
        f.attrs["n_rows"] = n
        f.attrs["chunks_done"] = 0
        for kind in config.kinds:
            h, w = config.shapes[kind]
            f.create_dataset(f"images/{kind}", shape=(n, h, w), dtype="f4",
                             chunks=(rows, h, w), compression="lzf", shuffle=True)
            f[f"images/{kind}"].attrs["value_range"] = (0.0, 1.0)
        f.create_dataset("label", shape=(n,), dtype="i1")
        n_chunks = math.ceil(n / _rows_per_chunk(record["config"]))
        f.create_dataset("chunk_digest", shape=(n_chunks,), dtype="S32")
        for name in ("s1_area_pe", "s2_area_pe"):
            f.create_dataset(f"pmt/{name}", shape=(n, n_pmts), dtype="f4",
                             chunks=(rows, n_pmts), compression="lzf")


def _write_columns(f, table: pd.DataFrame, offset: int, n_total: int) -> None:
    import h5py

    for column in table.columns:
        values = table[column].to_numpy()
        key = f"events/{column}"
        if values.dtype == object:
            if key not in f:
                f.create_dataset(key, shape=(n_total,), dtype=h5py.string_dtype("utf-8"))
            f[key][offset:offset + values.size] = values.astype(str).astype(object)
        else:
            if key not in f:
                f.create_dataset(key, shape=(n_total,), dtype=values.dtype)
            f[key][offset:offset + values.size] = values


def build_image_dataset(
    path: str | Path,
    detector: Detector | str,
    signal: str = "wimp:500",
    background: str = "er",
    events_per_class: int = 1000,
    kinds=IMAGE_KINDS,
    seed: int = 0,
    shapes: dict | None = None,
    progress: bool = True,
    chunk_events: int = 256,
    selection: str = "window",
    waveform: WaveformSettings | None = None,
    processing: ProcessingSettings | None = None,
    scaling: dict | None = None,
    execution: ExecutionConfig | None = None,
) -> Path:
    """Simulate ``events_per_class`` signal and background events and write their images.

    Resumes an interrupted build of the same configuration; returns the file path.
    ``execution`` (:mod:`wimpsift.execution`; default in process) simulates chunks in
    parallel; the file does not depend on it.
    """
    det = _detector(detector)
    config = make_config(det, signal, background, events_per_class, kinds, seed, shapes,
                         selection, chunk_events, waveform, processing, scaling)
    path = check_writable(path, "output")
    record = provenance(config, config.seed, "images")
    record["detector"] = det.model_dump(mode="json")
    record["config_hash"] = config_hash({"config": record["config"], "detector": record["detector"]})
    sources = (parse_source(det, config.background, "background"),
               parse_source(det, config.signal, "signal"))

    from wimpsift.detectors.pmt_arrays import pmt_arrays

    n_chunks = math.ceil(config.events_per_class / config.chunk_events)
    n_pmts = pmt_arrays(det).n_pmts
    disk_bytes, memory_bytes = size_estimate(config, n_pmts)
    done = 0
    created = False
    if path.exists():
        done = _resume_point(path, record, config.kinds)
    else:
        check_resources(f"events_per_class ({config.events_per_class:,})",
                        disk_bytes=disk_bytes, memory_bytes=memory_bytes, where=path.parent)
        _create(path, config, record, n_pmts)
        created = True
    try:
        _build_chunks(path, config, det, sources, done, n_chunks, disk_bytes, progress,
                      execution)
    except BaseException:
        if created:
            try:
                finished = _read_record(path)["_chunks_done"]
            except DataError:
                finished = 0
            if finished == 0:
                path.unlink(missing_ok=True)  # nothing finished: leave no empty dataset
        raise
    return path


def cached_image_dataset(cache: Cache | str | Path, detector: Detector | str,
                         progress: bool = True, execution: ExecutionConfig | None = None,
                         **settings) -> Path:
    """The image dataset of ``settings`` (:func:`build_image_dataset`'s) from the lineage
    cache under ``cache``, built there on the first call (on ``execution``, which is not
    part of the key: the data do not depend on it); returns its HDF5 file."""
    det = _detector(detector)
    config = make_config(det, **settings)
    cache = cache if isinstance(cache, Cache) else Cache(cache)
    lineage = {"config": config, "detector": det.model_dump(mode="json")}
    return cache.file(CACHE_STAGE, CACHE_STAGE_VERSION, lineage, "images.h5",
                      lambda path: build_image_dataset(path, det, progress=progress,
                                                       execution=execution, **settings))


def _simulate_chunk(config: ImageDatasetConfig, det: Detector, sources, chunk: int
                    ) -> tuple[dict[str, np.ndarray], np.ndarray, ProcessedEvents]:
    """Images, labels and processed events of one chunk (a function of the seed and
    ``chunk`` alone, wherever it runs)."""
    size = min(config.chunk_events, config.events_per_class - chunk * config.chunk_events)
    parts = [simulate_selected(det, src, size, seed_sequence(config.seed, "images", chunk, label),
                               config)
             for label, src in enumerate(sources)]
    order = generator(config.seed, "order", chunk).permutation(2 * size)
    table = pd.concat([p.table for p in parts], ignore_index=True).iloc[order]
    table = table.reset_index(drop=True)
    labels = np.repeat(np.array([0, 1], dtype=np.int8), size)[order]
    offset = 2 * chunk * config.chunk_events
    table["event_id"] = np.arange(offset, offset + 2 * size, dtype=np.int64)
    merged = ProcessedEvents(
        table, *(np.concatenate([getattr(p, name) for p in parts])[order]
                 for name in ("s1_pmt_area_pe", "s2_pmt_area_pe", "s1_trace_pe",
                              "s2_trace_pe")),
        parts[0].arrays, parts[0].sample_ns,
        np.concatenate([p.event_trace_pe for p in parts])[order],
    )
    return render_images(merged, config.kinds, config.image), labels, merged


def _write_chunk(path: Path, config: ImageDatasetConfig, chunk: int,
                 images: dict[str, np.ndarray], labels: np.ndarray, merged: ProcessedEvents,
                 disk_bytes: float) -> None:
    import h5py

    size = len(labels)
    # uncompressed size of this chunk, plus the event-table columns, which HDF5
    # allocates whole at the first write: an upper bound of what this write needs
    _check_free_space(path, size * (sum(a[0].nbytes for a in images.values())
                                    + merged.s1_pmt_area_pe[0].nbytes * 2)
                      + (disk_bytes if chunk == 0 else 0.0))
    offset = 2 * chunk * config.chunk_events
    with h5py.File(path, "r+") as f:
        sl = slice(offset, offset + size)
        for kind, array in images.items():
            f[f"images/{kind}"][sl] = array
        f["label"][sl] = labels
        f["pmt/s1_area_pe"][sl] = merged.s1_pmt_area_pe
        f["pmt/s2_area_pe"][sl] = merged.s2_pmt_area_pe
        _write_columns(f, merged.table, offset, int(f.attrs["n_rows"]))
        f.flush()  # the data is on disk before the chunk is marked done
        if "chunk_digest" in f:
            f["chunk_digest"][chunk] = _chunk_digest(
                images, labels, merged.s1_pmt_area_pe, merged.s2_pmt_area_pe)
        f.attrs["chunks_done"] = chunk + 1
        f.flush()


def _build_chunks(path: Path, config: ImageDatasetConfig, det: Detector, sources, done: int,
                  n_chunks: int, disk_bytes: float, progress: bool,
                  execution: ExecutionConfig | None = None) -> None:
    """Simulate chunks ``done`` .. ``n_chunks - 1`` and write them in order.

    On a parallel ``execution`` as many chunks as the workers run at once
    (:meth:`~wimpsift.execution.Executor.n_slots`) are simulated at a time and written in
    order as the batch completes, so the file is the one an
    in-process build writes and at most one batch is held in memory."""
    from tqdm import tqdm

    bar = tqdm(total=2 * config.events_per_class, unit="ev", desc="images",
               disable=not progress)
    bar.update(2 * min(done * config.chunk_events, config.events_per_class))
    with (Executor(execution) if execution else in_process()) as executor:
        batch = executor.n_slots()
        for start in range(done, n_chunks, batch):
            chunks = range(start, min(start + batch, n_chunks))
            results = executor.map({c: Task(_simulate_chunk, (config, det, sources, c))
                                    for c in chunks},
                                   "image chunks")
            for chunk in chunks:
                _write_chunk(path, config, chunk, *results[chunk], disk_bytes)
                bar.update(len(results[chunk][1]))
    bar.close()


class InstructionDatasetConfig(WimpsiftConfig):
    """Everything that determines an image dataset built from an instruction file."""

    detector: str
    instructions: str
    """file name of the instruction CSV (its content is identified by the hash below)"""
    instructions_sha256: str
    n_events: Annotated[int, Field(gt=0)]
    label: Literal[0, 1] | None = None
    """label of every event when the file has no label column"""
    kinds: tuple[str, ...] = IMAGE_KINDS
    seed: Annotated[int, Field(ge=0)] = 0
    shapes: dict[str, tuple[int, int]]
    image: ImageSettings = Field(default_factory=ImageSettings)
    chunk_events: Annotated[int, Field(gt=0, le=100_000)] = 256
    waveform: WaveformSettings = Field(default_factory=WaveformSettings)
    processing: ProcessingSettings = Field(default_factory=ProcessingSettings)


def read_instruction_events(path: str | Path, detector: Detector, label: int | None = None):
    """Checked interactions, instruction numbers and per-event labels of an instruction CSV.

    Labels come from the file's ``label`` column or, when it has none, from ``label``
    (0 or 1); giving both is an error.
    """
    from wimpsift.io.instructions import event_labels, instructions_to_interactions, read_instructions

    if label is not None and (isinstance(label, bool) or label not in (0, 1)):
        raise bad_value("label", label, "0 (background) or 1 (signal)")
    table = read_instructions(path, detector)
    interactions, numbers = instructions_to_interactions(table)
    labels = event_labels(table)
    if labels is not None and label is not None:
        raise ConfigError(f"label: {str(path)!r} has a label column; drop --label")
    if labels is None:
        if label is None:
            raise ConfigError(f"label: {str(path)!r} has no label column; give --label 0 or 1")
        labels = np.full(numbers.size, label, dtype=np.int8)
    return interactions, numbers, labels


def instruction_chunk(detector: Detector, interactions, numbers: np.ndarray, chunk: int,
                      chunk_events: int, seed: int, waveform: WaveformSettings | None = None,
                      optics=None):
    """Raw events of one chunk of an instruction file (events ordered by instruction).

    The truth table's ``event_id`` is the instruction number.
    """
    from wimpsift.waveforms.event import interaction_waveforms

    start = chunk * chunk_events
    stop = min(start + chunk_events, numbers.size)
    raw = interaction_waveforms(detector, interactions.events(start, stop), "instructions",
                                seed, waveform, chunk_index=chunk, optics=optics)
    raw.truth["event_id"] = numbers[start:stop]
    return raw


def build_instruction_dataset(
    path: str | Path,
    detector: Detector | str,
    instructions: str | Path,
    label: int | None = None,
    kinds=IMAGE_KINDS,
    seed: int = 0,
    shapes: dict | None = None,
    progress: bool = True,
    chunk_events: int = 256,
    waveform: WaveformSettings | None = None,
    processing: ProcessingSettings | None = None,
    scaling: dict | None = None,
) -> Path:
    """Images of every event of an instruction CSV, one row per instruction number.

    The events go through the same waveform, processing and image code as simulated
    sources (:func:`wimpsift.waveforms.event.interaction_waveforms`); no selection is
    applied (the event table's ``passes_threshold``, ``in_window`` flags allow one).
    Rows follow the instruction numbers in ascending order; the table's ``instruction``
    column holds them, ``n_interactions`` the interactions of each event. Resumable
    like :func:`build_image_dataset`.
    """
    import hashlib

    import h5py
    from tqdm import tqdm

    from wimpsift.detectors.pmt_arrays import pmt_arrays

    det = _detector(detector)
    kinds = check_kinds(kinds)
    settings = image_settings(shapes, **(scaling or {}))
    for name, value, low in (("seed", seed, 0), ("chunk_events", chunk_events, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise bad_value(name, value, f"an integer of at least {low}")
    interactions, numbers, labels = read_instruction_events(instructions, det, label)
    try:
        config = InstructionDatasetConfig(
            detector=det.name, instructions=Path(instructions).name,
            instructions_sha256=hashlib.sha256(Path(instructions).read_bytes()).hexdigest(),
            n_events=int(numbers.size), label=label, kinds=kinds, seed=int(seed),
            shapes={k: settings.shape(k) for k in kinds}, image=settings,
            chunk_events=int(chunk_events), waveform=waveform or WaveformSettings(),
            processing=processing or ProcessingSettings(),
        )
    except ValidationError as err:
        raise ConfigError(validation_message(err)) from err
    path = check_writable(path, "output")
    record = provenance(config, config.seed, "images")
    record["detector"] = det.model_dump(mode="json")
    record["config_hash"] = config_hash({"config": record["config"], "detector": record["detector"]})
    n_chunks = math.ceil(config.n_events / config.chunk_events)
    done = 0
    if path.exists():
        done = _resume_point(path, record, config.kinds)
    else:
        _create(path, config, record, pmt_arrays(det).n_pmts)

    bar = tqdm(total=config.n_events, unit="ev", desc="images", disable=not progress)
    bar.update(min(done * config.chunk_events, config.n_events))
    for chunk in range(done, n_chunks):
        raw = instruction_chunk(det, interactions, numbers, chunk, config.chunk_events,
                                config.seed, config.waveform)
        processed = process_events(raw, config.processing)
        table = processed.table
        offset = chunk * config.chunk_events
        size = len(table)
        table["instruction"] = raw.truth["event_id"].to_numpy()
        table["event_id"] = np.arange(offset, offset + size, dtype=np.int64)
        table["n_interactions"] = raw.truth["n_interactions"].to_numpy()
        images = render_images(processed, config.kinds, settings)
        with h5py.File(path, "r+") as f:
            sl = slice(offset, offset + size)
            for kind, array in images.items():
                f[f"images/{kind}"][sl] = array
            f["label"][sl] = labels[sl]
            f["pmt/s1_area_pe"][sl] = processed.s1_pmt_area_pe
            f["pmt/s2_area_pe"][sl] = processed.s2_pmt_area_pe
            _write_columns(f, table, offset, int(f.attrs["n_rows"]))
            f.flush()  # the data is on disk before the chunk is marked done
            f["chunk_digest"][chunk] = _chunk_digest(
                images, labels[sl], processed.s1_pmt_area_pe, processed.s2_pmt_area_pe)
            f.attrs["chunks_done"] = chunk + 1
            f.flush()
        bar.update(size)
    bar.close()
    return path


def _open_checked(path: str | Path, kind: str):
    path = Path(path)
    if kind not in ALL_IMAGE_KINDS:
        raise bad_value("kind", kind, f"one of {', '.join(ALL_IMAGE_KINDS)}")
    if not path.is_file():
        raise DataError(f"dataset: {str(path)!r} does not exist")
    record = _read_record(path)
    if kind not in record["_kinds"]:
        raise DataError(f"dataset: {str(path)!r} has no {kind!r} images "
                        f"(it has {', '.join(record['_kinds'])})")
    stored = record["config"]
    per_chunk = _rows_per_chunk(stored)
    n_chunks = math.ceil(_n_rows(stored) / per_chunk)
    n_done = min(record["_chunks_done"] * per_chunk, record["_n_rows"])
    if record["_chunks_done"] >= n_chunks:
        n_done = record["_n_rows"]
    return path, record, n_done


def load_images(path: str | Path, kind: str) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Images of one kind, labels (1 = signal) and the event table of a dataset file.

    Only the rows of completed chunks are returned (an interrupted build is readable).
    """
    import h5py

    path, _, n = _open_checked(path, kind)
    with h5py.File(path, "r") as f:
        images = f[f"images/{kind}"][:n].astype(np.float32, copy=False)
        labels = f["label"][:n].astype(np.int64)
        columns = {}
        for name, ds in f["events"].items():
            values = ds[:n]
            if h5py.check_string_dtype(ds.dtype) is not None:
                values = np.array([v.decode() if isinstance(v, bytes) else v for v in values],
                                  dtype=object)
            columns[name] = values
    from wimpsift.events import EVENT_COLUMNS

    order = [c for c in EVENT_COLUMNS if c in columns] + \
            [c for c in columns if c not in EVENT_COLUMNS]
    return images, labels, pd.DataFrame({c: columns[c] for c in order})


def dataset_provenance(path: str | Path) -> dict:
    """The provenance record stored in a dataset file."""
    record = _read_record(Path(path))
    return {k: v for k, v in record.items() if not k.startswith("_")}


try:  # a real torch Dataset when torch is installed (it is a dependency)
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover
    _TorchDataset = object


class ImageDataset(_TorchDataset):
    """PyTorch map-style dataset streaming (image (1, H, W), label) from a dataset file.

    The HDF5 file is opened lazily in each worker process; ``indices`` restricts it to a
    subset of rows (e.g. a train/validation split).
    """

    def __init__(self, path: str | Path, kind: str, indices: np.ndarray | None = None):
        self.path, _, n = _open_checked(path, kind)
        self.kind = kind
        self.indices = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= n):
            raise bad_value("indices", f"[{self.indices.min()}, {self.indices.max()}]",
                            f"row numbers in [0, {n})")
        self._file = None

    def __len__(self) -> int:
        return int(self.indices.size)

    @property
    def labels(self) -> np.ndarray:
        """Labels of the rows (1 = signal), read in one go: estimators use this instead
        of loading every image to find the classes."""
        return np.asarray(self._handle()["label"][:], dtype=np.float32)[self.indices]

    def _handle(self):
        if self._file is None:
            import h5py

            self._file = h5py.File(self.path, "r")
        return self._file

    def __getitem__(self, item: int):
        import torch

        row = int(self.indices[item])
        f = self._handle()
        image = torch.from_numpy(np.asarray(f[f"images/{self.kind}"][row], dtype=np.float32))
        label = torch.tensor(float(f["label"][row]), dtype=torch.float32)
        return image[None], label

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"] = None
        return state

    def __del__(self):
        if getattr(self, "_file", None) is not None:
            try:
                self._file.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass
