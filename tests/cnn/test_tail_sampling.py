"""Importance sampling of background tails (wimpsift.waveforms.tail_sampling): the
weighted counts agree with plain simulation, the weights are positive and normalised,
the tails are over-represented, and the same seed gives the same draw."""

from __future__ import annotations

import numpy as np
import pytest

from wimpsift.detectors import load_detector
from wimpsift.errors import ConfigError
from wimpsift.metrics.remaining import (
    feldman_cousins_68,
    feldman_cousins_68_effective,
    remaining_at_acceptance,
)
from wimpsift.seeding import generator, seed_sequence
from wimpsift.sources import make_source
from wimpsift.training.background_classifiers import AllBackgroundsSettings
from wimpsift.training.mix_samples import simulate_source
from wimpsift.waveforms.event import source_interactions
from wimpsift.waveforms.tail_sampling import (
    RECOMBINATION_STRATA,
    TailStrata,
    default_strata,
    expected_cs1_pe,
    select_events,
    stratify,
    tail_rank,
)


@pytest.fixture(scope="module")
def detector():
    return load_detector("xenon1t_sr0")


def _candidates(detector, name, n, seed):
    return source_interactions(detector, make_source(detector, name), n, seed, "active")


def _electron_fraction(it):
    e = np.bincount(it.event, weights=it.n_electrons, minlength=it.n_events)
    q = e + np.bincount(it.event, weights=it.n_photons, minlength=it.n_events)
    return e / np.maximum(q, 1), q


def _depth(detector, it):
    g = detector.geometry
    r = np.hypot(it.x_cm, it.y_cm)
    return np.minimum.reduce([g.tpc_radius_cm - r, -it.z_cm, g.tpc_length_cm + it.z_cm])


def _agree(stratified, plain, n_sigma=4.0):
    """Two estimates (value, error) agree within ``n_sigma`` combined errors."""
    (a, sa), (b, sb) = stratified, plain
    return abs(a - b) <= n_sigma * np.hypot(sa, sb), (a, sa, b, sb)


def _weighted_share(flag, factor, n_candidates):
    """Horvitz–Thompson share of candidates with ``flag`` and its error (strata
    treated as independent binomial samples)."""
    value = float((factor * flag).sum() / n_candidates)
    return value, float(np.sqrt((factor**2 * flag).sum()) / n_candidates)


def _plain_share(flag):
    p = float(flag.mean())
    return p, float(np.sqrt(max(p * (1 - p), 1 / flag.size) / flag.size))


def test_er_tail_share_agrees_with_plain_simulation(detector):
    """The share of ER events with an NR-like electron fraction (the lowest 0.5 % at
    their quanta, a cut the strata do not know) from 1,500 stratified events equals the
    share in 40,000 plainly simulated ones within errors; its error is far smaller than
    that of as many plainly simulated events."""
    it = _candidates(detector, "er", 30_000, seed_sequence(1, "er"))
    draw = stratify(detector, it, "recombination", 1500, generator(1, "draw"))
    plain = _candidates(detector, "er", 40_000, seed_sequence(2, "er"))
    fraction, quanta = _electron_fraction(it)
    fraction_p, quanta_p = _electron_fraction(plain)
    # an independent NR-like line: electron fraction below the plain sample's 0.5 % at
    # 300-600 quanta (inside the window)
    band = (quanta_p > 300) & (quanta_p < 600)
    line = np.quantile(fraction_p[band], 0.005)

    def flag(f, q):
        return ((q > 300) & (q < 600) & (f < line)).astype(float)

    ok, numbers = _agree(_weighted_share(flag(fraction, quanta)[draw.index], draw.factor,
                                         it.n_events),
                         _plain_share(flag(fraction_p, quanta_p)))
    assert ok, numbers
    # its error is several times smaller than that of 1,500 plainly simulated events
    assert numbers[1] < 0.5 * numbers[3] * np.sqrt(plain.n_events / draw.index.size)
    # a bulk quantity too: the mean quanta
    mean_s = float((draw.factor * quanta[draw.index]).sum() / it.n_events)
    err_s = float(np.sqrt((draw.factor**2 * (quanta[draw.index] - mean_s) ** 2).sum())
                  / it.n_events)
    ok, numbers = _agree((mean_s, err_s), (quanta_p.mean(), quanta_p.std() / np.sqrt(
        quanta_p.size)))
    assert ok, numbers


