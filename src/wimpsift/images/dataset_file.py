"""The image dataset file: its HDF5 layout, chunks written with digests, resume checks.

Both dataset builders (:mod:`wimpsift.images.dataset` from simulated sources,
:mod:`wimpsift.images.instruction_dataset` from an instruction CSV) create or resume the
file with :func:`build` and write their chunks with :func:`write_chunk`, so the two
share the same guarantees: a request that cannot fit is refused before the file
exists, a chunk is marked done only after its data is flushed, the free disk space is
checked before each chunk, a resume keeps only the chunks that read back with their
digest, and a file whose build fails before its first chunk is removed. Readers
(:func:`wimpsift.images.dataset.load_images`, :class:`wimpsift.images.dataset.ImageDataset`)
open it through :func:`open_checked`.

File layout (HDF5, written by h5py)::

    /images/<kind>        (N, H, W) float32, chunked and lzf-compressed
    /label                (N,) int8, 1 signal / 0 background
    /pmt/s1_area_pe       (N, n_pmts) float32 main-S1 hit pattern (top array first)
    /pmt/s2_area_pe       (N, n_pmts) float32 main-S2 hit pattern
    /events/<column>      (N,) the processed event table; strings as UTF-8
    /chunk_digest         (n_chunks,) 32-byte digest of each finished chunk
    attrs: wimpsift (provenance JSON: config, seed, versions, detector, config_hash),
           format, n_rows, chunks_done

The stored configuration says how many rows a chunk holds: ``2 * chunk_events`` for a
dataset of two sources (signal and background interleaved), ``chunk_events`` for one
built from instructions (its configuration has an ``instructions`` entry).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from wimpsift.errors import ConfigError, DataError, bad_value, first_line
from wimpsift.images.raster import ALL_IMAGE_KINDS, hit_shape
from wimpsift.provenance import (
    PROVENANCE_KEY,
    check_resources,
    check_writable,
    code_differences,
    config_hash,
    provenance,
)

if TYPE_CHECKING:
    from wimpsift.detectors import Detector
    from wimpsift.detectors.pmt_arrays import PmtArrays
    from wimpsift.images.dataset import ImageDatasetConfig
    from wimpsift.images.instruction_dataset import InstructionDatasetConfig

FORMAT = "wimpsift-images-1"


def read_record(path: Path, parameter: str = "dataset", way_out: str | None = None) -> dict:
    """Provenance of an existing dataset file, with its ``_chunks_done``, ``_n_rows`` and
    ``_kinds``; DataError naming ``parameter`` when it is not one, ending in ``way_out``
    when given (a damaged file's default: build it again)."""
    import h5py

    hint = f"; {way_out}" if way_out else ""
    try:
        if not h5py.is_hdf5(path):
            raise DataError(f"{parameter}: {str(path)!r} is not an HDF5 file{hint}")
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT or PROVENANCE_KEY not in f.attrs:
                raise DataError(f"{parameter}: {str(path)!r} is not a wimpsift image dataset "
                                f"(format {FORMAT!r}){hint}")
            record = json.loads(f.attrs[PROVENANCE_KEY])
            record["_chunks_done"] = int(f.attrs["chunks_done"])
            record["_n_rows"] = int(f.attrs["n_rows"])
            record["_kinds"] = sorted(f["images"].keys())
            return record
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - a damaged file fails in h5py in many ways
        raise DataError(f"{parameter}: cannot read {str(path)!r} ({first_line(err)})"
                        f"{hint or '; delete it to build it again'}") from err


def n_rows(config: dict) -> int:
    """Rows of a dataset from its stored configuration (sources: both classes)."""
    return int(config["n_events"]) if "instructions" in config else 2 * int(
        config["events_per_class"])


def rows_per_chunk(config: dict) -> int:
    """Rows one chunk writes (sources: both classes; instructions: one row per event)."""
    per_chunk = int(config["chunk_events"])
    return per_chunk if "instructions" in config else 2 * per_chunk


def size_estimate(config: ImageDatasetConfig | InstructionDatasetConfig,
                  n_pmts: int) -> tuple[float, float]:
    """Lower bounds of (file bytes, memory bytes per chunk) of a dataset's configuration
    (:class:`~wimpsift.images.dataset.ImageDatasetConfig` or
    :class:`~wimpsift.images.instruction_dataset.InstructionDatasetConfig`).

    File: the uncompressed label and event-table columns of every row (the images and
    PMT patterns are compressed, by an amount the data decides, so they are left out).
    Memory: one chunk's images and PMT patterns as float32.
    """
    from wimpsift.io.event_tables import table_bytes_per_event

    stored = config.model_dump(mode="json")
    rows = n_rows(stored)
    pixels = sum(h * w for h, w in (config.shapes[k] for k in config.kinds))
    disk = rows * (1 + table_bytes_per_event())
    memory = min(rows_per_chunk(stored), rows) * 4 * (pixels + 2 * n_pmts)
    return float(disk), float(memory)


def render_bytes(config: ImageDatasetConfig | InstructionDatasetConfig,
                 arrays: PmtArrays) -> float:
    """A lower bound of the memory that drawing the configuration's images needs
    whatever the chunk size: the largest ``hit`` coverage matrix being built."""
    from wimpsift.images.hit import coverage_bytes

    hits = (hit_shape(kind, config.shapes[kind]) for kind in config.kinds)
    return max((coverage_bytes(arrays, shape) for shape in hits if shape is not None),
               default=0.0)


def chunk_digest(images: dict[str, np.ndarray], labels: np.ndarray, s1: np.ndarray,
                 s2: np.ndarray) -> bytes:
    """The digest stored for a chunk: images of every kind, labels and hit patterns."""
    import hashlib

    h = hashlib.sha256()
    for kind in sorted(images):
        h.update(np.ascontiguousarray(images[kind], dtype=np.float32).tobytes())
    for array, dtype in ((labels, np.int8), (s1, np.float32), (s2, np.float32)):
        h.update(np.ascontiguousarray(array, dtype=dtype).tobytes())
    return h.hexdigest()[:32].encode()


def _verified_chunks(path: Path, done: int, per_chunk: int, kinds: tuple[str, ...]) -> int:
    """How many of the ``done`` chunks marked done read back with their digest."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "chunk_digest" not in f:  # written before digests existed: trusted
                return done
            rows = int(f.attrs["n_rows"])
            for chunk in range(done):
                sl = slice(chunk * per_chunk, min((chunk + 1) * per_chunk, rows))
                stored = bytes(f["chunk_digest"][chunk])
                try:
                    digest = chunk_digest({k: f[f"images/{k}"][sl] for k in kinds},
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


def resume_point(path: Path, record: dict, kinds: tuple[str, ...]) -> int:
    """Chunks of an existing dataset that can be kept: it must have been made with the
    same configuration by the same code (source digest and library versions), and every
    chunk marked done must read back with its digest."""
    # a file of another program (or an empty one) is not replaced
    previous = read_record(path, "output", "delete it or choose another output")
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
    return _verified_chunks(path, previous["_chunks_done"], rows_per_chunk(record["config"]),
                            kinds)


def check_free_space(path: Path, n_bytes: float) -> None:
    """OSError(ENOSPC) when the file system of ``path`` has less than ``n_bytes`` free
    (HDF5 can crash, not raise, when a write meets a full disk)."""
    import errno
    import shutil

    free = shutil.disk_usage(path.parent).free
    if free < n_bytes:
        raise OSError(errno.ENOSPC, f"No space left on device (about {n_bytes / 1e6:.3g} MB "
                      f"needed for the next chunk, {free / 1e6:.3g} MB free)", str(path))


def create(path: Path, config: ImageDatasetConfig | InstructionDatasetConfig, record: dict,
           n_pmts: int) -> None:
    """An empty dataset file for ``config`` (its kinds and shapes) with provenance ``record``."""
    import h5py

    rows = n_rows(record["config"])
    per_write = max(1, min(16, rows))
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs[PROVENANCE_KEY] = json.dumps(record, sort_keys=True)
        f.attrs["n_rows"] = rows
        f.attrs["chunks_done"] = 0
        for kind in config.kinds:
            h, w = config.shapes[kind]
            f.create_dataset(f"images/{kind}", shape=(rows, h, w), dtype="f4",
                             chunks=(per_write, h, w), compression="lzf", shuffle=True)
            f[f"images/{kind}"].attrs["value_range"] = (0.0, 1.0)
        f.create_dataset("label", shape=(rows,), dtype="i1")
        n_chunks = math.ceil(rows / rows_per_chunk(record["config"]))
        f.create_dataset("chunk_digest", shape=(n_chunks,), dtype="S32")
        for name in ("s1_area_pe", "s2_area_pe"):
            f.create_dataset(f"pmt/{name}", shape=(rows, n_pmts), dtype="f4",
                             chunks=(per_write, n_pmts), compression="lzf")


def write_columns(f, table: pd.DataFrame, offset: int, n_total: int) -> None:
    """Write ``table``'s columns at rows ``offset`` on (each column created whole at its
    first write)."""
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


def write_chunk(path: Path, chunk: int, offset: int, images: dict[str, np.ndarray],
                labels: np.ndarray, s1_pmt_area_pe: np.ndarray, s2_pmt_area_pe: np.ndarray,
                table: pd.DataFrame, first_write_bytes: float = 0.0) -> None:
    """Write chunk ``chunk``'s rows from ``offset`` and mark it done once they are flushed.

    Checks the free space first: this chunk uncompressed, plus ``first_write_bytes`` (the
    event-table columns, which HDF5 allocates whole at the first write).
    """
    import h5py

    size = len(labels)
    check_free_space(path, size * (sum(a[0].nbytes for a in images.values())
                                   + s1_pmt_area_pe[0].nbytes * 2) + first_write_bytes)
    with h5py.File(path, "r+") as f:
        sl = slice(offset, offset + size)
        for kind, array in images.items():
            f[f"images/{kind}"][sl] = array
        f["label"][sl] = labels
        f["pmt/s1_area_pe"][sl] = s1_pmt_area_pe
        f["pmt/s2_area_pe"][sl] = s2_pmt_area_pe
        write_columns(f, table, offset, int(f.attrs["n_rows"]))
        f.flush()  # the data is on disk before the chunk is marked done
        if "chunk_digest" in f:
            f["chunk_digest"][chunk] = chunk_digest(images, labels, s1_pmt_area_pe,
                                                    s2_pmt_area_pe)
        f.attrs["chunks_done"] = chunk + 1
        f.flush()


def build(path: str | Path, config: ImageDatasetConfig | InstructionDatasetConfig,
          detector: Detector, parameter: str,
          write_chunks: Callable[[Path, int, float], None]) -> Path:
    """Create or resume the dataset file of ``config`` at ``path`` and fill it.

    A new file is refused first when its images cannot be drawn (the ``hit`` images'
    coverage matrices; the one-line error names ``shapes``) or its size cannot fit
    (:func:`size_estimate`; the error names ``parameter``); an existing one must pass
    :func:`resume_point`.
    ``write_chunks(path, done, disk_bytes)`` then writes the chunks from ``done`` on
    (``disk_bytes``: the file estimate, for the first write's free-space check). A file
    this call created is removed when it fails before its first chunk is done.
    """
    from wimpsift.detectors.pmt_arrays import pmt_arrays

    path = check_writable(path, "output")
    record = provenance(config, config.seed, "images")
    record["detector"] = detector.model_dump(mode="json")
    record["config_hash"] = config_hash({"config": record["config"], "detector": record["detector"]})
    n_pmts = pmt_arrays(detector).n_pmts
    disk_bytes, memory_bytes = size_estimate(config, n_pmts)
    created = not path.exists()
    if created:
        check_resources("shapes", memory_bytes=render_bytes(config, pmt_arrays(detector)))
        check_resources(parameter, disk_bytes=disk_bytes, memory_bytes=memory_bytes,
                        where=path.parent)
        create(path, config, record, n_pmts)
        done = 0
    else:
        done = resume_point(path, record, config.kinds)
    try:
        write_chunks(path, done, disk_bytes)
    except BaseException:
        if created:
            _remove_if_unfinished(path)
        raise
    return path


def _remove_if_unfinished(path: Path) -> None:
    """Remove a dataset file when no chunk of it finished (no empty dataset is left)."""
    try:
        finished = read_record(path)["_chunks_done"]
    except DataError:
        finished = 0
    if finished == 0:
        path.unlink(missing_ok=True)


def open_checked(path: str | Path, kind: str) -> tuple[Path, dict, int]:
    """(path, provenance record, rows of completed chunks) of a dataset holding ``kind``
    images and at least one finished chunk; a one-line error naming what is wrong
    otherwise."""
    path = Path(path)
    if kind not in ALL_IMAGE_KINDS:
        raise bad_value("kind", kind, f"one of {', '.join(ALL_IMAGE_KINDS)}")
    if path.is_dir():
        inside = min(path.glob("*.h5"), default=path / "images.h5")
        raise DataError(f"dataset: {str(path)!r} is a folder; expected an images file "
                        f"such as {str(inside)!r}")
    if not path.is_file():
        raise DataError(f"dataset: {str(path)!r} does not exist")
    record = read_record(path)
    if kind not in record["_kinds"]:
        raise DataError(f"dataset: {str(path)!r} has no {kind!r} images "
                        f"(it has {', '.join(record['_kinds'])})")
    if record["_chunks_done"] == 0:  # interrupted before its first chunk: no rows, no table
        raise DataError(f"dataset: {str(path)!r} holds no finished chunk (its build was "
                        "interrupted); run `wimpsift images` again with the same settings "
                        "to finish it")
    stored = record["config"]
    per_chunk = rows_per_chunk(stored)
    n_chunks = math.ceil(n_rows(stored) / per_chunk)
    n_done = min(record["_chunks_done"] * per_chunk, record["_n_rows"])
    if record["_chunks_done"] >= n_chunks:
        n_done = record["_n_rows"]
    return path, record, n_done
