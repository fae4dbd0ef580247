"""The CNN paper at its own scale on a GPU, in one prepared call (issue 17).

Made for the lent GPU machine (the device tool), whose image holds torch, numpy, scipy,
pandas, scikit-learn, matplotlib, h5py and pyarrow but not the rest of wimpsift's
requirements: ``scripts/gpu_wheels.sh`` downloads those wheels here into ``.whl``, and
the call installs them there (``docs/gpu.md`` gives the whole call). In that call this
script

1. records the machine: GPU, torch and CUDA versions, cores;
2. runs the CUDA tests first (``tests/cnn/test_torch_state.py``: the same seed gives the
   same bytes twice on CUDA; seconds), so a short call still answers them;
3. runs ``wimpsift reproduce cnn --scale paper --backgrounds er --device cuda`` on a
   local Dask cluster of every core but one, in its own process group, stopped at
   ``--budget-s`` (the whole group: the workers too). The run's output folder is under
   ``out/`` (ignored by git, so it stays on the machine while the machine is held): the
   same call again resumes it (the images and every grid trial done are cached);
4. writes into ``--results`` (``$OUT`` on the device) the run's log as it goes and
   ``gpu_cnn_paper.json``: the machine, the tests' exit code, the run's wall time and
   whether it finished, and then its stage timings and grid-search counts. A finished
   run adds its ``metrics.json``, ``report.html`` with ``figures.tar.gz`` (unpack beside
   it) and ``table_iv.md`` (our Table IV beside the seed's, rendered by
   ``scripts/main_job_results.py``).

Usage (repository root, wimpsift importable)::

    python benchmarks/gpu_cnn_paper.py --budget-s 480 --results "$OUT"
    python benchmarks/gpu_cnn_paper.py --device cpu --scale quick --images synthetic \\
        --budget-s 400 --results /tmp/gpu_check   # the plumbing, on a CPU machine

Exit code: the run's, or 3 when the budget stopped it (the device tool would read 124, the
usual code, as its own time limit); then the tests' where they failed; 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ("tests/cnn/test_torch_state.py",)
COPIED = ("metrics.json", "report.html")
STOPPED = 3  # exit code of a run the budget stopped


def machine() -> dict:
    import torch

    cuda = torch.cuda.is_available()
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(0) if cuda else None,
            "cpu_cores": os.cpu_count()}


def run_logged(command: list[str], log: Path, budget_s: float) -> tuple[int, float]:
    """Run ``command`` in its own process group, its output to stdout and ``log``; stop
    the whole group at ``budget_s``. Return (exit code, :data:`STOPPED` if stopped; wall
    seconds)."""
    t0 = time.perf_counter()
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1,
                                start_new_session=True)
        reader = threading.Thread(target=_copy, args=(proc.stdout, sink), daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=budget_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            code = STOPPED
        reader.join(timeout=10)
    return code, time.perf_counter() - t0


def _copy(stream, sink) -> None:
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()
        sink.write(line)
        sink.flush()  # a call cut short still returns the log up to there


def table_iv(metrics: dict) -> str:
    sys.path.insert(0, str(ROOT / "scripts"))
    from main_job_results import render_cnn

    return render_cnn(metrics)


def main(argv: list[str] | None = None) -> int:
    from wimpsift.errors import ConfigError
    from wimpsift.provenance import atomic_path, check_writable, provenance, write_json

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget-s", type=float, default=480.0,
                    help="stop the reproduction after this many seconds (default 480)")
    ap.add_argument("--results", default=os.environ.get("OUT", "out/gpu_results"),
                    help="where the summary and copies go (default $OUT, else out/gpu_results)")
    ap.add_argument("--output", default="out/gpu_cnn_paper",
                    help="the reproduction's output folder; the same one resumes")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--scale", default="paper", choices=("quick", "paper"))
    ap.add_argument("--images", default="wimpsift", choices=("wimpsift", "synthetic"))
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--skip-tests", action="store_true")
    args = ap.parse_args(argv)
    try:
        if not args.budget_s > 0:
            raise ConfigError(f"--budget-s: got {args.budget_s}, expected a positive number "
                              "of seconds")
        results = check_writable(args.results, "--results", folder=True)
    except ConfigError as err:
        print(f"gpu_cnn_paper: {err}", file=sys.stderr)
        return 2
    results.mkdir(parents=True, exist_ok=True)

    summary: dict = {"provenance": provenance(vars(args), 0, "bench.gpu_cnn_paper"),
                     "machine": machine(), "tests_exit_code": None}
    if not args.skip_tests:
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                *TESTS], cwd=ROOT, check=False)
        summary["tests_exit_code"] = tests.returncode

    out = ROOT / args.output
    command = [sys.executable, "-m", "wimpsift", "reproduce", "cnn", "--scale", args.scale,
               "--backgrounds", "er", "--device", args.device, "--images", args.images,
               "--workers", str(args.workers), "-o", str(out)]
    code, wall_s = run_logged(command, results / "reproduce.log", args.budget_s)
    summary.update({"command": command[2:], "exit_code": code, "wall_s": round(wall_s, 1),
                    "finished": code == 0})
    if code == 0:
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        summary.update({key: metrics[key] for key in
                        ("timings_s", "grid_search", "n_train_events", "n_test_events")})
        with atomic_path(results / "table_iv.md") as tmp:
            tmp.write_text(table_iv(metrics), encoding="utf-8")
        for name in COPIED:
            with atomic_path(results / name) as tmp:
                shutil.copyfile(out / name, tmp)
        with atomic_path(results / "figures.tar.gz") as tmp, tarfile.open(tmp, "w:gz") as tar:
            tar.add(out / "figures", arcname="figures")
    write_json(results / "gpu_cnn_paper.json", summary)
    print(json.dumps({k: v for k, v in summary.items() if k != "provenance"}, indent=1))
    if code == 0 and summary["tests_exit_code"] not in (None, 0):
        return summary["tests_exit_code"]
    return code


if __name__ == "__main__":
    sys.exit(main())
