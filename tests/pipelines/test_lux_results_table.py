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


def _file_seed(path: Path) -> int:
    """The seed a shipped ``lux_bench_converged_seed<N>.json`` names."""
    return int(path.stem.removeprefix("lux_bench_converged_seed"))


# the same benchmark with the other seeds, in seed order
CONVERGED_SEEDS = sorted((ROOT / "tests" / "data").glob("lux_bench_converged_seed*.json"),
                         key=_file_seed)


def test_readme_converged_table_is_generated_from_the_shipped_benchmark(tmp_path):
    script = _script()
    record = json.loads(CONVERGED.read_text())
    others = [json.loads(path.read_text()) for path in CONVERGED_SEEDS]
    assert len(others) >= 2, "the shipped benchmark: the table over seeds needs three runs or more"
    block = script.render_converged(record, others)
    readme = (ROOT / "README.md").read_text()
    assert readme.count(script.CONVERGED_START) == 1, "README: one converged LUX block expected"
    start = readme.index(script.CONVERGED_START)
    end = readme.index(script.CONVERGED_END) + len(script.CONVERGED_END)
    assert readme[start:end] == block, (
        "README's converged LUX table differs from `python scripts/lux_results_table.py "
        "tests/data/lux_bench_converged.json tests/data/lux_bench_converged_seed*.json "
        "--converged --write README.md`")
    # the shipped runs are the benchmark's own records: a real command, every mass, provenance
    for run in (record, *others):
        assert run["command"][0] == "benchmarks/bench_limits.py"
        assert run["provenance"]["stage"] == "bench_limits"
        assert set(run["per_mass"]) == set(run["summary"]["limit_ratio"])
        for row in run["per_mass"].values():
            ratio = row["network_limit_cm2"] / row["traditional_limit_cm2"]
            assert row["limit_ratio"] == pytest.approx(ratio, rel=1e-9)
    assert [_file_seed(path) for path in CONVERGED_SEEDS] == [run["provenance"]["seed"] for run in others]
    # writing the converged block leaves the quick-run block alone, and the other way round
    readme_copy = tmp_path / "README.md"
    readme_copy.write_text(readme)
    files = [str(CONVERGED), *map(str, CONVERGED_SEEDS)]
    assert script.main([*files, "--converged", "--write", str(readme_copy)]) == 0
    assert readme_copy.read_text() == readme


def _with_seed(record, seed, ratio_factor=1.0):
    """``record`` as if run with ``seed`` and its network limits scaled by ``ratio_factor``."""
    run = json.loads(json.dumps(record))
    run["provenance"]["seed"] = seed
    command = run["command"]
    command[command.index("--seed") + 1] = str(seed)
    for row in run["per_mass"].values():
        row["network_limit_cm2"] *= ratio_factor
        row["limit_ratio"] *= ratio_factor
    return run


def test_ratio_over_seeds_is_the_mean_with_its_standard_error():
    """Two runs whose ratios are r and 1.2 r: mean 1.1 r, standard error 0.1 r; the pooled
    coverage of equal-size runs is their mean, its error the errors added in quadrature / 2."""
    script = _script()
    record = json.loads(CONVERGED.read_text())
    spread = script.ratio_over_seeds([record, _with_seed(record, 99, 1.2)])
    assert spread["seeds"] == [record["provenance"]["seed"], 99]
    for mass, row in spread["per_mass"].items():
        ratio = record["per_mass"][mass]["limit_ratio"]
        assert row["ratio_mean"] == pytest.approx(1.1 * ratio, rel=1e-12)
        assert row["ratio_standard_error"] == pytest.approx(0.1 * ratio, rel=1e-12)
        assert (row["ratio_min"], row["ratio_max"]) == pytest.approx((ratio, 1.2 * ratio), rel=1e-12)
    coverage, error = spread["coverage"]["network"]
    assert coverage == pytest.approx(record["summary"]["coverage_network"], rel=1e-12)
    assert error == pytest.approx(record["summary"]["coverage_error_network"] / 2**0.5, rel=1e-12)


def test_seed_table_refuses_runs_that_differ_in_more_than_the_seed(tmp_path, capsys):
    script = _script()
    record = json.loads(CONVERGED.read_text())
    other = _with_seed(record, 99)
    other["command"][other["command"].index("--output-dir") + 1] = "/elsewhere"
    assert "| mass GeV/c² | ratio, mean ± s.e." in script.render_converged(record, [other])
    more_toys = _with_seed(record, 98)
    more_toys["command"][more_toys["command"].index("--n-toys") + 1] = "301"
    other_code = _with_seed(record, 97)
    other_code["provenance"]["source_sha256"] = "0" * 16
    same_seed = _with_seed(record, record["provenance"]["seed"])
    for bad, words in ((more_toys, "command differs"), (other_code, "source_sha256"),
                       (same_seed, "own seed")):
        with pytest.raises(ValueError, match=words):
            script.ratio_over_seeds([record, bad])
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad))
        readme = tmp_path / "README.md"
        readme.write_text(f"{script.CONVERGED_START}\nold\n{script.CONVERGED_END}\n")
        assert script.main([str(CONVERGED), str(path), "--converged", "--write", str(readme)]) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1
        assert "old" in readme.read_text()
    # without --converged the script renders one reproduce lux run
    assert script.main([str(METRICS), str(METRICS)]) == 2
    assert "one reproduce lux metrics.json expected" in capsys.readouterr().err
