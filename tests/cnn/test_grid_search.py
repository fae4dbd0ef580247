"""Grid search: stratified folds, checkpoint epochs, resume, Dask, validators."""

from __future__ import annotations

import numpy as np
import pytest

from tests.cnn.conftest import separable_images
from wimpsift.errors import ConfigError, DataError
from wimpsift.plots.grid_search import plot_layer_heatmaps, plot_stage_curves
from wimpsift.training.grid_search import (
    CHECKPOINT_FILE,
    TRIAL_STAGE,
    grid_config,
    grid_search,
    run_trial,
    stage_sizes,
    stratified_folds,
)

TINY = {"n_conv_layers": [1], "batch_size": [40], "epochs": [1, 2], "leaky_alpha": [0.05, 0.1],
        "learning_rate": [0.001, 0.005], "progress": False}


def test_folds_are_stratified_and_partition_the_data():
    y = np.array([1] * 90 + [0] * 210)
    np.random.default_rng(0).shuffle(y)
    folds = stratified_folds(y, 3, random_state=0)
    seen = np.concatenate([val for _, val in folds])
    assert sorted(seen.tolist()) == list(range(len(y)))
    for train, val in folds:
        assert len(np.intersect1d(train, val)) == 0
        assert y[val].mean() == pytest.approx(0.3, abs=0.01)
        assert y[train].mean() == pytest.approx(0.3, abs=0.01)


