"""Processing with the position CNN end to end: ``wimpsift images --positions cnn``."""

from __future__ import annotations

import json

import h5py
import numpy as np

from wimpsift.cli.main import main


def _dataset(tmp_path, name, *extra):
    out = tmp_path / name
    assert main(["images", "--signal", "wimp:500", "--background", "er",
                 "--events-per-class", "40", "--kinds", "hit", "--selection", "threshold",
                 "--seed", "4", "-o", str(out), "--no-progress", *extra]) == 0
    return out / "images.h5"


def test_images_with_a_saved_position_cnn(tiny_model, tmp_path, capsys):
    from wimpsift.images.dataset import load_images

    model_path = tiny_model.save(tmp_path / "pos.pt")
    cnn = _dataset(tmp_path, "cnn", "--positions", "cnn", "--position-model", str(model_path))
    likelihood = _dataset(tmp_path, "likelihood")
    capsys.readouterr()
    _, _, t_cnn = load_images(cnn, "hit")
    _, _, t_lik = load_images(likelihood, "hit")
    # same events and signals, positions from the other method
    np.testing.assert_array_equal(t_cnn["s2_area_pe"], t_lik["s2_area_pe"])
    np.testing.assert_array_equal(t_cnn["s2_x_true_cm"], t_lik["s2_x_true_cm"])
    assert not np.allclose(t_cnn["x_cm"], t_lik["x_cm"])
    # the CNN's positions are positions: within a few cm of the truth (centre of gravity: ~7 cm)
    d = np.hypot(t_cnn["x_cm"] - t_cnn["s2_x_true_cm"], t_cnn["y_cm"] - t_cnn["s2_y_true_cm"])
    assert np.sqrt(np.mean(d**2)) < 3.0
    with h5py.File(cnn, "r") as f:
        record = json.loads(f.attrs["wimpsift"])
    assert record["config"]["processing"]["xy_method"] == "cnn"


def test_images_refuse_a_missing_or_foreign_position_model(tmp_path, capsys):
    base = ["images", "--events-per-class", "3", "--seed", "1", "--no-progress"]
    assert main([*base, "--positions", "cnn", "-o", str(tmp_path / "a")]) == 2
    assert "--position-model" in capsys.readouterr().err
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(b"not a network")
    assert main([*base, "--positions", "cnn", "--position-model", str(foreign),
                 "-o", str(tmp_path / "b")]) == 2
    assert "--position-model" in capsys.readouterr().err
    assert main([*base, "--position-model", str(foreign), "-o", str(tmp_path / "c")]) == 2
    assert "--position-model" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.pt"]
