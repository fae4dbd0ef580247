"""A models folder whose numbers are damaged is refused when read, in one line naming
the option, the file and the key, exit code 2 and nothing written: not scores outside
[0, 1], NaN scores, a network's scores under another mass's column, or a traceback from
torch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wimpsift.cli.main import main
from wimpsift.models.uniform_transform import UniformTransform


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _nan_knot(d: dict[str, Any]) -> None:
    d["uniform_transform"]["knots_g"][5] = float("nan")


def _knots_times_7(d: dict[str, Any]) -> None:
    d["uniform_transform"]["knots_g"] = [7 * g for g in d["uniform_transform"]["knots_g"]]


def _three_inputs(d: dict[str, Any]) -> None:
    d["inputs"] = d["inputs"][:3]


def _index_mass_100(d: dict[str, Any]) -> None:
    d["files"] = {"100": "nn_50GeV.json"}


CASES = [
    ("nn_50GeV.json", _nan_knot, "knots_g"),
    ("nn_50GeV.json", _knots_times_7, "knots_g"),
    ("nn_50GeV.json", _three_inputs, "inputs"),
    ("index.json", _index_mass_100, "files"),
]


@pytest.mark.parametrize(("name", "change", "key"), CASES, ids=["nan", "x7", "inputs", "mass"])
def test_nn_evaluate_refuses_a_damaged_model_set(tmp_path, capsys, toy, model_set, name, change, key):
    models = model_set
    events = tmp_path / "events.parquet"
    toy(50.0, n=100).to_parquet(events)
    out = tmp_path / "scores.parquet"
    assert main(["nn", "evaluate", "--models", str(models), str(events), "-o", str(out)]) == 0
    out.unlink()
    _edit(models / name, change)
    capsys.readouterr()
    assert main(["nn", "evaluate", "--models", str(models), str(events), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--models: " in err and f"{name}'" in err and f"{key}" in err
    assert not out.exists()


def test_a_trained_transform_round_trips_with_zero_weights_at_its_ends():
    """What fit() writes is read back: g non-decreasing (equal knots where the weights
    are zero), its last knot 1 up to rounding."""
    f = np.r_[0.0, np.linspace(1, 2, 7), 3.0]
    y = np.r_[0, 0, 1, 0, 1, 0, 1, 0, 1]
    w = np.r_[0.0, 0.1, 0.3, 0.7, 0.2, 0.9, 0.1, 0.3, 0.0]
    g = UniformTransform().fit(f, y, w)
    np.testing.assert_array_equal(UniformTransform.from_dict(g.to_dict()).knots_g_, g.knots_g_)


def test_a_model_set_of_a_mass_with_more_digits_than_its_index_key_is_read(tmp_path):
    # the index names masses with :g (33.3333); the mass check compared the float and refused
    # what nn train itself wrote for --masses 33.333333
    from wimpsift.models.dense import DenseDiscriminantNet
    from wimpsift.training.discriminant import TrainedDiscriminant, load_discriminants, save_discriminants

    transform = UniformTransform(max_knots=5).fit(np.r_[0.0, 1.0, 2.0, 3.0], np.r_[0, 1, 0, 1])
    models = {m: TrainedDiscriminant(m, ("cs1_pe",), DenseDiscriminantNet(1, (2,)), transform)
              for m in (33.333333, 1234.5678)}
    save_discriminants(models, tmp_path)
    assert [m.mass_gev for m in load_discriminants(tmp_path).values()] == [33.333333, 1234.5678]