def test_er_near_threshold_has_strata_of_its_own(detector):
    """ER candidates expecting less than 10 PE are stratified on their own: a third of
    the rendered events for about a tenth of the candidates, and a near-threshold count
    the strata do not know (expected cS1 below 6 PE, electron fraction above the median
    at its quanta: ordinary recombination) agrees with plain simulation, with a smaller
    error than as many plainly simulated events give."""
    it = _candidates(detector, "er", 30_000, seed_sequence(11, "er"))
    draw = stratify(detector, it, "recombination", 1500, generator(11, "draw"))
    plain = _candidates(detector, "er", 40_000, seed_sequence(12, "er"))
    assert draw.strata == RECOMBINATION_STRATA and default_strata("depth") == TailStrata()
    low = expected_cs1_pe(detector, it) < RECOMBINATION_STRATA.low_cs1_pe
    assert low[draw.index].mean() > 2.5 * low.mean()
    names = RECOMBINATION_STRATA.names()
    assert names[-1] == "above_window" and len(names) == 11
    assert draw.candidates[5:10].sum() == low.sum()  # the low strata hold them all

    def flag(events):
        fraction, quanta = _electron_fraction(events)
        median = np.median(fraction[(quanta > 20) & (quanta < 200)])
        return ((expected_cs1_pe(detector, events) < 6) & (fraction > median)).astype(float)

    ok, numbers = _agree(_weighted_share(flag(it)[draw.index], draw.factor, it.n_events),
                         _plain_share(flag(plain)))
    assert ok, numbers
    assert numbers[1] < numbers[3] * np.sqrt(plain.n_events / draw.index.size)
    with pytest.raises(ValueError, match="low"):
        TailStrata(low_cs1_pe=10.0, low_shares=(0.1,))


def test_external_gamma_depth_share_agrees(detector):
    """External gammas deeper than 10 cm (rare: most scatter near a surface)."""
    it = _candidates(detector, "external_gamma", 12_000, seed_sequence(3, "gamma"))
    draw = stratify(detector, it, "depth", 1000, generator(3, "draw"))
    plain = _candidates(detector, "external_gamma", 20_000, seed_sequence(4, "gamma"))
    deep = np.bincount(it.event, weights=_depth(detector, it) > 10, minlength=it.n_events) > 0
    deep_p = np.bincount(plain.event, weights=_depth(detector, plain) > 10,
                         minlength=plain.n_events) > 0
    ok, numbers = _agree(_weighted_share(deep[draw.index].astype(float), draw.factor,
                                         it.n_events), _plain_share(deep_p.astype(float)))
    assert ok, numbers


def test_brightness_rank_orders_by_expected_cs1(detector):
    """q = 0 for the brightest CEvNS candidate: q falls as the expected cS1 rises."""
    it = _candidates(detector, "cevns", 5000, seed_sequence(5, "cevns"))
    q = tail_rank(detector, it, "brightness")
    cs1 = expected_cs1_pe(detector, it)
    assert ((q > 0) & (q < 1)).all() and np.unique(q).size == q.size
    order = np.argsort(q)
    assert np.all(np.diff(cs1[order]) <= 0)
    assert q[np.argmax(cs1)] == q.min()
    with pytest.raises(ValueError, match="brightness"):
        tail_rank(detector, it, "energy")  # type: ignore[arg-type]


