"""Both analyses side by side on a tiny synthetic sample (end to end at toy scale)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from band_model import BandScorer
from band_model import band_source as _source

from wimpsift.detectors import load_detector
from wimpsift.errors import ConfigError, DataError
from wimpsift.stats.comparison import ComparisonConfig, compare_analyses, write_comparison
from wimpsift.stats.distributed import DaskConfig
from wimpsift.stats.figures import plot_limits_vs_mass
from wimpsift.stats.limits import LimitConfig


def test_compare_analyses_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    background = pd.concat([_source("er", 3000, False, 0, 200.0, rng),
                            _source("wall", 1000, False, 0, 10.0, rng)])
    tables = {m: pd.concat([background, _source("wimp", 2000, True, 1, 5.0 * m / 50.0, rng)],
                           ignore_index=True) for m in (20.0, 50.0)}
    calls = []

    def train(mass, table, previous):
        calls.append((mass, previous))
        return BandScorer(), mass

    config = ComparisonConfig.build(
        n_bins=10, traditional_bins=(2, 2, 6, 6),
        limits=LimitConfig.build(method="toys", n_toys=200, n_background_toys=200, mu_grid_points=10),
        dask=DaskConfig.build(synchronous=True, progress=False), n_pseudo_experiments=200)
    # independent events for event-level pseudo-experiments (signal: for coverage)
    pool = pd.concat([_source("er", 3000, False, 0, 200.0, rng), _source("wall", 1000, False, 0, 10.0, rng),
                      _source("wimp", 2000, True, 1, 5.0, rng)])
    result = compare_analyses([50.0, 20.0], tables.__getitem__, train, load_detector("lux_2013"),
                              1e-45, config, pool_for_mass=lambda m: pool)
    assert calls == [(20.0, None), (50.0, 20.0)]  # lowest mass first, state handed on
    metrics = result.metrics()
    json.dumps(metrics)  # JSON-able
    assert metrics["per_mass"]["50"]["traditional"]["expected_mu"]["median"] > 0
    ratio = result.limit_ratio()
    # the fixed discriminant is the distance from the ER band, close to optimal for this
    # model, while the coarse 4-D bins (0.27 decades in log10 cS2) blur the bands: the
    # 1-D analysis must not be worse than the traditional one
    assert all(0.0 < r < 1.2 for r in ratio.values())
    # the same event-level experiments were binned and limited by both analyses
    for m in (20.0, 50.0):
        for res in (result.network[m], result.traditional[m]):
            pe = res.pseudo_experiment_mu
            assert pe["fraction_beyond_grid"] < 0.05
            assert pe["median"] < pe["+1sigma"]
            # CLs+b: the -1 sigma quantile may fall on experiments that exclude every
            # tested strength; then it is NaN (never the lowest strength) and says so
            if np.isnan(pe["-1sigma"]):
                assert pe["fraction_below_grid"] >= 0.15
            else:
                assert pe["-1sigma"] < pe["median"]
    assert all(np.isfinite(r) for r in result.limit_ratio("pseudo_median").values())
    # coverage of signal-injected experiments (injected at the network's median expected
    # limit; background-only experiments would give about 50 %): 90 % within 200
    # experiments' binomial error (2.1 %) and the single profile's approximation
    summary = result.comparison(simulation_cpu_s_per_event=1e-4, mc_events_used=8000)
    for key in ("speedup_cpu_4d", "speedup_cpu_4d_nuisance", "speedup_cpu_5d", "limit_ratio_min",
                "limit_ratio_max", "coverage_network", "coverage_traditional", "mc_events_network",
                "mc_events_traditional"):
        assert key in summary
    assert 0.82 < summary["coverage_network"] < 0.97 and 0.82 < summary["coverage_traditional"] < 0.97
    assert summary["limit_ratio_min"] <= summary["limit_ratio_max"]
    assert summary["simulation_events"] == "as_used" and summary["speedup_cpu_4d"] > 1
    assert result.times_traditional.cpu_s["hypothesis_testing"] > 0
    assert result.times_network.cpu_s["training"] >= 0
    paths = write_comparison(result, tmp_path, config)
    saved = json.loads(paths["metrics"].read_text())
    assert saved["provenance"]["stage"] == "limits"
    assert set(saved["per_mass"]) == {"20", "50"}
    assert "paper Table I" in paths["timing"].read_text()
    assert paths["figure"].stat().st_size > 1000


def test_comparison_validators(tmp_path):
    with pytest.raises(ConfigError, match="variant"):
        ComparisonConfig.build(variant="5d")
    with pytest.raises(ConfigError, match="n_bins"):
        ComparisonConfig.build(n_bins=1)
    table = _source("er", 50, False, 0, 1.0, np.random.default_rng(1)).drop(columns="split")
    with pytest.raises(DataError, match="missing column 'split'"):
        compare_analyses([10.0], lambda m: table, lambda *a: (BandScorer(), None),
                         load_detector("lux_2013"), 1e-45)
    with pytest.raises(DataError, match="nothing to plot"):
        plot_limits_vs_mass({}, tmp_path / "x.png")


def test_combined_background_option():
    rng = np.random.default_rng(4)
    background = pd.concat([_source("er", 1500, False, 0, 100.0, rng),
                            _source("wall", 500, False, 0, 5.0, rng)])
    table = pd.concat([background, _source("wimp", 1000, True, 1, 5.0, rng)], ignore_index=True)
    config = ComparisonConfig.build(
        n_bins=8, traditional_bins=(2, 2, 5, 5), combined_background_width=1.0,
        limits=LimitConfig.build(method="toys", n_toys=100, n_background_toys=100, mu_grid_points=8),
        dask=DaskConfig.build(synchronous=True, progress=False))
    result = compare_analyses([30.0], lambda m: table, lambda *a: (BandScorer(), None),
                              load_detector("lux_2013"), 1e-45, config)
    for res in (result.network[30.0], result.traditional[30.0]):
        assert res.expected_mu["median"] > 0
    with pytest.raises(ConfigError, match="combined_background_width"):
        ComparisonConfig.build(combined_background_width=0.0)


def test_pseudo_experiments_without_their_pool_are_refused():
    """n_pseudo_experiments without pool_for_mass ran none: the same limits, no
    pseudo-experiment quantiles, the configuration recording 50 (and a pool without
    experiments was never read)."""
    table = _source("er", 50, False, 0, 1.0, np.random.default_rng(1))
    args = ([10.0], lambda m: table, lambda *a: (BandScorer(), None), load_detector("lux_2013"), 1e-45)
    with pytest.raises(ConfigError, match="^n_pseudo_experiments: 50 event-level pseudo-experiments "
                                          "need pool_for_mass"):
        compare_analyses(*args, ComparisonConfig.build(n_pseudo_experiments=50))
    with pytest.raises(ConfigError, match="^pool_for_mass: only with n_pseudo_experiments > 0"):
        compare_analyses(*args, ComparisonConfig(), pool_for_mass=lambda m: table)


def test_write_comparison_needs_existing_folder(tmp_path):
    from wimpsift.stats.comparison import ComparisonResult
    from wimpsift.stats.timing import StageTimes

    empty = ComparisonResult({}, {}, StageTimes(), StageTimes())
    with pytest.raises(DataError, match="does not exist"):
        write_comparison(empty, tmp_path / "missing", ComparisonConfig())


def test_pseudo_data_needs_test_events():
    from wimpsift.stats.comparison import pseudo_data

    table = _source("er", 20, False, 0, 1.0, np.random.default_rng(2))
    with pytest.raises(DataError, match="no test events of background 'wall'"):
        pseudo_data(table, {"wall": 1.0}, np.random.default_rng(0))


def test_er_band_shape_nuisance_in_both_analyses():
    """The ER band mean as a shape parameter in both analyses. Their asymptotic medians
    move by a fraction (a 0.05-dex band uncertainty): not necessarily up, since each
    Asimov data set is built at the nuisances profiled on the pseudo-data, which the shape
    parameter changes (on one Asimov data set the ordering is tested in
    test_shape_nuisance.py)."""
    rng = np.random.default_rng(5)
    table = pd.concat([_source("er", 3000, False, 0, 200.0, rng), _source("wall", 1000, False, 0, 10.0, rng),
                       _source("wimp", 2000, True, 1, 5.0, rng)], ignore_index=True)
    base = dict(n_bins=10, traditional_bins=(2, 2, 6, 6), limits=LimitConfig.build(
        method="toys", n_toys=60, n_background_toys=60, mu_grid_points=6),
        dask=DaskConfig.build(synchronous=True, progress=False))
    plain = compare_analyses([50.0], lambda m: table, lambda m, t, p: (BandScorer(), None),
                             load_detector("lux_2013"), 1e-45, ComparisonConfig.build(**base))
    shaped = compare_analyses([50.0], lambda m: table, lambda m, t, p: (BandScorer(), None),
                              load_detector("lux_2013"), 1e-45,
                              ComparisonConfig.build(**base, er_band_shift_log10_cs2=0.05))
    for which in ("network", "traditional"):
        before = getattr(plain, which)[50.0].extra["asymptotic_median_mu"]
        after = getattr(shaped, which)[50.0].extra["asymptotic_median_mu"]
        assert 0.7 < after / before < 1.5
    summary = plain.comparison(with_shape_nuisance=shaped)
    assert summary["speedup_cpu_4d_nuisance"] > 0
    assert summary["shape_nuisance_cost_factor_traditional"] > 0
    assert set(summary["limit_ratio_nuisance"]) == {"50"}
    # the shaped pass' fits are reported on their own: an invalid or unconverged fit
    # there shows in the summary, not only the base pass'
    assert summary["shape_nuisance_fits"] == shaped.fit_counts()
    failed = _with_failed_fits(shaped, "traditional", invalid=3.0, not_converged=2.0)
    counts = plain.comparison(with_shape_nuisance=failed)["shape_nuisance_fits"]
    assert counts["migrad_fits_invalid"]["traditional"] == 3.0
    assert counts["fits_not_converged"]["traditional"] == 2.0
    assert counts["migrad_fits_invalid"]["network"] == shaped.network[50.0].extra["n_migrad_fits_invalid"]


def _with_failed_fits(result, analysis: str, invalid: float, not_converged: float):
    """``result`` with ``analysis``' limits recording that many failed fits."""
    limits = {m: replace(r, extra={**r.extra, "n_migrad_fits_invalid": invalid,
                                   "n_fits_not_converged": not_converged})
              for m, r in getattr(result, analysis).items()}
    return replace(result, **{analysis: limits})


