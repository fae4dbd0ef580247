"""Progress output: stage overview, per-stage lines with remaining time, heartbeat in
silence, and nestpy's console notes kept off stdout and out of progress bars."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from wimpsift.pipelines.stages import StagePlan

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
    plan = StagePlan("job", [("a", 10.0), ("b", 30.0)], enabled=False)
    assert plan.remaining_s() == 40.0
    plan.done["a"] = 20.0  # twice as slow as nominal
    assert plan.scale() == 2.0 and plan.remaining_s() == 60.0


def test_nestpy_notes_go_to_stderr_once_and_not_into_a_bar():
    code = (
        "import sys\n"
        "from tqdm import tqdm\n"
        "from wimpsift.detectors import load_detector\n"
        "from wimpsift.sources import make_source\n"
        "from wimpsift.simulation import simulate_events\n"
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