def test_cevns_brightness_share_agrees(detector):
    """CEvNS candidates expecting more than 2 PE of cS1 (0.14 %, the ones whose upward
    fluctuations reach the window's 3 PE; a line the strata do not know): their share
    from 1,000 events rendered out of 100,000 candidates ranked by brightness equals the
    share in 300,000 plain candidates within errors, with an error several times smaller
    than that of 1,000 plainly simulated events."""
    it = _candidates(detector, "cevns", 100_000, seed_sequence(11, "cevns"))
    draw = stratify(detector, it, "brightness", 1000, generator(11, "draw"))
    plain = _candidates(detector, "cevns", 300_000, seed_sequence(12, "cevns"))
    assert draw.candidates[-1] == 0  # no CEvNS event expects a cS1 above the window
    bright = (expected_cs1_pe(detector, it) > 2.0).astype(float)
    bright_p = (expected_cs1_pe(detector, plain) > 2.0).astype(float)
    ok, numbers = _agree(_weighted_share(bright[draw.index], draw.factor, it.n_events),
                         _plain_share(bright_p))
    assert ok, numbers
    assert numbers[1] < 0.3 * numbers[3] * np.sqrt(plain.n_events / draw.index.size)


@pytest.mark.slow
def test_waveform_level_expected_count_agrees(detector):
    """At waveform level: the expected ER events in the fiducial analysis window, and
    below the ER median in cS2 there, tail-sampled and plain (independent seeds)."""
    out = {}
    for label, settings, seed in (("tail", AllBackgroundsSettings(), 6),
                                  ("plain", AllBackgroundsSettings(tail_sampling={}), 7)):
        table, _, _, _, strata = simulate_source(detector, "er", 250, seed_sequence(seed, "er"),
                                                 "hitpeak", 10, 500.0, None, settings)
        assert (table["weight"] > 0).all() and bool(strata) == (label == "tail")
        inside = table["in_window"].to_numpy(bool)
        w = table["weight"].to_numpy(float)
        out[label] = (float(w[inside].sum()), float(np.sqrt((w[inside] ** 2).sum())))
    ok, numbers = _agree(out["tail"], out["plain"])
    assert ok, numbers


def _window_count(table):
    """Expected events in the active volume's window (every row of the table) ± error."""
    w = table["weight"].to_numpy(float)
    return float(w.sum()), float(np.sqrt((w**2).sum()))


@pytest.mark.slow
def test_cevns_waveform_level_window_count_agrees(detector):
    """CEvNS ranked by brightness reaches its window events rendering over five times
    fewer events per window event than plain simulation (about 0.15 % of whose events
    reach the window; measured 15× fewer), and the expected count in the window agrees
    with plain simulation's."""
    tail, _, _, _, strata = simulate_source(detector, "cevns", 40, seed_sequence(13, "cevns"),
                                            "hitpeak", 100, 500.0, None,
                                            AllBackgroundsSettings())
    plain, _, n_plain, _, _ = simulate_source(
        detector, "cevns", 20, seed_sequence(14, "cevns"), "hitpeak", 1000, 500.0, None,
        AllBackgroundsSettings(tail_sampling={}))
    rendered = sum(s["rendered"] for s in strata)
    assert len(tail) >= 40 and strata[0]["variable"] == "brightness"
    assert len(tail) / rendered > 5 * len(plain) / n_plain
    ok, numbers = _agree(_window_count(tail), _window_count(plain))
    assert ok, numbers


def test_draw_is_reproducible_positive_and_normalised(detector):
    it = _candidates(detector, "er", 8000, seed_sequence(9, "er"))
    a = stratify(detector, it, "recombination", 400, generator(9, "draw"))
    b = stratify(detector, it, "recombination", 400, generator(9, "draw"))
    c = stratify(detector, it, "recombination", 400, generator(10, "draw"))
    assert np.array_equal(a.index, b.index) and np.array_equal(a.factor, b.factor)
    assert not np.array_equal(a.index, c.index)
    assert (a.factor >= 1).all() and np.all(np.diff(a.index) > 0)
    # Horvitz–Thompson: the factors of each stratum add up to its candidates
    assert np.allclose(np.bincount(a.stratum, weights=a.factor, minlength=a.candidates.size),
                       a.candidates)
    assert a.candidates.sum() == it.n_events and a.kept.sum() == a.index.size
    # the most NR-like 1 % of candidates is over ten times more frequent among the
    # rendered events (all of them are rendered here: 8,000 candidates are few)
    q = tail_rank(detector, it, "recombination")
    assert (q[a.index] < 0.01).mean() > 0.1
    assert len(default_strata("recombination").names()) == a.candidates.size
    sub = select_events(it, a.index)
    assert sub.n_events == a.index.size
    assert np.array_equal(sub.n_electrons, it.n_electrons[a.index])  # one interaction each


