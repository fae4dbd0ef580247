"""``wimpsift nn``: end-to-end at tiny scale on simulated LUX events, and exit code 2."""

from __future__ import annotations

import json

import pytest

from wimpsift.cli.main import main


def test_train_evaluate_study_end_to_end(tmp_path, capsys, toy):
    out = tmp_path / "run"
    common = ["--masses", "50,100", "--n-signal", "300", "--n-background", "300",
              "--backgrounds", "er,wall", "--epochs-from-scratch", "3", "--epochs-transfer", "2",
              "--max-retrains", "0", "--cache-dir", str(tmp_path / "cache")]
    assert main(["nn", "train", *common, "--mode", "both", "-o", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = result["sequential"]["metrics"]
    assert [r["mass_gev"] for r in rows] == [50.0, 100.0]
    for r in rows:
        assert 0.5 < r["auc"] <= 1 and 0 <= r["leakage_at_50pct_signal"] <= 1
        assert r["input_mi_bits"] > 0
    assert set(result["samples"]) == {"er", "wall", "wimp_50GeV", "wimp_100GeV"}
    for name in ("auc_vs_epoch.png", "mi_vs_mass.png", "metrics.csv", "models/index.json",
                 "independent/models/nn_100GeV.json"):
        assert (out / name).is_file(), name
    from PIL import Image  # figures and the model index carry the run's provenance

    record = json.loads((out / "models" / "index.json").read_text())["summary"]["provenance"]
    assert record["stage"] == "nn.train" and record["seed"] == 0
    assert record["config"]["discriminant"]["masses_gev"] == [50.0, 100.0]
    assert record["config"]["samples"]["backgrounds"] == ["er", "wall"]
    for name in ("auc_vs_epoch.png", "mi_vs_mass.png", "independent/mi_vs_mass.png"):
        assert json.loads(Image.open(out / name).info["wimpsift"]) == record, name

    events = tmp_path / "events.parquet"
    toy(50.0, n=200).to_parquet(events)
    scored = tmp_path / "scored.parquet"
    assert main(["nn", "evaluate", "--models", str(out / "models"), str(events), "-o",
                 str(scored), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert set(metrics) == {"50", "100"}
    assert scored.is_file()
    # a scored table scored again: its score columns replaced, the same values
    rescored = tmp_path / "rescored.parquet"
    assert main(["nn", "evaluate", "--models", str(out / "models"), str(scored), "-o",
                 str(rescored)]) == 0
    assert "note: replacing the table's nn_score_50GeV, nn_score_100GeV" in capsys.readouterr().err
    import pandas as pd

    first, second = pd.read_parquet(scored), pd.read_parquet(rescored)
    assert list(second.columns) == list(first.columns)
    pd.testing.assert_frame_equal(second, first)
    # without --json: what was scored and one line per mass, the same numbers
    assert main(["nn", "evaluate", "--models", str(out / "models"), str(events)]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0] == f"{len(toy(50.0, n=200))} events scored by the networks of 50, 100 GeV"
    for line, (mass, m) in zip(lines[1:], metrics.items(), strict=True):
        assert line.startswith(f"{mass} GeV: AUC {m['auc']:.4f}, background leakage at 50 % "
                               f"signal {m['leakage_at_50pct_signal']:.3g}")
    assert "note: the scores are not kept; -o FILE.parquet writes them" in printed.err
    # a simulated table's events outside the window can lack an S2: the error says so
    table = toy(50.0, n=200)
    table["in_window"] = table.index % 10 != 0
    table.loc[~table["in_window"], "cs2_pe"] = 0.0
    windowed = tmp_path / "windowed.parquet"
    table.to_parquet(windowed)
    assert main(["nn", "evaluate", "--models", str(out / "models"), str(windowed)]) == 2
    n_out = int((~table["in_window"]).sum())
    assert (f"; {n_out} of {len(table)} events are outside the analysis window (in_window "
            "false): --in-window keeps the window's") in capsys.readouterr().err
    assert main(["nn", "evaluate", "--in-window", "--models", str(out / "models"), str(windowed),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_events"] == len(table) - n_out

    missing = tmp_path / "missing.parquet"
    toy(50.0, n=50).drop(columns=["cs2_pe"]).to_parquet(missing)
    assert main(["nn", "evaluate", "--models", str(out / "models"), str(missing)]) == 2
    assert "cs2_pe" in capsys.readouterr().err

    assert main(["nn", "evaluate", "--in-window", "--models", str(out / "models"),
                 str(events)]) == 2
    assert "in_window" in capsys.readouterr().err

    study = tmp_path / "study"
    assert main(["nn", "study", "pca", *common, "-o", str(study), "--json"]) == 0
    table = json.loads(capsys.readouterr().out)["table"]
    assert all(row["pca_leakage"] >= 0 for row in table)
    assert (study / "pca.csv").is_file() and (study / "pca.png").is_file()
    record = json.loads(Image.open(study / "pca.png").info["wimpsift"])
    assert record["stage"] == "nn.study" and record["config"]["study"] == "pca"
    # a mass the reused networks lack is refused before the output folder is made
    projections = tmp_path / "projections"
    assert main(["nn", "study", "projections", *common[2:], "--models", str(out),
                 "--projection-mass", "33", "-o", str(projections)]) == 2
    assert "--projection-mass: 33 GeV" in capsys.readouterr().err
    assert not projections.exists()


@pytest.mark.parametrize(
    ("argv", "word"),
    [  # errors name the option typed, not the configuration's field behind it
        (["nn", "train", "--inputs", "bogus", "-o", "{tmp}/x"],
         "error: --inputs: unknown input variable 'bogus'"),
        (["nn", "study", "pca", "--inputs", "bogus", "-o", "{tmp}/x"],
         "error: --inputs: unknown input variable 'bogus'"),
        (["nn", "train", "--n-signal", "5", "-o", "{tmp}/x"], "error: --n-signal: "),
        (["nn", "train", "--n-background", "5", "-o", "{tmp}/x"], "error: --n-background: "),
        (["nn", "train", "--masses", "0", "-o", "{tmp}/x"], "error: --masses: "),
        (["nn", "train", "--backgrounds", "radon", "--masses", "50", "-o", "{tmp}/x"],
         "error: --backgrounds: got ['radon']"),
        (["nn", "train", "--backgrounds", ",", "--masses", "50", "-o", "{tmp}/x"],
         "error: --backgrounds: got []"),
        # given empty: refused, not every background or every default mass
        (["nn", "train", "--backgrounds", "", "--masses", "50", "-o", "{tmp}/x"],
         "error: --backgrounds: got []"),
        (["nn", "train", "--masses", "", "-o", "{tmp}/x"], "--masses: "),
        (["nn", "train", "--mi-epsilon", "2", "-o", "{tmp}/x"], "error: --mi-epsilon: "),
        (["nn", "train", "--hidden", "10,x", "-o", "{tmp}/x"], "error: --hidden: "),
        (["nn", "train", "--detector", "nowhere", "--masses", "50", "-o", "{tmp}/x"],
         "error: --detector: 'nowhere'"),
        (["nn", "study", "raw_vs_corrected", "--models", "{tmp}", "-o", "{tmp}/x"],
         "error: --models: only for the pca and projections studies"),
        (["nn", "evaluate", "--models", "{tmp}", "{tmp}/e.parquet"], "index.json"),
    ],
)
def test_bad_input_exits_2(tmp_path, capsys, argv, word):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and word in err[0]
    assert not (tmp_path / "x").exists()


def test_study_refuses_networks_trained_on_another_detector(tmp_path, capsys, model_set):
    """``nn study pca --models`` applied the networks to the samples of ``--detector``
    without comparing the detector they were trained on (none recorded a definition)."""
    from wimpsift.detectors import load_detector

    folder = model_set if (model_set / "index.json").is_file() else model_set / "models"
    path = folder / json.loads((folder / "index.json").read_text())["files"]["50"]
    data = json.loads(path.read_text())
    data["provenance"]["detector"] = load_detector("lux_2013").model_dump(mode="json")
    path.write_text(json.dumps(data))
    out = tmp_path / "study"
    assert main(["nn", "study", "pca", "-d", "xenon1t_sr0", "--models", str(model_set),
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trained on detector 'lux_2013', not 'xenon1t_sr0'" in err[0], err
    assert not out.exists()
