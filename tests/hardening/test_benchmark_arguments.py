"""Bad arguments to a benchmark end in one line naming the option and exit code 2, before
any work, as the command line's do (benchmarks/_bench_cli.py); a count that the script
read as "not given" (``--n-er 0``) or that gives infinities (``--target 0``) is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests._scripts import ROOT, load_script

CASES = [
    (["bench_simulate.py", "--events", "0"], "--events"),
    (["bench_simulate.py", "--repeats", "0"], "--repeats"),
    (["bench_limits.py", "--n-signal", "0"], "--n-signal"),
    (["bench_limits.py", "--masses", "-5"], "--masses"),
    (["bench_toy_fits.py", "--n-events", "0"], "--n-events"),
    (["bench_template_mc_statistics.py", "--sizes", "5"], "--sizes"),
    (["bench_mi.py", "--mi-events", "0"], "--mi-events"),
    (["bench_mi_sizing.py", "--target", "0"], "--target"),
    (["bench_mi_sizing.py", "--fractions", "0.5", "0.5"], "--fractions"),
    (["bench_standard_selection.py", "--n-er", "0"], "--n-er"),
    (["bench_standard_selection_band.py", "{tmp}/no_run"], "run_dir"),
    (["bench_s1_pulse_shape.py", "{tmp}/no_run"], "run_dir"),
    (["bench_s1_pulse_shape.py", "{tmp}/no_run", "--cs1-edges", "5"], "--cs1-edges"),
    (["bench_standard_selection_band.py", "--from-summary", "{tmp}/none.json"], "--from-summary"),
    (["bench_cnn.py", "--epoch-scale", "0"], "--epoch-scale"),
    (["bench_images.py", "--mpl-events", "0"], "--mpl-events"),
    (["bench_coverage.py", "--n-pseudo-experiments", "0"], "--n-pseudo-experiments"),
    (["bench_allocator.py", "--images", "0"], "--images"),
    (["acceptance_xenon1t.py", "--events", "x"], "--events"),
    # refused by the library: its one-line message
    (["bench_simulate.py", "--detector", "nope", "--events", "10", "--repeats", "1"], "detector"),
]


def _bench(script: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


@pytest.mark.parametrize(("argv", "option"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_arguments_are_one_line_and_exit_code_2(argv, option, tmp_path):
    script, *args = argv
    done = _bench(script, [a.replace("{tmp}", str(tmp_path)) for a in args], tmp_path)
    err = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(err) == 1 and option in err[0] and "Traceback" not in done.stderr, err
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing written


BAND = "bench_standard_selection_band.py"


def _band_summary(tmp_path: Path) -> tuple[ModuleType, dict]:
    """A summary of two made-up runs as the band benchmark writes it, and the module."""
    bench = load_script("bench_standard_selection_band", "benchmarks")

    def line(d):
        return {"standard_selection": 0.8 + d, "standard_with_lower_edge": 0.5 + d,
                "ratio_to_standard": {n: 0.4 + d for n in bench.LABELS},
                "ratio_to_standard_with_lower_edge": {n: 0.6 + d for n in bench.LABELS}}

    runs = [{"run_dir": f"run{s}", "seed": s, "bins": 8, "fiducial": line(d), "active": line(d)}
            for s, d in ((0, 0.0), (1, 0.1))]
    summary = bench.summary_of(runs, [{"seed": s, "source_sha256": "abc", "cpu": None}
                                      for s in (0, 1)])
    (tmp_path / "band.json").write_text(json.dumps(summary))
    return bench, summary


def test_the_band_benchmark_prints_and_writes_a_written_summary(tmp_path):
    """--from-summary prints the summary's block (it printed nothing, exit code 0); with
    --write the README's block, and nothing else, becomes that block."""
    bench, summary = _band_summary(tmp_path)
    dense = summary["over_runs"]["fiducial"]["ratio_to_standard_with_lower_edge"]["dense"]
    assert dense["mean"] == pytest.approx(0.65) and dense["standard_error"] == pytest.approx(0.05)
    block = bench.render(summary)
    assert "| dense network: ratio to the edged selection | 0.650 ± 0.050 |" in block
    done = _bench(BAND, ["--from-summary", "band.json"], tmp_path)
    assert done.returncode == 0 and done.stdout == block + "\n", done.stderr[-2000:]
    (tmp_path / "R.md").write_text(f"before\n{bench.START}\nold\n{bench.END}\nafter\n")
    done = _bench(BAND, ["--from-summary", "band.json", "--write", "R.md"], tmp_path)
    assert done.returncode == 0 and done.stdout == block + "\n", done.stderr[-2000:]
    assert (tmp_path / "R.md").read_text() == f"before\n{block}\nafter\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R.md", "band.json"]


@pytest.mark.parametrize(("args", "option"), [
    ([], "run_dir"),
    (["--from-summary", "bad.json"], "--from-summary"),
    (["--from-summary", "empty.json"], "--from-summary"),
    (["--from-summary", "band.json", "--summary", "out.json"], "--summary"),
    (["run"], "run_dir"),
])
def test_the_band_benchmark_refuses_what_it_cannot_use(args, option, tmp_path):
    """A summary or metrics.json that is not one, or --summary that --from-summary would
    ignore: one line naming the option, exit code 2, nothing written (before: a traceback,
    or exit code 0 with --summary not written); no input: the message asks for one."""
    _band_summary(tmp_path)
    (tmp_path / "bad.json").write_text("{bad")
    (tmp_path / "empty.json").write_text("{}")
    (tmp_path / "run" / "data").mkdir(parents=True)
    (tmp_path / "run" / "metrics.json").write_text("{bad")
    (tmp_path / "run" / "data" / "test_scores.parquet").write_bytes(b"")
    before = sorted(tmp_path.rglob("*"))
    done = _bench(BAND, args, tmp_path)
    err = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(err) == 1 and option in err[0], done.stderr[-2000:]
    assert "not both" not in err[0] and done.stdout == ""
    assert sorted(tmp_path.rglob("*")) == before