def test_data_driven_source_cannot_be_tail_sampled(detector):
    settings = AllBackgroundsSettings(tail_sampling={"accidental": "recombination"})
    with pytest.raises(ConfigError, match="tail_sampling"):
        simulate_source(detector, "accidental", 20, seed_sequence(1, "a"), "hitpeak", 2,
                        500.0, None, settings)


def test_effective_count_interval():
    for n in range(4):
        assert feldman_cousins_68_effective(float(n)) == feldman_cousins_68(n)
    lo, hi = feldman_cousins_68_effective(2.5)
    assert feldman_cousins_68(2)[0] < lo < feldman_cousins_68(3)[0]
    assert feldman_cousins_68(2)[1] < hi < feldman_cousins_68(3)[1]
    # unequal weights: the interval follows the effective count, and holds the value
    scores = np.r_[np.linspace(0, 1, 100), [2.0, 2.0, 2.0]]
    source = np.r_[["wimp"] * 100, ["er"] * 3].astype(object)
    equal = remaining_at_acceptance(scores, source, np.r_[np.ones(100), [1.0, 1.0, 1.0]])
    assert equal["er"]["interval_68"] == pytest.approx(feldman_cousins_68(3))
    unequal = remaining_at_acceptance(scores, source, np.r_[np.ones(100), [2.0, 0.5, 0.5]])
    lo, hi = unequal["er"]["interval_68"]
    assert lo < unequal["er"]["events"] == 3.0 < hi
    # fewer effective events than 3: wider relative interval
    assert hi - lo > feldman_cousins_68(3)[1] - feldman_cousins_68(3)[0]


def test_tail_emphasis_keeps_each_source_total():
    import pandas as pd

    from wimpsift.training.mix_weights import tail_emphasis_weights

    table = pd.DataFrame({"source": ["er", "er", "er", "wimp"],
                          "weight": [0.1, 0.1, 5.0, 1.0],
                          "sampling_factor": [1.0, 1.0, 50.0, 1.0]})
    assert np.array_equal(tail_emphasis_weights(table, 0.0), table["weight"].to_numpy())
    w = tail_emphasis_weights(table, 1.0)
    assert w[:3].sum() == pytest.approx(5.2) and w[3] == 1.0
    # each rendered ER event alike at power 1: the tail events gain, the bulk one loses
    assert np.allclose(w[:3], 5.2 / 3)
    half = tail_emphasis_weights(table, 0.5)
    assert 0.1 < half[0] < w[0] and half[2] > w[2]


def test_source_share_floor_lifts_rare_sources_and_keeps_the_rest():
    import pandas as pd

    from wimpsift.errors import ConfigError
    from wimpsift.training.mix_weights import source_share_floor

    table = pd.DataFrame({"source": ["wimp"] * 2 + ["er"] * 5 + ["wall"] * 2
                          + ["gamma"] * 3 + ["cevns"]})
    w = np.array([0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.2, 1e-3, 2e-3, 0.1, 0.1, 0.1, 1e-4])
    out = source_share_floor(table, w, 0.05)
    source = table["source"].to_numpy()
    background = source != "wimp"
    share = {s: out[source == s].sum() / out[background].sum()
             for s in ("er", "wall", "gamma", "cevns")}
    assert out[background].sum() == pytest.approx(w[background].sum())
    assert np.array_equal(out[~background], w[~background])
    assert share["wall"] == pytest.approx(0.05) and share["cevns"] == pytest.approx(0.05)
    # the large sources give up the same fraction; inside a source the ratios are kept
    assert (share["er"] / share["gamma"]) == pytest.approx(1.4 / 0.3)
    assert out[2] / out[6] == pytest.approx(1.5) and out[7] / out[8] == pytest.approx(0.5)
    assert np.array_equal(source_share_floor(table, w, 0.0), w)
    with pytest.raises(ConfigError, match="binary_min_source_share"):
        source_share_floor(table, w, 0.3)
    # a named source's own floor: gamma (0.3 of 1.703 alone) lifted to 0.4, the common
    # floor for the rest, ER giving up the difference; sources not present are ignored
    named = source_share_floor(table, w, 0.05, {"gamma": 0.4, "neutrons": 0.9})
    share = {s: named[source == s].sum() / named[background].sum()
             for s in ("er", "wall", "gamma", "cevns")}
    assert named[background].sum() == pytest.approx(w[background].sum())
    assert share["gamma"] == pytest.approx(0.4) and share["wall"] == pytest.approx(0.05)
    assert share["er"] == pytest.approx(1 - 0.4 - 0.05 - 0.05)
    # a named floor below what the source has already changes nothing
    assert np.allclose(source_share_floor(table, w, 0.05, {"er": 0.1}), out)
    with pytest.raises(ConfigError, match="binary_min_source_share"):
        source_share_floor(table, w, 0.05, {"er": 0.5, "gamma": 0.5})


