"""The README's expected-count and CNN tables are the output of scripts/main_job_results.py
for the shipped rates.json and cnn/metrics.json of a main job: numbers are never typed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
RATES = ROOT / "tests" / "data" / "main_job_rates.json"
CNN = ROOT / "tests" / "data" / "main_job_cnn_metrics.json"
TIMING = ROOT / "tests" / "data" / "main_job_timing.json"
SILENCE = ROOT / "tests" / "data" / "main_job_silence.json"


def _script():
    return load_script("main_job_results")


def test_readme_tables_are_generated_from_the_shipped_run():
    script = _script()
    readme = (ROOT / "README.md").read_text()
    blocks = {"rates-results": script.render_rates(json.loads(RATES.read_text())),
              "cnn-results": script.render_cnn(json.loads(CNN.read_text())),
              "main-job-timing": script.render_timing(json.loads(TIMING.read_text()),
                                                      json.loads(SILENCE.read_text()))}
    for name, block in blocks.items():
        start, end = script.markers(name)
        assert readme.count(start) == 1, f"README: one {name} block expected"
        i, j = readme.index(start), readme.index(end) + len(end)
        assert readme[i:j] == block, (
            f"README's {name} block differs from `python scripts/main_job_results.py "
            "tests/data/main_job_rates.json tests/data/main_job_cnn_metrics.json --timing "
            "tests/data/main_job_timing.json --silence tests/data/main_job_silence.json --write README.md`")


def test_tables_carry_the_run_and_the_published_values(tmp_path):
    script = _script()
    rates = json.loads(RATES.read_text())
    block = script.render_rates(rates)
    # every source of the run is a row, with its computed count and, where published, that count
    for source, expected in rates["expected_events"].items():
        assert f"| {source} | " in block and f"{expected:.3g}" in block
    cnn = script.render_cnn(json.loads(CNN.read_text()))
    assert "(0.904)" in cnn  # the paper's HitPeak accuracy, read from the run's paper_reference
    readme = tmp_path / "README.md"
    start, end = script.markers("rates-results")
    c_start, c_end = script.markers("cnn-results")
    readme.write_text(f"a\n{start}\nold\n{end}\nb\n{c_start}\n{c_end}\n")
    assert script.main([str(RATES), str(CNN), "--write", str(readme)]) == 0
    assert "old" not in readme.read_text() and block in readme.read_text()
    assert script.main([str(RATES), str(tmp_path / "missing.json")]) == 2


def test_a_silence_that_ends_with_the_exit_counts(tmp_path):
    """A command that says nothing between its last line and its exit was silent that long:
    benchmarks/longest_silence.py counts the stretch, overall and in the stage it falls in."""
    program = ("import time\n"
               "print('[run 0 s] stage 1/1 lux: started', flush=True)\n"
               "time.sleep(1.0)\n")
    record = tmp_path / "silence.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "longest_silence.py"), "--json", str(record),
               "--", sys.executable, "-c", program]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    silence = json.loads(record.read_text())
    assert silence["longest_silence_s"] >= 0.8
    assert silence["stages"]["lux"]["longest_silence_s"] >= 0.8
    assert silence["stages"]["lux"]["longest_silence_without_heartbeats_s"] >= 0.8


def test_timing_sentence_from_a_recorded_command(tmp_path):
    """benchmarks/longest_silence.py --json records a command's gaps per stage; the README
    sentence reports the longest within the job and the one before its first stage."""
    script = _script()
    program = ("import time\n"
               "time.sleep(0.3); print('[run 0 s] stage 1/2 simulation: started', flush=True)\n"
               "time.sleep(0.1); print('[run 0 s] stage 2/2 lux: started', flush=True)\n"
               "time.sleep(1.0); print('[run 1 s] all 2 stages done', flush=True)\n")
    record = tmp_path / "silence.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "longest_silence.py"), "--json", str(record),
               "--label", "a test", "--", sys.executable, "-c", program]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    silence = json.loads(record.read_text())
    assert silence["label"] == "a test" and silence["exit_code"] == 0
    assert list(silence["stages"]) == ["start", "simulation", "lux"]
    gaps = {name: stage["longest_silence_s"] for name, stage in silence["stages"].items()}
    # gaps are measured where the lines arrive: on a loaded machine a line that arrives
    # late lengthens the gap before it and shortens the one after, so the bounds keep
    # 0.2 s of slack around the sleeps (0.1 s and 1.0 s)
    assert gaps["lux"] >= 0.8 > 0.5 > gaps["simulation"]
    assert gaps["start"] >= 0.3
    assert silence["wall_s"] >= 1.4
    timing = {"stage_seconds": {"simulation": 0.1, "lux": 75.0}, "total_seconds": 75.1}
    sentence = script.render_timing(timing, silence)
    assert "(the job 1.3 min: simulation 0 s, LUX 1.2 min)" in sentence
    assert f"was {silence['stages']['lux']['longest_silence_s']:.0f} s within the job (LUX)" in sentence
    with pytest.raises(ValueError, match="exited with 3"):
        script.render_timing(timing, {**silence, "exit_code": 3})
    # both inputs of the sentence or neither
    assert script.main([str(RATES), str(CNN), "--timing", str(TIMING)]) == 2
