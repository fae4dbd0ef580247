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


def test_a_position_cnn_rewritten_at_the_same_path_is_another_configuration(tiny_model, tmp_path,
                                                                            capsys):
    """The dataset's settings hold the network file's SHA-256, not only its path: after
    the file is rewritten with other weights (retrained), the same command refuses the
    dataset of the old network instead of resuming it as done, and a cache key changes
    (it was reused without a word)."""
    import copy
    import hashlib

    import torch

    from wimpsift.images.dataset import load_images, make_config
    from wimpsift.processing.reconstruction import ProcessingSettings
    from wimpsift.provenance import config_hash

    model_path = tiny_model.save(tmp_path / "pos.pt")
    argv = ["images", "--events-per-class", "4", "--chunk-events", "2", "--kinds", "hit",
            "--shape", "hit=8x16", "--selection", "threshold", "--seed", "4", "--no-progress",
            "--positions", "cnn", "--position-model", str(model_path), "-o"]

    def lineage() -> str:  # what the lineage cache's key hashes of these settings
        processing = ProcessingSettings(xy_method="cnn", xy_model_path=model_path)
        return config_hash(make_config("xenon1t_sr0", events_per_class=4, kinds=["hit"],
                                       processing=processing))

    first = tmp_path / "first"
    assert main([*argv, str(first)]) == 0
    assert main([*argv, str(first)]) == 0  # the same network: resumed (complete)
    before, key_before = (first / "images.h5").read_bytes(), lineage()

    retrained = copy.deepcopy(tiny_model)
    with torch.no_grad():
        for parameter in retrained.model.parameters():
            parameter.mul_(0.9)
    retrained.save(model_path)  # same path, other network
    capsys.readouterr()
    assert main([*argv, str(first)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was made with another configuration" in err[0], err
    assert (first / "images.h5").read_bytes() == before
    assert lineage() != key_before

    second = tmp_path / "second"
    assert main([*argv, str(second)]) == 0
    _, _, t_first = load_images(first / "images.h5", "hit")
    _, _, t_second = load_images(second / "images.h5", "hit")
    np.testing.assert_array_equal(t_first["s2_area_pe"], t_second["s2_area_pe"])
    assert not np.allclose(t_first["x_cm"], t_second["x_cm"])  # the network did change
    with h5py.File(second / "images.h5", "r") as f:
        record = json.loads(f.attrs["wimpsift"])
    assert (record["config"]["processing"]["xy_model_sha256"]
            == hashlib.sha256(model_path.read_bytes()).hexdigest())


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
