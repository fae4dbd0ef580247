"""Provenance records and atomic writes.

Every file wimpsift writes carries a provenance record: package name and version,
the configuration that produced it, the random seed, the installed versions of the
libraries its numbers depend on (:data:`PROVENANCE_PACKAGES`) and a digest of
wimpsift's own source files (:func:`source_digest`), so two outputs made by different
code, or on different nestpy or torch releases, can be told apart even when the package
version and the configuration are the same. No time stamp is stored, so the same seed,
configuration, code and libraries give byte-identical files on the same kind of CPU.

The kind of CPU is recorded too (:func:`cpu_record`): torch, its MKL and oneDNN, and
numpy's OpenBLAS pick their kernels by CPU, so a network trained with the same seed on
an AVX2 and an AVX-512 machine sums in another order and ends elsewhere (measured in
``tests/data/cnn_backgrounds_seeds.README.md``). archspec (Spack's CPU
detection) names the microarchitecture; the record adds the environment variables by
which those libraries are told to use a lower instruction set, where set.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from wimpsift.errors import ConfigError

PROVENANCE_KEY = "wimpsift"
PROVENANCE_PACKAGES = ("wimpsift", "nestpy", "wimprates", "torch", "numpy", "scipy",
                       "scikit-learn", "iminuit", "xe-likelihood")
"""distributions whose versions every provenance record lists: the microphysics, the
spectra, the networks, the numerics, the metrics, the fits and XENON1T's likelihood"""


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


def package_versions(names: tuple[str, ...] = PROVENANCE_PACKAGES) -> dict[str, str]:
    """Installed versions of the distributions ``names`` ("absent" where not installed),
    read from their metadata once per process, so none of them is imported."""
    return dict(_installed_versions(tuple(names)))


@functools.cache
def _installed_versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for name in names:
        try:
            out.append((name, version(name)))
        except PackageNotFoundError:
            out.append((name, "absent"))
    return tuple(out)


