"""Training per mass: transfer learning, MI completion and retraining, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from wimpsift.errors import ConfigError, DataError
from wimpsift.plots.discriminant import plot_auc_vs_epoch, plot_mi_vs_mass
from wimpsift.training.discriminant import (
    TrainedDiscriminant,
    load_discriminants,
    metrics_table,
    save_discriminants,
    train_masses,
    train_one_mass,
    validated_config,
)
from wimpsift.training.studies import pca_leakage, study_pca, study_projections


def _config(**kw):
    base = dict(masses_gev=[10, 50], epochs_from_scratch=6, epochs_transfer=3, max_retrains=0,
                mi_subsets=3)
    base.update(kw)
    return validated_config(**base)


def _flat(net):
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def test_sequential_training_starts_from_previous_weights(toy):
    """With a vanishing learning rate a transferred network keeps the previous weights."""
    cfg = _config(learning_rate=1e-12, mode="sequential")
    models = train_masses(cfg, samples=toy)
    first, second = models[10.0], models[50.0]
    assert second.history[0]["init"] == "previous_mass"
    torch.testing.assert_close(_flat(first.network), _flat(second.network), rtol=0, atol=1e-9)
    assert first.network is not second.network  # the previous model is not modified
    independent = train_masses(cfg.model_copy(update={"mode": "independent"}), samples=toy)
    assert independent[50.0].history[0]["init"] == "random"
    assert not torch.allclose(_flat(independent[10.0].network), _flat(independent[50.0].network))


def test_training_separates_and_meets_mi_criterion(toy):
    cfg = _config(epochs_from_scratch=20, epochs_transfer=5, batch_size=32, learning_rate=0.02)
    before = torch.get_rng_state()
    models = train_masses(cfg, samples=toy)
    assert torch.equal(torch.get_rng_state(), before)  # torch's global generator untouched
    for model in models.values():
        m = model.metrics
        assert m["auc"] > 0.9
        assert m["output_mi_bits"] > 0.95 * m["input_mi_bits"]
        assert len(model.history[0]["auc_per_epoch"]) == model.history[0]["epochs"]
    table = metrics_table(models)
    assert list(table.mass_gev) == [10.0, 50.0]


def test_failed_mi_criterion_triggers_retraining(toy):
    """An untrainable setting (tiny learning rate) fails; retrains use new seeds, then more epochs."""
    cfg = _config(masses_gev=[10], learning_rate=1e-9, max_retrains=2, mi_n_sigma=0.0,
                  epochs_from_scratch=2, retrain_epoch_factor=2.0)
    model = train_one_mass(10.0, toy(10.0), cfg)
    h = model.history
    assert [a["init"] for a in h] == ["random"] * 3
    assert len({a["seed"] for a in h}) == 3
    assert [a["epochs"] for a in h] == [2, 2, 4]
    assert model.metrics["n_attempts"] == 3 and model.metrics["retrained"]
    assert model.metrics["mi_complete"] is False


def test_save_load_round_trip_and_score_range(toy, tmp_path):
    models = train_masses(_config(), samples=toy)
    save_discriminants(models, tmp_path / "models")
    loaded = load_discriminants(tmp_path / "models")
    table = toy(50.0, n=300, seed=9)
    for mass, model in models.items():
        np.testing.assert_array_equal(model.score(table), loaded[mass].score(table))
        s = loaded[mass].score(table)
        assert s.min() >= 0 and s.max() <= 1
    data = json.loads((tmp_path / "models" / "nn_50GeV.json").read_text())
    assert data["provenance"]["stage"] == "nn_train"
    assert data["network"]["hidden"] == [10, 3]
    plot_auc_vs_epoch({"sequential": models}, tmp_path / "auc.png")
    plot_mi_vs_mass(models, tmp_path / "mi.png")
    assert (tmp_path / "auc.png").stat().st_size > 0


def test_saved_model_on_table_missing_inputs(toy, tmp_path):
    model = train_masses(_config(masses_gev=[10]), samples=toy)[10.0]
    path = model.save(tmp_path / "m.json")
    table = toy(10.0).drop(columns=["cs2_pe"])
    with pytest.raises(DataError, match="cs2_pe"):
        TrainedDiscriminant.load(path).score(table)
    with pytest.raises(DataError, match="not a file"):
        TrainedDiscriminant.load(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(DataError, match="not a wimpsift"):
        TrainedDiscriminant.load(tmp_path / "bad.json")
    with pytest.raises(DataError, match="index.json"):
        load_discriminants(tmp_path)


@pytest.mark.parametrize(
    ("mutate", "word"),
    [
        (lambda t: t.iloc[0:0], "empty"),
        (lambda t: t[t.label == 1], "single-class"),
        (lambda t: t.assign(weight=np.where(t.index == 3, -1.0, t.weight)), "negative"),
        (lambda t: t.assign(weight=np.where(t.index == 3, np.nan, t.weight)), "non-finite"),
        (lambda t: t.assign(r_cm=np.where(t.index == 3, np.inf, t.r_cm)), "non-finite"),
        (lambda t: t.drop(columns=["weight"]), "weight"),
        (lambda t: t.drop(columns=["split"]), "split"),
        (lambda t: t.assign(split="train"), "split"),
    ],
)
def test_training_table_validators(toy, mutate, word):
    table = mutate(toy(10.0))
    with pytest.raises(DataError, match=word):
        train_one_mass(10.0, table, _config(masses_gev=[10]))


def test_a_signal_too_rare_for_the_mi_check_is_named_by_its_mass(toy):
    """A low mass keeps few signal events in the window; the error says which mass and how
    many, not only that some subset ran short."""
    table = toy(10.0)
    rare = table[(table.label == 0) | (table.index < 20)].reset_index(drop=True)
    n_test = int(((rare.label == 1) & (rare.split == "test")).sum())
    assert 0 < n_test < 12
    with pytest.raises(DataError, match=rf"^masses_gev: 10 GeV has {n_test} signal events in the "
                                        r"MI sample, too few for the MI check \(two subsets of "
                                        r"more than k=5 each\)"):
        train_one_mass(10.0, rare, _config(masses_gev=[10], mi_subsets=5))


def test_a_rare_signal_is_checked_with_fewer_subsets_split_by_class(toy):
    """Enough signal for two or more subsets of more than k, too little for the random
    split into five: the network is trained and checked, its MI errors from fewer subsets."""
    table = toy(10.0)
    rare = table[(table.label == 0) | (table.index < 50)].reset_index(drop=True)
    n_test = int(((rare.label == 1) & (rare.split == "test")).sum())
    assert 12 <= n_test < 30
    notes: list[str] = []
    model = train_one_mass(10.0, rare, _config(masses_gev=[10], mi_subsets=5), log=notes.append)
    assert np.isfinite(model.metrics["input_mi_error_bits"])
    assert np.isfinite(model.metrics["output_mi_error_bits"])
    assert any(f"{n_test} signal events in the MI sample; its MI errors come from "
               f"{n_test // 6} subsets split by class, not 5" in note for note in notes), notes


@pytest.mark.parametrize(
    ("settings", "word"),
    [
        ({"inputs": "r_cm,bogus"}, "bogus"),
        ({"masses_gev": []}, "masses"),
        ({"masses_gev": [10, -1]}, "masses"),
        ({"mi_epsilon": 1.5}, "mi_epsilon"),
        ({"activation": "nope"}, "activation"),
        ({"hidden": [10, 0]}, "hidden"),
        ({"mode": "parallel"}, "mode"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_config_validators(settings, word):
    with pytest.raises(ConfigError, match=word):
        validated_config(**settings)


def test_pca_is_worse_than_the_network_and_projections(toy, tmp_path):
    models = train_masses(_config(masses_gev=[50], epochs_from_scratch=10), samples=toy)
    pca = pca_leakage(toy(50.0), models[50.0].inputs)
    assert 0.5 <= pca["auc"] < models[50.0].metrics["auc"]
    table = study_pca(models, toy, tmp_path)
    assert (table.leakage_ratio_pca_over_nn > 1).all()
    proj = study_projections(models[50.0], toy(50.0), tmp_path, n_events=100)
    assert set(proj["class"]) == {"signal", "background"}
    # the bins of a class hold its expected events, not the test split's share of them
    # (before: the test weights alone, about half: 806.4 of 1600 background events)
    expected = toy(50.0).groupby("label")["weight"].sum()
    per_class = proj.groupby(["projection", "class"])["expected_events"].sum()
    for (_, cls), total in per_class.items():
        assert total == pytest.approx(expected[int(cls == "signal")], rel=1e-9)
    assert (tmp_path / "pca.png").is_file() and (tmp_path / "projections_50GeV.csv").is_file()


def test_mi_table_sizes_the_completion_test(toy):
    """An independent, larger MI test set: the MI of the rule is measured on all of its
    events (not the test split), so its error falls with its size (eight times the
    events) and AUC and leakage stay on the test split."""
    import pandas as pd

    cfg = _config(masses_gev=[10])
    table = toy(10.0)
    plain = train_one_mass(10.0, table, cfg)
    big = pd.concat([toy(10.0, n=3000, seed=s) for s in (1, 2)], ignore_index=True)
    sized = train_one_mass(10.0, table, cfg, mi_table=big)
    assert sized.metrics["n_mi_test"] == len(big) and plain.metrics["n_mi_test"] == plain.metrics["n_test"]
    assert sized.metrics["auc"] == pytest.approx(plain.metrics["auc"])  # same network, same test split
    assert sized.metrics["mi_relative_error"] < plain.metrics["mi_relative_error"]
    with pytest.raises(DataError, match="mi_table"):
        train_one_mass(10.0, table, cfg, mi_table=big.drop(columns="weight"))


def test_a_focus_background_not_among_the_training_backgrounds_is_refused(toy):
    """``focus_backgrounds=["walls"]`` (misspelt) trained with no focus phase and said
    nothing; the default (None: walls where the samples hold them) still skips quietly
    where they hold none, and a named list round-trips through a dump."""
    table = toy(10.0)
    with pytest.raises(DataError, match=r"focus_backgrounds: 'walls' not among the training "
                                        r"backgrounds \(er, wall\)"):
        train_one_mass(10.0, table, _config(masses_gev=[10], focus_backgrounds=["walls"]))
    named = train_one_mass(10.0, table, _config(masses_gev=[10], focus_backgrounds=["wall"]))
    assert named.history[0]["focus_epochs"]
    no_walls = table[table.source != "wall"]
    default = train_one_mass(10.0, no_walls, _config(masses_gev=[10]))
    assert not default.history[0]["focus_epochs"]
    dumped = _config(masses_gev=[10]).model_dump()  # a configuration validated again
    assert not train_one_mass(10.0, no_walls, validated_config(**dumped)).history[0]["focus_epochs"]
    assert train_one_mass(10.0, table, validated_config(**dumped)).history[0]["focus_epochs"]
