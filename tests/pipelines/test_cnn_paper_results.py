"""docs/gpu.md's paper-scale CPU results are the output of scripts/cnn_paper_results.py
for the shipped summary of that run: numbers are never typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = ROOT / "tests" / "data" / "cnn_paper_cpu.json"
TINY_GRID = {"n_conv_layers": [1], "batch_size": [50], "epochs": [1, 2],
             "leaky_alpha": [0.05], "learning_rate": [0.005]}


def _chosen(script, summary):
    best = summary["metrics"]["grid_search"]["best_params"]
    (row,) = [r for r in script.settings(summary) if all(r[k] == best[k] for k in script.SETTING)]
    return row["mean"][best["epochs"]]


def test_docs_block_is_generated_from_the_shipped_summary():
    script = load_script("cnn_paper_results")
    summary = json.loads(SUMMARY.read_text())
    docs = (ROOT / "docs" / "gpu.md").read_text()
    start, end = script.markers()
    assert docs.count(start) == 1, "docs/gpu.md: one cnn-paper-cpu block expected"
    i, j = docs.index(start), docs.index(end) + len(end)
    assert docs[i:j] == script.render(summary), (
        "docs/gpu.md's cnn-paper-cpu block differs from `python scripts/cnn_paper_results.py "
        "--from-summary tests/data/cnn_paper_cpu.json --write docs/gpu.md`")
    # the paper's scale and grid, and the grid's choice is its trainings' score: nothing
    # in the summary edited by hand
    cfg = summary["metrics"]["provenance"]["config"]
    assert (cfg["scale"], cfg["train_events_per_class"], cfg["test_events_per_class"]) == (
        "paper", 10_000, 5_000)
    assert len(summary["trials"]) == 42
    assert _chosen(script, summary) == pytest.approx(
        summary["metrics"]["grid_search"]["best_score"], abs=1e-12)


@pytest.mark.slow
def test_summary_of_a_run_and_its_block(tmp_path):
    from wimpsift.pipelines.reproduce_cnn import make_config, run_reproduce_cnn

    script = load_script("cnn_paper_results")
    cfg = make_config("quick", images="synthetic", train_events_per_class=60,
                      test_events_per_class=60, grid=TINY_GRID, executor="serial",
                      progress=False)
    out = tmp_path / "run"
    metrics = run_reproduce_cnn(cfg, out)
    summary = script.summarise(out)
    # stage 1 (lr 0.001) and the learning-rate stage (0.005), three folds each
    assert len(summary["trials"]) == 6
    assert sorted({t["learning_rate"] for t in summary["trials"]}) == [0.001, 0.005]
    assert _chosen(script, summary) == pytest.approx(metrics["grid_search"]["best_score"],
                                                     abs=1e-12)
    block = script.render(summary)
    assert "(0.904)" in block  # the paper's HitPeak accuracy beside ours
    assert block.count("**") == 2  # the chosen setting, at its epochs
    doc = tmp_path / "gpu.md"
    start, end = script.markers()
    doc.write_text(f"a\n{start}\nold\n{end}\nb\n")
    written = tmp_path / "summary.json"
    assert script.main([str(out), "--summary", str(written), "--write", str(doc)]) == 0
    assert doc.read_text() == f"a\n{block}\nb\n"
    assert script.main(["--from-summary", str(written)]) == 0
    # bad input: one line, exit code 2, nothing written
    before = doc.read_text()
    assert script.main([str(tmp_path / "missing"), "--write", str(doc)]) == 2
    assert script.main([str(out), "--from-summary", str(written)]) == 2
    (out / "search" / "cnn.grid_trial" / sorted(
        p.name for p in (out / "search" / "cnn.grid_trial").iterdir()
        if not p.name.startswith("."))[0] / "result.json").unlink()
    assert script.main([str(out), "--write", str(doc)]) == 2
    assert doc.read_text() == before
