"""Quanta from NEST: numbers of scintillation photons and ionisation electrons per
recoil, and optionally the emission time of every photon (singlet/triplet).

Uses nestpy's vectorised ``runNESTvec`` at the detector's drift field. NEST also
computes its own S1/S2 for the NEST detector object; only the quanta and photon times
are used here, and wimpsift applies its own detector response (``wimpsift.response``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.errors import bad_value
from wimpsift.progress import CONSOLE_LOCK, set_captured_stderr, write_line

_INTERACTIONS = {"er": "beta", "nr": "NR", "gamma": "gammaRay"}


@dataclass
class Quanta:
    """Per-event quanta: photons and electrons produced, and photon emission times."""

    n_photons: np.ndarray
    n_electrons: np.ndarray
    photon_times_ns: list[np.ndarray] | None = None


_RELAYED: set[str] = set()
_CAPTURE_LOCK = threading.RLock()
_capture_depth = 0


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """NEST prints notes on the C stdout and stderr ("m5 is slightly energy dependent ...").
    Keep stdout clean for --json output and keep progress bars whole: capture both C
    streams in a temporary file, then write each distinct line once per process, whole,
    to stderr through tqdm (which redraws an active bar below it). While the streams
    point at the file, :data:`wimpsift.progress.CONSOLE_LOCK` is held: a progress line
    from another thread waits instead of landing in the capture (where it would come out
    as ``nestpy: [lux 63 s] still in …``); a heartbeat, which must not wait for a long
    call, writes to the real stderr registered with
    :func:`wimpsift.progress.set_captured_stderr`.

    The file descriptors are swapped once for all nested or concurrent users (threads of
    a Dask worker, a chunk loop): an inner block runs inside the outer capture, and the
    outer one restores them, so no caller finds its streams pointing elsewhere."""
    global _capture_depth
    try:
        fds = (sys.stdout.fileno(), sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        yield
        return
    with _CAPTURE_LOCK:
        _capture_depth += 1
        outer = _capture_depth == 1
    if not outer:
        try:
            yield
        finally:
            with _CAPTURE_LOCK:
                _capture_depth -= 1
        return
    CONSOLE_LOCK.acquire()  # no progress line from another thread may land in the capture
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(fd) for fd in fds]
    except BaseException:
        CONSOLE_LOCK.release()
        raise
    try:
        with tempfile.TemporaryFile(mode="w+b") as captured:
            try:
                for fd in fds:
                    os.dup2(captured.fileno(), fd)
                set_captured_stderr(saved[1])  # a heartbeat writes past the capture
                yield
            finally:
                set_captured_stderr(None)
                with contextlib.suppress(Exception):
                    libc_fflush()
                for fd, copy in zip(fds, saved, strict=True):
                    os.dup2(copy, fd)
                    os.close(copy)
                captured.seek(0)
                text = captured.read().decode(errors="replace")
    finally:
        CONSOLE_LOCK.release()
        with _CAPTURE_LOCK:
            _capture_depth -= 1
    for line in (line.strip() for line in text.splitlines()):
        if line and line not in _RELAYED:
            _RELAYED.add(line)
            write_line(f"nestpy: {line}")


def libc_fflush() -> None:
    """Flush C stdio buffers so captured NEST output reaches the file before it is read."""
    import ctypes

    ctypes.CDLL(None).fflush(None)


@lru_cache(maxsize=8)
def _nest_detector(
    drift_field_v_cm: float,
    density_g_cm3: float,
    radius_cm: float,
    length_cm: float,
    drift_velocity_mm_us: float,
    g1: float,
    p_dphe: float,
):
    import nestpy

    from wimpsift.microphysics.liquid import nest_temperature_k

    det = nestpy.detectors.VDetector()
    det.set_T_Kelvin(nest_temperature_k(density_g_cm3))  # NEST's yields at this density
    det.set_g1(g1 / (1 + p_dphe))
    det.set_P_dphe(p_dphe)
    det.set_radius(radius_cm * 10)
    det.set_radmax(radius_cm * 10)
    det.set_TopDrift(length_cm * 10)
    det.set_cathode(0.0)
    det.set_gate(length_cm * 10)
    det.set_anode(length_cm * 10 + 5.0)
    det.set_dt_min(0.0)
    det.set_dt_max(length_cm * 10 / drift_velocity_mm_us)
    return det


def nest_detector(detector: Detector):
    """A nestpy VDetector carrying the geometry, g1, field and liquid density of a
    wimpsift detector (the density through the temperature, :mod:`~wimpsift.microphysics.liquid`)."""
    return _nest_detector(
        detector.drift.drift_field_v_cm,
        detector.geometry.liquid_density_g_cm3,
        detector.geometry.tpc_radius_cm,
        detector.geometry.tpc_length_cm,
        detector.drift.drift_velocity_mm_us,
        detector.light.g1_pe_per_photon,
        detector.light.double_pe_probability,
    )


def nest_quanta(
    energy_kev: np.ndarray,
    recoil_type: str,
    z_cm: np.ndarray,
    detector: Detector,
    seed: int,
    photon_times: bool = False,
) -> Quanta:
    """Photons and electrons for recoils of one type (``'er'``, ``'nr'`` or ``'gamma'``).

    ``z_cm`` is the depth below the gate (negative), used by NEST only for its
    own position-dependent bookkeeping; the field is the detector's drift field.
    ``seed`` seeds NEST's generator, so the same seed gives the same quanta.
    """
    import nestpy

    if recoil_type not in _INTERACTIONS:
        raise bad_value("recoil_type", recoil_type, f"one of {sorted(_INTERACTIONS)}")
    energy_kev = np.ascontiguousarray(energy_kev, dtype=float)
    n = energy_kev.size
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Quanta(empty, empty.copy(), [] if photon_times else None)
    positions = np.zeros((n, 3))
    positions[:, 2] = (detector.geometry.tpc_length_cm + np.asarray(z_cm, dtype=float)) * 10.0
    interaction = getattr(nestpy.interactions, _INTERACTIONS[recoil_type])
    with _stdout_to_stderr():
        result = nestpy.array.runNESTvec(
            nest_detector(detector),
            interaction,
            energy_kev,
            positions,
            inField=detector.drift.drift_field_v_cm,
            seed=int(seed) % (2**31 - 1),
            calculate_times=photon_times,
        )
    n_ph = np.clip(np.asarray(result["n_photons"], dtype=np.int64), 0, None)
    n_el = np.clip(np.asarray(result["n_electrons"], dtype=np.int64), 0, None)
    times = None
    if photon_times:
        import awkward as ak

        flat = ak.to_numpy(ak.flatten(result["s1_photon_times"])).astype(float)
        counts = ak.to_numpy(ak.num(result["s1_photon_times"]))
        times = np.split(flat, np.cumsum(counts)[:-1])
    return Quanta(n_ph, n_el, times)
