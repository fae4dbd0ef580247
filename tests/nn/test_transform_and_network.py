"""Uniform transform (KS test), dense network inputs and standardisation; validators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import kstest

from wimpsift.errors import ConfigError, DataError
from wimpsift.models.dense import (
    INPUT_PRESETS,
    DenseDiscriminantNet,
    input_matrix,
    resolve_inputs,
)
from wimpsift.models.uniform_transform import UniformTransform


def _balanced(rng, n):
    y = np.repeat([0, 1], n)
    f = 1 / (1 + np.exp(-rng.normal(3.0 * (y - 0.5), 1.3)))  # piled towards 0 and 1
    return f, y


def test_transform_makes_independent_balanced_scores_uniform():
    rng = np.random.default_rng(4)
    f, y = _balanced(rng, 20_000)
    g = UniformTransform().fit(f, y)
    f2, _ = _balanced(rng, 5_000)
    assert kstest(f2, "uniform").pvalue < 1e-6  # the raw output is far from uniform
    assert kstest(g(f2), "uniform").pvalue > 0.01
    assert g.knots_f_.size <= g.max_knots


def test_transform_balances_weighted_classes():
    """4x more background than signal, background weight 1/4: g is uniform on the balance."""
    rng = np.random.default_rng(5)
    y = np.r_[np.zeros(40_000, int), np.ones(10_000, int)]
    f = rng.normal(2.0 * y, 1.0)
    g = UniformTransform().fit(f, y, np.where(y == 0, 0.25, 1.0))
    bal = np.r_[rng.normal(0, 1, 5000), rng.normal(2, 1, 5000)]
    assert kstest(g(bal), "uniform").pvalue > 0.01


def test_transform_round_trip_and_monotone():
    rng = np.random.default_rng(6)
    f, y = _balanced(rng, 3000)
    g = UniformTransform(max_knots=200).fit(f, y)
    h = UniformTransform.from_dict(g.to_dict())
    grid = np.linspace(-0.1, 1.1, 500)
    np.testing.assert_array_equal(g(grid), h(grid))
    assert np.all(np.diff(g(grid)) >= 0)
    assert g(np.array([-1.0, 2.0])).tolist() == [0.0, 1.0]


def test_transform_validators():
    with pytest.raises(DataError, match="not fitted"):
        UniformTransform()(np.array([0.5]))
    with pytest.raises(DataError, match="one class"):
        UniformTransform().fit([0.1, 0.2], [1, 1])
    with pytest.raises(DataError, match="non-finite"):
        UniformTransform().fit([0.1, np.inf], [0, 1])
    with pytest.raises(DataError, match="negative"):
        UniformTransform().fit([0.1, 0.2], [0, 1], [1.0, -2.0])
    with pytest.raises(ConfigError, match="max_knots"):
        UniformTransform(max_knots=1).fit([0.1, 0.2], [0, 1])
    g = UniformTransform().fit([0.1, 0.2], [0, 1])
    with pytest.raises(DataError, match="non-finite"):
        g(np.array([np.nan]))
    with pytest.raises(DataError, match="increasing"):
        UniformTransform.from_dict({"max_knots": 5, "knots_f": [1, 0], "knots_g": [0, 1]})


def test_presets_and_topology():
    assert resolve_inputs("corrected") == ("r_cm", "z_cm", "cs1_pe", "log10_cs2_pe")
    assert resolve_inputs("raw") == ("r_cm", "z_cm", "s1_area_pe", "log10_s2_area_pe")
    assert len(INPUT_PRESETS["corrected_pf"]) == 5
    assert resolve_inputs("r_cm, cs1_pe") == ("r_cm", "cs1_pe")
    assert DenseDiscriminantNet(4).topology == "4-10-3-1"
    assert DenseDiscriminantNet(5).topology == "5-10-3-1"


def test_standardisation_is_stored_in_the_model():
    net = DenseDiscriminantNet(2)
    x = np.column_stack([np.linspace(0, 10, 101), np.linspace(100, 300, 101)])
    net.set_standardisation(x)
    state = net.state_dict()
    np.testing.assert_allclose(state["input_mean"].numpy(), [5.0, 200.0])
    z = net.standardise(torch.as_tensor(x))
    np.testing.assert_allclose(z.mean(0).numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(z.std(0, unbiased=False).numpy(), 1.0, atol=1e-5)
    out = net.predict(x)
    assert out.shape == (101,) and np.all((out >= 0) & (out <= 1))


def test_input_matrix_takes_log10():
    table = pd.DataFrame({"r_cm": [1.0, 2.0], "cs2_pe": [10.0, 1000.0]})
    np.testing.assert_allclose(input_matrix(table, ["r_cm", "log10_cs2_pe"]), [[1, 1], [2, 3]])


@pytest.mark.parametrize("inputs", ["bogus_column", ["r_cm", "log10_nonsense"], [],
                                    ["r_cm", "r_cm"]])
def test_unknown_inputs_are_rejected(inputs):
    with pytest.raises(ConfigError, match="inputs"):
        resolve_inputs(inputs)


def test_input_matrix_validators():
    with pytest.raises(DataError, match=r"missing input column\(s\) \['cs2_pe'\]"):
        input_matrix(pd.DataFrame({"r_cm": [1.0]}), ["r_cm", "log10_cs2_pe"])
    with pytest.raises(DataError, match="non-positive"):
        input_matrix(pd.DataFrame({"cs2_pe": [0.0]}), ["log10_cs2_pe"])
    with pytest.raises(DataError, match="non-finite"):
        input_matrix(pd.DataFrame({"r_cm": [np.nan]}), ["r_cm"])
    with pytest.raises(DataError, match="DataFrame"):
        input_matrix(np.zeros((2, 2)), ["r_cm"])


def test_network_validators():
    with pytest.raises(ConfigError, match="n_inputs"):
        DenseDiscriminantNet(0)
    with pytest.raises(ConfigError, match="hidden"):
        DenseDiscriminantNet(4, (10, 0))
    with pytest.raises(ConfigError, match="activation"):
        DenseDiscriminantNet(4, activation="swish2")
