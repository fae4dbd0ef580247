"""Progress of a long command: a stage overview at the start, one line when each stage
starts and ends (elapsed time and an estimate of what remains), and a heartbeat line
whenever nothing was printed for ``heartbeat_s`` seconds.

The estimate starts from each stage's nominal duration and is rescaled, after every
finished stage, by how much longer or shorter the finished stages took than nominal. A
stage made of units of work (the grid search's trainings) says how many are done
(:meth:`StagePlan.units`): units done before this run (found in a cache, or the part of
one continued from a checkpoint) shrink its share of the nominal time. Where the stage
can also say how long its rest takes (the grid search counts its rounds of trainings
from their measured fit times, :mod:`wimpsift.training.cost`), that replaces its
nominal share at once and tells the later stages how fast the machine is; and a later
stage whose time can be computed from what was measured (the final models' from the
grid's trainings) is given it (:meth:`StagePlan.expect`) instead of its rescaled nominal
time. (The search's pace, its time so far per training, used to take over after the
first round: after a restart it held the time one worker waited for the other at a
stage's end, and made a paper-scale run's rest 17-24 % too long; its final models,
rescaled by that pace though they train 30 of the grid's 60 epochs, were announced at
34.3 min for 21.8.)
Plans nest (``wimpsift run`` runs both reproductions, each with its own plan); one
heartbeat thread, owned by the outermost plan, names the innermost running stage.

Lines go to stderr through ``tqdm.write`` so an active progress bar is redrawn below
them instead of being broken, under :data:`wimpsift.progress.CONSOLE_LOCK` so that no
line lands in a capture of nestpy's C output; a heartbeat due during a capture writes
past it, to the real stderr. A C call that holds the GIL (nestpy's photon-timed
``runNESTvec`` chunks take several seconds) delays the heartbeat by its length, so the
default ``heartbeat_s`` of 20 s leaves 10 s of such a call within a 30 s silence. Loops inside a stage (toys,
fits, training epochs) report through ``plan.progress`` (:mod:`wimpsift.progress`).

To see silence, the outermost plan wraps ``sys.stdout``
and ``sys.stderr`` in proxies that note the time of every write (tqdm bars write
through them too); they are restored when the plan ends.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from wimpsift.progress import CONSOLE_LOCK, ProgressLines, write_past_capture
from wimpsift.progress import duration as _duration

_ACTIVE: list[StagePlan] = []
_LOCK = threading.Lock()


class _WriteClock:
    """A text stream proxy that records when it was last written to."""

    def __init__(self, stream: TextIO, plan: StagePlan):
        self._stream, self._plan = stream, plan

    def write(self, text: str) -> int:
        if text:
            self._plan.last_output = time.monotonic()
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


#: nominal seconds a finished stage needs to rescale the estimate of the rest
MIN_SCALING_S = 30.0

class StagePlan:
    """Named stages with nominal durations in seconds, run in order.

    >>> with StagePlan("run", [("simulation", 60), ("report", 5)]) as plan:  # doctest: +SKIP
    ...     with plan.stage("simulation"):
    ...         ...
    """

    def __init__(self, name: str, stages: list[tuple[str, float]], heartbeat_s: float = 20.0,
                 enabled: bool = True):
        self.name = name
        self.nominal = dict(stages)
        self.order = [s for s, _ in stages]
        self.heartbeat_s = heartbeat_s
        self.enabled = enabled
        self.done: dict[str, float] = {}
        #: per stage that reports them: (units done, units in all, units done before this run)
        self.work: dict[str, tuple[int, int, float]] = {}
        self.current: str | None = None
        #: per stage that reports it: wall seconds its units not finished need
        self.left_s: dict[str, float] = {}
        #: per stage not finished: seconds computed from measurements (:meth:`expect`)
        self.expected: dict[str, float] = {}
        #: when the running stage last reported its units (time.monotonic)
        self.reported_at = 0.0
        self.started = self.stage_started = self.last_output = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: tuple[TextIO, TextIO] | None = None
        #: ``progress(what, done, total)`` for loops inside a stage: lines through ``say``
        self.progress = ProgressLines(self.say)

    # -- output ----------------------------------------------------------------------
    def say(self, message: str, heartbeat: bool = False) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        # not while fds 1 and 2 point at a capture of C output; a heartbeat does not wait
        # for a long capture to end but writes past it, to the real stderr
        if not CONSOLE_LOCK.acquire(timeout=1.0 if heartbeat else -1):
            elapsed = _duration(time.monotonic() - self.started)
            if write_past_capture(f"[{self.name} {elapsed:>7}] {message}"):
                for plan in _ACTIVE:
                    plan.last_output = time.monotonic()
            return
        try:
            elapsed = _duration(time.monotonic() - self.started)
            tqdm.write(f"[{self.name} {elapsed:>7}] {message}", file=sys.stderr)
            for plan in _ACTIVE:
                plan.last_output = time.monotonic()
        finally:
            CONSOLE_LOCK.release()

    def scale(self) -> float:
        """Actual over nominal time of the finished stages that took, and were planned to
        take, at least :data:`MIN_SCALING_S` seconds (1 before any; within 1/4 … 4). A
        stage of a few seconds says nothing about how fast the machine is: the main job's
        4 s simulation used to scale a 16-minute rest by 1/4, and so did a resumed run's
        images stage, served from the cache in a second. A stage that reported units
        (:meth:`units`) counts with the nominal share of the units it did, not of those
        done before this run; the running one counts with the rest it measured against
        its nominal share of the units left (a paper-scale grid search runs for hours, and
        the stages after it should not wait for its end to learn how fast the machine
        is)."""
        actual = {s: self.done[s] for s in self.done}
        nominal = {s: self._worked_nominal(s) for s in self.done}
        if self.current in self.left_s:
            done, total, _ = self.work[self.current]
            actual[self.current] = self.left_s[self.current]
            nominal[self.current] = self.nominal[self.current] * (total - done) / total
        counted = [s for s in actual if nominal[s] >= MIN_SCALING_S and actual[s] >= MIN_SCALING_S]
        counted_nominal = sum(nominal[s] for s in counted)
        if counted_nominal <= 0:
            return 1.0
        return min(4.0, max(0.25, sum(actual[s] for s in counted) / counted_nominal))

    def _worked_nominal(self, stage: str) -> float:
        """Nominal seconds of the work ``stage`` does in this run: all of it, or the share
        of its units not found done."""
        if stage not in self.work:
            return self.nominal[stage]
        _, total, found = self.work[stage]
        return self.nominal[stage] * (total - found) / total

    def units(self, done: int, total: int, found: float = 0.0,
              left_s: float | None = None) -> None:
        """Report the running stage's work: ``done`` of ``total`` units finished, ``found``
        units' worth of them done before this run (found in a cache, or the part of a unit
        continued from a checkpoint). ``left_s``: wall seconds the units not finished
        need from now, where the stage can tell; the stage's rest is then ``left_s`` less
        the time since this report (so that it does not climb between two reports), and
        without it the stage's nominal share of the units left, rescaled as usual."""
        if self.current is None:
            raise ValueError("units: no stage is running")
        if not 0 <= found <= done <= total or total < 1:
            raise ValueError(f"units: got done={done}, total={total}, found={found}, "
                             "expected 0 <= found <= done <= total and total >= 1")
        if left_s is not None and not 0 <= left_s < float("inf"):
            raise ValueError(f"units: got left_s={left_s}, expected a number of seconds >= 0")
        self.reported_at = time.monotonic()
        self.work[self.current] = (done, total, found)
        if left_s is not None:
            self.left_s[self.current] = left_s

    def expect(self, stage: str, seconds: float) -> None:
        """Estimate ``stage``, not finished, at ``seconds`` computed from what this run
        measured, instead of its nominal time rescaled."""
        if stage not in self.nominal or stage in self.done:
            raise ValueError(f"expect: got stage {stage!r}, expected one not finished of "
                             f"{self.order}")
        if not 0 <= seconds < float("inf"):
            raise ValueError(f"expect: got seconds={seconds}, expected a number >= 0")
        self.expected[stage] = seconds

    def _estimate_s(self, stage: str, scale: float) -> float:
        """``stage``'s whole time: computed (:meth:`expect`), else nominal and rescaled."""
        return self.expected.get(stage, self.nominal[stage] * scale)

    def _current_left_s(self, scale: float) -> float:
        """Seconds the running stage still needs (one past its estimate keeps a tenth of
        it)."""
        assert self.current is not None
        now = time.monotonic()
        if self.current in self.left_s:
            left = self.left_s[self.current]
            return max(left - (now - self.reported_at), 0.1 * left)
        estimate = self._estimate_s(self.current, scale)
        if self.current in self.work:
            done, total, _ = self.work[self.current]
            estimate *= (total - done) / total
        return max(estimate - (now - self.stage_started), 0.1 * estimate)

    def remaining_s(self) -> float:
        """The running stage's rest and the later stages' estimates (:meth:`expect`, else
        nominal, rescaled by the finished stages)."""
        scale = self.scale()
        later = sum(self._estimate_s(s, scale) for s in self.order
                    if s not in self.done and s != self.current)
        current = 0.0 if self.current is None else self._current_left_s(scale)
        return max(0.0, later + current)

    def overview(self) -> None:
        total = sum(self.nominal.values())
        self.say(f"{len(self.order)} stages, nominally about {_duration(total)} in all:")
        for i, stage in enumerate(self.order, 1):
            self.say(f"  {i}. {stage} (about {_duration(self.nominal[stage])})")

    # -- context managers ------------------------------------------------------------
    def __enter__(self) -> StagePlan:
        with _LOCK:
            outermost = not _ACTIVE
            _ACTIVE.append(self)
        self.started = self.last_output = time.monotonic()
        if outermost and self.enabled:
            self._saved = (sys.stdout, sys.stderr)
            sys.stdout = _WriteClock(sys.stdout, self)  # type: ignore[assignment]
            sys.stderr = _WriteClock(sys.stderr, self)  # type: ignore[assignment]
            self._thread = threading.Thread(target=self._heartbeat, name=f"{self.name}-heartbeat",
                                            daemon=True)
            self._thread.start()
        self.overview()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved
        with _LOCK:
            _ACTIVE.remove(self)
        if exc[0] is None:
            self.say(f"all {len(self.order)} stages done in {_duration(time.monotonic() - self.started)}")

    @contextmanager
    def stage(self, stage: str) -> Iterator[None]:
        """Run the body as ``stage``: a line when it starts and one when it ends."""
        self.start(stage)
        yield
        self.finish()

    def start(self, stage: str) -> None:
        """Start ``stage`` (finishing the running one, if any)."""
        if stage not in self.nominal:
            raise ValueError(f"stage: got {stage!r}, expected one of {self.order}")
        if self.current is not None:
            self.finish()
        self.current, self.stage_started = stage, time.monotonic()
        self.say(f"stage {self.order.index(stage) + 1}/{len(self.order)} {stage}: started, about "
                 f"{_duration(self.remaining_s())} remaining")

    def finish(self) -> None:
        """End the running stage."""
        stage, took = self.current, time.monotonic() - self.stage_started
        if stage is None:
            return
        self.done[stage] = took
        self.current = None
        self.say(f"stage {self.order.index(stage) + 1}/{len(self.order)} {stage}: done in {_duration(took)}, "
                 f"about {_duration(self.remaining_s())} remaining")

    def _heartbeat(self) -> None:
        while not self._stop.wait(1.0):
            if time.monotonic() - self.last_output < self.heartbeat_s:
                continue
            inner = _ACTIVE[-1] if _ACTIVE else self
            if inner.current is None:
                self.last_output = time.monotonic()
                continue
            in_stage = time.monotonic() - inner.stage_started
            estimate = inner._estimate_s(inner.current, inner.scale())
            outlook = (f"about {_duration(inner.remaining_s())} remaining"
                       if in_stage < estimate or inner.current in inner.work else
                       f"past its estimate of {_duration(estimate)}")
            inner.say(f"  still in {inner.current}: {_duration(in_stage)} so far, {outlook}", heartbeat=True)
