"""The README's expected-count and CNN tables are the output of scripts/main_job_results.py
for the shipped rates.json and cnn/metrics.json of a main job: numbers are never typed."""

from __future__ import annotations

import json
from pathlib import Path

from _scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
RATES = ROOT / "tests" / "data" / "main_job_rates.json"
CNN = ROOT / "tests" / "data" / "main_job_cnn_metrics.json"


def _script():
    return load_script("main_job_results")


def test_readme_tables_are_generated_from_the_shipped_run():
    script = _script()
    readme = (ROOT / "README.md").read_text()
    blocks = {"rates-results": script.render_rates(json.loads(RATES.read_text())),
              "cnn-results": script.render_cnn(json.loads(CNN.read_text()))}
    for name, block in blocks.items():
        start, end = script.markers(name)
        assert readme.count(start) == 1, f"README: one {name} block expected"
        i, j = readme.index(start), readme.index(end) + len(end)
        assert readme[i:j] == block, (
            f"README's {name} block differs from `python scripts/main_job_results.py "
            "tests/data/main_job_rates.json tests/data/main_job_cnn_metrics.json --write README.md`")


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
