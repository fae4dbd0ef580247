"""One on-disk cache with lineage for every stage that can resume.

The key of an entry hashes (SHA-256, 20 hex digits) its *lineage*, as strax does:

- the stage name (``"stats.toy_chunk"``, ``"cnn.grid_trial"``, ...),
- the stage version (an integer the stage bumps when its output changes meaning),
- the validated configuration of that piece of work (JSON-able: a pydantic model,
  dicts, lists, numbers; see :func:`wimpsift.provenance.config_hash`),
- the versions of every distribution a provenance record lists
  (:data:`wimpsift.provenance.PROVENANCE_PACKAGES`: wimpsift, nestpy, wimprates, torch,
  numpy, SciPy, scikit-learn, iminuit, xe-likelihood), read from the installed
  distributions' metadata, so computing a key imports none of them. A cached limit or
  fit made with another iminuit or SciPy is made again, rather than handed back under a
  provenance record that lists the versions installed now.

An entry is a folder ``<root>/<stage>/<key>/`` holding ``lineage.json`` (the hashed
record, readable by ``wimpsift cache ls``), ``result.json`` (the JSON part of the
result) and, when the result holds arrays, ``arrays.npz`` (loaded with
``allow_pickle=False``). Nothing in an entry can execute code on loading. The folder is
written under a temporary name and renamed into place, so a crash leaves no partial
entry; a damaged entry is reported as missing and recomputed.

A result is a ``dict`` with string keys whose values are numpy arrays (stored in
``arrays.npz``) or JSON-able values (stored in ``result.json``). Stages that keep a
larger artefact (the grid search's training states) write it into the entry through
``files`` when storing.

Stages whose output is one file built by a resumable writer (a simulation's Parquet
file, an image dataset's HDF5 file) use :meth:`Cache.file`: the writer works in
``<root>/<stage>/.<key>.work/``, which an interruption leaves in place so the next call
resumes there, and the finished file is moved into the entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wimpsift.errors import ConfigError
from wimpsift.provenance import PROVENANCE_PACKAGES, _jsonable, package_versions

LINEAGE_PACKAGES = PROVENANCE_PACKAGES
LINEAGE_FILE = "lineage.json"
RESULT_FILE = "result.json"
ARRAYS_FILE = "arrays.npz"
ARRAYS_KEY = "__arrays__"  # names of the result's arrays, kept in result.json


def check_stage(stage: str) -> str:
    """A stage name is one folder name: not empty, no '/', not hidden."""
    if not stage or "/" in stage or "\\" in stage or stage.startswith("."):
        raise ConfigError(f"stage: got {stage!r}, expected a name such as 'stats.toy_chunk'")
    return stage


def lineage(stage: str, stage_version: int, config: Any) -> dict[str, Any]:
    """The record an entry's key hashes: stage, stage version, configuration, versions."""
    check_stage(stage)
    return {"stage": stage, "stage_version": int(stage_version), "config": _jsonable(config),
            "versions": package_versions(LINEAGE_PACKAGES)}


def array_digest(*arrays: Any) -> str:
    """SHA-256 (20 hex digits) of arrays' dtypes, shapes and bytes (None counts as an
    empty array): the data part of a key, for stages whose work reads large arrays."""
    h = hashlib.sha256()
    for part in arrays:
        arr = np.ascontiguousarray(np.asarray([] if part is None else part))
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.view(np.uint8).reshape(-1).data)
    return h.hexdigest()[:20]


