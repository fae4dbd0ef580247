"""``wimpsift reproduce lux``: the LUX machine-learning seed end to end.

samples (signal per mass, every LUX background, weighted by expected rates)
→ dense networks per mass with sequential transfer learning and mutual-information
completion checks (independent training beside it, seed Figs. 1–2)
→ uniform transform → 1-D binned profile-likelihood limits and the traditional
f(r, z) × f(cS1, log10 cS2) analysis on the same events and toys, timed by the seed's
Table I stages (Figs. 6–8) → studies (first principal component, raw vs corrected
inputs, prompt fraction, 2-D projections, Fig. 4) → ``report.html`` and
``metrics.json``.

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

import html
import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wimpsift.errors import ConfigError, validation_message
from wimpsift.provenance import atomic_path, provenance, write_json

Scale = Literal["quick", "paper"]

SCALES: dict[str, dict[str, Any]] = {
    # quick: four masses, a few thousand events per source and a few hundred toys;
    # about 10-15 minutes on two cores. Neither analysis has converged in simulated
    # events at this size (measure with benchmarks/bench_limits.py --convergence-sizes);
    # the report's comparison says "simulation_events: as_used"
    "quick": {"masses_gev": [10.0, 30.0, 100.0, 1000.0], "n_signal": 3000, "n_background": 3000,
              "n_toys": 300, "n_background_toys": 300, "grid_points": 12, "n_pseudo_experiments": 300,
              "pf_masses_gev": [50.0], "pf_events": 1500},
    # paper: the seed's 22 masses, 10,000 events per source and 2,000 toys
    "paper": {"masses_gev": [3.5, 4, 5, 7, 10, 13, 15, 17, 19, 21, 24, 27, 30, 33, 37, 40, 50, 60, 75,
                             100, 300, 1000], "n_signal": 10000, "n_background": 10000,
              "n_toys": 2000, "n_background_toys": 2000, "grid_points": 20, "n_pseudo_experiments": 1000,
              "pf_masses_gev": [10.0, 50.0, 1000.0], "pf_events": 6000},
}


class ReproduceLuxConfig(BaseModel):
    """Settings of the LUX reproduction; ``scale`` picks the defaults of the rest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
    bins: Annotated[int, Field(ge=2)] = 20
    epochs: Annotated[int, Field(gt=0)] = 20
    studies: bool = True
    workers: Annotated[int, Field(ge=1)] = 1
    scheduler_address: str | None = None
    seed: Annotated[int, Field(ge=0)] = 0


