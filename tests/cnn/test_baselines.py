"""Baselines: the NR-median standard selection and the dense network on event variables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wimpsift.errors import ConfigError, DataError
from wimpsift.seeding import int_seed
from wimpsift.training.baselines import (
    EventVariableMLP,
    EventVariableMLPEnsemble,
    NRBandMedianSelection,
    event_features,
)


def toy_events(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """NR band 0.35 dex below the ER band in log10(cS2/cS1), both falling with cS1."""
    rng = np.random.default_rng(seed)
    y = np.repeat([1, 0], n)
    cs1 = rng.uniform(3, 70, 2 * n)
    band = np.where(y == 1, 1.9, 2.25) - 0.4 * np.log10(cs1) + rng.normal(0, 0.1, 2 * n)
    table = pd.DataFrame({"cs1_pe": cs1, "cs2_pe": cs1 * 10**band,
                          "r_cm": rng.uniform(0, 36, 2 * n), "z_cm": rng.uniform(-90, -5, 2 * n)})
    return table, y


def test_standard_selection_keeps_half_of_nr_and_rejects_er():
    train, ytr = toy_events(3000, 0)
    test, yte = toy_events(3000, 1)
    cut = NRBandMedianSelection().fit(train, ytr)
    s = cut.selection_summary(test, yte)
    assert s["nr_acceptance"] == pytest.approx(0.5, abs=0.03)
    # bands 3.5 sigma apart: ER leaking below the NR median ~ Phi(-3.5) ~ 2e-4
    assert s["er_rejection"] > 0.995
    # the median follows the band's slope in cS1
    assert cut.nr_median(np.array([10.0]))[0] == pytest.approx(1.9 - 0.4, abs=0.03)


def test_the_selections_rejection_error_is_binomial_and_never_zero():
    """A cut that leaked no ER test event reported its rejection as exactly known."""
    from wimpsift.metrics.remaining import ZERO_COUNT_UPPER_68

    assert ZERO_COUNT_UPPER_68 == pytest.approx(1.29, abs=0.005)  # Feldman-Cousins, n = 0, 68 %
    train, ytr = toy_events(3000, 0)
    cut = NRBandMedianSelection().fit(train, ytr)
    for n, seed in ((3000, 1), (200, 6)):
        test, yte = toy_events(n, seed)
        s = cut.selection_summary(test, yte)
        r, n_er = s["er_rejection"], s["n_er"]
        assert s["er_leaked"] == round((1 - r) * n_er)
        binomial = np.sqrt(r * (1 - r) / n_er)
        assert s["er_rejection_error"] == pytest.approx(max(binomial, ZERO_COUNT_UPPER_68 / n_er), rel=1e-12)
        assert s["er_rejection_error"] > 0
    assert s["er_leaked"] == 0  # 200 ER events at ~2e-4 leakage: none leaks


def test_dense_network_separates_bands():
    train, ytr = toy_events(1000, 2)
    test, yte = toy_events(1000, 3)
    mlp = EventVariableMLP(random_state=0).fit(train, ytr)
    assert (mlp.predict(test) == yte).mean() > 0.9


def test_dense_ensemble_is_the_mean_log_odds_of_its_seeded_members():
    train, ytr = toy_events(400, 4)
    test, _ = toy_events(200, 5)
    columns = ("cs1_pe", "log10_cs2")
    ensemble = EventVariableMLPEnsemble(3, columns, random_state=7).fit(train, ytr)
    members = ensemble.member_log_odds(test)
    assert members.shape == (3, len(test))
    # member 0 is the single network of the same seed, the others the CNN ensembles' seeds
    single = EventVariableMLP(columns=columns, random_state=7).fit(train, ytr)
    p = single.predict_proba(test)[:, 1]
    assert np.allclose(members[0], np.log(p) - np.log1p(-p))
    assert [m.random_state for m in ensemble.members] == [7, int_seed(7, "ensemble", 1),
                                                           int_seed(7, "ensemble", 2)]
    assert not np.allclose(members[0], members[1])
    assert np.allclose(ensemble.log_odds(test), members.mean(axis=0))
    with pytest.raises(ConfigError, match="size"):
        EventVariableMLPEnsemble(0, columns)


def test_baseline_validators():
    table, y = toy_events(100, 0)
    with pytest.raises(DataError, match="missing column"):
        NRBandMedianSelection().fit(table.drop(columns="cs2_pe"), y)
    with pytest.raises(DataError, match="both 0"):
        NRBandMedianSelection().fit(table, np.ones(len(y)))
    bad = table.copy()
    bad.loc[0, "cs1_pe"] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        NRBandMedianSelection().fit(bad, y)
    bad = table.copy()
    bad.loc[0, "cs2_pe"] = -1.0
    with pytest.raises(DataError, match="non-positive"):
        event_features(bad, ["log10_cs2"])
    with pytest.raises(ConfigError, match="n_bins"):
        NRBandMedianSelection(n_bins=0).fit(table, y)
    with pytest.raises(ConfigError, match="columns"):
        EventVariableMLP(columns=()).fit(table, y)
    with pytest.raises(DataError, match="DataFrame"):
        event_features(np.zeros((3, 2)), ["cs1_pe"])
