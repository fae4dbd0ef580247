"""Bad arguments to a benchmark end in one line naming the option and exit code 2, before
any work, as the command line's do (benchmarks/_bench_cli.py); a count that the script
read as "not given" (``--n-er 0``) or that gives infinities (``--target 0``) is refused."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests._scripts import ROOT

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
    (["bench_standard_selection_band.py", "--from-summary", "{tmp}/none.json"], "--from-summary"),
    (["bench_cnn.py", "--epoch-scale", "0"], "--epoch-scale"),
    (["bench_images.py", "--mpl-events", "0"], "--mpl-events"),
    (["bench_coverage.py", "--n-pseudo-experiments", "0"], "--n-pseudo-experiments"),
    (["bench_allocator.py", "--images", "0"], "--images"),
    (["acceptance_xenon1t.py", "--events", "x"], "--events"),
    # refused by the library: its one-line message
    (["bench_simulate.py", "--detector", "nope", "--events", "10", "--repeats", "1"], "detector"),
]


@pytest.mark.parametrize(("argv", "option"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_arguments_are_one_line_and_exit_code_2(argv, option, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    script, *args = argv
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script),
         *(a.replace("{tmp}", str(tmp_path)) for a in args)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    err = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(err) == 1 and option in err[0] and "Traceback" not in done.stderr, err
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing written
