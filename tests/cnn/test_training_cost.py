"""The wall-time model of the grid search's rounds and of the final models
(:mod:`wimpsift.training.cost`), against the grid's structure and the measured trainings
of the paper-scale CPU run (``tests/data/cnn_paper_cpu.json``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wimpsift.pipelines.reproduce_cnn import QUICK_GRID
from wimpsift.training.cost import final_models_s, search_left_s
from wimpsift.training.grid_search import GridSearchConfig, grid_config, stage_sizes

SUMMARY = Path(__file__).resolve().parents[1] / "data" / "cnn_paper_cpu.json"


def paper_grid(metrics: dict) -> GridSearchConfig:
    """The paper-scale run's grid as its configuration (provenance) records it."""
    return grid_config(**metrics["provenance"]["config"]["grid"])


def paper_final_settings(metrics: dict, training_s: float) -> dict:
    """``final_models_s``'s settings of the paper-scale run's final models, at
    ``training_s``: its grid's epochs and folds (:func:`paper_grid`) and its validation
    fraction as its configuration gives them, and the epochs its search chose."""
    config = metrics["provenance"]["config"]
    grid = paper_grid(metrics)
    return {"training_s": training_s, "grid_epochs": grid.epochs, "n_splits": grid.n_splits,
            "n_images": metrics["n_train_events"]["hitpeak"],
            "epochs": metrics["grid_search"]["best_params"]["epochs"],
            "validation_fraction": config["validation_fraction"]}


def test_the_grids_stages_and_their_rounds():
    paper, quick = GridSearchConfig(), grid_config(**QUICK_GRID)
    assert stage_sizes(paper) == (27, 9, 6)
    assert stage_sizes(quick) == (6, 3, 3)
    # each stage waits for its last training: 3 + 2 + 2 rounds on two workers, not 6
    assert search_left_s(stage_sizes(quick), 0, 0, 2, 21.8) == pytest.approx(7 * 21.8)
    assert search_left_s(stage_sizes(paper), 0, 0, 2, 1.0) == 14 + 5 + 3
    # one at a time, a round per training; within a stage only its trainings left count
    assert search_left_s(stage_sizes(paper), 0, 0, 1, 1.0) == 42
    assert search_left_s(stage_sizes(paper), 1, 8, 2, 1.0) == 1 + 3
    assert search_left_s(stage_sizes(paper), 2, 6, 2, 1.0) == 0
    # trainings continuing checkpoints: their rests, longest first, to the least loaded
    # worker; whole rests give the rounds back
    assert search_left_s((27, 9, 6), 1, 8, 2, 1.0, [0.75]) == pytest.approx(0.25 + 3)
    assert search_left_s((27, 9, 6), 1, 6, 2, 1.0, [0.5, 0.5, 0.0]) == pytest.approx(1.0 + 3)
    assert search_left_s((27, 9, 6), 1, 5, 2, 1.0, [0.5]) == pytest.approx(2.0 + 3)
    assert search_left_s((27, 9, 6), 1, 5, 2, 1.0, [0.0, 0.0]) == 2 + 3
    with pytest.raises(ValueError, match="2 head starts"):
        search_left_s((27, 9, 6), 1, 8, 2, 1.0, [0.5, 0.5])
    with pytest.raises(ValueError, match="head_starts=\\[1.0\\]"):
        search_left_s((27, 9, 6), 1, 8, 2, 1.0, [1.0])
    with pytest.raises(ValueError, match="search_left_s: got stage=3, finished=0, parallel=2"):
        search_left_s((27, 9, 6), 3, 0, 2, 1.0)
    with pytest.raises(ValueError, match="finished=10"):
        search_left_s((27, 9, 6), 1, 10, 2, 1.0)


def test_the_final_models_time_from_the_grids_trainings_matches_the_paper_run():
    """The run's final models (3 layers, batch 300, 30 epochs on 14,000 + 6,000 events),
    from the mean fit time of its grid trainings of those settings (60 epochs on 13,333
    events, 6,667 scored at 5 epochs): the search kind's model within 5 % of its measured
    fit time, the whole stage (two rounds of two workers and the test) within 10 %."""
    summary = json.loads(SUMMARY.read_text())
    metrics = summary["metrics"]
    best = metrics["grid_search"]["best_params"]
    chosen = [t["fit_time_s"] for t in summary["trials"]
              if (t["n_conv_layers"], t["batch_size"]) == (best["n_conv_layers"],
                                                          best["batch_size"])]
    assert len(chosen) == 18  # 3 (stage 1) + 9 (α) + 6 (learning rate)
    settings = paper_final_settings(metrics, float(np.mean(chosen)))
    one = final_models_s(**settings, n_models=1, n_test_images=0, parallel=1)
    assert one == pytest.approx(metrics["hitpeak"]["final_training"]["fit_time_s"], rel=0.05)
    stage = final_models_s(**settings, n_models=3,
                           n_test_images=metrics["n_test_events"]["hitpeak"], parallel=2)
    assert stage == pytest.approx(metrics["timings_s"]["final_and_test_s"], rel=0.10)
    # the same models one at a time take three rounds
    assert final_models_s(**settings, n_models=3, n_test_images=0, parallel=1) == pytest.approx(3 * one)
    with pytest.raises(ValueError, match="final_models_s: got training_s=0.0"):
        final_models_s(**{**settings, "training_s": 0.0}, n_models=3, n_test_images=0, parallel=2)


def test_the_rest_after_the_paper_runs_restart_counts_its_checkpoint():
    """The paper-scale run restarted on 2026-12-05 with 35 of 42 trainings in the cache and
    the α stage's last (α 0.1, fold 2) continuing its checkpoint of 35 of 60 epochs (the
    run's log: "epochs: 36/60 ... 0 s elapsed"); the grid then took ``search_s`` and the
    final models ``final_and_test_s``. The estimate as that training is submitted, from the
    11 finished trainings of the chosen settings, is within 2 % of the time taken; counting
    the training whole it was 13 % long."""
    summary = json.loads(SUMMARY.read_text())
    metrics = summary["metrics"]
    best = metrics["grid_search"]["best_params"]
    finished = [t["fit_time_s"] for t in summary["trials"]
                if (t["n_conv_layers"], t["batch_size"]) == (best["n_conv_layers"],
                                                            best["batch_size"])
                and t["learning_rate"] == 0.001
                and (t["leaky_alpha"], t["fold"]) != (0.1, 2)]
    assert len(finished) == 11  # stage 1's three folds and eight of the α stage's nine
    training_s = float(np.mean(finished))
    final_s = final_models_s(**paper_final_settings(metrics, training_s), n_models=3,
                             n_test_images=metrics["n_test_events"]["hitpeak"], parallel=2)
    taken_s = metrics["timings_s"]["search_s"] + metrics["timings_s"]["final_and_test_s"]
    sizes = stage_sizes(paper_grid(metrics))
    estimate_s = search_left_s(sizes, 1, 8, 2, training_s, [35 / 60]) + final_s
    assert estimate_s == pytest.approx(taken_s, rel=0.02)
    whole_s = search_left_s(sizes, 1, 8, 2, training_s) + final_s
    assert whole_s / taken_s > 1.1
