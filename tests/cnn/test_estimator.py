"""CNNClassifier: learning, determinism, checkpoints, scikit-learn conventions, saving."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch.utils.data import TensorDataset

from tests.cnn.conftest import separable_images
from wimpsift.errors import ConfigError, DataError
from wimpsift.io.cnn_model import load_cnn, save_cnn
from wimpsift.training.cnn_estimator import CNNClassifier
from wimpsift.training.image_inputs import resolve_device

FAST = {"epochs": 6, "batch_size": 32, "learning_rate": 0.003}


def test_tiny_separable_problem_exceeds_95_percent(toy):
    X, y = toy
    Xt, yt = separable_images(200, seed=1)
    clf = CNNClassifier(**FAST, random_state=0).fit(X, y)
    assert (clf.predict(Xt) == yt).mean() > 0.95
    proba = clf.predict_proba(Xt)
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(clf.classes_) == [0, 1]


def test_checkpoint_epoch_equals_separate_training_of_that_length(toy):
    X, y = toy
    long = CNNClassifier(**{**FAST, "epochs": 5}, checkpoint_epochs=(3,), random_state=7)
    long.fit(X, y, validation_data=(X[:50], y[:50]))
    short = CNNClassifier(**{**FAST, "epochs": 3}, random_state=7).fit(X, y)
    ref = short.model_.state_dict()
    for name, tensor in long.checkpoints_[3].items():
        assert torch.equal(tensor, ref[name]), name  # bitwise on CPU
    long.load_checkpoint(3)
    np.testing.assert_array_equal(long.predict_proba(X), short.predict_proba(X))


def test_resumed_training_equals_uninterrupted_training(toy):
    X, y = toy
    val = (X[:50], y[:50])
    whole = CNNClassifier(**{**FAST, "epochs": 4}, random_state=3).fit(X, y, validation_data=val)
    half = CNNClassifier(**{**FAST, "epochs": 2}, random_state=3).fit(X, y, validation_data=val)
    rest = CNNClassifier(**{**FAST, "epochs": 4}, random_state=3)
    rest.fit(X, y, validation_data=val, resume_from=half.training_state_)
    ref = whole.model_.state_dict()
    for name, tensor in rest.model_.state_dict().items():
        assert torch.equal(tensor, ref[name]), name  # bitwise on CPU: Adam moments and RNGs
    assert rest.history_ == whole.history_ and rest.history_["epoch"] == [1, 2, 3, 4]
    again = CNNClassifier(**{**FAST, "epochs": 4}, random_state=3)
    again.fit(X, y, validation_data=val, resume_from=half.training_state_)  # state unharmed
    for name, tensor in again.model_.state_dict().items():
        assert torch.equal(tensor, ref[name]), name


def test_restore_best_weights_without_validation_data_is_refused(toy):
    """restore_best_weights picks the best validation epoch: fitted without
    validation_data it was ignored (the last epoch's weights, predictions equal to those of
    restore_best_weights=False, best_epoch_ None) without a word."""
    X, y = toy
    clf = CNNClassifier(**{**FAST, "epochs": 2}, restore_best_weights=True, random_state=3)
    with pytest.raises(ConfigError, match="^restore_best_weights: only with validation_data"):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")
    clf.fit(X, y, validation_data=(X[:50], y[:50]))
    assert clf.best_epoch_ in (1, 2)


def test_a_state_taken_during_fit_continues_to_the_same_best_weights(toy):
    """``current_state()`` from the epoch callback (a checkpoint of a killed training)
    carries the best validation epoch's weights: the continued training restores the
    same best weights as the uninterrupted one."""
    X, y = toy
    val = (X[:50], y[:50])
    settings = {**FAST, "epochs": 5, "restore_best_weights": True, "random_state": 3,
                "monitor": "val_recall"}  # best at epoch 1 here (ties keep the first)
    whole = CNNClassifier(**settings).fit(X, y, validation_data=val)
    taken: dict[int, dict] = {}
    CNNClassifier(**settings).fit(X, y, validation_data=val,
                                  epoch_callback=lambda e, est: taken.setdefault(e, est.current_state()))
    assert taken[3]["epoch"] == 3 and "best_state" in taken[3]
    rest = CNNClassifier(**settings).fit(X, y, validation_data=val, resume_from=taken[3])
    assert rest.best_epoch_ == whole.best_epoch_ < 3 and rest.history_ == whole.history_
    ref = whole.model_.state_dict()
    for name, tensor in rest.model_.state_dict().items():
        assert torch.equal(tensor, ref[name]), name  # the restored best weights, bitwise
    without = {k: v for k, v in taken[3].items() if k != "best_state"}
    with pytest.raises(DataError, match="resume_from: has no best_state"):
        CNNClassifier(**settings).fit(X, y, validation_data=val, resume_from=without)


def test_bad_resume_state(toy):
    X, y = toy
    half = CNNClassifier(**{**FAST, "epochs": 2}).fit(X, y)
    with pytest.raises(ConfigError, match="epochs: got 2, expected more than the 2"):
        CNNClassifier(**{**FAST, "epochs": 2}).fit(X, y, resume_from=half.training_state_)
    with pytest.raises(ConfigError, match="learning_rate"):
        CNNClassifier(**{**FAST, "epochs": 3, "learning_rate": 0.01}).fit(
            X, y, resume_from=half.training_state_)
    with pytest.raises(DataError, match="resume_from: expected a training_state_"):
        CNNClassifier(**{**FAST, "epochs": 3}).fit(X, y, resume_from={"epoch": 1})
    with pytest.raises(DataError, match="validation_data"):
        CNNClassifier(**{**FAST, "epochs": 3}).fit(
            X, y, validation_data=(X[:50], y[:50]), resume_from=half.training_state_)


def test_three_and_four_dimensional_inputs_train_identically(toy):
    X, y = toy
    flat = CNNClassifier(**FAST, random_state=5).fit(X, y)
    channel = CNNClassifier(**FAST, random_state=5).fit(X[:, None].copy(), y)
    ref = flat.model_.state_dict()
    for name, tensor in channel.model_.state_dict().items():
        assert torch.equal(tensor, ref[name]), name


def test_same_seed_same_model_and_global_rng_untouched(toy):
    X, y = toy
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = CNNClassifier(epochs=2, random_state=3).fit(X, y)
    ds = TensorDataset(torch.from_numpy(X[:, None]), torch.from_numpy(y))
    CNNClassifier(epochs=1, batch_size=64, random_state=3).fit(ds).predict_proba(ds)
    # fit neither seeds nor draws from torch's global generator (no fork_rng/manual_seed)
    assert torch.equal(torch.get_rng_state(), before)
    b = CNNClassifier(epochs=2, random_state=3).fit(X, y)
    c = CNNClassifier(epochs=2, random_state=4).fit(X, y)
    ref = a.model_.state_dict()
    for name, tensor in b.model_.state_dict().items():
        assert torch.equal(tensor, ref[name]), name
    assert not torch.equal(c.model_.state_dict()["dense.weight"], ref["dense.weight"])
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    assert not np.array_equal(a.decision_function(X), c.decision_function(X))
    # dropout is active in training (its masks from the model's own generator): without
    # it the same seed gives other weights
    no_dropout = CNNClassifier(epochs=2, random_state=3, conv_dropout=0.0,
                               dense_dropout=0.0).fit(X, y)
    assert not torch.equal(no_dropout.model_.state_dict()["dense.weight"], ref["dense.weight"])


def test_history_best_weights_and_sklearn_conventions(toy):
    X, y = toy
    clf = CNNClassifier(**FAST, restore_best_weights=True, monitor="val_recall")
    assert clone(clf).get_params() == clf.get_params()
    assert clf.set_params(epochs=4) is clf
    out = clf.fit(X[:180], y[:180], validation_data=(X[180:], y[180:]))
    assert out is clf
    for key in ("loss", "accuracy", "precision", "recall", "val_loss", "val_accuracy",
                "val_precision", "val_recall"):
        assert len(clf.history_[key]) == 4
    assert clf.best_epoch_ == 1 + int(np.argmax(clf.history_["val_recall"]))
    assert not hasattr(CNNClassifier(), "model_")


def test_string_labels_and_torch_dataset_input(toy):
    X, y = toy
    labels = np.where(y == 1, "wimp", "er")
    clf = CNNClassifier(**FAST).fit(X, labels)
    assert set(clf.predict(X[:10])) <= {"er", "wimp"} and list(clf.classes_) == ["er", "wimp"]
    ds = TensorDataset(torch.from_numpy(X[:, None]), torch.from_numpy(y))
    from_ds = CNNClassifier(**FAST).fit(ds)
    assert (from_ds.predict(ds) == y).mean() > 0.9


def test_save_load_and_torchscript_roundtrip(toy, tmp_path):
    X, y = toy
    clf = CNNClassifier(epochs=2).fit(X, y)
    paths = save_cnn(clf, tmp_path / "m", preprocessing={"image_kind": "toy"})
    loaded = load_cnn(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(str(paths["torchscript"]))
    exported = torch.export.load(str(paths["exported_program"])).module()
    with torch.no_grad():
        for module in (scripted, exported):
            p = module(torch.from_numpy(X[:, None])).numpy()
            np.testing.assert_allclose(p, clf.predict_proba(X)[:, 1], rtol=1e-5, atol=1e-6)
    import json

    meta = json.loads(paths["metadata"].read_text())
    assert meta["provenance"]["stage"] == "cnn.final_model" and meta["input_shape"] == [1, 16, 16]


# ------------------------------------------------------------------ validators


def test_mismatched_image_shapes():
    images = [np.zeros((10, 10), np.float32), np.zeros((10, 12), np.float32)]
    with pytest.raises(DataError, match="mismatched image shapes"):
        CNNClassifier().fit(images, [0, 1])


def test_single_class_dataset(toy):
    X, _ = toy
    with pytest.raises(DataError, match="single-class"):
        CNNClassifier().fit(X, np.ones(len(X)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_pixels(toy, bad):
    X, y = toy
    X = X.copy()
    X[3, 2, 2] = bad
    with pytest.raises(DataError, match="non-finite"):
        CNNClassifier().fit(X, y)


def test_pixels_outside_unit_interval(toy):
    X, y = toy
    with pytest.raises(DataError, match=r"expected values in \[0, 1\]"):
        CNNClassifier().fit(X * 255, y)


def test_wrong_dimensionality_and_label_count(toy):
    X, y = toy
    with pytest.raises(DataError, match="expected"):
        CNNClassifier().fit(X[0], y[:16])
    with pytest.raises(DataError, match="one label per image"):
        CNNClassifier().fit(X, y[:-1])


def test_predict_and_validation_shape_mismatch(toy):
    X, y = toy
    with pytest.raises(DataError, match="mismatched image shapes"):
        CNNClassifier(epochs=1).fit(X, y, validation_data=(X[:, :8, :8], y))
    clf = CNNClassifier(epochs=1).fit(X, y)
    with pytest.raises(DataError, match="mismatched image shapes"):
        clf.predict(X[:, :12, :12])


@pytest.mark.parametrize("param,value", [("epochs", 0), ("batch_size", -1),
                                          ("learning_rate", 0.0), ("n_conv_layers", 4),
                                          ("leaky_alpha", 1.5), ("monitor", "val_auc"),
                                          ("checkpoint_epochs", (0,))])
def test_bad_settings_raise_config_error(toy, param, value):
    X, y = toy
    with pytest.raises(ConfigError, match=param):
        CNNClassifier(**{param: value}).fit(X, y)


@pytest.mark.parametrize("device", ["meta", "cuda:{count}", "mps"])
def test_devices_not_here_are_config_errors(device):
    """A device of a kind we don't train on, or one this machine lacks, is named in a
    ConfigError; the CPU always resolves."""
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has an MPS device")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    device = device.format(count=count)
    with pytest.raises(ConfigError, match=f"device: got '{device}'"):
        resolve_device(device)
    assert resolve_device("cpu") == torch.device("cpu")


def test_bad_device_and_unknown_checkpoint(toy):
    X, y = toy
    with pytest.raises(ConfigError, match="device"):
        CNNClassifier(device="quantum").fit(X, y)
    clf = CNNClassifier(epochs=1).fit(X, y)
    with pytest.raises(ConfigError, match="checkpoint"):
        clf.load_checkpoint(5)


def test_load_missing_or_damaged_model(tmp_path, toy):
    with pytest.raises(DataError, match="cannot read"):
        load_cnn(tmp_path / "nothing")
    X, y = toy
    save_cnn(CNNClassifier(**{**FAST, "epochs": 1}).fit(X, y), tmp_path / "m", export="none")
    (tmp_path / "m" / "model.pt").write_bytes(b"damaged")
    with pytest.raises(DataError, match="model: cannot read a saved CNN"):
        load_cnn(tmp_path / "m")
