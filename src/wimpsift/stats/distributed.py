"""Toy Monte Carlo for many masses spread over Dask workers; progress bars; resumable.

The work of one mass is cut into chunks of toys. Task ``(mass, chunk)`` draws, for
every strength of the mass's grid, its share of signal-plus-background toys (sorted
q~_mu values of the Neyman construction) and its share of background-only toys
(their q~_mu on the whole grid). Neither needs the other chunks, so all tasks run at
once; the driver then merges the chunks, computes p-values and limits. Finished
tasks are kept in the lineage cache (:mod:`wimpsift.cache`, stage ``stats.toy_chunk``)
under ``cache_dir``, so an interrupted run started again only computes what is missing.
Times of tasks read from the cache were measured by an earlier run: they are added to
the timer all the same (the work was done) and counted in
``extra["n_toy_tasks_from_cache"]`` and ``StageTimes.from_cache`` so that the timing
table can mark them.

Toys are drawn at the nuisance values of ``LimitConfig.toy_nuisances`` (profiled on
each mass's data by default, see :mod:`wimpsift.stats.limits`).

Tasks run on :class:`wimpsift.execution.Executor`: a local cluster by default, any
running scheduler with ``scheduler_address``, in process with ``synchronous``, or any
backend (dask-jobqueue included) given as ``execution``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field
from scipy import stats

from wimpsift.cache import Cache
from wimpsift.execution import (
    ExecutionConfig,
    Executor,
    SchedulerAddress,
    Task,
    execution_config,
)
from wimpsift.progress import Progress, prefixed
from wimpsift.seeding import generator
from wimpsift.stats._config import StatsConfig
from wimpsift.stats.batchfit import qtilde_batch
from wimpsift.stats.fit import counting_fits
from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.limits import (
    BAND_SIGMAS,
    LimitConfig,
    LimitResult,
    _mu_grid,
    asymptotic_expected,
    asymptotic_sigma,
    asymptotic_upper_limit,
    band_key,
)
from wimpsift.stats.templates import TemplateSet
from wimpsift.stats.teststat import asimov_background
from wimpsift.stats.timing import StageTimes
from wimpsift.stats.toys import (
    Nuisances,
    ToyDistribution,
    limits_from_pvalues,
    nominal_nuisances,
    profiled_nuisances,
    qtilde_on_grid,
    warn_not_converged,
)

TASK_STAGE = "stats.toy_chunk"
TASK_VERSION = 5  # 3: nuisance values per strength, fit counts; 4: only the fits made are counted;
# 5: per-element Marquardt damping (a signal of few events per unit mu no longer stalls the fits)
TASK_RESULT_KEYS = ("q_sb", "q_b", "times", "fits")  # what toy_chunk returns


class DaskConfig(StatsConfig):
    """Where the toys run."""

    scheduler_address: SchedulerAddress = None
    n_workers: int = Field(default=1, ge=1)
    threads_per_worker: int = Field(default=1, ge=1)
    processes: bool = True
    synchronous: bool = False
    n_chunks: int = Field(default=2, ge=1)
    progress: bool = True
    execution: ExecutionConfig | None = None  # any backend; overrides the fields above


def toy_chunk(
    templates: dict[str, Any], likelihood_config: dict[str, Any], mu_grid: list[float],
    n_toys: int, n_background_toys: int, seed: int, mass_index: int, chunk: int,
    theta: list[list[float]], gamma: list[list[float]], progress: Progress | None = None,
) -> dict[str, Any]:
    """One task: toy q~ distributions on the grid and background-only toy statistics.

    ``theta``/``gamma`` hold the nuisance values the toys are drawn at: row 0 for the
    background-only toys, row ``1 + j`` for grid strength ``j``. ``progress`` hears of
    each of the ``len(mu_grid) + 1`` toy batches done, and of the fits of the last one
    (background-only toys on the whole grid) strength by strength (in process only)."""
    times = StageTimes()
    with times.stage("workspace_creation"):
        lik = BinnedLikelihood(TemplateSet.from_dict(templates), LikelihoodConfig(**likelihood_config))
    rng = generator(seed, "toys", int(mass_index), int(chunk))
    grid = np.asarray(mu_grid, dtype=float)
    nuisances = Nuisances(theta=np.asarray(theta, dtype=float).reshape(grid.size + 1, -1),
                          gamma=np.asarray(gamma, dtype=float).reshape(grid.size + 1, -1))
    (b_theta, b_gamma), per_mu = nuisances.split_first()
    q_sb = np.empty((grid.size, n_toys))
    n_fits, failed = 0, 0
    for j, mu in enumerate(grid):
        th, ga = per_mu.row(j)
        truth = np.concatenate([[mu], th])
        with times.stage("toy_generation"):
            counts, aux = lik.sample(truth, n_toys, rng, gamma=ga)
        with times.stage("hypothesis_testing"):
            qt = qtilde_batch(lik, counts, aux, mu, free_start=truth)
        q_sb[j] = np.sort(qt.q)
        n_fits, failed = n_fits + qt.n_fits, failed + qt.n_not_converged
        if progress is not None:
            progress("toy batches", j + 1, grid.size + 1)
    b_truth = np.concatenate([[0.0], b_theta])
    with times.stage("toy_generation"):
        b_counts, b_aux = lik.sample(b_truth, n_background_toys, rng, gamma=b_gamma)
    with times.stage("hypothesis_testing"):
        qb = qtilde_on_grid(lik, b_counts, b_aux, grid, prefixed(progress, "background-only toys, "),
                            free_start=b_truth)
    if progress is not None:
        progress("toy batches", grid.size + 1, grid.size + 1)
    return {"q_sb": q_sb, "q_b": qb.q, "times": times.to_dict(),
            "fits": np.array([n_fits + qb.n_fits, failed + qb.n_not_converged])}


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(int(total), int(parts))
    return [base + (1 if i < extra else 0) for i in range(parts)]


def execution(config: DaskConfig) -> ExecutionConfig:
    """The executor configuration of these settings (:mod:`wimpsift.execution`)."""
    if config.execution is not None:
        return config.execution
    return execution_config(parallel=not config.synchronous,
                            scheduler_address=config.scheduler_address,
                            n_workers=config.n_workers,
                            threads_per_worker=config.threads_per_worker,
                            processes=config.processes, progress=config.progress)


def run_toy_tasks(
    tasks: Mapping[tuple[int, int], dict[str, Any]],
    dask_config: DaskConfig,
    cache_dir: str | Path | None,
    progress: Progress | None = None,
) -> dict[tuple[int, int], dict[str, Any]]:
    """Run ``{(mass_index, chunk): toy_chunk kwargs}`` on the executor; each task's
    result is cached (stage ``stats.toy_chunk``) under ``cache_dir`` when given.
    ``progress`` hears of toy batches done: batch by batch in process, task by task
    (``len(mu_grid) + 1`` batches each) on Dask workers."""
    cache = None if cache_dir is None else Cache(cache_dir)
    config = execution(dask_config)
    total = sum(len(kwargs["mu_grid"]) + 1 for kwargs in tasks.values())
    done = [0]  # batches of finished tasks: in process, a running task counts on from there

    def batches(what: str, n: int, of: int) -> None:
        assert progress is not None
        if what == "toy batches":
            progress(what, done[0] + n, total)
        else:  # a count inside a batch (the fits of its background-only toys)
            progress(what, n, of)

    hook = batches if progress is not None and config.backend == "in_process" else None
    if progress is not None:
        progress("toy batches", 0, total)
    jobs = {key: Task(toy_chunk, kwargs={**kwargs, "progress": hook},
                      cache=None if cache is None else cache.entry(TASK_STAGE, TASK_VERSION, kwargs),
                      result_keys=TASK_RESULT_KEYS)
            for key, kwargs in tasks.items()}
    with Executor(config) as executor:
        results = {}
        for key, result in executor.run(jobs, "toy chunks"):
            results[key] = {**result, "cached": key in executor.from_cache}
            done[0] += len(tasks[key]["mu_grid"]) + 1
            if progress is not None and (hook is None or key in executor.from_cache):
                progress("toy batches", done[0], total)
        return {key: results[key] for key in tasks}


def _band_quantiles(limits: np.ndarray, grid: np.ndarray) -> tuple[dict[str, float], dict[str, str]]:
    """Quantiles of toy or pseudo-experiment limits at the bands, NaN where they fall on
    experiments that exclude even the lowest tested strength (``limits_from_pvalues``
    puts those at ``grid[0]``; with CLs+b at 90 % CL about 10 % of background-only
    experiments exclude every strength, so the -2 sigma band is there by construction)
    or that exclude none; with their ``BAND_STATUS`` keys (:mod:`wimpsift.stats.limits`),
    as ``upper_limit`` does."""
    values, status = {}, {}
    for n in BAND_SIGMAS:
        value = float(np.quantile(limits, stats.norm.cdf(n)))
        below, beyond = value <= grid[0], not np.isfinite(value)
        values[band_key(n)] = float("nan") if below or beyond else value
        status[band_key(n)] = "below_grid" if below else "beyond_grid" if beyond else "toys"
    return values, status


def limits_over_masses(
    models: Mapping[float, BinnedLikelihood],
    observed: Mapping[float, np.ndarray],
    limit_config: LimitConfig | None = None,
    dask_config: DaskConfig | None = None,
    cache_dir: str | Path | None = None,
    timer: StageTimes | None = None,
    pseudo_experiments: Mapping[float, tuple[np.ndarray, np.ndarray]] | None = None,
    signal_experiments: Mapping[float, tuple[np.ndarray, np.ndarray, float]] | None = None,
    progress: Progress | None = None,
) -> dict[float, LimitResult]:
    """Toy-based limits and bands for every mass, the toys spread over Dask workers.

    ``observed[mass]`` is the (pseudo-)data of each mass's binning. Asymptotic results
    (iminuit) set each mass's grid and are reported in ``extra``. Optional
    ``pseudo_experiments[mass]`` (``(K, n_bins)`` counts and ``(K, n_backgrounds)``
    global observables, e.g. binned event-level background-only experiments) get limits
    from the same construction; their quantiles are ``LimitResult.pseudo_experiment_mu``.
    Optional ``signal_experiments[mass]`` (counts, global observables and the injected
    ``mu``) measure coverage: ``extra["coverage"]`` is the fraction of their limits at
    or above the injected ``mu`` (``extra["coverage_error"]`` its binomial error); their
    fits are not timed (a check of the analysis, not its work; the event-level
    experiments' fits are, as ``hypothesis_testing``).
    ``progress`` hears of the toy batches done (:mod:`wimpsift.progress`).
    The asymptotic part's MIGRAD fits are counted in ``extra["n_migrad_fits"]`` and
    ``extra["n_migrad_fits_invalid"]``.
    """
    limit_config = limit_config or LimitConfig(method="toys")
    dask_config = dask_config or DaskConfig()
    timer = timer if timer is not None else StageTimes()
    cl = limit_config.confidence_level
    masses = list(models)
    prepared: dict[float, dict[str, Any]] = {}
    if progress is not None:
        progress("masses fitted asymptotically", 0, len(masses))
    for i, mass in enumerate(masses):
        lik = models[mass]
        counts, aux = lik.check_data(observed[mass])
        with timer.stage("hypothesis_testing"), counting_fits() as migrad:
            asimov = asimov_background(lik, counts, aux)
            asym_exp = asymptotic_expected(lik, asimov, cl)
            asym_obs, mu_hat = asymptotic_upper_limit(lik, counts, aux, cl, asimov)
            grid = _mu_grid(asym_exp, asym_obs, asymptotic_sigma(lik, asimov), limit_config.mu_grid_points,
                            wide=pseudo_experiments is not None)
            at = np.concatenate([[0.0], grid])
            nuisances, n_bad = (profiled_nuisances(lik, counts, aux, at)
                                if limit_config.toy_nuisances == "profiled"
                                else (nominal_nuisances(lik, at), 0))
        prepared[mass] = {"index": i, "grid": grid, "counts": counts, "aux": aux,
                          "asym_exp": asym_exp, "asym_obs": asym_obs, "mu_hat": mu_hat,
                          "nuisances": nuisances, "migrad": migrad,
                          "fits": np.array([at.size if limit_config.toy_nuisances == "profiled" else 0,
                                            n_bad])}
        if progress is not None:
            progress("masses fitted asymptotically", i + 1, len(masses))
    n_chunks = dask_config.n_chunks
    toys = _split(limit_config.n_toys, n_chunks)
    btoys = _split(limit_config.n_background_toys, n_chunks)
    tasks: dict[tuple[int, int], dict[str, Any]] = {}
    for mass in masses:
        p = prepared[mass]
        lik = models[mass]
        for c in range(n_chunks):
            tasks[(p["index"], c)] = {
                "templates": lik.templates.to_dict(),
                "likelihood_config": lik.config.model_dump(mode="json"),
                "mu_grid": p["grid"].tolist(), "n_toys": max(toys[c], 1),
                "n_background_toys": max(btoys[c], 1), "seed": limit_config.seed,
                "mass_index": p["index"], "chunk": c,
                "theta": p["nuisances"].theta.tolist(), "gamma": p["nuisances"].gamma.tolist(),
            }
    wall0 = time.perf_counter()
    results = run_toy_tasks(tasks, dask_config, cache_dir, progress)
    elapsed = time.perf_counter() - wall0
    task_wall = {s: sum(r["times"]["wall_s"].get(s, 0.0) for r in results.values()) for s in timer.wall_s}
    for r in results.values():
        timer.add(r["times"], wall=False)
        if r["cached"]:
            timer.add_cached(r["times"])
    total_task_wall = sum(task_wall.values())
    if total_task_wall > 0:
        for s, w in task_wall.items():
            timer.wall_s[s] += elapsed * w / total_task_wall
    out: dict[float, LimitResult] = {}
    if progress is not None:
        progress("masses: limits of data and experiments", 0, len(masses))
    for i_mass, mass in enumerate(masses):
        p = prepared[mass]
        lik = models[mass]
        parts = [results[(p["index"], c)] for c in range(n_chunks)]
        with timer.stage("hypothesis_testing"):
            dist = ToyDistribution(mu_grid=p["grid"], q_sorted=np.sort(
                np.concatenate([r["q_sb"] for r in parts], axis=1), axis=1))
            q_b = np.concatenate([r["q_b"] for r in parts], axis=0)
            b_limits = limits_from_pvalues(p["grid"], dist.pvalues(q_b), cl)
            q_obs = qtilde_on_grid(lik, p["counts"][None, :], p["aux"][None, :], p["grid"])
            observed_mu = float(limits_from_pvalues(p["grid"], dist.pvalues(q_obs.q), cl)[0])
        fits = p["fits"] + sum(r["fits"] for r in parts) + [q_obs.n_fits, q_obs.n_not_converged]
        expected, status = _band_quantiles(b_limits, p["grid"])
        pseudo = None
        if pseudo_experiments is not None and mass in pseudo_experiments:
            with timer.stage("hypothesis_testing"):
                pe_counts, pe_aux = pseudo_experiments[mass]
                pe_counts, pe_aux = lik.check_data(np.atleast_2d(pe_counts), np.atleast_2d(pe_aux))
                q_pe = qtilde_on_grid(lik, pe_counts, pe_aux, p["grid"], prefixed(
                    progress, f"{mass:g} GeV/c², {pe_counts.shape[0]} event-level experiments: "))
                pe_limits = limits_from_pvalues(p["grid"], dist.pvalues(q_pe.q), cl)
            fits = fits + [q_pe.n_fits, q_pe.n_not_converged]
            pseudo, _ = _band_quantiles(pe_limits, p["grid"])
            pseudo["fraction_below_grid"] = float(np.mean(pe_limits <= p["grid"][0]))
            pseudo["fraction_beyond_grid"] = float(np.mean(~np.isfinite(pe_limits)))
        coverage: dict[str, float] = {}
        if signal_experiments is not None and mass in signal_experiments:
            # not timed: coverage is a check of the analysis, not its work (its
            # experiments are drawn untimed too, stats/comparison.py)
            sig_counts, sig_aux, mu_injected = signal_experiments[mass]
            sig_counts, sig_aux = lik.check_data(np.atleast_2d(sig_counts), np.atleast_2d(sig_aux))
            q_sig = qtilde_on_grid(lik, sig_counts, sig_aux, p["grid"], prefixed(
                progress, f"{mass:g} GeV/c², {sig_counts.shape[0]} coverage experiments: "))
            sig_limits = limits_from_pvalues(p["grid"], dist.pvalues(q_sig.q), cl)
            fits = fits + [q_sig.n_fits, q_sig.n_not_converged]
            covered = float(np.mean(sig_limits >= mu_injected))
            coverage = {"coverage": covered, "coverage_mu_injected": float(mu_injected),
                        "coverage_error": float(np.sqrt(covered * (1 - covered) / sig_limits.size)),
                        "coverage_n_experiments": float(sig_limits.size),
                        # limits beyond the tested strengths count as covering: say how many
                        "coverage_fraction_beyond_grid": float(np.mean(~np.isfinite(sig_limits)))}
        warn_not_converged(int(fits[1]), int(fits[0]), f"limits at {mass:g} GeV")
        pcl = floor = None
        if limit_config.power_constraint is not None:  # as upper_limit: the floor reported beside
            floor = float(np.quantile(b_limits, limit_config.power_constraint))
            pcl = max(observed_mu, floor)
        out[mass] = LimitResult(
            method="toys", confidence_level=cl, sigma_ref_cm2=lik.sigma_ref_cm2, mass_gev=mass,
            observed_mu=observed_mu, expected_mu=expected, mu_hat=p["mu_hat"], power_constrained_mu=pcl,
            band_status=status, power_constraint=limit_config.power_constraint,
            power_constraint_floor_mu=floor,
            extra={"asymptotic_observed_mu": p["asym_obs"], "asymptotic_median_mu": p["asym_exp"][0],
                   "mu_grid_min": float(p["grid"][0]), "mu_grid_max": float(p["grid"][-1]),
                   # 1: the data exclude even the lowest tested strength (reported there)
                   "observed_below_grid": float(observed_mu <= p["grid"][0]),
                   "fraction_background_toys_below_grid": float(np.mean(b_limits <= p["grid"][0])),
                   "fraction_background_toys_beyond_grid": float(np.mean(~np.isfinite(b_limits))),
                   "n_toys_per_strength": float(dist.n_toys), "n_background_toys": float(q_b.shape[0]),
                   "n_fits": float(fits[0]), "n_fits_not_converged": float(fits[1]),
                   "n_migrad_fits": float(p["migrad"].n_fits),
                   "n_migrad_fits_invalid": float(p["migrad"].n_invalid),
                   "n_toy_tasks_from_cache": float(sum(bool(r["cached"]) for r in parts)),
                   **coverage},
            pseudo_experiment_mu=pseudo,
        )
        if progress is not None:
            progress("masses: limits of data and experiments", i_mass + 1, len(masses))
    return out
