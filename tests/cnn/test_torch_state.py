"""same_bits: torch's process-wide switches for reproducible networks, set and put back."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from tests.cnn.conftest import separable_images
from wimpsift.training.cnn_estimator import CNNClassifier
from wimpsift.training.torch_state import CUBLAS_WORKSPACE, same_bits
from wimpsift.training.weighted_cnn import WeightedCNN


def _switches() -> tuple:
    return (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)


@pytest.fixture
def caller_settings(monkeypatch):
    """A caller who set torch otherwise: two threads, fast cuDNN, no determinism."""
    before = _switches()
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = False, True
    yield _switches()
    torch.set_num_threads(before[0])
    torch.use_deterministic_algorithms(before[1], warn_only=before[2])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[3], before[4]


def test_cuda_asks_for_deterministic_kernels_and_puts_the_caller_s_back(caller_settings):
    # setting the switches needs no GPU, so this runs everywhere
    with same_bits(torch.device("cuda"), 1):
        assert _switches() == (1, True, True, True, False)
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE
    assert _switches() == caller_settings


def test_cpu_sets_only_the_threads(caller_settings):
    with same_bits(torch.device("cpu"), 1):
        assert _switches() == (1, *caller_settings[1:])
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    with same_bits(torch.device("cpu"), None):
        assert _switches() == caller_settings


def test_the_caller_s_settings_come_back_after_an_error(caller_settings):
    with pytest.raises(ZeroDivisionError), same_bits(torch.device("cuda"), 1):
        1 / 0  # noqa: B018
    assert _switches() == caller_settings


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_gives_the_same_bytes_twice():
    """The claim of the module: the same seed on the same GPU gives the same weights and
    scores, for the paper's CNN and the multi-class one."""
    X, y = separable_images(400, seed=3)

    def binary():
        clf = CNNClassifier(epochs=3, batch_size=32, random_state=5, device="cuda").fit(X, y)
        return clf.model_.state_dict(), clf.decision_function(X)

    def multiclass():
        net = WeightedCNN(2, epochs=3, batch_size=32, random_state=5, device="cuda")
        net.fit(X, y.astype(np.int64), np.ones(len(y)))
        return net.model_.state_dict(), net.predict_log_proba(X)

    for train in (binary, multiclass):
        (state_a, score_a), (state_b, score_b) = train(), train()
        for name, tensor in state_a.items():
            assert torch.equal(tensor, state_b[name]), (train.__name__, name)
        assert score_a.tobytes() == score_b.tobytes(), train.__name__
