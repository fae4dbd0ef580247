"""benchmarks/gpu_cnn_paper.py: the budget stops a run with every process it started, a
finished run's exit code and output come through, and bad input writes nothing."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests._scripts import load_script

gpu = load_script("gpu_cnn_paper", "benchmarks")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_the_budget_stops_the_run_and_the_processes_it_started(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = ("import subprocess, sys, time\n"
              "child = subprocess.Popen(['sleep', '120'])\n"
              f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
              "print('started', flush=True)\n"
              "time.sleep(120)\n")
    code, wall_s = gpu.run_logged([sys.executable, "-c", script], tmp_path / "log", 3.0)
    assert code == gpu.STOPPED == 3
    assert 3.0 <= wall_s < 40
    assert (tmp_path / "log").read_text() == "started\n"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def test_a_finished_run_gives_its_exit_code_and_its_output(tmp_path):
    script = "print('one'); print('two'); raise SystemExit(3)"
    code, wall_s = gpu.run_logged([sys.executable, "-c", script], tmp_path / "log", 60.0)
    assert code == 3 and wall_s < 60
    assert (tmp_path / "log").read_text() == "one\ntwo\n"


def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys):
    results = tmp_path / "results"
    assert gpu.main(["--budget-s", "-1", "--results", str(results)]) == 2
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    assert gpu.main(["--results", str(a_file)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "gpu_cnn_paper: --budget-s: got -1.0, expected a positive number of seconds",
        f"gpu_cnn_paper: --results: {str(a_file)!r} is a file, expected a folder"]
    assert not results.exists() and a_file.read_text() == ""