class BandPromptScorer:
    """A fixed discriminant of the band distance and the S1 prompt fraction."""

    def score(self, table: pd.DataFrame) -> np.ndarray:
        d = 2.75 + 0.75 * np.log10(table["cs1_pe"]) - np.log10(table["cs2_pe"])
        t = (d - 0.15) / 0.05 + (table["s1_prompt_fraction"] - 0.5) / 0.05
        return 1.0 / (1.0 + np.exp(-t))


def test_five_d_comparison_on_the_same_events():
    """The S1 prompt fraction as a fifth variable (NR events more prompt than ER ones by
    two widths): both analyses gain from it on the same events and experiments, and the
    5-D summary reports the speed-up, the cost factor of the extra dimension and the
    limit ratios."""
    from wimpsift.stats.comparison import extra_dimension_summary

    rng = np.random.default_rng(7)

    def with_pf(frame: pd.DataFrame, nr: bool) -> pd.DataFrame:
        pf = rng.normal(0.6 if nr else 0.4, 0.05, len(frame))
        return frame.assign(s1_prompt_fraction=np.clip(pf, 0, 1))

    def sources() -> pd.DataFrame:
        return pd.concat([with_pf(_source("er", 3000, False, 0, 200.0, rng), False),
                          with_pf(_source("wall", 1000, False, 0, 10.0, rng), False),
                          with_pf(_source("wimp", 2000, True, 1, 5.0, rng), True)], ignore_index=True)

    table, pool = sources(), sources()
    base = ComparisonConfig.build(
        n_bins=10, traditional_bins=(2, 2, 6, 6),
        limits=LimitConfig.build(method="toys", n_toys=60, n_background_toys=60, mu_grid_points=6),
        dask=DaskConfig.build(synchronous=True, progress=False), n_pseudo_experiments=60)
    run = {}
    for dims, scorer, pf_bins in (("4d", BandScorer(), None), ("5d", BandPromptScorer(), 4)):
        run[dims] = compare_analyses([50.0], lambda m: table, lambda m, t, p, s=scorer: (s, None),
                                     load_detector("lux_2013"), 1e-45,
                                     base.model_copy(update={"traditional_pf_bins": pf_bins}),
                                     pool_for_mass=lambda m: pool)
    assert run["5d"].info[50.0]["n_bins_traditional"] == 4 * run["4d"].info[50.0]["n_bins_traditional"]
    for which in ("network", "traditional"):
        before = getattr(run["4d"], which)[50.0].extra["asymptotic_median_mu"]
        after = getattr(run["5d"], which)[50.0].extra["asymptotic_median_mu"]
        assert after < 0.8 * before  # a two-width separation in pf is worth more than 20 %
    five = extra_dimension_summary(run["4d"], run["5d"], 1e-4, 6000.0)
    summary = run["4d"].comparison(five_d=five)
    assert summary["speedup_cpu_5d"] == five["speedup_cpu_5d"] > 0
    assert five["five_d_cost_factor_traditional"] > 0 and five["five_d_limit_ratio_kind"].startswith("event")
    assert five["five_d_limit_ratio_min"] == five["five_d_limit_ratio"]["50"]
    assert set(five["five_d_over_four_d_limit"]) == {"network", "traditional"}
    assert five["five_d_fits"] == {"4d": run["4d"].fit_counts(), "5d": run["5d"].fit_counts()}
    failed = extra_dimension_summary(run["4d"], _with_failed_fits(run["5d"], "network", 1.0, 4.0),
                                     1e-4, 6000.0)["five_d_fits"]["5d"]
    assert failed["migrad_fits_invalid"]["network"] == 1.0 and failed["fits_not_converged"]["network"] == 4.0
    json.dumps(summary)


