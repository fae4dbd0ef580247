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


def test_summary_gives_back_its_runs():
    # the runs a summary holds, combined again, are the summary byte for byte: nothing
    # is lost when later seeds are added to it instead of to every metrics file
    script = load_script("cnn_backgrounds_seeds")
    text = SUMMARY.read_text()
    runs = script.runs_of_summary(json.loads(text), "shipped")
    assert [m["provenance"]["seed"] for _, m in runs] == json.loads(text)["seeds"]
    assert json.dumps(script.summarise(runs), indent=1, sort_keys=True) + "\n" == text


def test_a_run_added_to_a_written_summary(tmp_path, capsys):
    # a new seed's run added to the shipped summary: its ratio joins each classifier's,
    # the mean is the mean of all of them, and a run the summary cannot take (a seed it
    # holds, another configuration, other code) is refused with exit code 2, nothing written
    import copy

    script = load_script("cnn_backgrounds_seeds")
    shipped = json.loads(SUMMARY.read_text())
    _, first = script.runs_of_summary(shipped, "shipped")[0]
    new = copy.deepcopy(first)
    new["provenance"]["seed"] = new["provenance"]["config"]["seed"] = 99
    new["all_backgrounds"]["active_volume"]["ratio_to_standard_selection"]["cnn_binary"] = 0.9
    new["provenance"]["cpu"] = {"microarchitecture": "zen3", "brand": "AMD EPYC 7763",
                                "dispatch_environment": {"OPENBLAS_CORETYPE": "Haswell"}}
    run, out = tmp_path / "run.json", tmp_path / "s.json"
    run.write_text(json.dumps(new))
    assert script.main([str(run), "--from-summary", str(SUMMARY), "--summary", str(out)]) == 0
    combined = json.loads(out.read_text())
    assert combined["seeds"] == [*shipped["seeds"], 99]
    # the CPU each run recorded stays with its seed, and the table names it
    assert combined["provenance"]["cpus"] == [*shipped["provenance"]["cpus"],
                                              new["provenance"]["cpu"]]
    assert ("seed 99: zen3 (AMD EPYC 7763), `OPENBLAS_CORETYPE=Haswell`."
            in script.render(combined))
    assert script.runs_of_summary(combined, "s")[-1][1]["provenance"]["cpu"] == \
        new["provenance"]["cpu"]
    c = combined["volumes"]["active_volume"]["classifiers"]["cnn_binary"]
    before = shipped["volumes"]["active_volume"]["classifiers"]["cnn_binary"]["ratios"]
    assert c["ratios"] == [*before, 0.9]
    assert abs(c["mean"] - (sum(before) + 0.9) / (len(before) + 1)) < 1e-12
    assert combined["student_t_68"] == script.student_t_68(len(before) + 1)
    for case, named in (("seed", "seeds"), ("config", "all_backgrounds"),
                        ("code", "source_sha256")):
        bad = copy.deepcopy(new)
        if case == "seed":
            bad["provenance"]["seed"] = 0
        elif case == "config":
            bad["provenance"]["config"]["all_backgrounds"]["epochs"] += 1
        else:
            bad["provenance"]["source_sha256"] = "0" * 16
        run.write_text(json.dumps(bad))
        capsys.readouterr()
        target = tmp_path / f"{case}.json"
        assert script.main([str(run), "--from-summary", str(SUMMARY),
                            "--summary", str(target)]) == 2, case
        assert named in capsys.readouterr().err and not target.exists(), case


def test_a_seed_run_again_replaces_its_run(tmp_path, capsys):
    # with --replace a run of a seed the summary holds takes that seed's place (the other
    # seeds and their order unchanged) and the means follow; without it the same run is
    # refused as a repeated seed, as is a seed given twice with it, and --replace needs
    # both a summary and metrics files
    import copy

    script = load_script("cnn_backgrounds_seeds")
    shipped = json.loads(SUMMARY.read_text())
    _, second = script.runs_of_summary(shipped, "shipped")[1]
    again = copy.deepcopy(second)
    again["all_backgrounds"]["ratio_to_standard_selection"]["dense"] = 0.25
    run, out = tmp_path / "run.json", tmp_path / "s.json"
    run.write_text(json.dumps(again))
    assert script.main([str(run), "--replace", "--from-summary", str(SUMMARY),
                        "--summary", str(out)]) == 0
    combined = json.loads(out.read_text())
    assert combined["seeds"] == shipped["seeds"]
    before = shipped["volumes"]["fiducial"]["classifiers"]["dense"]["ratios"]
    after = combined["volumes"]["fiducial"]["classifiers"]["dense"]["ratios"]
    assert after == [before[0], 0.25, *before[2:]]
    assert abs(combined["volumes"]["fiducial"]["classifiers"]["dense"]["mean"]
               - sum(after) / len(after)) < 1e-12
    assert combined["volumes"]["active_volume"] == shipped["volumes"]["active_volume"]
    # a run of a seed the summary lacks joins after the others
    extra = copy.deepcopy(again)
    extra["provenance"]["seed"] = 99
    runs = script.runs_of_summary(shipped, "shipped")
    placed = script.replace_runs(runs, [("extra", extra), ("again", again)])
    assert [m["provenance"]["seed"] for _, m in placed] == [*shipped["seeds"], 99]
    assert placed[1] == ("again", again) and placed[0] == runs[0]
    for argv, named in (([str(run), "--from-summary", str(SUMMARY)], "seeds"),
                        ([str(run), str(run), "--replace", "--from-summary", str(SUMMARY)],
                         "seeds"),
                        ([str(run), "--replace"], "--replace"),
                        (["--replace", "--from-summary", str(SUMMARY)], "--replace")):
        target = tmp_path / "refused.json"
        capsys.readouterr()
        assert script.main([*argv, "--summary", str(target)]) == 2, argv
        assert named in capsys.readouterr().err and not target.exists(), argv
