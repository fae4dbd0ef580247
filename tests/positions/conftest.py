"""A tiny position CNN trained once per session (a few thousand events, a few epochs)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_config():
    from wimpsift.training.position import PositionTrainingConfig

    return PositionTrainingConfig(n_events=3000, epochs=6, batch_size=64, learning_rate=3e-3,
                                  seed=11)


@pytest.fixture(scope="session")
def tiny_model(tiny_config):
    from wimpsift.training.position import train_position_cnn

    return train_position_cnn(tiny_config)


@pytest.fixture(scope="session")
def true_response_patterns(xenon1t):
    """Test hit patterns drawn with the simulation's own (true) light response: ER events."""
    from wimpsift.sources import make_source
    from wimpsift.training.position import simulate_top_patterns

    return simulate_top_patterns(xenon1t, make_source(xenon1t, "er"), 1500, seed=23,
                                 mismatch=None)