def lineage_key(record: Mapping[str, Any]) -> str:
    """SHA-256 (20 hex digits) of a lineage record in canonical JSON."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class CacheEntry:
    """One result's place in the cache."""

    root: Path
    stage: str
    key: str
    record: dict[str, Any]

    @property
    def path(self) -> Path:
        return self.root / self.stage / self.key

    @property
    def work(self) -> Path:
        """The entry's work folder, ``<root>/<stage>/.<key>.work/``: where a resumable
        computation keeps its partial output until the entry is stored."""
        return self.path.parent / f".{self.key}.work"

    def exists(self) -> bool:
        return (self.path / RESULT_FILE).is_file()

    def load(self, keys: Collection[str] = ()) -> dict[str, Any] | None:
        """The stored result, or None when missing or damaged (then it is recomputed):
        unreadable, or without one of ``keys`` (those its reader takes from it)."""
        try:
            result = json.loads((self.path / RESULT_FILE).read_text())
            names = result.pop(ARRAYS_KEY, [])
            if names:
                with np.load(self.path / ARRAYS_FILE, allow_pickle=False) as data:
                    result.update({name: data[name] for name in names})
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            return None  # missing or damaged: recomputed
        if not all(key in result for key in keys):
            return None  # damaged: recomputed
        return result

    def store(self, result: Mapping[str, Any],
              files: Mapping[str, Callable[[Path], None]] | None = None) -> None:
        """Write ``result`` (and each ``files[name](path)`` writer) atomically."""
        arrays = {k: np.asarray(v) for k, v in result.items() if isinstance(v, np.ndarray)}
        bad = sorted(k for k, v in arrays.items() if v.dtype.hasobject)
        if bad:
            raise ValueError(f"result: arrays {bad} hold Python objects, expected numbers "
                             "(the cache stores no pickles)")
        rest = {k: v for k, v in result.items() if k not in arrays}
        if ARRAYS_KEY in rest:
            raise ValueError(f"result: {ARRAYS_KEY!r} is reserved by the cache")
        if arrays:
            rest[ARRAYS_KEY] = sorted(arrays)
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.key}.", suffix=".tmp", dir=folder))
        try:
            (tmp / LINEAGE_FILE).write_text(json.dumps(self.record, indent=1, sort_keys=True) + "\n")
            (tmp / RESULT_FILE).write_text(json.dumps(_jsonable(rest), sort_keys=True) + "\n")
            if arrays:
                with open(tmp / ARRAYS_FILE, "wb") as fh:
                    np.savez(fh, **arrays)
            for name, write in (files or {}).items():
                write(tmp / name)
            if self.path.exists():  # a damaged or concurrent entry: replace it
                shutil.rmtree(self.path, ignore_errors=True)
            os.rename(tmp, self.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@dataclass(frozen=True)
class CachedStage:
    """Summary of one stage's entries (for ``wimpsift cache ls``)."""

    stage: str
    n_entries: int
    size_bytes: int


class Cache:
    """The cache under ``root``: entries keyed by their lineage."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def entry(self, stage: str, stage_version: int, config: Any) -> CacheEntry:
        record = lineage(stage, stage_version, config)
        return CacheEntry(self.root, stage, lineage_key(record), record)

    def file(self, stage: str, stage_version: int, config: Any, name: str,
             build: Callable[[Path], Any]) -> Path:
        """The file ``name`` of the entry for ``config``, built by ``build(path)`` if missing.

        ``build`` writes the file at ``path`` inside the entry's work folder (kept across
        interruptions, so a resumable writer resumes); once it returns, the file is
        moved into the entry, whose ``result.json`` records the file's name and size.
        """
        if not name or "/" in name or name.startswith(".") or name in (
                LINEAGE_FILE, RESULT_FILE, ARRAYS_FILE):
            raise ValueError(f"name: got {name!r}, expected a plain file name")
        entry = self.entry(stage, stage_version, config)
        found = entry.load()
        if found is not None and found.get("file") == name and (entry.path / name).is_file():
            return entry.path / name
        work = entry.work
        work.mkdir(parents=True, exist_ok=True)
        build(work / name)
        built = work / name
        if not built.is_file():
            raise RuntimeError(f"{stage}: the build wrote no {name!r}")
        entry.store({"file": name, "size_bytes": built.stat().st_size},
                    files={name: lambda dst: os.replace(built, dst)})
        shutil.rmtree(work, ignore_errors=True)
        return entry.path / name

    def _stage_folders(self, stage: str | None) -> list[Path]:
        if stage:
            return [self.root / check_stage(stage)]
        return sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def entries(self, stage: str | None = None) -> Iterator[CacheEntry]:
        """Every complete entry (of one stage, or of all)."""
        if not self.root.is_dir():
            return
        for folder in self._stage_folders(stage):
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.name.startswith(".") or not (path / RESULT_FILE).is_file():
                    continue
                with contextlib.suppress(OSError, ValueError):
                    record = json.loads((path / LINEAGE_FILE).read_text())
                    yield CacheEntry(self.root, folder.name, path.name, record)

    def summary(self) -> list[CachedStage]:
        """Entries and bytes per stage."""
        out: dict[str, list[int]] = {}
        for e in self.entries():
            size = sum(f.stat().st_size for f in e.path.rglob("*") if f.is_file())
            counts = out.setdefault(e.stage, [0, 0])
            counts[0] += 1
            counts[1] += size
        return [CachedStage(s, n, b) for s, (n, b) in sorted(out.items())]

    def clear(self, stage: str | None = None) -> int:
        """Remove the entries (of one stage, or all) and leftover temporary folders;
        return the number of complete entries removed."""
        n = sum(1 for _ in self.entries(stage))
        if not self.root.is_dir():
            return 0
        for folder in self._stage_folders(stage):
            if folder.is_dir() and _looks_like_stage(folder):
                shutil.rmtree(folder)
        return n


#: how many folders below the one given ``wimpsift cache`` looks for caches (a main job's
#: output keeps its deepest at ``lux/cache/limits_pf_4d/network``)
SEARCH_DEPTH = 4


def caches_in(directory: str | os.PathLike[str]) -> list[Cache]:
    """The caches in ``directory``: itself, and every folder at most :data:`SEARCH_DEPTH`
    below it that holds complete entries (a run's output keeps several: ``cache/``,
    ``search/``, ``data/``, ``lux/cache/limits/network``, ...), in path order."""
    top = Path(directory)
    roots = {top}
    for folder, subfolders, files in os.walk(top):
        here = Path(folder)
        depth = len(here.relative_to(top).parts)
        if LINEAGE_FILE in files and RESULT_FILE in files:  # an entry: <root>/<stage>/<key>
            if depth >= 2 and not here.name.startswith(".") and not here.parent.name.startswith("."):
                roots.add(here.parent.parent)
            subfolders.clear()
        elif depth >= SEARCH_DEPTH + 2:
            subfolders.clear()
        else:
            subfolders[:] = sorted(s for s in subfolders if not _is_scratch(here / s))
    return [Cache(root) for root in sorted(roots)]


def _looks_like_stage(folder: Path) -> bool:
    """Only folders made by this cache are removed by :meth:`Cache.clear`: no files, at
    least one entry (with its lineage record) or one of the cache's own temporary
    (``.<key>.*.tmp``) or work (``.<key>.work``) folders, and nothing else but empty
    folders, so that a wrong directory given to ``wimpsift cache clear`` loses nothing."""
    children = list(folder.iterdir())
    if any(not p.is_dir() for p in children):
        return False
    made = [p for p in children if (p / LINEAGE_FILE).is_file() or _is_scratch(p)]
    return bool(made) and all(p in made or not any(p.iterdir()) for p in children)


def _is_scratch(folder: Path) -> bool:
    name = folder.name
    return name.startswith(".") and (name.endswith(".tmp") or name.endswith(".work"))