def make_config(scale: str = "quick", **overrides: Any) -> ReproduceLuxConfig:
    if scale not in SCALES:
        raise ConfigError(f"scale: got {scale!r}, expected one of {sorted(SCALES)}")
    settings = {**SCALES[scale], "scale": scale,
                **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return ReproduceLuxConfig(**settings)
    except ValidationError as err:
        raise ConfigError(validation_message(err)) from err


def _samples(cfg: ReproduceLuxConfig, cache: Path, prompt_fraction: bool = False, n: int | None = None,
             backgrounds: list[str] | None = None, seed_offset: int = 0):
    from wimpsift.training.samples import EventSamples, validated_sample_config

    return EventSamples(validated_sample_config(
        detector=cfg.detector, n_signal=n or cfg.n_signal, n_background_per_source=n or cfg.n_background,
        seed=cfg.seed + seed_offset, cache_dir=str(cache), prompt_fraction=prompt_fraction,
        backgrounds=backgrounds, max_simulated=20_000_000,
    ))


def simulation_cpu_s_per_event(samples: Any, n_events: int = 500, seed: int = 12345) -> float:
    """CPU seconds per in-window event of a fresh (uncached) simulation of every
    background source, ``n_events`` each: the price of the templates' simulation."""
    from wimpsift.sources import make_source
    from wimpsift.training.samples import simulate_in_window

    cpu0, kept = time.process_time(), 0
    for name in samples.background_names:
        source = make_source(samples.detector, name, sigma_cm2=samples.config.sigma_cm2)
        table, _ = simulate_in_window(samples.detector, source, n_events, seed, 20_000_000)
        kept += len(table)
    return (time.process_time() - cpu0) / max(kept, 1)


def reproduce(scale: str = "quick", output: str | Path = "lux", seed: int = 0, **overrides: Any) -> dict:
    """Entry point used by ``wimpsift run``; returns the metrics written to metrics.json."""
    return run_reproduce_lux(make_config(scale, seed=seed, **overrides), output)


def run_reproduce_lux(cfg: ReproduceLuxConfig, output: str | Path, log=print) -> dict[str, Any]:
    import torch

    from wimpsift.stats.comparison import ComparisonConfig, compare_analyses, write_comparison
    from wimpsift.stats.distributed import DaskConfig
    from wimpsift.stats.limits import LimitConfig
    from wimpsift.stats.timing import format_table
    from wimpsift.training.discriminant import (
        metrics_table,
        plot_auc_vs_epoch,
        plot_mi_vs_mass,
        train_masses,
        train_one_mass,
        validated_config,
    )

    torch.set_num_threads(1)
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output: {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cache"
    started = time.perf_counter()
    nn_config = validated_config(masses_gev=cfg.masses_gev, epochs_from_scratch=cfg.epochs,
                                 epochs_transfer=max(1, cfg.epochs // 2), seed=cfg.seed)

    def stamp(message: str) -> None:
        log(f"[lux {time.perf_counter() - started:6.0f} s] {message}")

    stamp(f"samples: {cfg.detector}, {cfg.n_signal} signal and {cfg.n_background} per background")
    samples = _samples(cfg, cache / "samples")

    # --- networks (trained inside the timed comparison) and both analyses ------------
    sequential: dict[float, Any] = {}

    def train(mass: float, table: pd.DataFrame, previous):
        cfg_mass = nn_config.model_copy(update={"masses_gev": [mass]})
        model = train_one_mass(mass, table, cfg_mass, initial=previous)
        sequential[mass] = model
        return model, model.network

    comparison = ComparisonConfig.build(
        n_bins=cfg.bins,
        limits=LimitConfig.build(method="toys", n_toys=cfg.n_toys, n_background_toys=cfg.n_background_toys,
                                 mu_grid_points=cfg.grid_points, seed=cfg.seed),
        dask=DaskConfig.build(synchronous=cfg.workers == 1 and cfg.scheduler_address is None,
                              scheduler_address=cfg.scheduler_address, n_workers=cfg.workers,
                              n_chunks=cfg.workers, progress=False),
        seed=cfg.seed, n_pseudo_experiments=cfg.n_pseudo_experiments,
    )
    pool = None
    if cfg.n_pseudo_experiments:
        # independent simulation: backgrounds, and signal for the coverage experiments
        independent = _samples(cfg, cache / "samples_independent", seed_offset=1000)

        def pool(mass: float) -> pd.DataFrame:
            return independent.for_mass(mass)

    stamp(f"networks and limits for {len(cfg.masses_gev)} masses (network and traditional analyses)")
    result = compare_analyses(sorted(cfg.masses_gev), samples.for_mass, train, samples.detector,
                              samples.config.sigma_cm2, comparison, pool_for_mass=pool,
                              cache_dir=str(cache / "limits"))
    write_comparison(result, out, comparison, cfg.seed)
    timing_text = format_table(result.times_traditional, result.times_network)
    stamp("simulation cost per event (a small fresh simulation of every background)")
    mc_used = float(cfg.n_signal + cfg.n_background * len(samples.background_names))
    summary = result.comparison(simulation_cpu_s_per_event=simulation_cpu_s_per_event(samples),
                                mc_events_used=mc_used)

    stamp("independent training for the transfer-learning comparison")
    independent_models = train_masses(nn_config.model_copy(update={"mode": "independent"}),
                                      samples=samples.for_mass)
    plot_auc_vs_epoch({"sequential (transfer)": sequential, "independent": independent_models},
                      out / "auc_vs_epoch.png")
    plot_mi_vs_mass(sequential, out / "mi_vs_mass.png")
    nn_table = metrics_table(sequential)
    nn_table_independent = metrics_table(independent_models)

    studies: dict[str, pd.DataFrame] = {}
    if cfg.studies:
        from wimpsift.training.studies import study_inputs, study_pca, study_projections

        stamp("studies: first principal component, raw vs corrected, prompt fraction, projections")
        studies["pca"] = study_pca(sequential, samples.for_mass, out / "studies")
        stamp("study: raw vs corrected inputs")
        studies["raw_vs_corrected"] = study_inputs("raw_vs_corrected", nn_config, samples.for_mass,
                                                   out / "studies")
        stamp("study: prompt fraction (samples with photon times; CEvNS left out)")
        names = [b.name for b in samples.detector.backgrounds if b.name != "cevns"]
        pf_samples = _samples(cfg, cache / "samples_pf", prompt_fraction=True, n=cfg.pf_events,
                              backgrounds=names)
        studies["prompt_fraction"] = study_inputs(
            "prompt_fraction", nn_config.model_copy(update={"masses_gev": cfg.pf_masses_gev}),
            pf_samples.for_mass, out / "studies")
        mid = sorted(sequential)[len(sequential) // 2]
        study_projections(sequential[mid], samples.for_mass(mid), out / "studies")

    limits = json.loads((out / "limits_metrics.json").read_text())
    metrics = {
        "provenance": provenance(cfg, cfg.seed, "reproduce_lux"),
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
    write_json(out / "metrics.json", metrics)
    _write_report(out, cfg, metrics, timing_text, nn_table, studies)
    stamp(f"done in {metrics['wall_seconds']:.0f} s: {out / 'report.html'}")
    return metrics


def _table_html(table: pd.DataFrame, digits: int = 4) -> str:
    return table.to_html(index=False, float_format=lambda v: f"{v:.{digits}g}", border=0)


def _write_report(out: Path, cfg: ReproduceLuxConfig, metrics: dict[str, Any], timing_text: str,
                  nn_table: pd.DataFrame, studies: dict[str, pd.DataFrame]) -> None:
    limits = pd.DataFrame([{"mass_gev": float(m), **v} for m, v in metrics["per_mass"].items()])
    figures = ["limits_vs_mass.png", "auc_vs_epoch.png", "mi_vs_mass.png"]
    study_figures = sorted(p.name for p in (out / "studies").glob("*.png")) if studies else []
    parts = [
        "<h1>LUX ML seed reproduction</h1>",
        f"<p>scale <b>{cfg.scale}</b>, detector {html.escape(cfg.detector)}, masses "
        f"{', '.join(f'{m:g}' for m in cfg.masses_gev)} GeV/c², {cfg.n_signal} signal and "
        f"{cfg.n_background} events per background in the window, {cfg.n_toys} toys per tested "
        f"strength, seed {cfg.seed}. Wall time {metrics['wall_seconds']:.0f} s.</p>",
        "<h2>Timing: our measurement beside the seed's Table I</h2>",
        f"<pre>{html.escape(timing_text)}</pre>",
        f"<p>End-to-end speed-up: {metrics['speedup_cpu']:.1f}× CPU, {metrics['speedup_wall']:.1f}× wall "
        "(seed: 35× CPU, 47× wall).</p>",
        "<h2>Network against traditional analysis: summary</h2>",
        _table_html(pd.DataFrame([{"key": k, "value": v} for k, v in metrics["comparison"].items()
                                  if not isinstance(v, dict)])),
        "<p>speedup_cpu_4d: end to end, with the simulation each analysis used; "
        "limit_ratio_min/max: network / traditional over masses on the same event-level "
        "experiments; coverage_*: fraction of signal-injected experiments whose 90 % CL limit "
        "covers the injected strength; empty: not measured in this run.</p>",
        "<h2>90 % CL upper limits</h2>", _table_html(limits),
        "<p>expected_limit_ratio: network / traditional from each analysis' own template toys; "
        "pseudo_experiment_limit_ratio: the same from identical event-level background-only "
        "experiments drawn from an independent simulation (&lt; 1: the network analysis is "
        "better).</p>",
        "<h2>Networks: mutual information, AUC, leakage (sequential transfer learning)</h2>",
        _table_html(nn_table),
    ]
    parts += [f'<h3>{html.escape(f)}</h3><img src="{f}" width="700">' for f in figures]
    for name, table in studies.items():
        parts += [f"<h2>Study: {html.escape(name)}</h2>", _table_html(table)]
    parts += [f'<h3>{html.escape(f)}</h3><img src="studies/{f}" width="700">' for f in study_figures]
    body = "\n".join(parts)
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text("<!doctype html><html><head><meta charset='utf-8'><title>wimpsift reproduce lux"
                       f"</title></head><body>\n{body}\n</body></html>\n")
