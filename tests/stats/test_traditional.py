"""Traditional multi-dimensional templates and the timing breakdown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wimpsift.errors import ConfigError, DataError
from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.limits import upper_limit
from wimpsift.stats.timing import StageTimes, format_table, speedups
from wimpsift.stats.traditional import (
    TraditionalBinning,
    discriminant_templates,
    traditional_templates,
)

RANGES = dict(r2_max_cm2=400.0, z_min_cm=-46.0, z_max_cm=-6.0, cs1_min_pe=2.0, cs1_max_pe=60.0,
              log10_cs2_min=2.3, log10_cs2_max=4.5)


def _events(n: int, nr: bool, rng: np.random.Generator) -> pd.DataFrame:
    cs1 = rng.uniform(2.0, 60.0, n)
    band = 0.55 if nr else 0.75  # log10(cs2/cs1) offset: NR band below ER band
    log_cs2 = 2.0 + band + 0.75 * np.log10(cs1) + 0.1 * rng.standard_normal(n)
    return pd.DataFrame({"r_cm": 20.0 * np.sqrt(rng.uniform(0, 1, n)), "z_cm": rng.uniform(-46, -6, n),
                         "cs1_pe": cs1, "cs2_pe": 10**log_cs2})


@pytest.mark.parametrize("variant", ["factorised", "full"])
def test_traditional_templates_shapes_and_normalisation(variant):
    rng = np.random.default_rng(0)
    binning = TraditionalBinning.build(variant=variant, r2_bins=3, z_bins=3, cs1_bins=6,
                                       log10_cs2_bins=6, **RANGES)
    ts = traditional_templates(_events(5000, True, rng), {"er": _events(5000, False, rng)},
                               {"signal": 10.0, "er": 300.0}, binning, sigma_ref_cm2=1e-45, mass_gev=50.0)
    assert ts.shape == (3, 3, 6, 6)
    assert ts.signal.sum() == pytest.approx(10.0)
    # the empty-bin floor adds a little background where the signal has bins of its own
    assert ts.backgrounds["er"].sum() >= 300.0
    lik = BinnedLikelihood(ts, LikelihoodConfig.build(background_rel_uncertainty=0.2))
    counts = np.round(lik.expected(lik.nominal_parameters(0.0)))
    result = upper_limit(lik, counts)
    assert 0 < result.expected_mu["median"] < 5


def test_factorised_template_is_a_product():
    rng = np.random.default_rng(1)
    binning = TraditionalBinning.build(r2_bins=2, z_bins=2, cs1_bins=3, log10_cs2_bins=3,
                                       empty_bin_fill=0.0, **RANGES)
    ev = _events(20_000, False, rng)
    ts = traditional_templates(ev, {"er": ev}, {"signal": 1.0, "er": 1.0}, binning, 1e-45)
    t = ts.signal
    pos = t.sum(axis=(2, 3))
    area = t.sum(axis=(0, 1))
    np.testing.assert_allclose(t, pos[:, :, None, None] * area[None, None, :, :], rtol=1e-12)


def test_without_floor_empty_background_bins_are_rejected():
    rng = np.random.default_rng(2)
    binning = TraditionalBinning.build(variant="full", r2_bins=4, z_bins=4, cs1_bins=10,
                                       log10_cs2_bins=10, empty_bin_fill=0.0, **RANGES)
    with pytest.raises(DataError, match="no background model"):
        traditional_templates(_events(3000, True, rng), {"er": _events(300, False, rng)},
                              {"signal": 1.0, "er": 10.0}, binning, 1e-45)


def test_traditional_validators():
    with pytest.raises(ConfigError, match="z_min_cm must be below z_max_cm"):
        TraditionalBinning.build(**{**RANGES, "z_min_cm": 0.0})
    with pytest.raises(ConfigError, match="r2_bins"):
        TraditionalBinning.build(r2_bins=0, **RANGES)
    with pytest.raises(ConfigError, match="variant"):
        TraditionalBinning.build(variant="5d", **RANGES)
    binning = TraditionalBinning.build(**RANGES)
    ev = _events(10, True, np.random.default_rng(0))
    with pytest.raises(DataError, match="missing columns"):
        traditional_templates(ev.drop(columns="cs2_pe"), {"er": ev}, {"signal": 1, "er": 1}, binning, 1e-45)
    with pytest.raises(DataError, match="no expected event count"):
        traditional_templates(ev, {"er": ev}, {"signal": 1}, binning, 1e-45)
    outside = ev.assign(z_cm=10.0)
    with pytest.raises(DataError, match="no event inside"):
        traditional_templates(outside, {"er": ev}, {"signal": 1, "er": 1}, binning, 1e-45)


def test_discriminant_templates():
    rng = np.random.default_rng(3)
    sig, er = rng.beta(5, 1, 1000), rng.beta(1, 5, 1000)
    ts = discriminant_templates(sig, {"er": er}, {"signal": 5.0, "er": 100.0}, 20, 1e-45, 50.0)
    assert ts.shape == (20,)
    # each template holds its expected count in the histogram's proportions; bins
    # without background get a floor of half an event's expectation (0.5 x 100/1000)
    edges = np.linspace(0, 1, 21)
    counts, _ = np.histogram(sig, bins=edges)
    np.testing.assert_allclose(ts.flat_signal(), 5.0 * counts / counts.sum(), rtol=1e-12)
    er_counts, _ = np.histogram(er, bins=edges)
    assert (er_counts == 0).any()  # Beta(1, 5) leaves the top bins empty
    np.testing.assert_allclose(ts.backgrounds["er"],
                               100.0 * er_counts / 1000 + (er_counts == 0) * 0.5 * 0.1, rtol=1e-12)
    # Beta(5, 1) rises as 5 g^4 and Beta(1, 5) falls: signal at high g, ER at low g
    assert ts.flat_signal()[-1] > ts.flat_signal()[0]
    assert ts.backgrounds["er"][0] > ts.backgrounds["er"][-1]
    # the floor, by hand: ten events all in the first of four bins
    gap = discriminant_templates(sig, {"er": np.full(10, 0.01)}, {"signal": 5.0, "er": 10.0},
                                 4, 1e-45)
    np.testing.assert_allclose(gap.backgrounds["er"], [10.0, 0.5, 0.5, 0.5])
    with pytest.raises(DataError, match="n_bins"):
        discriminant_templates([0.5], {"er": [0.5]}, {"signal": 1, "er": 1}, 0, 1e-45)


def test_stage_times_and_table():
    trad, net = StageTimes(), StageTimes()
    with trad.stage("toy_generation"):
        sum(i * i for i in range(200_000))
    with net.stage("toy_generation"):
        with net.stage("hypothesis_testing"):  # nested: counted once, in the outer stage
            sum(i for i in range(1000))
    assert net.cpu_s["hypothesis_testing"] == 0.0
    assert trad.total_cpu_s > net.total_cpu_s > 0
    sp = speedups(trad, net)
    assert sp["total_cpu"] == pytest.approx(trad.total_cpu_s / net.total_cpu_s)
    table = format_table(trad, net)
    assert "paper Table I" in table and "speed-up" in table
    with pytest.raises(ValueError, match="stage"):
        with trad.stage("plotting"):
            pass


def test_pyhf_workspace_is_written_without_pyhf(tmp_path, monkeypatch):
    """pyhf is optional: exporting the workspace is plain JSON."""
    import builtins
    import json

    from wimpsift.stats.pyhf_export import write_workspace

    real_import = builtins.__import__

    def no_pyhf(name, *args, **kwargs):
        if name == "pyhf" or name.startswith("pyhf."):
            raise ImportError("pyhf blocked for this test")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyhf)
    ts = discriminant_templates(np.linspace(0.5, 1, 50), {"er": np.linspace(0, 1, 50)},
                                {"signal": 2.0, "er": 20.0}, 5, 1e-45, 30.0)
    lik = BinnedLikelihood(ts, LikelihoodConfig.build(background_rel_uncertainty=0.2))
    path = write_workspace(tmp_path / "ws.json", lik, np.ones(5))
    spec = json.loads(path.read_text())
    assert [s["name"] for s in spec["channels"][0]["samples"]] == ["signal", "er"]
    assert spec["observations"][0]["data"] == [1.0] * 5


def test_paper_table_i_comes_from_the_papers_data_and_adds_up():
    from wimpsift.stats.timing import STAGES, paper_table_i

    paper = paper_table_i()
    for name in ("original", "neural_network"):  # stage hours add up to the stated total
        assert sum(paper[name][s] for s in STAGES) == pytest.approx(paper[name]["total"], rel=0.01)
    assert paper["original"]["training"] == 0.0  # no network in the original analysis
    ratio = paper["original"]["total"] / paper["neural_network"]["total"]
    assert ratio == pytest.approx(paper["speedup"]["cpu"], rel=0.05)  # the paper's stated CPU speed-up


def test_five_d_template_marginalises_to_the_four_d_one():
    """With the S1 prompt fraction as a fifth axis, f(r², z) × f(cS1, log10 cS2, pf) summed
    over pf is the 4-D template of the same events (every pf lies in [0, 1]), and every
    filled bin carries an MC variance."""
    rng = np.random.default_rng(3)
    ev = _events(20_000, False, rng)
    ev["s1_prompt_fraction"] = rng.uniform(0.0, 1.0, len(ev))
    four = TraditionalBinning.build(r2_bins=2, z_bins=2, cs1_bins=3, log10_cs2_bins=3, empty_bin_fill=0.0,
                                    **RANGES)
    five = four.model_copy(update={"pf_bins": 4})
    t4 = traditional_templates(ev, {"er": ev}, {"signal": 7.0, "er": 7.0}, four, 1e-45)
    t5 = traditional_templates(ev, {"er": ev}, {"signal": 7.0, "er": 7.0}, five, 1e-45)
    assert t5.shape == (2, 2, 3, 3, 4) and len(five.edges()) == 5
    np.testing.assert_allclose(t5.signal.sum(axis=4), t4.signal, rtol=1e-12)
    area = t5.signal.sum(axis=(0, 1))
    np.testing.assert_allclose(t5.signal, t5.signal.sum(axis=(2, 3, 4))[:, :, None, None, None]
                               * area[None, None] / 7.0, rtol=1e-12)
    variances = t5.background_variances["er"]
    assert variances.shape == t5.shape and np.all(variances[t5.backgrounds["er"] > 0] > 0)
    with pytest.raises(DataError, match="s1_prompt_fraction"):
        traditional_templates(ev.drop(columns="s1_prompt_fraction"), {"er": ev}, {"signal": 1.0, "er": 1.0},
                              five, 1e-45)


@pytest.mark.parametrize("variant", ["factorised", "full"])
def test_empty_bins_get_the_fill_in_weights_of_one_event_inside_the_ranges(variant):
    # 'expected' counts the events inside the ranges, so one simulated event there weighs
    # expected / (events inside); events outside the ranges (here as many again, at cS1
    # above the range) must not dilute the floor
    rng = np.random.default_rng(3)
    inside = _events(2000, False, rng)
    outside = inside.assign(cs1_pe=inside["cs1_pe"] + 100.0)
    background = pd.concat([inside, outside], ignore_index=True)
    signal = _events(2000, True, rng)
    templates = {}
    for fill in (0.5, 1.0):
        binning = TraditionalBinning.build(variant=variant, r2_bins=3, z_bins=3, cs1_bins=8,
                                           log10_cs2_bins=8, empty_bin_fill=fill, **RANGES)
        templates[fill] = traditional_templates(signal, {"er": background}, {"signal": 1.0, "er": 100.0},
                                                binning, 1e-45).backgrounds["er"]
    added = templates[1.0] - templates[0.5]
    assert np.count_nonzero(added) > 0
    np.testing.assert_allclose(added[added != 0], 0.5 * 100.0 / 2000, rtol=1e-12)
