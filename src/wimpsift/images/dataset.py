"""Image datasets of simulated sources: build them in chunked HDF5, read them back, stream
them to PyTorch.

Public API (stable; the CNN training code builds on it)::

    build_image_dataset(path, detector, signal="wimp:500", background="er",
                        events_per_class=N, kinds=("hit", "peak", "hitpeak"), seed=K,
                        shapes=None, progress=True, chunk_events=256,
                        selection="window", waveform=None, processing=None,
                        scaling=None, execution=None) -> Path
    cached_image_dataset(cache, detector, progress=True, execution=None, **settings) -> Path
    load_images(path, kind) -> (X float32 (N, H, W) in [0, 1], y int64 (N,), table DataFrame)
    ImageDataset(path, kind)   # torch.utils.data.Dataset -> (tensor (1, H, W), label float32)

``cached_image_dataset`` takes ``build_image_dataset``'s settings and returns the file
of the lineage cache (:mod:`wimpsift.cache`, stage ``images.dataset``) whose key hashes
the validated :class:`ImageDatasetConfig`, the detector definition and the package
versions: a pipeline asking twice for the same dataset builds it once (an interrupted
build resumes in the entry's work folder).

Datasets of the events of an instruction CSV instead of simulated sources are built by
:func:`wimpsift.images.instruction_dataset.build_instruction_dataset`, in the same file
format; ``load_images`` and ``ImageDataset`` read both.

``detector`` is a :class:`wimpsift.detectors.Detector` or its name; ``signal`` and
``background`` are source names, ``"wimp:<mass GeV>"`` (optionally
``"wimp:<mass>:<sigma cm2>"``) for a WIMP. Label 1 = signal, 0 = background. ``shapes``
maps a kind to (height, width); defaults are hit (50, 100), peak (50, 100),
hitpeak (75, 75) — the paper's "100×50" is width × height. ``selection`` keeps only
events in the analysis window (``"window"``: threshold, fiducial volume, cS1 and S2
window, as the paper's analysis), passing the detection threshold (``"threshold"``) or
all simulated events (``"none"``).

The file's layout, chunk digests and resume checks are
:mod:`wimpsift.images.dataset_file`; its ``/events`` columns are the processed event
table (:data:`wimpsift.events.EVENT_COLUMNS` plus processing extras).

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
(disk or memory, :func:`wimpsift.images.dataset_file.size_estimate`) is refused before
the file is created, and a file created by a build that fails before its first chunk is
removed. Resuming against a file of another configuration, or a file that is not a
wimpsift image dataset, is an error and leaves the file untouched.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError

from wimpsift.cache import Cache
from wimpsift.config import WimpsiftConfig
from wimpsift.detectors import Detector, load_detector
from wimpsift.errors import ConfigError, bad_value, renamed, validation_message
from wimpsift.execution import ExecutionConfig, Executor, Task, in_process
from wimpsift.images import dataset_file
from wimpsift.images.raster import IMAGE_KINDS, ImageSettings, check_kinds, image_settings, render_images
from wimpsift.processing.peaks import s2_merge_gap_ns
from wimpsift.processing.reconstruction import ProcessedEvents, ProcessingSettings, process_events
from wimpsift.seeding import SeedLike, generator, seed_sequence
from wimpsift.sources.wimp import WimpSource, halo_lineage
from wimpsift.waveforms.config import WaveformSettings
from wimpsift.waveforms.event import simulate_waveform_events

CACHE_STAGE = "images.dataset"
CACHE_STAGE_VERSION = 3  # bump when a dataset's content changes meaning; 2: fiducial slab; 3: slab for tracks
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
        try:
            return make_source(detector, "wimp", mass_gev=mass, sigma_cm2=sigma)
        except ConfigError as err:  # a mass too light for the energy range
            raise renamed(err, {"mass_gev": parameter}) from None
    if rest or name not in source_names(detector):
        raise bad_value(parameter, spec, f"one of {source_names(detector)} ('wimp:<mass>')")
    return make_source(detector, name)


def as_detector(detector: Detector | str) -> Detector:
    """``detector`` itself, or the detector of that name or file."""
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
    det = as_detector(detector)
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
    det = as_detector(detector)
    config = make_config(det, signal, background, events_per_class, kinds, seed, shapes,
                         selection, chunk_events, waveform, processing, scaling)
    sources = (parse_source(det, config.background, "background"),
               parse_source(det, config.signal, "signal"))
    n_chunks = math.ceil(config.events_per_class / config.chunk_events)
    return dataset_file.build(
        path, config, det, f"events_per_class ({config.events_per_class:,})",
        lambda out, done, disk_bytes: _build_chunks(out, config, det, sources, done, n_chunks,
                                                    disk_bytes, progress, execution))


def image_lineage(det: Detector, config: ImageDatasetConfig) -> dict:
    """What an image dataset's cache key holds besides its stage: the configuration, the
    detector definition, a WIMP halo's spectrum revision and, where S2 fragments merge
    (:func:`wimpsift.processing.peaks.s2_merge_gap_ns` above the peak gap), the merge gap:
    those images differ from the ones cached before the merging existed; elsewhere
    (XENON1T SR0, LUX) they are the same, and so is the key."""
    # a WIMP source's key holds the revision of its halo's spectrum
    halos = [src.halo for src in (parse_source(det, config.signal, "signal"),
                                  parse_source(det, config.background, "background"))
             if isinstance(src, WimpSource)]
    lineage = {"config": config, "detector": det.model_dump(mode="json"),
               **halo_lineage(halos[0] if halos else None)}
    merge_ns = s2_merge_gap_ns(det, config.waveform.el_duration_ns)
    if merge_ns > config.processing.peaks.gap_ns:
        lineage["s2_merge_gap_ns"] = merge_ns
    return lineage


def cached_image_dataset(cache: Cache | str | Path, detector: Detector | str,
                         progress: bool = True, execution: ExecutionConfig | None = None,
                         **settings) -> Path:
    """The image dataset of ``settings`` (:func:`build_image_dataset`'s) from the lineage
    cache under ``cache``, built there on the first call (on ``execution``, which is not
    part of the key: the data do not depend on it); returns its HDF5 file."""
    det = as_detector(detector)
    config = make_config(det, **settings)
    cache = cache if isinstance(cache, Cache) else Cache(cache)
    lineage = image_lineage(det, config)
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
                images, labels, merged = results[chunk]
                dataset_file.write_chunk(path, chunk, 2 * chunk * config.chunk_events, images,
                                         labels, merged.s1_pmt_area_pe, merged.s2_pmt_area_pe,
                                         merged.table, disk_bytes if chunk == 0 else 0.0)
                bar.update(len(labels))
    bar.close()


def load_images(path: str | Path, kind: str) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Images of one kind, labels (1 = signal) and the event table of a dataset file.

    Only the rows of completed chunks are returned (an interrupted build is readable).
    """
    import h5py

    path, _, n = dataset_file.open_checked(path, kind)
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
    record = dataset_file.read_record(Path(path))
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
        self.path, _, n = dataset_file.open_checked(path, kind)
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
