"""Weighted ROC, AUC and leakage against scikit-learn; validators."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from wimpsift.errors import ConfigError, DataError
from wimpsift.metrics.leakage import (
    auc,
    discrimination_summary,
    leakage_at_signal_efficiency,
    roc_curve,
)


def _sample(seed: int, ties: bool):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 4000)
    s = rng.normal(1.2 * y, 1.0)
    if ties:
        s = np.round(s, 1)  # many tied scores
    w = rng.exponential(1.0, y.size) * np.where(y == 1, 0.3, 1.0)
    return s, y, w


@pytest.mark.parametrize("ties", [False, True])
def test_roc_matches_sklearn(ties):
    s, y, w = _sample(1, ties)
    ours = roc_curve(s, y, w)
    fpr, tpr, thr = sk_roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    np.testing.assert_allclose(ours.leakage, fpr, atol=1e-12)
    np.testing.assert_allclose(ours.signal_efficiency, tpr, atol=1e-12)
    np.testing.assert_allclose(ours.thresholds[1:], thr[1:])
    assert auc(s, y, w) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_leakage_equals_value_read_off_sklearn_roc(ties):
    s, y, w = _sample(2, ties)
    fpr, tpr, _ = sk_roc_curve(y, s, sample_weight=w)
    # read off: first point at or above 50 % signal efficiency, interpolated linearly
    j = int(np.argmax(tpr >= 0.5))
    expected = fpr[j - 1] + (fpr[j] - fpr[j - 1]) * (0.5 - tpr[j - 1]) / (tpr[j] - tpr[j - 1])
    assert leakage_at_signal_efficiency(s, y, w, 0.5) == pytest.approx(expected, rel=1e-12)
    assert discrimination_summary(s, y, w)["leakage_at_50pct_signal"] == pytest.approx(expected)


def test_leakage_of_gaussians_matches_closed_form():
    """Unit-width Gaussians 2 sigma apart: leakage at 50 % signal = 1 - Phi(2)."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 200_000)
    s = rng.normal(2.0 * y, 1.0)
    assert leakage_at_signal_efficiency(s, y) == pytest.approx(0.02275, rel=0.05)


@pytest.mark.parametrize(
    ("scores", "labels", "weights", "word"),
    [
        ([], [], None, "empty"),
        ([0.1, 0.2], [1, 1], None, "one class"),
        ([0.1, np.nan], [0, 1], None, "non-finite"),
        ([0.1, 0.2], [0, 1], [1.0, -1.0], "negative"),
        ([0.1, 0.2], [0, 1], [1.0, np.nan], "weights"),
        ([0.1, 0.2], [0, 1], [0.0, 1.0], "zero total weight"),
        ([0.1, 0.2], [0, 3], None, "labels"),
        ([0.1, 0.2], [0, 1, 1], None, "labels"),
        ([[0.1, 0.2]], [[0, 1]], None, "1-D"),
    ],
)
def test_validators(scores, labels, weights, word):
    with pytest.raises(DataError, match=word):
        roc_curve(scores, labels, weights)


def test_signal_efficiency_validator():
    with pytest.raises(ConfigError, match="signal_efficiency"):
        leakage_at_signal_efficiency([0.1, 0.9], [0, 1], signal_efficiency=1.5)