def test_default_binary_weights_keep_the_er_share_when_gammas_crowd_it_out():
    import pandas as pd

    from wimpsift.training.background_classifiers import (
        AllBackgroundsSettings,
        binary_training_weights,
    )
    from wimpsift.training.mix_weights import background_shares

    # an active-volume mix where the external gammas are 19 times the ER (ER 5 %): the
    # default ER floor lifts it to 0.15 in both binary mixes, the empty one leaves 0.05
    table = pd.DataFrame({"source": ["wimp"] * 4 + ["er"] * 4 + ["external_gamma"] * 4,
                          "weight": [1.0] * 4 + [0.25] * 4 + [4.75] * 4,
                          "in_window": [True] * 12})
    default = AllBackgroundsSettings(binary_min_source_share=0.0)
    for name, w in binary_training_weights(table, default, None).items():
        assert background_shares(table, w)["er"] == pytest.approx(0.15), name
    bare = default.model_copy(update={"binary_source_share_floors": {}})
    active = binary_training_weights(table, bare, None)["active"]
    assert background_shares(table, active)["er"] == pytest.approx(0.05)


def test_multiclass_mix_of_the_active_volume_lists_only_its_sources():
    # ``wall`` is listed for the fiducial volume only (its near-wall events are
    # ``surface`` in the active one): the active comparison's likelihood ratio must not
    # count it in the mix, or near-wall events would be counted twice there
    import pandas as pd

    from wimpsift.sources import source_names
    from wimpsift.training.background_classifiers import mix_log_shares

    detector = load_detector("xenon1t_sr0")
    active = source_names(detector, "active")
    assert "wall" not in active and "surface" in active
    table = pd.DataFrame({"source": ["wimp", "er", "er", "wall", "surface", "external_gamma"],
                          "weight": [1.0, 30.0, 30.0, 2.0, 4.0, 36.0]})
    classes = ["wimp", "wall", "surface", "er", "external_gamma"]
    shares = dict(zip(classes[1:], np.exp(mix_log_shares(table, classes, active)), strict=True))
    assert shares == pytest.approx({"wall": 0.0, "surface": 0.04, "er": 0.6,
                                    "external_gamma": 0.36})
    # without a list, every source of the table
    every = dict(zip(classes[1:], np.exp(mix_log_shares(table, classes, None)), strict=True))
    assert every["wall"] == pytest.approx(2.0 / 102.0)


def test_multiclass_mix_without_any_listed_class_is_refused():
    # no class among the listed sources: a share of 0/0 for every class (NaN log-shares
    # in the likelihood ratio) is refused with the sources and classes named
    import pandas as pd

    from wimpsift.errors import DataError
    from wimpsift.training.background_classifiers import mix_log_shares

    table = pd.DataFrame({"source": ["wimp", "er", "wall"], "weight": [1.0, 30.0, 2.0]})
    with pytest.raises(DataError, match=r"sources: none of \['surface'\] .*\['er', 'wall'\]"):
        mix_log_shares(table, ["wimp", "er", "wall"], ["surface"])