def tree_digest(root: str | os.PathLike[str]) -> str:
    """SHA-256 (16 hex digits) of the files under ``root``, byte-code left out, each hashed
    with its path relative to ``root``, in sorted order."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        relative = path.relative_to(root).as_posix()
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def source_digest() -> str:
    """:func:`tree_digest` of the wimpsift package as imported now. Any change to the code,
    a detector definition or a template changes it; the version number need not move."""
    return tree_digest(Path(__file__).resolve().parent)


DISPATCH_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
                      "MKL_CBWR", "OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")
"""environment variables that choose the kernels of torch (its own, oneDNN's, MKL's) and of
numpy's OpenBLAS instead of the CPU's detection"""


@functools.cache
def _microarchitecture() -> tuple[str, str]:
    import archspec.cpu

    return archspec.cpu.host().name, archspec.cpu.brand_string() or "unknown"


def cpu_record() -> dict[str, Any]:
    """The CPU the numbers were computed on: its microarchitecture as archspec names it
    (``x86_64_v4``, ``zen3``, ...), its brand string, and the kernel-choosing variables
    of :data:`DISPATCH_VARIABLES` that are set."""
    name, brand = _microarchitecture()
    return {"microarchitecture": name, "brand": brand,
            "dispatch_environment": {k: os.environ[k] for k in DISPATCH_VARIABLES
                                     if k in os.environ}}


CODE_FIELDS = ("version", "source_sha256", "versions")
"""Provenance fields naming the code and libraries that made an output (records written
before wimpsift recorded the source digest and the libraries lack the last two)."""


def code_differences(record: Mapping[str, Any], other: Mapping[str, Any]) -> list[str]:
    """The :data:`CODE_FIELDS` in which two provenance records differ (none: same code)."""
    return [field for field in CODE_FIELDS if record.get(field) != other.get(field)]


def provenance(config: Any, seed: int | None, stage: str) -> dict[str, Any]:
    """Return the provenance record of one output: stage, config, seed, versions."""
    from wimpsift import __version__

    record = {
        "package": "wimpsift",
        "version": __version__,
        "source_sha256": source_digest(),
        "versions": package_versions(),
        "cpu": cpu_record(),
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


def check_writable(path: str | os.PathLike[str], parameter: str = "output", *,
                   folder: bool = False, suffixes: tuple[str, ...] = ()) -> Path:
    """Check, before any work, that ``path`` can be written; creates nothing.

    A file output must not name a folder (an existing one or a name ending in ``/``),
    must end in one of ``suffixes`` when given (the format written) and its folder must
    exist. A folder output must not be an existing file; its missing parents are made
    later. In both cases the nearest existing folder must accept a new file (tried with
    a probe file, removed at once: this also catches ``/proc`` and read-only mounts,
    where permission bits say yes). Raises a one-line :class:`ConfigError`.
    """
    text = os.fspath(path)
    path = Path(path)
    if not text:
        raise ConfigError(f"{parameter}: got an empty path")
    if folder:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{parameter}: {text!r} is a file, expected a folder")
        start = path
    else:
        if text.endswith(("/", os.sep)) or path.is_dir():
            raise ConfigError(f"{parameter}: {text!r} is a folder, expected a file path")
        if suffixes and path.suffix.lower() not in suffixes:
            raise ConfigError(f"{parameter}: {text!r} does not end in {' or '.join(suffixes)} "
                              "(the format written)")
        start = path.parent
    nearest = Path(os.path.abspath(start))
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    if not nearest.is_dir():
        raise ConfigError(f"{parameter}: {str(nearest)!r} is a file, so {text!r} cannot be "
                          "created inside it")
    if not folder and nearest != Path(os.path.abspath(start)):
        raise ConfigError(f"{parameter}: directory {str(path.parent)!r} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=".wimpsift-probe-", dir=nearest)
    except OSError as err:
        raise ConfigError(f"{parameter}: cannot write in {str(nearest)!r} "
                          f"({err.strerror or err})") from None
    os.close(fd)
    os.unlink(probe)
    return path


def check_resources(parameter: str, *, disk_bytes: float = 0.0, memory_bytes: float = 0.0,
                    where: str | os.PathLike[str] = ".") -> None:
    """Refuse, before starting, a request whose estimated size cannot fit.

    ``disk_bytes`` is compared with the free space of the file system holding
    ``where`` (its nearest existing folder), ``memory_bytes`` with the memory available
    now. Callers pass lower-bound estimates, so only requests that cannot possibly fit
    are refused. Raises a one-line :class:`ConfigError` naming ``parameter``.
    """
    import shutil

    if disk_bytes > 0:
        folder = Path(os.path.abspath(where))
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        free = shutil.disk_usage(folder).free
        if disk_bytes > free:
            raise ConfigError(f"{parameter}: needs at least {_size(disk_bytes)} of disk, "
                              f"{str(folder)!r} has {_size(free)} free")
    if memory_bytes > 0:
        import psutil

        available = psutil.virtual_memory().available
        if memory_bytes > available:
            raise ConfigError(f"{parameter}: needs at least {_size(memory_bytes)} of memory, "
                              f"{_size(available)} is available")


def _size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n_bytes) < 1000 or unit == "PB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    raise AssertionError  # unreachable


@contextlib.contextmanager
def output_lock(path: str | os.PathLike[str], parameter: str = "--output") -> Iterator[Path]:
    """Hold an exclusive lock on the output ``path`` for the duration of a run.

    A second run writing the same output (file or folder) fails at once with a one-line
    :class:`ConfigError` naming the lock file, instead of the two corrupting each other's
    work. The lock file lives in the temporary folder (``wimpsift-locks-<uid>``), keyed
    by the resolved output path, so nothing is created next to the output before the
    run's own checks pass; it is an ``flock`` lock, released by the kernel if the
    process dies, so no stale lock survives a crash.
    """
    import fcntl

    target = Path(os.path.abspath(path)).resolve()
    folder = Path(tempfile.gettempdir()) / f"wimpsift-locks-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ConfigError(f"{parameter}: lock folder {str(folder)!r} is not a folder owned "
                          "by this user; remove it")
    lock = folder / f"{hashlib.sha256(str(target).encode()).hexdigest()[:20]}.lock"
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"{parameter}: another wimpsift run is writing {str(target)!r} "
                              f"(lock file {str(lock)!r}); wait for it to finish") from None
        try:  # the holder before us may have removed the file: lock the current one
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {target}\n".encode())
        yield lock
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        os.close(fd)


@contextlib.contextmanager
def guarded_output(path: str | os.PathLike[str], parameter: str = "--output", *,
                   folder: bool = False, suffixes: tuple[str, ...] = ()) -> Iterator[Path]:
    """Check ``path`` (:func:`check_writable`), lock it (:func:`output_lock`) and run.

    If the run fails, folders it created that are still empty are removed again, so a
    refused request leaves nothing behind (a failed run's partial work, kept for
    resuming, is not empty and stays).
    """
    path = check_writable(path, parameter, folder=folder, suffixes=suffixes)
    top = Path(os.path.abspath(path if folder else path.parent))
    missing = []
    while not top.exists() and top != top.parent:
        missing.append(top)
        top = top.parent
    with output_lock(path, parameter):
        try:
            yield path
        except BaseException:
            for created in missing:  # deepest first
                with contextlib.suppress(OSError):
                    created.rmdir()  # only succeeds when empty
            raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed, so no partial output is left.
    """
    path = Path(path)
    tmp_path = _temporary_path(path)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _temporary_path(path: Path) -> Path:
    """A new empty file next to ``path`` with a hidden, unique name."""
    # created 0666 minus the process umask, as a plain open() would (mkstemp's 0600 would
    # need the umask, and reading it means setting it: a process-wide toggle)
    while True:
        tmp_path = (path.parent or Path(".")) / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp_path
        except FileExistsError:
            continue


def provenance_path(path: str | os.PathLike[str]) -> Path:
    """Where the provenance of an output whose format has no place for it (an instruction
    CSV, a pyhf workspace) is kept: beside it, as ``NAME.provenance.json``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.provenance.json")


@contextlib.contextmanager
def atomic_path_with_provenance(path: str | os.PathLike[str],
                                record: Mapping[str, Any]) -> Iterator[Path]:
    """:func:`atomic_path` for ``path``, with ``record`` written beside it
    (:func:`provenance_path`): both new files appear, or neither. The record is put in
    place first; should the file then fail to replace its old self, the new record is
    removed again (it would describe a file that is not there)."""
    path = Path(path)
    sidecar = provenance_path(path)
    sidecar_tmp, tmp = _temporary_path(sidecar), _temporary_path(path)
    try:
        sidecar_tmp.write_text(json.dumps(_jsonable(record), indent=2) + "\n")
        yield tmp
        os.replace(sidecar_tmp, sidecar)
        try:
            os.replace(tmp, path)
        except BaseException:
            sidecar.unlink(missing_ok=True)
            raise
    except BaseException:
        for leftover in (sidecar_tmp, tmp):
            leftover.unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` as indented JSON atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(payload), indent=2, sort_keys=False) + "\n")
    return path