def test_the_figure_calls_the_pseudo_data_limits_pseudo_data(tmp_path, monkeypatch):
    # the comparison's data set is background-only pseudo-data drawn from the test events
    # (the report's 'Pseudo-data' columns); limits_vs_mass.png called it 'observed'
    import wimpsift.stats.figures

    rng = np.random.default_rng(5)
    table = pd.concat([_source("er", 1500, False, 0, 100.0, rng), _source("wall", 500, False, 0, 5.0, rng),
                       _source("wimp", 1000, True, 1, 5.0, rng)], ignore_index=True)
    config = ComparisonConfig.build(
        n_bins=8, traditional_bins=(2, 2, 5, 5),
        limits=LimitConfig.build(method="toys", n_toys=100, n_background_toys=100, mu_grid_points=8),
        dask=DaskConfig.build(synchronous=True, progress=False))
    result = compare_analyses([30.0], lambda m: table, lambda *a: (BandScorer(), None),
                              load_detector("lux_2013"), 1e-45, config)
    labels = []
    save = wimpsift.stats.figures.save_figure

    def record(fig, path, **kwargs):
        labels.extend(t.get_text() for ax in fig.axes if ax.get_legend()
                      for t in ax.get_legend().get_texts())
        return save(fig, path, **kwargs)

    monkeypatch.setattr(wimpsift.stats.figures, "save_figure", record)
    write_comparison(result, tmp_path, config)
    assert "network (1-D) pseudo-data" in labels and "traditional (4-D) pseudo-data" in labels
    assert "traditional (4-D)/network (1-D) pseudo-data" in labels
    assert not any("observed" in label for label in labels)
