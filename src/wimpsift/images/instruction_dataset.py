"""Image datasets of the events of an instruction CSV instead of simulated sources.

Public API::

    build_instruction_dataset(path, detector, instructions="events.csv", label=None,
                              kinds=..., seed=K, shapes=None, progress=True,
                              chunk_events=256, waveform=None, processing=None,
                              scaling=None) -> Path
    read_instruction_events(path, detector, label=None) -> (interactions, numbers, labels)
    instruction_chunk(detector, interactions, numbers, chunk, chunk_events, seed, ...)

The instructions (:mod:`wimpsift.io.instructions`, one event per instruction number,
several interactions each) go through the same waveform, processing and image code as
simulated sources, and are written in the same file format with the same guarantees
(:mod:`wimpsift.images.dataset_file`): one row per instruction, labels from the file's
``label`` column or ``label``; read the file back with
:func:`wimpsift.images.dataset.load_images`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, ValidationError

from wimpsift.config import WimpsiftConfig
from wimpsift.detectors import Detector
from wimpsift.errors import ConfigError, bad_value, validation_message
from wimpsift.images import dataset_file
from wimpsift.images.dataset import as_detector
from wimpsift.images.raster import IMAGE_KINDS, ImageSettings, check_kinds, image_settings, render_images
from wimpsift.processing.reconstruction import ProcessingSettings, process_events
from wimpsift.waveforms.config import WaveformSettings


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
    column holds them, ``n_interactions`` the interactions of each event. Resumable,
    checked for size and free space, and removed when it fails before its first chunk,
    like :func:`wimpsift.images.dataset.build_image_dataset`.
    """
    import hashlib

    det = as_detector(detector)
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
    return dataset_file.build(
        path, config, det, f"instructions ({config.n_events:,} events)",
        lambda out, done, disk_bytes: _build_chunks(out, config, det, interactions, numbers,
                                                    labels, done, disk_bytes, progress))


def _build_chunks(path: Path, config: InstructionDatasetConfig, det: Detector, interactions,
                  numbers: np.ndarray, labels: np.ndarray, done: int, disk_bytes: float,
                  progress: bool) -> None:
    """Simulate, process, render and write chunks ``done`` on, in order."""
    from tqdm import tqdm

    n_chunks = math.ceil(config.n_events / config.chunk_events)
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
        images = render_images(processed, config.kinds, config.image)
        dataset_file.write_chunk(path, chunk, offset, images, labels[offset:offset + size],
                                 processed.s1_pmt_area_pe, processed.s2_pmt_area_pe, table,
                                 disk_bytes if chunk == 0 else 0.0)
        bar.update(size)
    bar.close()
