"""The README's table against the standard selection with a lower edge is the output of
benchmarks/bench_standard_selection_band.py for the shipped summary, and that summary is
of the runs behind the all-backgrounds table over seeds: numbers are never typed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from _scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
BAND = ROOT / "tests" / "data" / "cnn_backgrounds_band.json"
SEEDS = ROOT / "tests" / "data" / "cnn_backgrounds_seeds.json"


def test_readme_block_is_generated_from_the_shipped_band_summary():
    bench = load_script("bench_standard_selection_band", "benchmarks")
    readme = (ROOT / "README.md").read_text()
    assert readme.count(bench.START) == 1 and readme.count(bench.END) == 1
    i, j = readme.index(bench.START), readme.index(bench.END) + len(bench.END)
    assert readme[i:j] == bench.render(json.loads(BAND.read_text())), (
        "README's cnn-backgrounds-band block differs from `python benchmarks/"
        "bench_standard_selection_band.py --from-summary tests/data/cnn_backgrounds_band.json "
        "--write README.md`")


def test_band_summary_is_of_the_runs_of_the_seeds_table():
    # the same seeds, code and events: each run's selection total and ratios without the
    # edge, recomputed from its test scores, are those the seeds' summary holds; the
    # summary's means are its runs' means, and no run's stored totals were off
    band, seeds = json.loads(BAND.read_text()), json.loads(SEEDS.read_text())
    assert band["seeds"] == seeds["seeds"]
    assert band["source_sha256"] == [seeds["provenance"]["source_sha256"]]
    for volume, part in (("fiducial", "fiducial"), ("active", "active_volume")):
        held = seeds["volumes"][part]
        runs = [run[volume] for run in band["runs"]]
        assert max(run["stored_minus_recomputed_max"] for run in runs) < 1e-12
        assert np.allclose([run["standard_selection"] for run in runs],
                           held["standard_selection_total"], rtol=1e-12)
        for name, c in held["classifiers"].items():
            assert np.allclose([run["ratio_to_standard"][name] for run in runs], c["ratios"],
                               rtol=1e-12)
            over = band["over_runs"][volume]["ratio_to_standard_with_lower_edge"][name]
            ratios = [run["ratio_to_standard_with_lower_edge"][name] for run in runs]
            assert over["ratios"] == ratios and abs(over["mean"] - np.mean(ratios)) < 1e-12