def test_trial_scores_every_grid_epoch_from_one_training():
    X, y = separable_images(120)
    folds = stratified_folds(y, 3, 0)
    heard: list[tuple[str, int, int]] = []
    out = run_trial(X, y.astype(np.float32), *folds[0], {"batch_size": 40, "random_state": 0},
                    [1, 3], progress=lambda *a: heard.append(a), label="t")
    assert sorted(out["scores"]) == ["1", "3"] and out["epochs_trained"] == 3
    # the training reports every epoch, from 0 (its clock starts) to the last
    assert heard == [("t epochs", e, 3) for e in range(4)]
    # epoch 1 read during the 3-epoch training scores exactly as a 1-epoch training
    short = run_trial(X, y.astype(np.float32), *folds[0], {"batch_size": 40, "random_state": 0},
                      [1])
    assert short["scores"]["1"] == out["scores"]["1"]
    for scores in out["scores"].values():
        assert all(0.0 <= v <= 1.0 for v in scores.values())
        p, r = scores["precision"], scores["recall"]
        assert scores["f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0, abs=1e-12)
    # the images are separable: three epochs rank the validation fold well
    assert out["scores"]["3"]["roc_auc"] > 0.8


class _Killed(Exception):
    """Stands for a worker killed part-way through a trial."""


def _kill_at(epoch: int):
    def progress(what: str, done: int, total: int) -> None:
        if done == epoch:
            raise _Killed
    return progress


def test_a_trial_stopped_part_way_continues_from_its_checkpoint(tmp_path):
    X, y = separable_images(120)
    y = y.astype(np.float32)
    folds = stratified_folds(y, 3, 0)
    params = {"batch_size": 40, "random_state": 0}
    whole = run_trial(X, y, *folds[0], params, [1, 2, 4])
    ckpt = tmp_path / CHECKPOINT_FILE
    with pytest.raises(_Killed):  # a checkpoint after every epoch, then killed after the 3rd
        run_trial(X, y, *folds[0], params, [1, 2, 4], progress=_kill_at(3),
                  checkpoint=str(ckpt), checkpoint_every_s=0.0)
    assert ckpt.is_file()
    heard: list[tuple[str, int, int]] = []
    again = run_trial(X, y, *folds[0], params, [1, 2, 4], progress=lambda *a: heard.append(a),
                      label="t", checkpoint=str(ckpt), checkpoint_every_s=0.0)
    assert heard[0] == ("t epochs", 3, 4) and heard[-1] == ("t epochs", 4, 4)
    # the scores of epochs 1 and 2 come from the checkpoint, epoch 4's from the
    # continuation: all equal to the uninterrupted trial's to the bit
    assert again["scores"] == whole["scores"] and again["epochs_trained"] == 4
    # and says how many epochs it found done (a resumed run's estimate counts the rest only)
    assert again["epochs_from_checkpoint"] == 3 and whole["epochs_from_checkpoint"] == 0
    assert again["fit_time_s"] > 0 and again["images_per_s"] > 0
    # the checkpoint of another trial's settings is not continued: a fresh training
    other = run_trial(X, y, *folds[0], {**params, "learning_rate": 0.005}, [1, 2, 4],
                      checkpoint=str(ckpt), checkpoint_every_s=1e9)
    fresh = run_trial(X, y, *folds[0], {**params, "learning_rate": 0.005}, [1, 2, 4])
    assert other["scores"] == fresh["scores"]


def test_a_damaged_or_planted_checkpoint_is_trained_again(tmp_path):
    import os
    import pickle

    X, y = separable_images(90)
    y = y.astype(np.float32)
    folds = stratified_folds(y, 3, 0)
    params = {"batch_size": 40, "random_state": 0}
    whole = run_trial(X, y, *folds[0], params, [1, 2])
    ckpt = tmp_path / CHECKPOINT_FILE
    ckpt.write_bytes(b"not a checkpoint")
    assert run_trial(X, y, *folds[0], params, [1, 2], checkpoint=str(ckpt))["scores"] == whole["scores"]
    ran = tmp_path / "ran"

    class Planted:
        def __reduce__(self):
            return (os.mkdir, (str(ran),))

    ckpt.write_bytes(pickle.dumps({"state": Planted()}, protocol=2))
    assert run_trial(X, y, *folds[0], params, [1, 2], checkpoint=str(ckpt))["scores"] == whole["scores"]
    assert not ran.exists()  # read with weights_only: nothing in it ran
    # a checkpoint that cannot be written (its folder is a file) only logs: same scores
    blocked = tmp_path / "a_file" / CHECKPOINT_FILE
    blocked.parent.write_text("")
    assert run_trial(X, y, *folds[0], params, [1, 2], checkpoint=str(blocked),
                     checkpoint_every_s=0.0)["scores"] == whole["scores"]


def test_checkpoint_epoch_reads_whole_epochs_of_plain_checkpoints_only(tmp_path, caplog):
    import torch

    from wimpsift.training.checkpoints import checkpoint_epoch
    from wimpsift.training.cnn_estimator import _RESUME_KEYS

    path = tmp_path / CHECKPOINT_FILE
    assert checkpoint_epoch(path, 0, 10) is None  # nothing there
    state = dict.fromkeys(_RESUME_KEYS, 0)
    for epoch, read in ((3, 3), ("3", None), (3.0, None), (True, None)):
        torch.save({"state": {**state, "epoch": epoch}, "scores": {}, "fit_time_s": 1.0,
                    "images": 10.0}, path)
        assert checkpoint_epoch(path, 0, 10) == read
    path.write_bytes(b"not a checkpoint")
    with caplog.at_level("WARNING"):
        assert checkpoint_epoch(path, 0, 10) is None
    assert not caplog.records  # the training that reads it again warns, once


#: the serial search's reports over the tiny grid (3 + 3 + 3 trainings): one per training
#: finished, and one more as stages 2 and 3 start
REPORTED = (1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9)


def test_serial_search_resumes_from_cache(tmp_path, monkeypatch):
    from wimpsift.training import checkpoints

    saved: list[str] = []
    save = checkpoints.save_checkpoint
    monkeypatch.setattr(checkpoints, "EVERY_S", 0.0)  # a checkpoint after every epoch
    monkeypatch.setattr(checkpoints, "save_checkpoint",
                        lambda path, c: (saved.append(path.parent.name), save(path, c)))
    X, y = separable_images(120)
    cfg = grid_config(**TINY, executor="serial")
    heard: list[tuple] = []
    first = grid_search(X, y, cfg, cache_dir=tmp_path, units=heard.append)
    assert len(set(saved)) == 9  # each trained trial kept a checkpoint while it ran
    # 15 trials: stage 1, 1 config x 3 folds; alpha, 2 x 3 (alpha = 0.05 shared with
    # stage 1); learning rate, 2 x 3 (lr = 0.001 shared with the alpha stage) -> 9 trained
    assert first.n_trained == 9 and first.n_cached == 6
    # the distinct trainings are reported one by one, none of them found in the cache,
    # and the rest again when stages 2 and 3 start (their settings are known then)
    assert stage_sizes(cfg) == (3, 3, 3)
    assert [(p.done, p.total, p.found, p.parallel) for p in heard] == [
        (done, 9, 0, 1) for done in REPORTED]
    # with the mean fit time of the trainings finished so far
    fit_times = [t.result["fit_time_s"] for t in first.trials]
    assert all(p.training_s > 0 for p in heard)
    assert max(p.training_s for p in heard) <= max(fit_times)
    assert min(p.training_s for p in heard) >= min(fit_times)
    # one at a time, the rest is one round per training left; stage 1's epoch count is
    # reported from its choice on
    assert [p.left_s for p in heard] == pytest.approx([p.training_s * (9 - p.done) for p in heard],
                                                      rel=1e-12)
    assert [p.epochs for p in heard] == [None] * 3 + [first.best_params["epochs"]] * 8
    heard.clear()
    again = grid_search(X, y, cfg, cache_dir=tmp_path, units=heard.append)
    assert again.n_trained == 0 and again.n_cached == 15
    # the cached trainings say how long a training takes before any is trained
    distinct = list({t.key: t.result["fit_time_s"] for t in first.trials}.values())
    assert [(p.done, p.total, p.found, p.parallel) for p in heard] == [
        (done, 9, done, 1) for done in REPORTED]
    assert heard[-1].training_s == pytest.approx(np.mean(distinct), rel=1e-12)
    # and a stored trial leaves no work folder (no checkpoint) behind
    assert not [p.name for p in (tmp_path / TRIAL_STAGE).iterdir() if p.name.endswith(".work")]
    assert again.rows() == first.rows() and again.best_params == first.best_params
    assert set(first.best_params) >= {"n_conv_layers", "batch_size", "epochs", "leaky_alpha",
                                      "learning_rate"}
    rows = first.rows("layers_batch_epochs")
    assert {r["epochs"] for r in rows} == {1, 2} and all(r["n_folds"] == 3 for r in rows)
    assert plot_layer_heatmaps(first, tmp_path)[0].is_file()
    assert plot_stage_curves(first, "alpha", tmp_path / "a.png").is_file()


def test_a_resumed_search_counts_a_checkpointed_training_as_its_epochs_done(tmp_path,
                                                                           monkeypatch):
    """A search stopped after the first epoch of its second training reads the first
    from the cache and continues the second from its checkpoint: it reports half of that
    training (1 of 2 epochs) as done before this run, and from its submission on the
    rest counts half a training for it."""
    from wimpsift.training import checkpoints

    monkeypatch.setattr(checkpoints, "EVERY_S", 0.0)  # a checkpoint after every epoch
    after_epoch = checkpoints.Checkpoints.after_epoch
    calls = []

    def killed_in_the_second_training(self, epoch, fitting):
        after_epoch(self, epoch, fitting)
        calls.append(epoch)
        if len(calls) == 3:  # epochs 1 and 2 of the first training, 1 of the second
            raise _Killed

    X, y = separable_images(120)
    cfg = grid_config(**TINY, executor="serial")
    with monkeypatch.context() as m:
        m.setattr(checkpoints.Checkpoints, "after_epoch", killed_in_the_second_training)
        with pytest.raises(_Killed):
            grid_search(X, y, cfg, cache_dir=tmp_path)
    heard: list[tuple] = []
    resumed = grid_search(X, y, cfg, cache_dir=tmp_path, units=heard.append)
    # the cached training, then again as the checkpointed one is submitted
    assert [(p.done, p.total, p.found, p.parallel) for p in heard] == [
        (1, 9, 1.0, 1), *[(done, 9, 1.0 if done == 1 else 1.5, 1) for done in REPORTED]]
    # one at a time: a round per training left, half a round for the checkpointed one
    assert [p.left_s / p.training_s for p in heard] == pytest.approx(
        [8, 7.5, 7, 6, 6, 5, 4, 3, 3, 2, 1, 0], abs=1e-12)
    assert resumed.rows() == grid_search(X, y, cfg).rows()  # to the same scores


def test_dask_local_cluster_gives_the_serial_results(tmp_path):
    X, y = separable_images(90)
    small = {**TINY, "leaky_alpha": [0.05], "learning_rate": [0.001], "epochs": [1]}
    serial = grid_search(X, y, grid_config(**small, executor="serial"))
    heard: list[tuple] = []
    dask = grid_search(X, y, grid_config(**small, executor="dask", n_workers=2),
                       units=heard.append)
    assert dask.rows() == serial.rows()
    # three trainings (one setting, three folds), two at a time on the two workers: after
    # the first, two are left, one round; after the second, one, still a round; stages 2
    # and 3 only share stage 1's trainings
    assert [(p.done, p.total, p.found, p.parallel) for p in heard] == [
        (done, 3, 0, 2) for done in (1, 2, 3, 3, 3)]
    assert [p.left_s / p.training_s for p in heard] == pytest.approx([1, 1, 0, 0, 0], abs=1e-12)


def test_successive_halving_keeps_exact_scores_and_trains_less(tmp_path):
    X, y = separable_images(120)
    settings = {**TINY, "n_conv_layers": [1, 2], "batch_size": [30, 60], "epochs": [1, 2, 3],
                "executor": "serial", "scoring": "roc_auc"}
    full = grid_search(X, y, grid_config(**settings))
    heard: list[tuple] = []
    fast = grid_search(X, y, grid_config(**settings, halving_factor=2), cache_dir=tmp_path,
                       units=heard.append)
    assert heard == []  # how many trainings halving needs depends on its choices: no count

    def key(r):
        return tuple(r[k] for k in ("stage", "n_conv_layers", "batch_size", "leaky_alpha",
                                    "learning_rate", "epochs"))

    exhaustive = {key(r): r for r in full.rows()}
    rows = fast.rows()
    assert rows and all(exhaustive[key(r)] == r for r in rows)  # continuing is exact
    stage1 = [r for r in rows if r["stage"] == "layers_batch_epochs"]
    # 4 configurations at epoch 1, the best 2 at epoch 2, the best 1 at epoch 3
    assert [sum(r["epochs"] == e for r in stage1) for e in (1, 2, 3)] == [4, 2, 1]
    assert fast.epochs_trained() < full.epochs_trained()
    assert fast.to_json()["halving_factor"] == 2
    assert plot_layer_heatmaps(fast, tmp_path)[0].is_file()  # pruned cells stay blank
    again = grid_search(X, y, grid_config(**settings, halving_factor=2), cache_dir=tmp_path)
    assert again.n_trained == 0 and again.rows() == rows
    assert again.best_params == fast.best_params


def test_halving_never_prunes_alpha_or_learning_rate_before_the_chosen_epoch():
    X, y = separable_images(120)
    # one stage-1 configuration, so stage 1 is exhaustive; the alpha and learning-rate
    # stages decide at its chosen epoch, before which halving must not prune
    settings = {**TINY, "batch_size": [30], "epochs": [1, 2, 3], "executor": "serial",
                "scoring": "roc_auc", "leaky_alpha": [0.001, 0.01, 0.05, 0.1],
                "learning_rate": [0.001, 0.003, 0.01]}
    full = grid_search(X, y, grid_config(**settings))
    fast = grid_search(X, y, grid_config(**settings, halving_factor=4))
    assert fast.stage_best == full.stage_best and fast.best_params == full.best_params
    chosen = full.best_params["epochs"]
    for stage, n in (("alpha", 4), ("learning_rate", 3)):
        rows = fast.rows(stage)
        assert all(sum(r["epochs"] == e for r in rows) == n for e in (1, 2, 3) if e <= chosen)
        assert all(sum(r["epochs"] == e for r in rows) == 1 for e in (1, 2, 3) if e > chosen)


@pytest.mark.parametrize("field", ["n_conv_layers", "batch_size", "epochs", "leaky_alpha",
                                   "learning_rate"])
def test_empty_grid_is_a_config_error(field):
    with pytest.raises(ConfigError, match=field):
        grid_config(**{field: []})


@pytest.mark.parametrize("settings,match", [
    ({"scoring": "f2"}, "scoring"), ({"n_splits": 1}, "n_splits"),
    ({"n_conv_layers": [4]}, "n_conv_layers"), ({"epochs": [0]}, "epochs"),
    ({"estimator_params": {"epochs": 3}}, "estimator_params"),
    ({"estimator_params": {"colour": 3}}, "estimator_params"),
    # trials fit without validation data: it would have no effect (now refused by fit)
    ({"estimator_params": {"restore_best_weights": True}}, "estimator_params: restore_best_weights"),
    ({"grid_size": 3}, "grid_size"), ({"halving_factor": 1}, "halving_factor"),
])
def test_bad_grid_settings(settings, match):
    with pytest.raises(ConfigError, match=match):
        grid_config(**settings)


def test_search_data_validation():
    X, y = separable_images(60)
    cfg = grid_config(**TINY, executor="serial")
    with pytest.raises(DataError, match="class"):
        grid_search(X, np.zeros(60), cfg)
    few = y.copy()
    few[:] = 0
    few[:2] = 1
    with pytest.raises(DataError, match="n_splits"):
        grid_search(X, few, cfg)
    X[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        grid_search(X, y, cfg)
