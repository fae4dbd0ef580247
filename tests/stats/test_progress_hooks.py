"""Toy constructions report their progress (``progress(what, done, total)``): counts go
up, end at the total, and cover cached and computed work alike."""

from __future__ import annotations

import numpy as np

from wimpsift.stats.distributed import DaskConfig, limits_over_masses
from wimpsift.stats.limits import LimitConfig, upper_limit


class Recorder:
    def __init__(self):
        self.every: list[tuple[str, int, int]] = []

    def __call__(self, what: str, done: int, total: int) -> None:
        self.every.append((what, done, total))

    def of(self, what: str) -> list[tuple[str, int, int]]:
        return [call for call in self.every if call[0] == what]


def _increasing_to_total(calls: list[tuple[str, int, int]]) -> None:
    assert calls and calls[0][1] == 0  # the start, where the clock of the estimate starts
    counts = [done for _, done, _ in calls]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)  # every step, once
    assert {total for _, _, total in calls} == {calls[-1][2]} and counts[-1] == calls[-1][2]


def test_toys_over_masses_report_every_batch_in_process_and_from_cache(make_model, tmp_path):
    models = {10.0: make_model(signal=8.0), 100.0: make_model(signal=15.0)}
    observed = {m: np.round(lik.expected(lik.nominal_parameters(0.0))) for m, lik in models.items()}
    cfg = LimitConfig.build(method="toys", n_toys=50, n_background_toys=50, mu_grid_points=6, seed=2)
    dask_cfg = DaskConfig.build(synchronous=True, n_chunks=2, progress=False)
    first = Recorder()
    limits_over_masses(models, observed, cfg, dask_cfg, cache_dir=tmp_path, progress=first)
    batches = first.of("toy batches")
    _increasing_to_total(batches)
    # 2 masses x 2 chunks, each (grid strengths + background) batches, one call per batch
    n_grid = len(batches) // 4 - 1
    assert batches[-1][2] == 4 * (n_grid + 1) and n_grid >= 2
    # the work per mass before and after the toys is counted too, in the order it is done
    inside = "background-only toys, fits (free, then each strength)"  # the last batch of each task
    assert [what for what, done, _ in first.every if done == 0] == [
        "masses fitted asymptotically", "toy batches", *[inside] * 4,
        "masses: limits of data and experiments"]
    assert first.of(inside)[-1] == (inside, n_grid + 1, n_grid + 1)
    for what in ("masses fitted asymptotically", "masses: limits of data and experiments"):
        assert first.of(what) == [(what, 0, 2), (what, 1, 2), (what, 2, 2)]
    # resumed with one chunk missing: cached chunks count at once, the missing one batch by batch
    sorted(tmp_path.rglob("*.npz"))[0].unlink()
    again = Recorder()
    limits_over_masses(models, observed, cfg, dask_cfg, cache_dir=tmp_path, progress=again)
    _increasing_to_total(again.of("toy batches"))
    assert len(again.of("toy batches")) == 1 + 3 + n_grid + 1  # the start, 3 cached chunks, the missing one


def test_single_limit_reports_the_toy_construction(make_model):
    lik = make_model(signal=8.0)
    counts = np.round(lik.expected(lik.nominal_parameters(0.0)))
    seen = Recorder()
    upper_limit(lik, counts, config=LimitConfig.build(method="toys", n_toys=50, n_background_toys=50,
                                                      mu_grid_points=5, refine_points=0, seed=1),
                progress=seen)
    _increasing_to_total(seen.every)
    assert seen.every[-1] == ("toy strengths", 5, 5)


def test_fits_of_many_data_sets_report_each_strength(make_model):
    from wimpsift.stats.toys import qtilde_on_grid

    lik = make_model(signal=8.0)
    counts = np.tile(np.round(lik.expected(lik.nominal_parameters(0.0))), (20, 1))
    seen = Recorder()
    grid = np.array([0.5, 1.0, 2.0])
    _, aux = lik.check_data(counts[0])  # the nominal global observables
    q = qtilde_on_grid(lik, counts, aux, grid, progress=seen)
    assert q.q.shape == (20, 3)
    _increasing_to_total(seen.every)
    assert [done for _, done, _ in seen.every] == [0, 1, 2, 3, 4]  # start, free fit, 3 strengths
