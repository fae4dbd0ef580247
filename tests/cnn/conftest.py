"""Shared fixtures of the CNN tests: tiny images, one thread, no GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def separable_images(n: int = 240, shape: tuple[int, int] = (16, 16), seed: int = 0):
    """Noise images; label-1 images carry a bright square (a linearly separable toy)."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n, *shape)) * 0.5).astype(np.float32)
    y = np.repeat([0, 1], n // 2)
    rng.shuffle(y)
    X[y == 1, 4:9, 4:9] += 0.45
    return X, y


@pytest.fixture
def toy():
    return separable_images()
