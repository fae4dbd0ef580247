"""Progress lines from inside long loops (toys, fits, training epochs), and the console
lock that keeps them out of captured C output.

A loop reports through a plain callable, ``progress(what, done, total)``: ``done`` of
``total`` units of ``what`` are finished (``done = 0`` when it starts, so the clock of
the estimate starts there). Library functions take such a callable as an
optional ``progress`` argument and call it; they print nothing themselves.
:class:`ProgressLines` turns the calls into lines (count, percentage, elapsed time and
an estimate of what remains), at most one per ``interval_s`` for each ``what`` but
always the first and the last, so a long loop speaks at least every ``interval_s`` plus
the length of one of its steps. :class:`wimpsift.pipelines.stages.StagePlan` owns one
(``plan.progress``) whose lines carry the plan's prefix and reset its heartbeat.

:data:`CONSOLE_LOCK` is held while a C library's console output is captured (file
descriptors 1 and 2 pointing at a file, :mod:`wimpsift.microphysics.quanta`) and while a
progress line is written, so a line written by another thread never lands in the
capture. A heartbeat does not wait for a long capture to end: while one is active the
capturing code registers the real stderr (:func:`set_captured_stderr`) and the heartbeat
writes there directly (:func:`write_past_capture`).

Plain Python, no heavy imports: any layer may use it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

#: ``progress(what, done, total)``
Progress = Callable[[str, int, int], None]

CONSOLE_LOCK = threading.RLock()

#: the real stderr (a duplicate of file descriptor 2) while C output is being captured
_REAL_STDERR: list[int | None] = [None]
_REAL_STDERR_LOCK = threading.Lock()


def set_captured_stderr(fd: int | None) -> None:
    """Register the real stderr while C output is captured (``None`` when it ends; the
    caller closes ``fd`` only after this returns, so no write is in flight then)."""
    with _REAL_STDERR_LOCK:
        _REAL_STDERR[0] = fd


def write_past_capture(line: str) -> bool:
    """Write ``line`` to the real stderr while C output is captured; False when nothing
    is captured (then write through :func:`write_line` instead)."""
    with _REAL_STDERR_LOCK:
        fd = _REAL_STDERR[0]
        if fd is None:
            return False
        try:
            os.write(fd, (line + "\n").encode())
        except OSError:
            return False
        return True


def duration(seconds: float) -> str:
    """A duration for a human: seconds, minutes or hours."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def write_line(line: str) -> None:
    """One line on stderr, whole: through tqdm (an active bar is redrawn below it), never
    into a capture of C output."""
    from tqdm import tqdm

    with CONSOLE_LOCK:
        tqdm.write(line, file=sys.stderr)


class ProgressLines:
    """A :data:`Progress` callable that prints ``"  what: done/total (p %), elapsed,
    about t remaining"`` through ``say`` (stderr by default).

    For each ``what`` the clock starts at its first call (or when ``done`` goes down,
    which starts the count again), and the estimate counts only what was done since: a
    training continued from epoch 21 of 60 is not taken to have done 21 epochs in its
    first seconds. ``clock`` is injectable for tests."""

    def __init__(self, say: Callable[[str], None] | None = None, interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.say = say or write_line
        self.interval_s = interval_s
        self.clock = clock
        # what: (started, last line, done, done when started)
        self._state: dict[str, tuple[float, float, int, int]] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:  # travels to a Dask worker: no lock, fresh counts
        return {"say": self.say, "interval_s": self.interval_s, "clock": self.clock}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def __call__(self, what: str, done: int, total: int) -> None:
        now = self.clock()
        done, total = int(done), max(int(total), 1)
        with self._lock:
            started, last, before, first = self._state.get(what, (now, -float("inf"), -1, done))
            if done < before:
                started, last, first = now, -float("inf"), done
            due = done >= total or before < 0 or done < before or now - last >= self.interval_s
            self._state[what] = (started, now if due else last, done, first)
        if not due:
            return
        elapsed = now - started
        if done == 0:
            self.say(f"  {what}: 0/{total}, started")
            return
        line = f"  {what}: {done}/{total} ({100 * done / total:.0f} %), {duration(elapsed)} elapsed"
        if first < done < total and elapsed > 0:
            line += f", about {duration(elapsed * (total - done) / (done - first))} remaining"
        self.say(line)


def prefixed(progress: Progress | None, prefix: str) -> Progress | None:
    """``progress`` with ``prefix`` put before every ``what`` (None stays None)."""
    if progress is None:
        return None

    def report(what: str, done: int, total: int) -> None:
        progress(f"{prefix}{what}", done, total)

    return report

