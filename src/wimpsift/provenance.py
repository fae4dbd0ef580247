"""Provenance records and atomic writes.

Every file wimpsift writes carries a provenance record: package name and version,
the configuration that produced it and the random seed. No time stamp is stored, so
the same seed and configuration give byte-identical files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from wimpsift.errors import ConfigError

PROVENANCE_KEY = "wimpsift"


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return obj.item()
    return obj


def provenance(config: Any, seed: int | None, stage: str) -> dict[str, Any]:
    """Return the provenance record of one output: stage, config, seed, versions."""
    from wimpsift import __version__

    record = {
        "package": "wimpsift",
        "version": __version__,
        "stage": stage,
        "seed": seed,
        "config": _jsonable(config),
    }
    record["config_hash"] = config_hash(record["config"])
    return record


def config_hash(config: Any) -> str:
    """Stable short hash of a JSON-able configuration (used to guard resumes)."""
    text = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_writable(path: str | os.PathLike[str], parameter: str = "output") -> Path:
    """Fail early, with a clear message, when ``path`` cannot be written."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.exists() and path.is_dir():
        raise ConfigError(f"{parameter}: {str(path)!r} is a directory, expected a file path")
    if not parent.exists():
        raise ConfigError(f"{parameter}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{parameter}: directory {str(parent)!r} is not writable")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed, so no partial output is left.
    """
    path = Path(path)
    # created 0666 minus the process umask, as a plain open() would (mkstemp's 0600 would
    # need the umask, and reading it means setting it: a process-wide toggle)
    while True:
        tmp_path = (path.parent or Path(".")) / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_json(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` as indented JSON atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(payload), indent=2, sort_keys=False) + "\n")
    return path
