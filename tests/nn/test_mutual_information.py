"""MI estimator against numerically integrated Gaussian-mixture values; validators."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_selection import mutual_info_classif

from wimpsift.errors import ConfigError, DataError
from wimpsift.metrics.mutual_information import gaussian_mixture_mi_bits, mutual_information


def _mixture(rng, means, covs, counts):
    x = np.vstack([rng.multivariate_normal(means[c], covs[c], counts[c]) for c in (0, 1)])
    y = np.repeat([0, 1], counts)
    return x, y


CASES = [
    # 1-D, equal widths, 1.5 sigma apart
    ([[0.0], [1.5]], [[[1.0]], [[1.0]]]),
    # 2-D, correlated background, wider and shifted signal
    ([[0.0, 0.0], [1.0, 0.5]], [[[1.0, 0.5], [0.5, 1.0]], [[0.5, 0.0], [0.0, 2.0]]]),
]


@pytest.mark.parametrize(("means", "covs"), CASES)
def test_balanced_mixture_matches_integral(means, covs):
    exact = gaussian_mixture_mi_bits(means, covs, (0.5, 0.5))
    x, y = _mixture(np.random.default_rng(3), means, covs, (8000, 8000))
    est = mutual_information(x, y, k=5, n_subsets=8, seed=1)
    assert est.error_bits > 0
    assert abs(est.mi_bits - exact) < 4 * est.error_bits + 0.005


@pytest.mark.parametrize(("means", "covs"), CASES)
def test_weights_reweight_the_class_priors(means, covs):
    """4:1 imbalanced sample with signal weight 4 estimates the balanced MI.

    With unequal class weights the estimator carries a small positive bias (measured
    over 8 seeds in the 2-D case: +0.015 bits, 5 %, against a spread of 0.008), so the
    tolerance is 4 errors plus 8 % of the value.
    """
    x, y = _mixture(np.random.default_rng(5), means, covs, (16000, 4000))
    weighted = mutual_information(x, y, np.where(y == 1, 4.0, 1.0), n_subsets=8, seed=2)
    exact_balanced = gaussian_mixture_mi_bits(means, covs, (0.5, 0.5))
    assert abs(weighted.mi_bits - exact_balanced) < 4 * weighted.error_bits + 0.08 * exact_balanced
    unweighted = mutual_information(x, y, n_subsets=8, seed=2)
    exact_imbalanced = gaussian_mixture_mi_bits(means, covs, (0.8, 0.2))
    assert abs(unweighted.mi_bits - exact_imbalanced) < 4 * unweighted.error_bits + 0.01
    assert exact_imbalanced < exact_balanced - 0.05


def test_weights_varying_within_a_class():
    """Background = equal-shape sub-populations weighted 1 and 0.2: the MI is unchanged."""
    means, covs = CASES[1]
    rng = np.random.default_rng(8)
    x, y = _mixture(rng, means, covs, (15000, 5000))
    w = np.ones(len(y))
    w[5000:15000] = 0.2  # two thirds of the background carry a fifth of the weight
    w[y == 1] = w[y == 0].sum() / 5000
    est = mutual_information(x, y, w, n_subsets=8, seed=3)
    exact = gaussian_mixture_mi_bits(means, covs, (0.5, 0.5))
    assert abs(est.mi_bits - exact) < 4 * est.error_bits + 0.08 * exact


def test_rank_transform_matches_scikit_learn_in_one_dimension():
    """The default rank transform must not bias a one-dimensional MI (a network output).

    Bare ranks form a regular lattice: the event mirroring the k-th neighbour sat exactly
    on the ball's edge and was counted, which continuous data never does. Over 16
    samples (two unit Gaussians one sigma apart, 5000 events each) the estimate was
    0.0057 bits (3.5 %) below scikit-learn's Ross estimator on the raw variable and
    below the integral; the paired spread of the difference is 0.0007.
    """
    exact = gaussian_mixture_mi_bits([[0.0], [1.0]], [[[1.0]], [[1.0]]])
    ours, theirs = [], []
    for seed in range(16):
        x, y = _mixture(np.random.default_rng(seed), [[0.0], [1.0]],
                        [[[1.0]], [[1.0]]], (5000, 5000))
        ours.append(mutual_information(x, y, n_subsets=1).mi_bits)
        theirs.append(mutual_info_classif(x, y, n_neighbors=5, random_state=0)[0] / np.log(2))
    assert np.mean(ours) - np.mean(theirs) == pytest.approx(0, abs=0.002)
    assert np.mean(ours) == pytest.approx(exact, abs=0.003)


def test_integral_limits():
    assert gaussian_mixture_mi_bits([[0.0], [0.0]], [[[1.0]], [[1.0]]]) == pytest.approx(0, abs=1e-9)
    assert gaussian_mixture_mi_bits([[0.0], [30.0]], [[[1.0]], [[1.0]]]) == pytest.approx(1, abs=1e-6)


def test_independent_variable_has_zero_mi():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(10000, 2))
    y = rng.integers(0, 2, 10000)
    est = mutual_information(x, y, n_subsets=5)
    assert abs(est.mi_bits) < max(4 * est.error_bits, 0.01)


def test_invariant_under_monotone_map():
    rng = np.random.default_rng(2)
    x, y = _mixture(rng, [[0.0], [1.0]], [[[1.0]], [[1.0]]], (5000, 5000))
    a = mutual_information(x, y, n_subsets=1).mi_bits
    b = mutual_information(np.exp(3 * x), y, n_subsets=1).mi_bits
    assert a == pytest.approx(b, abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"x": np.empty((0, 2)), "labels": np.empty(0)}, DataError, "x"),
        ({"x": np.ones(10), "labels": np.ones(10)}, DataError, "one class"),
        ({"x": [np.nan] + [0.0] * 9, "labels": [0, 1] * 5}, DataError, "non-finite"),
        ({"x": np.arange(10.0), "labels": [0, 1] * 5, "weights": [-1.0] + [1.0] * 9},
         DataError, "negative"),
        ({"x": np.arange(10.0), "labels": [0, 1] * 5, "weights": [np.inf] + [1.0] * 9},
         DataError, "weights"),
        ({"x": np.arange(10.0), "labels": [0, 2] * 5}, DataError, "labels"),
        ({"x": np.arange(10.0), "labels": [0, 1] * 4}, DataError, "labels"),
        ({"x": np.arange(10.0), "labels": [0, 1] * 5, "k": 0}, ConfigError, "k"),
        ({"x": np.arange(10.0), "labels": [0, 1] * 5, "n_subsets": 0}, ConfigError, "n_subsets"),
        ({"x": np.arange(10.0), "labels": [0, 1] * 5, "transform": "log"}, ConfigError,
         "transform"),
        ({"x": np.arange(40.0), "labels": [0, 1] * 20, "n_subsets": 10}, DataError, "subsets"),
    ],
)
def test_validators(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        mutual_information(**kwargs)


def test_integral_validators():
    with pytest.raises(ConfigError, match="priors"):
        gaussian_mixture_mi_bits([[0.0], [1.0]], [[[1.0]], [[1.0]]], (0.5, -0.5))
    with pytest.raises(ConfigError, match="dimensions"):
        gaussian_mixture_mi_bits(np.zeros((2, 4)), np.stack([np.eye(4)] * 2))
    with pytest.raises(ConfigError, match="classes"):
        gaussian_mixture_mi_bits(np.zeros((3, 1)), np.ones((2, 1, 1)))


def test_stratified_subsets_hold_a_rare_class():
    # 30 signal events among 1000: a random split into 5 subsets almost always leaves
    # one with <= k = 5 of them; split by class, each subset holds exactly 6
    rng = np.random.default_rng(3)
    labels = np.r_[np.ones(30, int), np.zeros(970, int)]
    x = rng.normal(size=1000) + 2.0 * labels
    with pytest.raises(DataError, match="too few events"):
        mutual_information(x, labels, k=5, n_subsets=5, seed=1)
    stratified = mutual_information(x, labels, k=5, n_subsets=5, stratify=True, seed=1)
    whole = mutual_information(x, labels, k=5, n_subsets=1)
    # the value is the whole sample's; only the error comes from the subsets
    assert stratified.mi_bits == whole.mi_bits
    assert np.isfinite(stratified.error_bits) and stratified.error_bits > 0


def test_auto_subsets_split_by_class_only_where_the_random_split_runs_short():
    """``stratify="auto"`` is the random split whenever that one holds more than k events
    of each class in every subset (so results made with it stay the same); otherwise the
    split by class, into as many of the subsets (two or more) as the rare class can fill."""
    rng = np.random.default_rng(3)
    labels = np.r_[np.ones(30, int), np.zeros(970, int)]
    x = rng.normal(size=1000) + 2.0 * labels
    auto = mutual_information(x, labels, k=5, n_subsets=5, stratify="auto", seed=1)
    assert auto == mutual_information(x, labels, k=5, n_subsets=5, stratify=True, seed=1)
    common = np.r_[np.ones(300, int), np.zeros(700, int)]
    y = rng.normal(size=1000) + 2.0 * common
    assert (mutual_information(y, common, k=5, n_subsets=5, stratify="auto", seed=1)
            == mutual_information(y, common, k=5, n_subsets=5, seed=1))
    # 24 of a class fill four subsets of six, not five
    fewer = mutual_information(x[6:], labels[6:], k=5, n_subsets=5, stratify="auto", seed=1)
    assert len(fewer.subset_values_bits) == 4 and np.isfinite(fewer.error_bits)
    assert fewer == mutual_information(x[6:], labels[6:], k=5, n_subsets=4, stratify=True, seed=1)
    # 11 cannot fill even two
    with pytest.raises(DataError, match=r"too few events \(981: 11 of class 1, 970 of class 0\) "
                                        r"for 2 subsets with k=5: a subset holds 5 events"):
        mutual_information(x[19:], labels[19:], k=5, n_subsets=5, stratify="auto", seed=1)
