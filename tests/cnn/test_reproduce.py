"""`wimpsift reproduce cnn` end to end on synthetic toy images, and its bad input."""

from __future__ import annotations

import json

import pytest
from sklearn import metrics as skm

from wimpsift.cli.main import main
from wimpsift.errors import ConfigError
from wimpsift.images.synthetic import synthetic_image_sets
from wimpsift.io.cnn_model import load_cnn
from wimpsift.papers import cnn_table_iv
from wimpsift.pipelines.reproduce_cnn import build_in_process, make_config, run_reproduce_cnn
from wimpsift.seeding import int_seed

TINY_GRID = {"n_conv_layers": [1], "batch_size": [50], "epochs": [1, 2],
             "leaky_alpha": [0.05], "learning_rate": [0.005]}


@pytest.mark.slow
def test_pipeline_on_synthetic_images(tmp_path):
    cfg = make_config("quick", images="synthetic", train_events_per_class=60,
                      test_events_per_class=60, grid=TINY_GRID, executor="serial",
                      progress=False)
    metrics = run_reproduce_cnn(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for kind in ("hit", "peak", "hitpeak"):
        for key in ("accuracy", "recall", "precision", "average_precision", "roc_auc",
                    "er_rejection_at_50pct"):
            assert 0.0 <= saved[kind][key] <= 1.0
        assert (tmp_path / "models" / kind / "model.torchscript.pt").is_file()
    for name in ("standard_selection", "dense_network"):
        assert 0.0 <= saved["baselines"][name]["er_rejection_at_50pct"] <= 1.0
    assert saved["provenance"]["stage"] == "cnn.reproduce"
    from PIL import Image  # every figure carries the run's record

    figures = sorted((tmp_path / "figures").glob("*.png"))
    assert {"roc.png", "pr.png", "history_hit.png", "confusion_peak.png",
            "grid_learning_rate.png"} <= {p.name for p in figures}
    for path in figures:
        assert json.loads(Image.open(path).info["wimpsift"]) == saved["provenance"], path.name
    report = (tmp_path / "report.html").read_text()
    assert "SYNTHETIC" in report and "0.962" in report and "roc.png" in report
    # stage 1 at the paper's lr 0.001, then the learning-rate stage's 0.005: 2 x 3 folds
    assert metrics["grid_search"]["n_trained"] == 6
    # the saved model, reloaded, gives the metrics.json numbers on the same test images
    test = synthetic_image_sets(cfg.kinds, 60, int_seed(cfg.seed, "images", "test"))
    for kind in ("hit", "hitpeak"):
        X, y, _ = test[kind]
        p = load_cnn(tmp_path / "models" / kind).predict_proba(X)[:, 1]
        assert saved[kind]["accuracy"] == pytest.approx(skm.accuracy_score(y, p >= 0.5), abs=1e-12)
        assert saved[kind]["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
        matrix = saved[kind]["confusion_matrix"]
        assert matrix["tp"] + matrix["fn"] == int(y.sum()) == 60
    # the paper's Table IV is shown beside ours, from wimpsift.papers
    assert saved["paper_reference"]["table_iv"] == cnn_table_iv()
    # a rerun resumes: every trial and every final model comes from the cache (the
    # final trainings' own timings included), with the same test metrics
    again = run_reproduce_cnn(cfg, tmp_path)
    assert again["grid_search"]["n_trained"] == 0
    for kind in ("hit", "peak", "hitpeak"):
        assert again[kind] == metrics[kind]
    finals = tmp_path / "search" / "cnn.final_model"
    entries = [p for p in finals.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 3
    assert not [p for p in finals.iterdir() if p.name.endswith(".work")]
    # a damaged cached model is trained again, to the same model and metrics
    for entry in entries:
        (entry / "model" / "model.pt").write_bytes(b"damaged")
    third = run_reproduce_cnn(cfg, tmp_path)
    for kind in ("hit", "peak", "hitpeak"):
        assert third[kind]["roc_auc"] == metrics[kind]["roc_auc"]
        assert third[kind]["final_training"]["fit_time_s"] != metrics[kind]["final_training"]["fit_time_s"]


def test_a_final_model_stopped_part_way_continues_from_its_checkpoint(tmp_path, monkeypatch):
    from wimpsift.pipelines.reproduce_cnn import fit_final_model
    from wimpsift.training import checkpoints

    class Killed(Exception):
        pass

    def kill_at_3(what, done, total):
        if done == 3:
            raise Killed

    monkeypatch.setattr(checkpoints, "EVERY_S", 0.0)
    cfg = make_config("quick", images="synthetic", progress=False, monitor="val_recall")
    X, y, _ = synthetic_image_sets(["hitpeak"], 60, 0)["hitpeak"]
    params = {"batch_size": 30, "epochs": 5, "learning_rate": 0.005}
    whole, whole_info = fit_final_model(cfg, X, y, params)
    ckpt = tmp_path / "checkpoint.pt"
    with pytest.raises(Killed):
        fit_final_model(cfg, X, y, params, progress=kill_at_3, checkpoint=str(ckpt))
    heard = []
    rest, info = fit_final_model(cfg, X, y, params, progress=lambda *a: heard.append(a[1]),
                                 checkpoint=str(ckpt))
    assert heard[0] == 3 and heard[-1] == 5  # continued from epoch 3, not from scratch
    assert rest.history_ == whole.history_ and info["best_epoch"] == whole_info["best_epoch"]
    assert (rest.predict_proba(X) == whole.predict_proba(X)).all()  # the best weights, bitwise


@pytest.mark.parametrize("overrides,match", [
    ({"train_events_per_class": 0}, "train_events_per_class"),
    ({"kinds": []}, "kinds"), ({"kinds": ["hit"], "search_kind": "hitpeak"}, "search_kind"),
    ({"grid": {"epochs": []}}, "epochs"), ({"grid": {"colour": [1]}}, "colour"),
    ({"pool_stride": 0}, "pool_stride"), ({"halving_factor": 1}, "halving_factor"),
])
def test_bad_configuration(overrides, match):
    with pytest.raises(ConfigError, match=match):
        make_config("quick", **overrides)
    with pytest.raises(ConfigError, match="scale"):
        make_config("huge")


def test_cli_bad_input_exits_2(tmp_path, capsys):
    code = main(["reproduce", "cnn", "-o", str(tmp_path / "x"), "--train-events-per-class",
                 "0"])
    assert code == 2
    assert "error: --train-events-per-class: " in capsys.readouterr().err  # the option typed
    code = main(["reproduce", "cnn", "-o", str(tmp_path / "y"), "--pool-stride", "0"])
    assert code == 2
    code = main(["reproduce", "cnn", "-o", str(tmp_path / "z"), "--halving-factor", "1"])
    assert code == 2
    assert "error: --halving-factor: " in capsys.readouterr().err
    assert not (tmp_path / "z").exists()


def test_cli_unknown_scale_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["reproduce", "cnn", "--scale", "huge", "-o", str(tmp_path)])
    assert info.value.code == 2


def test_image_sets_go_to_a_cluster_when_it_saves_more_than_its_start():
    # the main job's quick sets (1,000 events per class: 4 chunks) on two workers: here
    assert build_in_process(4, 2)
    # the paper's sets (10,000 and 5,000 per class: 40 and 20 chunks) on a cluster, on two
    # workers as on fifteen; before, fifteen workers built them here on one core
    for workers in (2, 15):
        assert not build_in_process(40, workers) and not build_in_process(20, workers)
    # more workers never move a set back into this process; one worker never leaves it
    for chunks in range(1, 80):
        assert build_in_process(chunks, 1)
        here = [build_in_process(chunks, n) for n in range(1, 33)]
        assert here == sorted(here, reverse=True)
