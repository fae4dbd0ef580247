"""glibc allocator settings for training: set once by the application, never by a fit.

Without them every training batch's activations (tens of MB) are mapped and unmapped,
and page faults cost as much time as the convolutions (measured on 75×75 images:
266 → 460 images/s, system time 4.9 s → 0.7 s). The thresholds alone are not enough in
a thread other than the main one, which is where a Dask worker runs its tasks: such a
thread allocates from its own arena, made of 64 MB heaps, so a batch's activations
larger than that (from batch 200 on 75×75 images) are mapped and unmapped again
whatever the thresholds. One arena for the whole process (``M_ARENA_MAX`` = 1) keeps
them in the main heap: measured in a thread at batch 200, 467 → 842 images/s and system
time 2.9 s → 0.3 s per 3,000 images, batch 100 unchanged
(``benchmarks/bench_allocator.py`` compares both in one run). They are process-wide
settings, so the library never changes them behind the caller's back: the command line
calls :func:`tune_allocator` once at start-up, and :class:`wimpsift.execution.Executor`'s
local worker processes get the same values through ``ALLOCATOR_ENV`` (glibc reads
these variables when a process starts).
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -2, -3, -8
MMAP_THRESHOLD_BYTES = 1 << 30
TRIM_THRESHOLD_BYTES = 1 << 30
TOP_PAD_BYTES = 1 << 26
ARENA_MAX = 1
ALLOCATOR_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD_BYTES),
    "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD_BYTES),
    "MALLOC_TOP_PAD_": str(TOP_PAD_BYTES),
    "MALLOC_ARENA_MAX": str(ARENA_MAX),
}
_TUNED = False


def tune_allocator() -> bool:
    """Ask glibc to keep freed memory instead of unmapping it, in one arena (this
    process, once; threads started before keep the arenas they have).

    Returns True when the setting is in place (Linux with glibc), False otherwise.
    """
    global _TUNED
    if _TUNED:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = (libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
              and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
              and libc.mallopt(_M_TOP_PAD, TOP_PAD_BYTES) == 1
              and libc.mallopt(_M_ARENA_MAX, ARENA_MAX) == 1)
    except (OSError, AttributeError):
        return False
    _TUNED = ok
    return ok
