"""``wimpsift reproduce lux``: the LUX machine-learning paper end to end.

samples (signal per mass, every LUX background, weighted by expected rates)
→ dense networks per mass with sequential transfer learning and mutual-information
completion checks (independent training beside it, paper Figs. 1–2)
→ uniform transform → 1-D binned profile-likelihood limits and the traditional
f(r, z) × f(cS1, log10 cS2) analysis on the same events and toys, timed by the paper's
Table I stages (Figs. 6–8) → studies (first principal component, raw vs corrected
inputs, prompt fraction, 2-D projections, Fig. 4) → ``report.html`` and
``metrics.json``.

The 5-D comparison (``five_d``) runs both analyses twice on the prompt-fraction samples
(photon times simulated; CEvNS left out, as in the prompt-fraction study) at
``pf_masses_gev``, on the same events and the same event-level pseudo-experiments:
once with the 4-D inputs and once with the S1 prompt fraction added (network inputs
``corrected_pf``; traditional f(r², z) × f(cS1, log10 cS2, prompt fraction) with the
same first-order Σw² and Barlow–Beeston-lite MC-statistics term as the 4-D templates:
the full 5-D histogram would leave most of its bins empty at these sample sizes). The
4-D pass is the baseline of the extra dimension's cost factor; ``speedup_cpu_5d``
charges both analyses the photon-time simulation of the events they used. A third pass
(``pf_er_band_shift_log10_cs2``) repeats the 4-D pass with one shape nuisance in both
analyses, the ER band mean (log10 cS2 shifted by ± that per 1σ, templates interpolated
per bin): ``speedup_cpu_4d_nuisance`` and each analysis' cost factor of the nuisance come
from it, on the same events, experiments and settings as the 4-D pass (at the quick
scale: one mass, 1500 events per source, 3×3×8×8 bins, 100 toys; the size of the
traditional cost depends on the bins and toys, see ``bench_limits.py --er-band-shift``),
both analyses charged the 4-D simulation (no photon times) of the events. Its network is
the 4-D pass' (same events, inputs and seed), charged that training's CPU; the
prompt-fraction study reuses the 4-D and 5-D passes' networks instead of training them
again.

Samples are cached under ``DIR/cache`` and the limit toys under ``DIR/cache/limits``,
so an interrupted run resumes without redoing that work; timings read from the cache
are marked in the timing table.

``metrics.json["comparison"]`` holds the issue-12 summary (the keys of
``benchmarks/bench_limits.py``'s last line, :meth:`ComparisonResult.comparison`): the
end-to-end CPU speed-up with the simulation each analysis used (its CPU per event
measured in this run on a small fresh simulation), network/traditional limit ratios on
the same event-level experiments, and 90 % CL coverage on signal-injected ones.
``scripts/lux_results_table.py`` turns it into the README's table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import Field, ValidationError

from wimpsift.config import WimpsiftConfig
from wimpsift.errors import ConfigError, validation_message
from wimpsift.execution import ExecutionConfig, SchedulerAddress
from wimpsift.provenance import provenance, write_json

Scale = Literal["quick", "paper"]

#: events per source of the paper scale's independent MI test sets: the completion rule
#: needs the combined MI error within 1 % of the MI. Measured with
#: benchmarks/bench_mi_sizing.py on the quick scale's samples (3000 per source, 1/4, 1/2
#: and all of each source's test split, masses 10, 30, 100, 1000 GeV; issue 12 notes):
#: fitted slopes of log(error) against log(test events) -0.42 to -0.71, and the worst
#: mass (1000 GeV) needs 24,800 events per source for 0.7 %, the 1 % bound with room
#: for the scatter of the 5-subset error estimate (the same events split differently
#: gave errors 35-50 % apart)
MI_TEST_EVENTS_PER_SOURCE_PAPER = 25_000

#: the shape nuisance of the 5-D comparison's third pass: the ER band mean shifted by
#: this in log10 cS2 per 1σ (the size benchmarks/bench_limits.py --er-band-shift measured
#: the traditional analysis' 12x cost with; issue 12 notes)
ER_BAND_SHIFT_LOG10_CS2 = 0.05

SCALES: dict[str, dict[str, Any]] = {
    # quick: four masses, a few thousand events per source and a few hundred toys.
    # Neither analysis has converged in simulated events at this size (measure with
    # benchmarks/bench_limits.py --convergence-sizes); the report's comparison says
    # "simulation_events: as_used". The traditional templates are 4x4x12x12: with 3000
    # events per source that binning was nearer its converged limit and gave a stronger
    # limit than 6x6x16x16 in the convergence study at 50 GeV (issue 12 notes), and its
    # toy fits cost a quarter
    "quick": {"masses_gev": [10.0, 30.0, 100.0, 1000.0], "n_signal": 3000, "n_background": 3000,
              "n_toys": 300, "n_background_toys": 300, "grid_points": 12, "n_pseudo_experiments": 300,
              "pf_masses_gev": [50.0], "pf_events": 1500, "traditional_bins": (4, 4, 12, 12),
              # 5-D at one mass with small settings, to keep the quick run within about a
              # minute of its 4-D-only length: 3x3x8x8 (x 4 prompt-fraction bins), 100 toys
              # per strength, 10 strengths, 100 event-level experiments
              "pf_traditional_bins": (3, 3, 8, 8, 4), "pf_n_toys": 100, "pf_grid_points": 10,
              "pf_pseudo_experiments": 100, "mi_test_events_per_source": None,
              "pf_er_band_shift_log10_cs2": ER_BAND_SHIFT_LOG10_CS2},
    # paper: the paper's 22 masses, 10,000 events per source and 2,000 toys
    "paper": {"masses_gev": [3.5, 4, 5, 7, 10, 13, 15, 17, 19, 21, 24, 27, 30, 33, 37, 40, 50, 60, 75,
                             100, 300, 1000], "n_signal": 10000, "n_background": 10000,
              "n_toys": 2000, "n_background_toys": 2000, "grid_points": 20, "n_pseudo_experiments": 1000,
              "pf_masses_gev": [10.0, 50.0, 1000.0], "pf_events": 10000,
              "traditional_bins": (6, 6, 16, 16),
              # 5-D: the 4-D settings of this scale, 8 prompt-fraction bins
              "pf_traditional_bins": (6, 6, 16, 16, 8), "pf_n_toys": 2000, "pf_grid_points": 20,
              "pf_pseudo_experiments": 1000, "mi_test_events_per_source": MI_TEST_EVENTS_PER_SOURCE_PAPER,
              "pf_er_band_shift_log10_cs2": ER_BAND_SHIFT_LOG10_CS2},
}


#: why ``metrics.json["comparison"]`` charges the simulation as used (``mc_events_*`` null)
SIMULATION_EVENTS_REASON = (
    "events needed within 5 % come from benchmarks/bench_limits.py --convergence-sizes, which "
    "found neither analysis converged at the quick scale's events per source (and, with the "
    "limits' statistical errors, could not decide the 5 % size of either up to 300k events per "
    "source at 50 GeV); both analyses are charged the events this run simulated")


class ReproduceLuxConfig(WimpsiftConfig):
    """Settings of the LUX reproduction; ``scale`` picks the defaults of the rest."""

    scale: Scale = "quick"
    detector: str = "lux_2013"
    masses_gev: list[Annotated[float, Field(gt=0)]]
    n_signal: Annotated[int, Field(gt=10)]
    n_background: Annotated[int, Field(gt=10)]
    n_toys: Annotated[int, Field(ge=10)]
    n_background_toys: Annotated[int, Field(ge=10)]
    grid_points: Annotated[int, Field(ge=3)]
    n_pseudo_experiments: Annotated[int, Field(ge=0)]
    pf_masses_gev: list[Annotated[float, Field(gt=0)]]
    pf_events: Annotated[int, Field(gt=10)]
    #: the 5-D comparison (module docstring): traditional bins in (r², z, cS1, log10 cS2,
    #: prompt fraction), toys per strength, strengths and event-level experiments
    five_d: bool = True
    #: events per source of an independent sample on which the networks' MI completion
    #: test is measured (None: the test split of the samples; too small at the quick
    #: scale, whose networks then report "unresolved", never "complete")
    mi_test_events_per_source: Annotated[int, Field(gt=10)] | None = None
    pf_traditional_bins: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)],
                               Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)],
                               Annotated[int, Field(ge=1)]]
    pf_n_toys: Annotated[int, Field(ge=10)]
    pf_grid_points: Annotated[int, Field(ge=3)]
    pf_pseudo_experiments: Annotated[int, Field(ge=0)]
    #: the shape-nuisance pass of the 5-D comparison (module docstring; None: not run)
    pf_er_band_shift_log10_cs2: Annotated[float, Field(gt=0)] | None = None
    #: bins of the traditional templates in (r², z, cS1, log10 cS2)
    traditional_bins: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)],
                            Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]]
    bins: Annotated[int, Field(ge=2)] = 20
    epochs: Annotated[int, Field(gt=0)] = 20
    studies: bool = True
    workers: Annotated[int, Field(ge=1)] = 1
    scheduler_address: SchedulerAddress = None
    execution: ExecutionConfig | None = None  # any backend; overrides workers & co.
    seed: Annotated[int, Field(ge=0)] = 0


def make_config(scale: str = "quick", option_names: Mapping[str, str] | None = None,
                **overrides: Any) -> ReproduceLuxConfig:
    """The configuration of a scale with ``overrides`` (None values ignored) applied;
    ``option_names`` maps fields to the command's options, which a bad value's message
    then names."""
    if scale not in SCALES:
        raise ConfigError(f"scale: got {scale!r}, expected one of {sorted(SCALES)}")
    settings = {**SCALES[scale], "scale": scale,
                **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return ReproduceLuxConfig(**settings)
    except ValidationError as err:
        raise ConfigError(validation_message(err, option_names)) from err


def _samples(cfg: ReproduceLuxConfig, cache: Path, prompt_fraction: bool = False, n: int | None = None,
             backgrounds: list[str] | None = None, stream: str = "samples"):
    from wimpsift.training.samples import EventSamples, validated_sample_config

    return EventSamples(validated_sample_config(
        detector=cfg.detector, n_signal=n or cfg.n_signal, n_background_per_source=n or cfg.n_background,
        seed=cfg.seed, stream=stream, cache_dir=str(cache), prompt_fraction=prompt_fraction,
        backgrounds=backgrounds, max_simulated=20_000_000,
    ))


def simulation_events_used(samples: Any, masses_gev: Any) -> float:
    """Events a comparison over ``masses_gev`` made its networks and templates from, the
    simulation charged to both analyses' end-to-end CPU: ``n_signal`` of each mass (every
    mass's signal is a simulation of its own) and ``n_background_per_source`` of each
    background (shared by the masses)."""
    c = samples.config
    return float(c.n_signal * len(masses_gev) + c.n_background_per_source * len(samples.background_names))


def simulation_cpu_s_per_event(samples: Any, n_events: int | None = None, seed: int = 12345) -> float:
    """CPU seconds per in-window event of a fresh (uncached) simulation, the mean over
    the background sources (the samples hold as many events of each): the price of the
    templates' simulation. Each source is simulated in chunks until ``n_events`` fall in
    the window (default 500; 100 with photon times, which cost ~10x more) and every
    in-window event of those chunks counts (none is trimmed away after being paid for).
    The simulation runs with photon times when the samples have them."""
    import numpy as np

    from wimpsift.response.event_level import simulate_events
    from wimpsift.sources import make_source

    with_pf = bool(samples.config.prompt_fraction)
    n_events = n_events or (100 if with_pf else 500)
    chunk = 2_000 if with_pf else 20_000
    per_source = []
    for name in samples.background_names:
        source = make_source(samples.detector, name, sigma_cm2=samples.config.sigma_cm2)
        cpu0, kept, index = time.process_time(), 0, 0
        while kept < n_events and index * chunk < 20_000_000:
            events = simulate_events(samples.detector, source, chunk, seed, prompt_fraction=with_pf,
                                     chunk_index=index)
            kept += int(events["in_window"].sum())
            index += 1
        per_source.append((time.process_time() - cpu0) / max(kept, 1))
    return float(np.mean(per_source))


def _plan(cfg: ReproduceLuxConfig) -> list[tuple[str, float]]:
    """Stages with nominal seconds on two cores, scaled from the quick scale's (measured
    in the main job from a fresh clone, 2026-12-02: networks and limits 4.8 min, independent
    training 16 s, studies 63 s; the 5-D comparison in a quick run on 2026-12-02 at load
    average ~4.5, where networks and limits took 1.5x its nominal time: 2.8 min, and the
    studies, with the prompt-fraction samples cached by it, 32 s). ``samples`` only sets
    the samples up: the simulation runs, cached, when a mass first needs it, inside
    ``networks and limits``."""
    events = cfg.n_signal / 3000
    masses = len(cfg.masses_gev) / 4
    toys = masses * (cfg.n_toys + cfg.n_background_toys) / 600 * cfg.grid_points / 12
    # samples: nominally 0 s, so that the plan's rescaling (actual over nominal time of
    # the finished stages) does not take its instant finish as "everything runs 4x faster"
    stages = [("samples", 0), ("networks and limits", 120 * masses * events + 170 * toys)]
    if cfg.five_d:
        pf_events = cfg.pf_events / 1500
        pf_toys = len(cfg.pf_masses_gev) * cfg.pf_n_toys / 100 * cfg.pf_grid_points / 10
        # the shape-nuisance pass: 18 s wall in a quick run on 2026-12-02 at load average ~4
        nuisance = 10 * pf_toys if cfg.pf_er_band_shift_log10_cs2 is not None else 0
        stages.append(("5-D comparison", 90 * len(cfg.pf_masses_gev) * pf_events + 20 * pf_toys + nuisance))
    stages.append(("independent training", 20 * masses * events))
    if cfg.studies:  # the prompt-fraction samples come cached from the 5-D comparison
        stages.append(("studies", (25 if cfg.five_d else 70) * masses * events))
    return [*stages, ("report", 5)]


def run_reproduce_lux(cfg: ReproduceLuxConfig, output: str | Path, progress: bool = True) -> dict[str, Any]:
    """Run every stage (progress on stderr); return the metrics written to metrics.json."""
    from wimpsift.execution import check_scheduler_reachable
    from wimpsift.pipelines.stages import StagePlan

    check_scheduler_reachable(cfg.scheduler_address, cfg.execution)
    with StagePlan("lux", _plan(cfg), enabled=progress) as plan:
        return _run(cfg, Path(output), plan)


def _run(cfg: ReproduceLuxConfig, out: Path, plan) -> dict[str, Any]:
    import torch

    from wimpsift.plots.discriminant import plot_auc_vs_epoch, plot_mi_vs_mass
    from wimpsift.stats.comparison import ComparisonConfig, compare_analyses, write_comparison
    from wimpsift.stats.distributed import DaskConfig
    from wimpsift.stats.limits import LimitConfig
    from wimpsift.training.discriminant import (
        metrics_table,
        train_masses,
        train_one_mass,
        validated_config,
    )

    torch.set_num_threads(1)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output: {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cache"
    started = time.perf_counter()
    nn_config = validated_config(masses_gev=cfg.masses_gev, epochs_from_scratch=cfg.epochs,
                                 epochs_transfer=max(1, cfg.epochs // 2), seed=cfg.seed)

    with plan.stage("samples"):
        plan.say(f"  {cfg.detector}: {cfg.n_signal} signal and {cfg.n_background} events per background")
        samples = _samples(cfg, cache / "samples")

    # --- networks (trained inside the timed comparison) and both analyses ------------
    sequential: dict[float, Any] = {}
    mi_samples = None
    if cfg.mi_test_events_per_source is not None:
        mi_samples = _samples(cfg, cache / "samples_mi", n=cfg.mi_test_events_per_source, stream="samples_mi")

    def train(mass: float, table: pd.DataFrame, previous):
        plan.say(f"  {mass:g} GeV/c²: training the network, then templates, toys and fits of both analyses")
        cfg_mass = nn_config.model_copy(update={"masses_gev": [mass]})
        model = train_one_mass(mass, table, cfg_mass, initial=previous, log=plan.say,
                               progress=plan.progress,
                               mi_table=None if mi_samples is None else mi_samples.for_mass(mass))
        sequential[mass] = model
        return model, model.network

    comparison = ComparisonConfig.build(
        n_bins=cfg.bins, traditional_bins=cfg.traditional_bins,
        limits=LimitConfig.build(method="toys", n_toys=cfg.n_toys, n_background_toys=cfg.n_background_toys,
                                 mu_grid_points=cfg.grid_points, seed=cfg.seed),
        dask=DaskConfig.build(synchronous=cfg.workers == 1 and cfg.scheduler_address is None,
                              scheduler_address=cfg.scheduler_address, n_workers=cfg.workers,
                              n_chunks=cfg.workers, progress=False, execution=cfg.execution),
        seed=cfg.seed, n_pseudo_experiments=cfg.n_pseudo_experiments,
    )
    with plan.stage("networks and limits"):
        pool = None
        if cfg.n_pseudo_experiments:
            plan.say("  independent simulation (backgrounds, and signal for the coverage experiments)")
            independent = _samples(cfg, cache / "samples_independent", stream="samples_independent")

            def pool(mass: float) -> pd.DataFrame:
                return independent.for_mass(mass)

        plan.say(f"  {len(cfg.masses_gev)} masses: network and traditional analyses, {cfg.n_toys} toys each")
        result = compare_analyses(sorted(cfg.masses_gev), samples.for_mass, train, samples.detector,
                                  samples.config.sigma_cm2, comparison, pool_for_mass=pool,
                                  cache_dir=str(cache / "limits"), progress=plan.progress)
        write_comparison(result, out, comparison, cfg.seed)
        plan.say("  simulation cost per event (a small fresh simulation of every background)")
        mc_used = simulation_events_used(samples, cfg.masses_gev)
        summary = result.comparison(simulation_cpu_s_per_event=simulation_cpu_s_per_event(samples),
                                    mc_events_used=mc_used)
        # mc_events_* need the convergence study (too long for a reproduction run): both
        # analyses are charged the simulation this run used, and the summary says why
        summary["simulation_events_reason"] = SIMULATION_EVENTS_REASON

    pf_models: dict[str, dict[float, Any]] = {}
    if cfg.five_d:
        with plan.stage("5-D comparison"):
            summary.update(_five_d(cfg, cache, nn_config, summary, plan, out, pf_models))

    record = provenance(cfg, cfg.seed, "reproduce_lux")  # of the metrics and every figure
    with plan.stage("independent training"):
        independent_models = train_masses(nn_config.model_copy(update={"mode": "independent"}),
                                          samples=samples.for_mass, log=plan.say,
                                          progress=plan.progress)
        plot_auc_vs_epoch({"sequential (transfer)": sequential, "independent": independent_models},
                          out / "auc_vs_epoch.png", provenance=record)
        plot_mi_vs_mass(sequential, out / "mi_vs_mass.png", provenance=record)
        nn_table = metrics_table(sequential)
        nn_table_independent = metrics_table(independent_models)

    studies: dict[str, pd.DataFrame] = {}
    if cfg.studies:
        from wimpsift.training.studies import study_inputs, study_pca, study_projections

        with plan.stage("studies"):
            plan.say("  first principal component")
            studies["pca"] = study_pca(sequential, samples.for_mass, out / "studies",
                                       provenance=record)
            plan.say("  raw against position-corrected inputs")
            studies["raw_vs_corrected"] = study_inputs("raw_vs_corrected", nn_config, samples.for_mass,
                                                       out / "studies", log=plan.say,
                                                       progress=plan.progress, provenance=record)
            plan.say("  prompt fraction (samples with photon times; CEvNS left out)")
            pf_samples = _pf_samples(cfg, cache)
            studies["prompt_fraction"] = study_inputs(
                "prompt_fraction", nn_config.model_copy(update={"masses_gev": cfg.pf_masses_gev}),
                pf_samples.for_mass, out / "studies", log=plan.say, progress=plan.progress,
                trained=pf_models, provenance=record)
            plan.say("  projections of the network output")
            mid = sorted(sequential)[len(sequential) // 2]
            study_projections(sequential[mid], samples.for_mass(mid), out / "studies",
                              provenance=record)

    limits = json.loads((out / "limits_metrics.json").read_text())
    metrics = {
        "provenance": record,
        "per_mass": {
            key: {
                "expected_limit_network_cm2": value["network"]["expected_sigma_nucleon_cm2"]["median"],
                "expected_limit_traditional_cm2":
                    value["traditional"]["expected_sigma_nucleon_cm2"]["median"],
                "observed_limit_network_cm2": value["network"]["observed_sigma_nucleon_cm2"],
                "observed_limit_traditional_cm2": value["traditional"]["observed_sigma_nucleon_cm2"],
                "expected_limit_ratio": value["expected_limit_ratio"],
                "pseudo_experiment_limit_ratio": value["pseudo_experiment_limit_ratio"],
                "coverage_network": value["network"]["extra"].get("coverage"),
                "coverage_traditional": value["traditional"]["extra"].get("coverage"),
                "fits_not_converged_network": value["network"]["extra"].get("n_fits_not_converged"),
                "fits_not_converged_traditional":
                    value["traditional"]["extra"].get("n_fits_not_converged"),
            }
            for key, value in limits["per_mass"].items()
        },
        "network": nn_table.to_dict(orient="records"),
        "network_independent": nn_table_independent.to_dict(orient="records"),
        "timing": {"network": limits["times_network"], "traditional": limits["times_traditional"]},
        "speedup_cpu": limits["speedup_cpu"],
        "speedup_wall": limits["speedup_wall"],
        "comparison": summary,
        "studies": {name: table.to_dict(orient="records") for name, table in studies.items()},
        "wall_seconds": time.perf_counter() - started,
    }
    with plan.stage("report"):
        write_json(out / "metrics.json", metrics)
        _write_report(out, metrics)
    return metrics


def _pf_samples(cfg: ReproduceLuxConfig, cache: Path, stream: str = "samples"):
    """``pf_events`` per source with photon times (CEvNS left out: ~10^3 photon-timed
    interactions per event in the window for ~0.03 expected events, see ``wimpsift nn``)."""
    from wimpsift.detectors import load_detector
    from wimpsift.sources import background_names

    folder = "samples_pf" if stream == "samples" else f"{stream}_pf"
    names = [b for b in background_names(load_detector(cfg.detector)) if b != "cevns"]
    return _samples(cfg, cache / folder, prompt_fraction=True, n=cfg.pf_events, backgrounds=names,
                    stream=stream)


def _five_d(cfg: ReproduceLuxConfig, cache: Path, nn_config: Any, summary: dict[str, Any], plan,
            out: Path, models: dict[str, dict[float, Any]]) -> dict[str, Any]:
    """Both analyses at 4-D and at 5-D on the prompt-fraction samples, and at 4-D with the
    ER band shape nuisance (module docstring); the 5-D keys of the comparison summary
    (:func:`extra_dimension_summary`) and the shape-nuisance ones
    (:func:`shape_nuisance_summary`). ``models`` receives the networks by inputs and mass
    (the prompt-fraction study reuses them)."""
    from wimpsift.stats.comparison import (
        ComparisonConfig,
        compare_analyses,
        extra_dimension_summary,
        shape_nuisance_summary,
    )
    from wimpsift.stats.distributed import DaskConfig
    from wimpsift.stats.limits import LimitConfig
    from wimpsift.training.discriminant import train_one_mass

    plan.say(f"  prompt-fraction samples: {cfg.pf_events} events per source, photon times simulated")
    samples = _pf_samples(cfg, cache)
    pool = None
    if cfg.pf_pseudo_experiments:
        independent = _pf_samples(cfg, cache, stream="samples_independent")
        pool = independent.for_mass
    config = ComparisonConfig.build(
        n_bins=cfg.bins, traditional_bins=cfg.pf_traditional_bins[:4],
        limits=LimitConfig.build(method="toys", n_toys=cfg.pf_n_toys, n_background_toys=cfg.pf_n_toys,
                                 mu_grid_points=cfg.pf_grid_points, seed=cfg.seed),
        dask=DaskConfig.build(synchronous=cfg.workers == 1 and cfg.scheduler_address is None,
                              scheduler_address=cfg.scheduler_address, n_workers=cfg.workers,
                              n_chunks=cfg.workers, progress=False, execution=cfg.execution),
        seed=cfg.seed, n_pseudo_experiments=cfg.pf_pseudo_experiments)
    results = {}
    passes = [("4d", "corrected", None, None), ("5d", "corrected_pf", cfg.pf_traditional_bins[4], None)]
    if cfg.pf_er_band_shift_log10_cs2 is not None:
        passes.append(("4d_nuisance", "corrected", None, cfg.pf_er_band_shift_log10_cs2))
    for dims, inputs, pf_bins, shift in passes:
        def train(mass: float, table: pd.DataFrame, previous, inputs: str = inputs):
            # one network per (inputs, mass): the nuisance pass reuses the 4-D pass' (same
            # events, inputs and seed: the same network) and is charged its training below
            trained = models.setdefault(inputs, {})
            if mass not in trained:
                cfg_mass = nn_config.model_copy(update={"masses_gev": [mass], "inputs": inputs})
                trained[mass] = train_one_mass(mass, table, cfg_mass, initial=previous, log=plan.say,
                                               progress=plan.progress)
            return trained[mass], trained[mass].network

        plan.say(f"  {dims[0]}-D{' with the ER band shape nuisance' if shift else ''}: network ({inputs}) "
                 f"and traditional analyses at {', '.join(f'{m:g}' for m in cfg.pf_masses_gev)} GeV/c²")
        results[dims] = compare_analyses(
            sorted(cfg.pf_masses_gev), samples.for_mass, train, samples.detector, samples.config.sigma_cm2,
            config.model_copy(update={"traditional_pf_bins": pf_bins, "er_band_shift_log10_cs2": shift}),
            pool_for_mass=pool, cache_dir=str(cache / f"limits_pf_{dims}"), progress=plan.progress)
    plan.say("  simulation cost per event with photon times (a small fresh simulation)")
    mc_used = simulation_events_used(samples, cfg.pf_masses_gev)
    five = extra_dimension_summary(results["4d"], results["5d"], simulation_cpu_s_per_event(samples),
                                   mc_used)
    if "4d_nuisance" in results:
        trained = results["4d"].times_network
        results["4d_nuisance"].times_network.add({"cpu_s": {"training": trained.cpu_s["training"]},
                                                  "wall_s": {"training": trained.wall_s["training"]}})
        # 4-D analyses need no photon times: charged at the 4-D simulation's price
        sim = summary.get("simulation_cpu_s_per_event")
        charge = 0.0 if sim is None else sim * mc_used
        five.update(shape_nuisance_summary(results["4d"], results["4d_nuisance"], charge, charge))
        five["shape_nuisance_settings"] = {
            "er_band_shift_log10_cs2": cfg.pf_er_band_shift_log10_cs2,
            "masses_gev": sorted(cfg.pf_masses_gev),
            "events_per_source": cfg.pf_events, "traditional_bins": list(cfg.pf_traditional_bins[:4]),
            "n_toys": cfg.pf_n_toys, "grid_points": cfg.pf_grid_points,
            "pseudo_experiments": cfg.pf_pseudo_experiments, "simulation_cpu_s_per_event": sim,
            "mc_events_used": mc_used,
            "cpu_s": {name: {"without": getattr(results["4d"], f"times_{name}").total_cpu_s,
                             "with": getattr(results["4d_nuisance"], f"times_{name}").total_cpu_s}
                      for name in ("network", "traditional")}}
    five["five_d_settings"] = {"masses_gev": sorted(cfg.pf_masses_gev), "events_per_source": cfg.pf_events,
                               "traditional_bins": list(cfg.pf_traditional_bins), "n_toys": cfg.pf_n_toys,
                               "grid_points": cfg.pf_grid_points,
                               "pseudo_experiments": cfg.pf_pseudo_experiments,
                               "backgrounds": list(samples.background_names)}
    return five


STUDY_CAPTIONS = {
    "pca": "Background leakage at 50 % signal efficiency of the first principal component and of the "
           "network, and their ratio, against WIMP mass (paper Sec. III: PCA more than 10× worse)",
    "raw_vs_corrected": "Leakage, MI ratio and AUC with raw against position-corrected S1 and S2 inputs "
                        "(the paper compares the limits, Fig. 7)",
    "prompt_fraction": "Leakage, MI ratio and AUC with and without the S1 prompt fraction as an input "
                       "(the paper compares the limits, Fig. 8)",
}


def _figures(out: Path) -> list[dict[str, str]]:
    """Figures of the report with captions saying what they show and which paper figure."""
    figures = [
        {"src": "limits_vs_mass.png",
         "caption": "Median expected 90 % CL limits with ±1σ and ±2σ bands (network analysis) and limits "
                    "on one background-only pseudo-data set for the network (1-D) and traditional (4-D) "
                    "analyses; bottom: ratio to the network analysis (paper Fig. 6)."},
        {"src": "limits_published.png",
         "caption": "Our limits beside the published LUX limits drawn from shipped data files (paper Fig. 6 "
                    "draws the original analysis of the same data); the published curves assume the "
                    "pre-2021 halo (v0 = 220 km/s), ours v0 = 238 km/s."},
        {"src": "auc_vs_epoch.png",
         "caption": "Test AUC against cumulative training epoch, sequential transfer learning across masses "
                    "and independent training per mass (paper Fig. 1). Each mass's first training is "
                    "drawn: a mass retrained automatically has its final AUC in the tables, not here."},
        {"src": "mi_vs_mass.png",
         "caption": "Mutual information of the input variables and of the network output against WIMP mass "
                    "(paper Fig. 2)."},
    ]
    for path in sorted((out / "studies").glob("*.png")) if (out / "studies").is_dir() else []:
        caption = STUDY_CAPTIONS.get(path.stem)
        if caption is None and path.stem.startswith("projections_"):
            caption = (f"Network output over (cS1, log10 cS2) and (r², z) for background and "
                       f"{path.stem.removeprefix('projections_')} WIMP events (paper Fig. 4)")
        figures.append({"src": f"studies/{path.name}", "caption": caption or path.stem})
    return [f for f in figures if (out / f["src"]).is_file()]


def _write_report(out: Path, metrics: dict[str, Any]) -> None:
    from wimpsift.plots.limits import plot_limits_beside_published
    from wimpsift.reports.lux import lux_published_curves, published_summary, write_lux_report

    shipped, missing = lux_published_curves()
    plot_limits_beside_published(metrics["per_mass"], shipped, out / "limits_published.png",
                                 title="LUX: our 90 % CL limits beside the published ones",
                                 provenance=metrics["provenance"])
    figures = _figures(out)
    for figure in figures:  # the caption says which published curves are drawn
        if figure["src"] == "limits_published.png":
            figure["caption"] += " " + published_summary(shipped, missing)
    write_lux_report(out / "report.html", metrics, figures, shipped, missing)
