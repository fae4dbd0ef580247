"""Errors of small remaining counts, the ratio's interval, the ideal NR/ER floor and the
hybrid CNN (images and event scalars) of the all-backgrounds comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import poisson

from tests.cnn.conftest import separable_images
from wimpsift.errors import DataError
from wimpsift.metrics.background_comparison import (
    ideal_nr_floor,
    member_key,
    over_seeds,
    student_t_68,
    threshold_error,
    training_noise,
    verdict,
    widen,
)
from wimpsift.metrics.remaining import (
    feldman_cousins_68,
    ratio_interval,
    remaining_at_acceptance,
)
from wimpsift.models.cnn import CNNArchitecture, PaperCNN, count_parameters
from wimpsift.processing.background_mix import SIGNAL
from wimpsift.training.weighted_cnn import WeightedCNN

# Feldman & Cousins, Phys. Rev. D 57, 3873 (1998): 68.27 % C.L. intervals for a Poisson
# mean with no background, n0 = 0..5
PUBLISHED_FC_68 = {0: (0.00, 1.29), 1: (0.37, 2.75), 2: (0.74, 4.25), 3: (1.10, 5.30),
                   4: (2.34, 6.78), 5: (2.75, 7.81)}


@pytest.mark.parametrize("n", sorted(PUBLISHED_FC_68))
def test_feldman_cousins_matches_the_published_table(n):
    lo, hi = feldman_cousins_68(n)
    assert lo == pytest.approx(PUBLISHED_FC_68[n][0], abs=0.006)
    assert hi == pytest.approx(PUBLISHED_FC_68[n][1], abs=0.006)


@pytest.mark.parametrize("mu", [0.3, 1.0, 2.5, 7.0, 20.0])
def test_feldman_cousins_covers(mu):
    # the construction guarantees at least 68.27 % coverage at every true mean
    n = np.arange(int(mu + 15 * np.sqrt(mu) + 20))
    covered = [lo <= mu <= hi for lo, hi in map(feldman_cousins_68, n)]
    assert poisson.pmf(n, mu)[covered].sum() >= 0.6827 - 1e-3
    with pytest.raises(DataError, match="n"):
        feldman_cousins_68(-1)


def test_zero_passing_events_carry_an_upper_limit():
    scores = np.r_[np.arange(100.0), np.arange(10.0), np.arange(98.0, 100.0)]
    source = np.array(["wimp"] * 100 + ["a"] * 10 + ["b"] * 2, dtype=object)
    weights = np.r_[np.ones(100), np.full(10, 0.5), np.full(2, 2.0)]
    out = remaining_at_acceptance(scores, source, weights, acceptance=0.5)
    assert out["a"]["events"] == 0.0
    assert out["a"]["interval_68"] == pytest.approx((0.0, 0.5 * 1.29), abs=0.01)
    # two passing events of weight 2: [0.74, 4.25] x 2, around the count 4
    assert out["b"]["interval_68"] == pytest.approx((2 * 0.736, 2 * 4.25), abs=0.01)
    lo, hi = out["total_interval_68"]
    assert lo < out["total"] == 4.0 < hi
    assert hi - 4.0 == pytest.approx(np.hypot(0.645, 2 * 4.25 - 4), abs=0.01)


def test_ratio_interval_and_verdict():
    r, lo, hi = ratio_interval((2.0, 1.0, 3.0), (4.0, 3.0, 6.0))
    assert r == 0.5
    assert hi - r == pytest.approx(0.5 * np.hypot(0.5, 0.25))  # numerator up, denominator down
    assert r - lo == pytest.approx(0.5 * np.hypot(0.5, 0.5))
    assert ratio_interval((1.0, 0.5, 1.5), (0.0, 0.0, 1.0)) is None
    assert ratio_interval((0.0, 0.0, 1.29), (2.0, 1.0, 3.0)) == (0.0, 0.0, 0.645)
    assert verdict((0.2, 0.4)) == "met"
    assert verdict((0.6, 0.9)) == "not met"
    assert verdict((0.3, 0.7)) == "undecided within errors"


def test_over_seeds_mean_interval_and_verdict():
    # two runs: one degree of freedom, t(0.84) = 1/tan(0.16 pi) = 1.819 (Cauchy quantile)
    quantile = 1 / np.tan(0.16 * np.pi)
    assert student_t_68(2) == pytest.approx(quantile)
    s = over_seeds([0.4, 0.6])
    assert s["mean"] == pytest.approx(0.5) and s["standard_error"] == pytest.approx(0.1)
    assert s["interval_68"] == pytest.approx([0.5 - 0.1 * quantile, 0.5 + 0.1 * quantile])
    assert s["verdict"] == "undecided within errors"
    # many runs: the normal quantile; the interval's lower end is clipped at zero
    assert student_t_68(10_000) == pytest.approx(0.9945, abs=1e-3)
    assert over_seeds([0.0, 0.0, 0.3])["interval_68"][0] == 0.0
    assert over_seeds([0.30, 0.32, 0.31])["verdict"] == "met"
    assert over_seeds([0.30, 0.32, 0.31], target=0.2)["verdict"] == "not met"


def _events(rng, n):
    cs1 = np.r_[rng.uniform(10, 100, n), rng.uniform(1, 5, n), rng.uniform(10, 100, n),
                rng.uniform(10, 100, n)]
    source = ["wimp"] * n + ["cevns"] * n + ["neutrons"] * n + ["er"] * n
    weight = np.r_[np.full(n, 1.0), np.full(n, 0.01), np.full(n, 0.002), np.full(n, 1.0)]
    return pd.DataFrame({"source": source, "cs1_pe": cs1, "weight": weight})


def test_training_noise_widens_the_ratio_by_the_members_spread():
    rng = np.random.default_rng(1)
    source = np.array(["wimp"] * 400 + ["er"] * 800, object)
    weight = np.r_[np.ones(400), np.full(800, 0.01)]
    base = np.r_[rng.normal(1.0, 1.0, 400), rng.normal(-1.0, 1.0, 800)]
    shifted = base + np.r_[np.zeros(400), np.full(800, 0.5)]  # lets more ER through
    rows = np.ones(len(source), bool)

    def total(score):
        return remaining_at_acceptance(score, source, weight, "wimp", 0.5)["total"]

    standard, interval = 4 * total(base), [0.15, 0.35]

    def noise_of(members):
        scores = {"cnn_binary": np.mean(members, axis=0),
                  **{member_key("cnn_binary", k): m for k, m in enumerate(members)}}
        totals = {"standard_selection": standard, "cnn_binary": total(scores["cnn_binary"])}
        return training_noise(scores, rows, source, weight, 0.5, totals,
                              {"cnn_binary": interval})["cnn_binary"], totals

    noise, totals = noise_of([base, shifted])
    t0, t1 = total(base), total(shifted)
    assert t1 > t0 > 0 and noise["member_totals"] == [t0, t1]
    # s / √n of two members is half their difference
    assert noise["ensemble_error"] == pytest.approx((t1 - t0) / 2)
    centre, spread = totals["cnn_binary"] / standard, (t1 - t0) / 2 / standard
    assert noise["ratio_interval_with_training_noise"] == pytest.approx(
        [centre - np.hypot(centre - 0.15, spread), centre + np.hypot(0.35 - centre, spread)])
    # identical members: no training noise, the test events' interval unchanged
    same, _ = noise_of([base, base])
    assert same["ensemble_error"] == 0
    assert same["ratio_interval_with_training_noise"] == pytest.approx(interval)
    # a single network has no members to compare
    assert training_noise({"cnn_binary": base}, rows, source, weight, 0.5,
                          {"standard_selection": standard, "cnn_binary": t0},
                          {"cnn_binary": interval}) == {}


def test_threshold_error_is_the_quantile_error_and_cancels_in_a_ratio_to_itself():
    # WIMP scores uniform on (0, 1): the median's standard error is √(p(1 − p)/n) / f =
    # 0.5/√n; background uniform too, total W(1 − t), so the total's error is W × that
    rng = np.random.default_rng(3)
    n_signal, n_background, total_weight = 2000, 100_000, 100.0
    source = np.array([SIGNAL] * n_signal + ["er"] * n_background, object)
    weight = np.r_[np.ones(n_signal), np.full(n_background, total_weight / n_background)]
    score = rng.random(len(source))
    other = np.where(source == SIGNAL, score, score**2)  # more background passes
    scores = {"standard_selection": score, "dense": score, "cnn_binary": other,
              "cnn_multiclass": other}
    rows = np.ones(len(source), bool)
    out = threshold_error(scores, rows, source, weight, 0.5, seed=0)
    analytic = total_weight * 0.5 / np.sqrt(n_signal)
    assert out["total_error"]["standard_selection"] == pytest.approx(analytic, rel=0.15)
    # the same classifier as the standard selection: the same threshold in every resample
    assert out["ratio_error"]["dense"] == 0
    # the ratio's error of a different classifier follows from both totals' correlation
    assert 0 < out["ratio_error"]["cnn_binary"] < 0.5
    # four times the WIMP events halve the error
    many = np.r_[np.zeros(3 * n_signal, bool), rows]
    four = {k: np.r_[rng.random(3 * n_signal), v] for k, v in scores.items()}
    bigger = threshold_error(four, np.ones(len(many), bool), np.r_[
        np.full(3 * n_signal, SIGNAL, object), source], np.r_[np.ones(3 * n_signal), weight],
        0.5, seed=0)
    assert bigger["total_error"]["standard_selection"] == pytest.approx(analytic / 2, rel=0.15)
    # the widened interval adds errors in quadrature on each side, not below zero
    assert widen(0.4, [0.3, 0.45], 0.1) == pytest.approx(
        [0.4 - np.hypot(0.1, 0.1), 0.4 + np.hypot(0.05, 0.1)])
    assert widen(0.1, [0.05, 0.2], 0.3)[0] == 0.0
    assert widen(0.4, [0.3, 0.45]) == pytest.approx([0.3, 0.45])


def test_ideal_floor_removes_what_the_spectrum_separates():
    rng = np.random.default_rng(1)
    reference, test = _events(rng, 2000), _events(rng, 2000)
    floor = ideal_nr_floor(reference, test, ["er", "cevns", "neutrons"], 0.5)
    # without the spectrum half of every NR-like event stays; ER never does
    assert floor["energy_blind"] == pytest.approx(0.5 * (20.0 + 4.0))
    # CEvNS sits below the WIMPs' cS1: an ideal separator keeps none of it, and half of
    # the neutrons, whose spectrum is the WIMPs'
    assert floor["with_cs1_spectrum_per_source"]["cevns"] == 0.0
    assert floor["with_cs1_spectrum"] == pytest.approx(2.0, rel=0.15)


def test_hybrid_cnn_reads_the_event_scalars():
    X, _ = separable_images(n=240)
    rng = np.random.default_rng(2)
    scalars = rng.normal(size=(240, 2))
    y = (scalars[:, 0] > 0).astype(int)  # the label lives in the scalars, not the image
    model = WeightedCNN(2, epochs=4, batch_size=40, learning_rate=0.01, n_scalars=2)
    model.fit(X, y, np.ones(len(y)), scalars)
    accuracy = (model.predict_proba(X, scalars).argmax(axis=1) == y).mean()
    assert accuracy > 0.85
    assert model.fit_info()["n_scalars"] == 2
    with pytest.raises(DataError, match="scalars"):
        model.predict_log_proba(X)
    base = count_parameters(PaperCNN((1, 16, 16), n_outputs=2))
    hybrid = PaperCNN((1, 16, 16), n_outputs=2, n_scalars=2)
    # the scalars' block (2 -> 32 -> 32) and its 32 outputs as inputs of the dense layer
    assert count_parameters(hybrid) == base + (2 * 32 + 32) + (32 * 32 + 32) + 32 * 32
    direct = PaperCNN((1, 16, 16), CNNArchitecture(scalar_units=0), n_outputs=2, n_scalars=2)
    assert count_parameters(direct) == base + 2 * 32  # two more inputs of the dense layer
    # the paper's network is unchanged: same weights from the same generator
    paper = PaperCNN((1, 16, 16), n_outputs=2, generator=torch.Generator().manual_seed(4))
    again = PaperCNN((1, 16, 16), CNNArchitecture(scalar_units=64), n_outputs=2,
                     generator=torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip(paper.state_dict().values(),
                                                  again.state_dict().values(), strict=True))
    with pytest.raises(ValueError, match="scalars"):
        hybrid(torch.rand(3, 1, 16, 16))


def test_ideal_floor_interval_counts_only_the_sources_it_keeps():
    # the removed sources (here ER, weight 1 per event) are gone by construction: the
    # floor's interval is that of the NR-like events alone, not widened by the
    # Feldman-Cousins upper limit of ER's empty cell (1.29 x 1.0 events)
    rng = np.random.default_rng(1)
    reference, test = _events(rng, 2000), _events(rng, 2000)
    floor = ideal_nr_floor(reference, test, ["er", "cevns", "neutrons"], 0.5)
    per_source = floor["with_cs1_spectrum_per_source"]
    assert per_source["cevns"] == 0.0
    n = round(per_source["neutrons"] / 0.002)  # passing neutrons, weight 0.002 each
    lo_n, hi_n = feldman_cousins_68(n)
    above = np.hypot((hi_n - n) * 0.002, feldman_cousins_68(0)[1] * 0.01)  # + CEvNS' empty cell
    below = (n - lo_n) * 0.002
    value = floor["with_cs1_spectrum"]
    assert floor["with_cs1_spectrum_interval"] == pytest.approx([value - below, value + above],
                                                                rel=1e-6)
