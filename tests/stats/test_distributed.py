"""Toys over Dask: same results in-process and on a local cluster; resumable cache."""

from __future__ import annotations

import numpy as np
import pytest

from wimpsift.errors import ConfigError
from wimpsift.stats.distributed import DaskConfig, limits_over_masses
from wimpsift.stats.limits import LimitConfig
from wimpsift.stats.timing import StageTimes, format_table


def _models(make_model):
    models = {10.0: make_model(signal=8.0), 100.0: make_model(signal=15.0)}
    observed = {m: np.round(lik.expected(lik.nominal_parameters(0.0))) for m, lik in models.items()}
    return models, observed


def test_synchronous_and_cached_runs_agree(make_model, tmp_path):
    models, observed = _models(make_model)
    cfg = LimitConfig.build(method="toys", n_toys=400, n_background_toys=300, mu_grid_points=12, seed=4)
    dask_cfg = DaskConfig.build(synchronous=True, n_chunks=2, progress=False)
    timer = StageTimes()
    first = limits_over_masses(models, observed, cfg, dask_cfg, cache_dir=tmp_path, timer=timer)
    cached = list(tmp_path.rglob("*.npz"))
    assert len(cached) == 4  # 2 masses x 2 chunks
    assert timer.cpu_s["hypothesis_testing"] > 0 and timer.cpu_s["toy_generation"] > 0
    # a resumed run reads the chunks and gives identical limits
    cached[0].unlink()
    resumed = StageTimes()
    again = limits_over_masses(models, observed, cfg, dask_cfg, cache_dir=tmp_path, timer=resumed)
    # three of four chunks came from the cache: counted, and marked in the timing table
    assert sum(again[m].extra["n_toy_tasks_from_cache"] for m in models) == 3
    assert sum(first[m].extra["n_toy_tasks_from_cache"] for m in models) == 0
    assert 0 < sum(resumed.cached_cpu_s.values()) < resumed.total_cpu_s
    assert sum(timer.cached_cpu_s.values()) == 0
    table = format_table(resumed, timer)
    assert "read from the cache of an earlier run" in table and "*" in table
    assert "*" not in format_table(timer, timer)
    for m in models:
        assert again[m].expected_mu == first[m].expected_mu
        assert again[m].observed_mu == first[m].observed_mu
        # the stronger signal template gives the lower limit in mu; bands are ordered
        bands = [first[m].expected_mu[k] for k in ("-2sigma", "-1sigma", "median", "+1sigma", "+2sigma")]
        assert bands == sorted(bands)
        assert first[m].expected_mu["median"] == pytest.approx(
            first[m].extra["asymptotic_median_mu"], rel=0.25)
    assert first[100.0].expected_mu["median"] < first[10.0].expected_mu["median"]


def test_local_cluster_matches_synchronous(make_model):
    models, observed = _models(make_model)
    cfg = LimitConfig.build(method="toys", n_toys=200, n_background_toys=200, mu_grid_points=10, seed=1)
    sync = limits_over_masses(models, observed, cfg, DaskConfig.build(synchronous=True, progress=False))
    dist = limits_over_masses(models, observed, cfg, DaskConfig.build(
        processes=False, n_workers=1, threads_per_worker=1, progress=False))
    for m in models:
        assert dist[m].expected_mu == sync[m].expected_mu


def test_dask_config_validators():
    with pytest.raises(ConfigError, match="n_chunks"):
        DaskConfig.build(n_chunks=0)
    with pytest.raises(ConfigError, match="n_workers"):
        DaskConfig.build(n_workers=0)
    with pytest.raises(ConfigError, match="scheduler"):
        DaskConfig.build(scheduler=1)
