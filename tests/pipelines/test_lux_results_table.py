"""The README's LUX table is the output of scripts/lux_results_table.py for the shipped
metrics.json of a reproduce lux run (tests/data/lux_metrics.json): numbers are never typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
METRICS = ROOT / "tests" / "data" / "lux_metrics.json"


def _script():
    return load_script("lux_results_table")


def test_readme_table_is_generated_from_the_shipped_metrics():
    script = _script()
    block = script.render(json.loads(METRICS.read_text()))
    readme = (ROOT / "README.md").read_text()
    assert readme.count(script.START) == 1, "README: one generated LUX block expected"
    start, end = readme.index(script.START), readme.index(script.END) + len(script.END)
    assert readme[start:end] == block, (
        "README's LUX table differs from `python scripts/lux_results_table.py "
        "tests/data/lux_metrics.json --write README.md`")


def test_script_writes_and_refuses_bad_input(tmp_path, capsys):
    script = _script()
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{script.START}\nold\n{script.END}\nrest\n")
    assert script.main([str(METRICS), "--write", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("\nrest\n") and "old" not in text
    metrics = json.loads(METRICS.read_text())
    first_mass = sorted(metrics["per_mass"], key=float)[0]
    assert f"| {first_mass} |" in text
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert script.main([str(bad)]) == 2
    assert "metrics" in capsys.readouterr().err
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    assert script.main([str(METRICS), "--write", str(plain)]) == 2
    assert plain.read_text() == "no markers\n"


def test_per_mass_rows_show_the_run_value_or_its_range():
    """The shape-nuisance and 5-D over 4-D rows come from per-mass records: one mass gives
    its value, several their range, none 'not measured'."""
    script = _script()
    metrics = json.loads(METRICS.read_text())
    summary = metrics["comparison"]
    block = script.render(metrics)
    (nuisance,) = summary["limit_ratio_nuisance"].values()
    assert f"with the shape nuisance, over masses | {nuisance:.3g} |" in block
    (network,) = summary["five_d_over_four_d_limit"]["network"].values()
    assert f"network, over masses (< 1: the prompt fraction helps) | {network:.3g} |" in block
    several = {**metrics, "comparison": {**summary, "limit_ratio_nuisance": {"10": 1.5, "50": 0.25}}}
    assert "with the shape nuisance, over masses | 0.25 – 1.5 |" in script.render(several)
    none = {**metrics, "comparison": {k: v for k, v in summary.items() if k != "five_d_over_four_d_limit"}}
    assert "5-D limit over 4-D limit, traditional, over masses | not measured |" in script.render(none)


@pytest.mark.parametrize("key", ["speedup_cpu_4d", "limit_ratio_min", "coverage_network"])
def test_shipped_metrics_carry_the_comparison_keys(key):
    assert key in json.loads(METRICS.read_text())["comparison"]


CONVERGED = ROOT / "tests" / "data" / "lux_bench_converged.json"


def test_readme_converged_table_is_generated_from_the_shipped_benchmark(tmp_path):
    script = _script()
    record = json.loads(CONVERGED.read_text())
    block = script.render_converged(record)
    readme = (ROOT / "README.md").read_text()
    assert readme.count(script.CONVERGED_START) == 1, "README: one converged LUX block expected"
    start = readme.index(script.CONVERGED_START)
    end = readme.index(script.CONVERGED_END) + len(script.CONVERGED_END)
    assert readme[start:end] == block, (
        "README's converged LUX table differs from `python scripts/lux_results_table.py "
        "tests/data/lux_bench_converged.json --converged --write README.md`")
    # the shipped run is the benchmark's own record: a real command, every mass, provenance
    assert record["command"][0] == "benchmarks/bench_limits.py"
    assert record["provenance"]["stage"] == "bench_limits"
    assert set(record["per_mass"]) == set(record["summary"]["limit_ratio"])
    for row in record["per_mass"].values():
        ratio = row["network_limit_cm2"] / row["traditional_limit_cm2"]
        assert row["limit_ratio"] == pytest.approx(ratio, rel=1e-9)
    # writing the converged block leaves the quick-run block alone, and the other way round
    readme_copy = tmp_path / "README.md"
    readme_copy.write_text(readme)
    assert script.main([str(CONVERGED), "--converged", "--write", str(readme_copy)]) == 0
    assert readme_copy.read_text() == readme
