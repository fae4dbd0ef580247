"""The README's all-backgrounds table over seeds is the output of
scripts/cnn_backgrounds_seeds.py for the shipped summary: numbers are never typed."""

from __future__ import annotations

import json
from pathlib import Path

from _scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = ROOT / "tests" / "data" / "cnn_backgrounds_seeds.json"


def test_readme_block_is_generated_from_the_shipped_summary():
    script = load_script("cnn_backgrounds_seeds")
    summary = json.loads(SUMMARY.read_text())
    readme = (ROOT / "README.md").read_text()
    assert readme.count(script.START) == 1, "README: one cnn-backgrounds-seeds block expected"
    i, j = readme.index(script.START), readme.index(script.END) + len(script.END)
    assert readme[i:j] == script.render(summary), (
        "README's cnn-backgrounds-seeds block differs from `python scripts/"
        "cnn_backgrounds_seeds.py --from-summary tests/data/cnn_backgrounds_seeds.json "
        "--write README.md`")
    # the summary's means are its seeds' ratios' means: nothing edited by hand
    for volume in summary["volumes"].values():
        for c in volume["classifiers"].values():
            assert abs(c["mean"] - sum(c["ratios"]) / len(c["ratios"])) < 1e-12


def test_shipped_summary_is_of_the_default_quick_configuration():
    # the README's table must describe what `reproduce cnn --scale quick` does today: a
    # changed default (the ER floor, an event count) has to regenerate it. The script's
    # own check that runs differ only in the seed and the execution settings raises
    # InputError naming the fields that differ
    from wimpsift.pipelines.reproduce_cnn import make_config

    script = load_script("cnn_backgrounds_seeds")
    default = make_config("quick", seed=0, progress=False).model_dump(mode="json")
    script._common_config([("tests/data/cnn_backgrounds_seeds.json",
                            json.loads(SUMMARY.read_text())),
                           ("the default quick configuration",
                            {"provenance": {"config": default}})])
