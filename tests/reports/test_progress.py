"""Progress output: stage overview, per-stage lines with remaining time, heartbeat in
silence, and nestpy's console notes kept off stdout and out of progress bars."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from wimpsift.pipelines.stages import StagePlan
from wimpsift.progress import ProgressLines

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_overview_stage_lines_and_heartbeat(capsys):
    stdout = sys.stdout
    with StagePlan("job", [("first", 0.2), ("second", 0.2)], heartbeat_s=0.3) as plan:
        with plan.stage("first"):
            time.sleep(0.1)
        with plan.stage("second"):
            time.sleep(1.6)  # silent: the heartbeat must speak
    assert sys.stdout is stdout  # the write-clock proxies are removed
    err = capsys.readouterr().err.splitlines()
    assert "2 stages, nominally about 0 s in all:" in err[0]
    assert "1. first" in err[1] and "2. second" in err[2]
    assert any("stage 1/2 first: done in" in line for line in err)
    beats = [line for line in err if "still in second" in line]
    assert beats and "past its estimate" in beats[-1]
    assert "all 2 stages done" in err[-1]


def test_remaining_estimate_rescales_by_finished_stages():
    plan = StagePlan("job", [("a", 40.0), ("b", 30.0)], enabled=False)
    assert plan.remaining_s() == 70.0
    plan.done["a"] = 80.0  # twice as slow as nominal
    assert plan.scale() == 2.0 and plan.remaining_s() == 60.0


def test_a_short_stage_does_not_rescale_the_rest():
    """A stage of a few nominal seconds finishing fast (a cache, an instant set-up) must
    not shrink the estimate of a long rest: the main job's 4 s simulation once announced
    4.7 min for a 17.9 min run."""
    plan = StagePlan("job", [("short", 10.0), ("long", 600.0)], enabled=False)
    plan.done["short"] = 1.0
    assert plan.scale() == 1.0 and plan.remaining_s() == 600.0


def test_a_stage_served_from_the_cache_does_not_rescale_the_rest():
    """A resumed run's images stage, planned at minutes, is read from the cache in a
    second: the rest keeps its nominal estimate (it was announced at a quarter of it)."""
    plan = StagePlan("job", [("images", 90.0), ("grid search", 3600.0)], enabled=False)
    plan.done["images"] = 1.5
    assert plan.scale() == 1.0 and plan.remaining_s() == 3600.0
    plan.done["images"] = 45.0  # a real build, twice as fast as nominal, still counts
    assert plan.scale() == 0.5


def test_a_stage_of_units_counts_only_those_not_found_done():
    """A resumed paper-scale grid search: 12 of 42 trainings in the cache. Until it can
    say how long its rest takes, its estimate is the nominal share of the 30 left (it
    announced the whole nominal stage), and when it ends, only the 30 done in this run
    rescale the later stages."""
    plan = StagePlan("job", [("grid", 4200.0), ("final", 600.0)], enabled=False)
    plan.start("grid")
    plan.units(12, 42, found=12)
    assert plan.remaining_s() == pytest.approx(3000.0 + 600.0, abs=1.0)
    plan.units(13, 42, found=12)
    assert plan.remaining_s() == pytest.approx(2900.0 + 600.0, abs=1.0)
    plan.stage_started = time.monotonic() - 6000.0
    plan.units(42, 42, found=12)
    plan.finish()
    # the 30 trainings done here were nominally 3000 s and took 6000: the rest doubles
    assert plan.scale() == pytest.approx(2.0, rel=1e-3)
    assert plan.remaining_s() == pytest.approx(1200.0, rel=1e-3)


def test_a_stage_that_measures_its_rest_replaces_its_nominal_share_at_once():
    """The paper-scale restart of 2026-12-05 (AVX2 machine, two workers): 35 of 42
    trainings done, the search measured 75.7 min of rounds left where its nominal share
    was 36 min. The rest is the measured one, the later stage scales by their ratio, and
    between two trainings the estimate goes down with the time instead of climbing."""
    plan = StagePlan("job", [("grid", 12800.0), ("baselines", 600.0)], enabled=False)
    plan.start("grid")
    plan.units(35, 42, found=34.5, left_s=4544.0)
    nominal_left = 12800.0 * 7 / 42
    assert plan.scale() == pytest.approx(4544.0 / nominal_left, rel=1e-9)
    assert plan.remaining_s() == pytest.approx(4544.0 + 600.0 * 4544.0 / nominal_left, rel=1e-3)
    plan.reported_at -= 300.0
    assert plan.remaining_s() == pytest.approx(4244.0 + 600.0 * 4544.0 / nominal_left, rel=1e-3)
    # past its estimate it keeps a tenth of it rather than nothing
    plan.reported_at -= 10_000.0
    assert plan._current_left_s(1.0) == pytest.approx(454.4, rel=1e-9)
    with pytest.raises(ValueError, match="units: got left_s=-1.0, expected a number of seconds"):
        plan.units(36, 42, found=34.5, left_s=-1.0)


def test_a_stage_computed_from_measurements_is_not_rescaled():
    """The same restart's final models: once the grid's stage 1 chose 30 of 60 epochs,
    their time is computed from the grid's trainings (22.6 min, they took 21.8), not the
    nominal 16.7 min rescaled by the grid (it announced 34.3 min). The stage keeps it
    while it runs."""
    plan = StagePlan("job", [("grid", 12800.0), ("final", 1000.0), ("report", 5.0)],
                     enabled=False)
    plan.start("grid")
    plan.units(35, 42, found=34.5, left_s=4544.0)
    rescaled = plan.remaining_s()
    plan.expect("final", 1359.0)
    assert plan.remaining_s() == pytest.approx(rescaled - 1000.0 * plan.scale() + 1359.0, abs=0.5)
    plan.start("final")
    plan.stage_started -= 600.0
    assert plan._current_left_s(plan.scale()) == pytest.approx(759.0, abs=1.0)
    with pytest.raises(ValueError, match="expect: got stage 'grid', expected one not finished"):
        plan.expect("grid", 10.0)
    with pytest.raises(ValueError, match="expect: got seconds=nan, expected a number >= 0"):
        plan.expect("report", float("nan"))


def test_a_stage_found_done_entirely_leaves_no_time_and_no_scale():
    plan = StagePlan("job", [("grid", 4200.0), ("final", 600.0)], enabled=False)
    plan.start("grid")
    plan.units(42, 42, found=42)
    assert plan.remaining_s() == pytest.approx(600.0, abs=1.0)
    plan.finish()
    assert plan.scale() == 1.0


@pytest.mark.parametrize(("done", "total", "found"),
                         [(5, 4, 0), (2, 4, 3), (0, 0, 0), (-1, 4, 0)])
def test_bad_units_name_the_parameter(done, total, found):
    plan = StagePlan("job", [("grid", 10.0)], enabled=False)
    with pytest.raises(ValueError, match="units: no stage is running"):
        plan.units(1, 4)
    plan.start("grid")
    with pytest.raises(ValueError, match=f"units: got done={done}, total={total}"):
        plan.units(done, total, found)


def test_nestpy_notes_go_to_stderr_once_and_not_into_a_bar():
    code = (
        "import sys\n"
        "from tqdm import tqdm\n"
        "from wimpsift.detectors import load_detector\n"
        "from wimpsift.sources import make_source\n"
        "from wimpsift.response.event_level import simulate_events\n"
        "det = load_detector('lux_2013')\n"
        "for i in tqdm(range(2), file=sys.stderr):\n"
        "    simulate_events(det, make_source(det, 'er'), 300, seed=i)\n"
        "print('clean')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=300, check=True)
    assert result.stdout == "clean\n"
    lines = result.stderr.replace("\r", "\n").splitlines()
    notes = [line for line in lines if "energy dependent" in line]
    assert len(notes) == 1 and notes[0].startswith("nestpy: ")  # on a line of its own, once


def test_progress_lines_at_most_every_interval_and_at_the_end():
    now = [0.0]
    lines: list[tuple[float, str]] = []
    progress = ProgressLines(lambda line: lines.append((now[0], line)), interval_s=10.0,
                             clock=lambda: now[0])
    progress("toy batches", 0, 100)  # the start: the clock starts here
    for done in range(1, 101):  # one step every 3 s, 300 s in all
        now[0] += 3.0
        progress("toy batches", done, 100)
    assert lines[0] == (0.0, "  toy batches: 0/100, started")
    times = [t for t, _ in lines]
    # the start and the last step always; in between never more often than every 10 s and
    # never silent for longer than the interval plus one step
    assert times[-1] == 300.0
    gaps = np.diff(times)
    assert gaps.min() >= 10.0 and gaps.max() <= 10.0 + 3.0
    counts = [int(line.split(": ")[1].split("/")[0]) for _, line in lines]
    assert counts == sorted(counts) and counts[-1] == 100
    # the estimate: 48 of 100 steps done after 144 s leave 144 × 52 / 48 s = 156 s
    half = next(line for _, line in lines if ": 48/100" in line)
    assert half == "  toy batches: 48/100 (48 %), 2.4 min elapsed, about 2.6 min remaining"
    assert lines[-1][1] == "  toy batches: 100/100 (100 %), 5.0 min elapsed"


def test_a_count_continued_from_a_checkpoint_estimates_from_its_own_pace():
    """A training continued at epoch 21 of 60 and doing one epoch in 14 s has 38 × 14 s
    left, not the 24 s that 22 epochs in 14 s would give."""
    now = [0.0]
    lines: list[str] = []
    progress = ProgressLines(lines.append, interval_s=1.0, clock=lambda: now[0])
    progress("epochs", 21, 60)
    assert lines[-1] == "  epochs: 21/60 (35 %), 0 s elapsed"
    now[0] = 14.0
    progress("epochs", 22, 60)
    assert lines[-1] == "  epochs: 22/60 (37 %), 14 s elapsed, about 8.9 min remaining"


def test_progress_count_going_down_starts_again():
    now = [0.0]
    lines: list[str] = []
    progress = ProgressLines(lines.append, interval_s=100.0, clock=lambda: now[0])
    progress("epochs", 1, 3)
    now[0] = 50.0
    progress("epochs", 1, 3)  # a second training of the same name: its own clock
    assert lines[-1].startswith("  epochs: 1/3") and "0 s elapsed" in lines[-1]


def test_plan_progress_lines_carry_the_plan_prefix_and_reset_the_heartbeat(capsys):
    with StagePlan("job", [("toys", 1.0)], heartbeat_s=30.0) as plan, plan.stage("toys"):
        before = plan.last_output
        time.sleep(0.01)
        plan.progress("toy batches", 1, 4)
        assert plan.last_output > before
    err = capsys.readouterr().err
    assert any(line.startswith("[job") and line.endswith("toy batches: 1/4 (25 %), 0 s elapsed")
               for line in err.splitlines())


def _stderr_lines(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter (real file descriptors 1 and 2, as a user's
    terminal) and return its stderr lines."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=120, check=True)
    return result.stderr.splitlines()


def test_heartbeat_never_lands_in_a_capture_of_nest_output():
    """A heartbeat due while nestpy's C output is captured writes past the capture, to the
    real stderr: every line is whole, NEST's note is relayed once on its own line, and no progress line
    comes out with a ``nestpy: `` prefix (seen in the LUX reproduction before)."""
    code = (
        "import os, time\n"
        "from wimpsift.microphysics.quanta import _stdout_to_stderr\n"
        "from wimpsift.pipelines.stages import StagePlan\n"
        "with StagePlan('lux', [('limits', 0.1)], heartbeat_s=0.2) as plan, plan.stage('limits'):\n"
        "    for _ in range(3):\n"
        "        with _stdout_to_stderr():\n"
        "            os.write(2, b'm5 is slightly energy dependent\\n')\n"
        "            time.sleep(0.8)  # the heartbeat falls due in here\n"
        "        time.sleep(0.3)\n"
    )
    lines = _stderr_lines(code)
    notes = [line for line in lines if "energy dependent" in line]
    assert notes == ["nestpy: m5 is slightly energy dependent"]
    beats = [line for line in lines if "still in limits" in line]
    assert beats and all(line.startswith("[lux") for line in beats)
    assert all(line.startswith(("[lux", "nestpy: m5")) for line in lines), lines


def test_heartbeat_speaks_during_a_long_capture_of_nest_output():
    """A nestpy call longer than the heartbeat (the 5-D samples' photon-timed chunks) does
    not silence the heartbeat: it speaks every ``heartbeat_s`` during the capture, outside
    it, and NEST's own note is still relayed once."""
    code = (
        "import os, time\n"
        "from wimpsift.microphysics.quanta import _stdout_to_stderr\n"
        "from wimpsift.pipelines.stages import StagePlan\n"
        "with StagePlan('lux', [('samples', 0.1)], heartbeat_s=0.5) as plan, plan.stage('samples'):\n"
        "    with _stdout_to_stderr():\n"
        "        os.write(2, b'm5 is slightly energy dependent\\n')\n"
        "        time.sleep(4.5)  # one long C call\n"
    )
    lines = _stderr_lines(code)
    beats = [line for line in lines if "still in samples" in line]
    assert len(beats) >= 2, lines  # waiting for the capture to end would allow at most one
    assert all(line.startswith("[lux") for line in beats)
    notes = [line for line in lines if "energy dependent" in line]
    assert notes == ["nestpy: m5 is slightly energy dependent"]


def test_progress_lines_travel_to_a_worker_and_print_there(capsys):
    import pickle

    sent = ProgressLines(interval_s=5.0)
    sent("epochs", 1, 4)
    arrived = pickle.loads(pickle.dumps(sent))  # as a Dask task argument travels
    assert arrived.interval_s == 5.0
    arrived("final HitPeak model epochs", 2, 4)  # counts start afresh on the worker
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("  final HitPeak model epochs: 2/4 (50 %)")


PROGRESS_LINE = re.compile(r"^\[\w+ +[^]]*\] {3}(.+?): (\d+)/(\d+)(?:,| \()")


def test_tiny_main_job_is_never_silent_for_30_s_and_its_counts_rise(tiny_run):
    """The tiny main job, run as a user runs it: no gap of 30 s between stderr lines, and
    every progress count (toy batches, epochs) rises from its start to its total."""
    rows = [line.split("\t", 1) for line in (tiny_run.parent / "stderr_lines.tsv").read_text().splitlines()]
    times = np.array([0.0] + [float(t) for t, _ in rows])
    assert np.diff(times).max() < 30.0, rows[int(np.argmax(np.diff(times)))]
    lines = [line for _, line in rows]
    assert not [line for line in lines if line.startswith("nestpy: [")]
    series: dict[str, list[tuple[int, int]]] = {}
    finished: list[str] = []
    for line in lines:
        match = PROGRESS_LINE.match(line)
        if not match:
            continue
        what, done, total = match.group(1), int(match.group(2)), int(match.group(3))
        if done == 0:  # a loop starts (a name may come again: the same mass trained twice)
            series[what] = []
        counts = series[what]
        assert not counts or (done > counts[-1][0] and total == counts[-1][1]), (what, counts, done)
        counts.append((done, total))
        if done == total:
            finished.append(what)
    assert all(counts and counts[-1][0] == counts[-1][1] for counts in series.values()), series
    assert {"network analysis, toy batches", "traditional analysis, toy batches"} <= set(finished)
    assert any("GeV/c² network, attempt 0, epochs" in what for what in finished)  # LUX training
    assert any(what.startswith("final ") and what.endswith(" model epochs") for what in finished)  # CNN
