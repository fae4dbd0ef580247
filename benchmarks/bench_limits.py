"""Network (1-D) against traditional (4-D) profile-likelihood limits: same events, same toys.

For each WIMP mass, LUX 2013 samples (signal and every background of the detector,
:class:`wimpsift.training.samples.EventSamples`, cached) feed both analyses:

* network: the issue-5 dense discriminant (``train_one_mass``, sequential transfer
  between masses, MI completion check) or, with ``--discriminant standin`` or when the
  network module is missing, a stand-in (scikit-learn MLP 10-3 on the same inputs,
  uniform-transformed on the balanced test split); 1-D templates of the test-split
  events in the transformed output;
* traditional: f(r², z) × f(cS1, log10 cS2) templates (``--variant full``: one 4-D
  histogram) of the same test-split events.

Expected limits are reported two ways: from toys of each analysis' own templates (what
each analysis believes), and from the same event-level background-only
pseudo-experiments drawn from an independent simulation and binned by both analyses
(what each analysis achieves; sparse 4-D templates from finite simulation are
optimistic about themselves). The JSON ``limit_ratio`` is the latter when
``--n-pseudo-experiments`` > 0.

Both use one background component per source with the paper's Sec. IV C Gaussian
widths (wall 50 %, others 25 %), the same pseudo-data set (one set of events drawn
from the test split, binned both ways), the same toy counts and seeds, and the same
toy engine. Simulation of the samples is not timed (it is the "full MC" of the seed,
distinct from toy generation) but its CPU per event is measured on a small fresh
simulation and charged to both analyses for the events they used. Timings follow
the paper's Table I stages; the last line is JSON that starts with the issue-12 keys
(``speedup_cpu_4d``, ``speedup_cpu_4d_nuisance``, ``speedup_cpu_5d``,
``limit_ratio_min``, ``limit_ratio_max``, ``coverage_network``,
``coverage_traditional``, ``mc_events_network``, ``mc_events_traditional``; null where
this run does not measure it, see :meth:`ComparisonResult.comparison`), then the
per-stage speed-ups and the ratio of expected (median) limits per mass (network /
traditional; < 1: network better). Coverage uses signal-injected event-level
experiments (signal from the independent simulation).

``--convergence-sizes N1 N2 ...`` adds the convergence study
(:func:`wimpsift.stats.convergence.convergence_study`) at ``--convergence-mass``: the
median expected limit of both analyses against events per source, on an independent
simulation (``--convergence-truth-events`` per background, default the largest size);
the events each needs to come within 5 % of its converged limit, decided with the
limits' statistical errors (:func:`wimpsift.stats.convergence.convergence_decision`; null
with the reason in ``decision_*`` when the errors do not decide), set ``mc_events_*``
(events per source times the simulations a comparison over ``--masses`` needs: every
mass's signal and each background, :func:`sources_charged`) and the simulation charged in
``speedup_cpu_4d``. ``--convergence-from STUDY_JSON`` applies the rule to a saved study.

Measured (issue 12 notes, 2026-12-02): ``--convergence-sizes 3000 10000 30000 100000
300000 --convergence-mass 50 --convergence-only --convergence-replicas 3
--convergence-truth-events 100000 --n-pseudo-experiments 0``, 1427 s for the study.

``speedup_cpu_4d_simulation_needed`` (an extra key, beside the issue's) is the seed's
argument measured: the speed-up when each analysis is charged the simulation it needs
for 5 % (:func:`wimpsift.stats.convergence.speedup_with_simulation_needed`), with the
analyses' CPU of this run's comparison or, with ``--convergence-only``, of the
``reproduce lux`` metrics.json given by ``--analysis-cpu-from``. The study's
``--convergence-replicas`` disjoint event sets per size give the limits' statistical
errors that its rule needs (:func:`wimpsift.stats.convergence.convergence_decision`);
``--convergence-truth-events`` sizes the independent truth.

``--pf-bins N`` adds the 5-D case (:func:`wimpsift.stats.comparison.extra_dimension_summary`):
samples with photon times (``--pf-events`` per source, CEvNS left out) at ``--pf-masses``,
both analyses run twice on the same events and event-level experiments, with the 4-D
inputs and with the S1 prompt fraction added (network inputs ``corrected_pf``;
traditional f(r², z) × f(cS1, log10 cS2, prompt fraction), N prompt-fraction bins);
``speedup_cpu_5d`` charges both the photon-time simulation of the events they used.

The analysis itself lives in :func:`wimpsift.stats.comparison.compare_analyses`.

Example (about ten minutes on one core)::

    python benchmarks/bench_limits.py --masses 10 50 200
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _bench_cli import Parser, at_least, positive, run  # noqa: E402

from wimpsift.stats.comparison import ComparisonConfig, compare_analyses  # noqa: E402
from wimpsift.stats.convergence import decide_study  # noqa: E402
from wimpsift.stats.distributed import DaskConfig  # noqa: E402
from wimpsift.stats.limits import LimitConfig  # noqa: E402
from wimpsift.stats.timing import format_table  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--masses", type=positive, nargs="+", default=[10.0, 50.0, 200.0])
    p.add_argument("--n-signal", type=at_least(11), default=3000,
                   help="simulated signal events in the window")
    p.add_argument("--n-background", type=at_least(11), default=3000, help="simulated events per background")
    p.add_argument("--n-toys", type=at_least(1), default=1000, help="toys per tested strength")
    p.add_argument("--n-background-toys", type=at_least(1), default=1000, help="background-only toys")
    p.add_argument("--grid-points", type=at_least(1), default=16, help="tested strengths per mass")
    p.add_argument("--bins", type=at_least(2), default=20, help="bins of the 1-D discriminant")
    p.add_argument("--trad-bins", type=at_least(1), nargs=4, default=[6, 6, 16, 16],
                   metavar=("R2", "Z", "CS1", "LOG10CS2"))
    p.add_argument("--variant", choices=["factorised", "full"], default="factorised")
    p.add_argument("--discriminant", choices=["auto", "network", "standin"], default="auto")
    p.add_argument("--epochs", type=at_least(1), default=20, help="epochs from scratch (transfer: half)")
    p.add_argument("--cache-dir",
                   default=os.path.join(os.path.expanduser("~"), ".cache", "wimpsift", "bench"))
    p.add_argument("--dask", action="store_true", help="run the toys on a Dask LocalCluster")
    p.add_argument("--scheduler-address", default=None)
    p.add_argument("--workers", type=at_least(1), default=1)
    p.add_argument("--n-pseudo-experiments", type=at_least(0), default=1000,
                   help="event-level background-only experiments from an independent sample")
    p.add_argument("--combined-background-width", type=positive, default=None,
                   help="one combined background of this relative width (the paper's 2013 option: 1.0)")
    p.add_argument("--er-band-shift", type=positive, default=None, metavar="DEX",
                   help="also run both analyses with the ER band mean as a shape nuisance "
                        "(log10 cS2 shift per 1 sigma) and report its cost")
    p.add_argument("--convergence-sizes", type=at_least(11), nargs="*", default=[],
                   help="events per source of the convergence study (e.g. 3000 10000 30000)")
    p.add_argument("--convergence-mass", type=positive, default=50.0)
    p.add_argument("--convergence-truth-events", type=at_least(11), default=None,
                   help="events per background of the independent truth (default: the largest size)")
    p.add_argument("--convergence-replicas", type=at_least(1), default=1,
                   help="disjoint subsets per size (as many as the largest sample holds, at most "
                        "this): their scatter is each limit's statistical error")
    p.add_argument("--convergence-only", action="store_true",
                   help="run only the convergence study; its JSON is the last line")
    p.add_argument("--convergence-from", default=None, metavar="STUDY_JSON",
                   help="apply the convergence rule to a saved study (a --convergence-only run's "
                        "last line, rows with replica limits) instead of running one")
    p.add_argument("--analysis-cpu-from", default=None, metavar="METRICS_JSON",
                   help="with --convergence-only: a reproduce lux metrics.json whose analysis CPU "
                        "and simulation price give speedup_cpu_4d_simulation_needed")
    p.add_argument("--pf-bins", type=at_least(1), default=None,
                   help="also run the 5-D case with this many prompt-fraction bins")
    p.add_argument("--pf-events", type=at_least(11), default=None,
                   help="events per source of the 5-D samples (default: --n-background)")
    p.add_argument("--pf-masses", type=positive, nargs="+", default=None,
                   help="masses of the 5-D case (default: --masses)")
    p.add_argument("--seed", type=at_least(0), default=0)
    p.add_argument("--output-dir", default=None,
                   help="also write limits_metrics.json, limits_timing.txt, limits_vs_mass.png here")
    return p.parse_args(argv)


def load_samples(args: argparse.Namespace, seed_offset: int = 0, n: int | None = None,
                 prompt_fraction: bool = False):
    from wimpsift.detectors import load_detector
    from wimpsift.sources import background_names
    from wimpsift.training.samples import EventSamples, validated_sample_config

    # photon times: CEvNS left out (~10^3 photon-timed interactions per event in the window)
    backgrounds = ([b for b in background_names(load_detector("lux_2013")) if b != "cevns"]
                   if prompt_fraction else None)
    return EventSamples(validated_sample_config(
        n_signal=n or args.n_signal, n_background_per_source=n or args.n_background,
        seed=args.seed + seed_offset, cache_dir=os.path.join(args.cache_dir, "samples"),
        max_simulated=max(2_000_000, 400 * (n or 0)), prompt_fraction=prompt_fraction,
        backgrounds=backgrounds,
    ))


def five_d(args: argparse.Namespace, config, use_network: bool) -> dict | None:
    """The 4-D and 5-D passes on the prompt-fraction samples (None without --pf-bins)."""
    if args.pf_bins is None:
        return None
    from wimpsift.pipelines.reproduce_lux import simulation_cpu_s_per_event, simulation_events_used
    from wimpsift.stats.comparison import extra_dimension_summary

    n = args.pf_events or args.n_background
    samples = load_samples(args, n=n, prompt_fraction=True)
    pool = load_samples(args, seed_offset=1000, n=n, prompt_fraction=True).for_mass \
        if args.n_pseudo_experiments else None
    masses = sorted(args.pf_masses or args.masses)
    results = {}
    for dims, inputs, bins in (("4d", "corrected", None), ("5d", "corrected_pf", args.pf_bins)):
        t0 = time.perf_counter()
        results[dims] = compare_analyses(
            masses, samples.for_mass, trainer(args, use_network, inputs), samples.detector,
            samples.config.sigma_cm2, config.model_copy(update={"traditional_pf_bins": bins}),
            pool_for_mass=pool)
        print(f"\n{dims[0]}-D on the prompt-fraction samples ({time.perf_counter() - t0:.0f} s):",
              file=sys.stderr)
        print(format_table(results[dims].times_traditional, results[dims].times_network))
    mc_used = simulation_events_used(samples, masses)
    return extra_dimension_summary(results["4d"], results["5d"], simulation_cpu_s_per_event(samples),
                                   mc_used)


def convergence(args: argparse.Namespace, config, train) -> dict | None:
    """The convergence study at one mass (None without sizes)."""
    if not args.convergence_sizes:
        return None
    from wimpsift.stats.convergence import convergence_study

    n_max = max(args.convergence_sizes)
    big = load_samples(args, seed_offset=0, n=n_max)
    truth = load_samples(args, seed_offset=2000, n=args.convergence_truth_events or n_max).background()
    t0 = time.perf_counter()
    study = convergence_study(args.convergence_mass, big.for_mass(args.convergence_mass), truth,
                              args.convergence_sizes, train, big.detector, big.config.sigma_cm2, config,
                              replicas=args.convergence_replicas)
    sources = 1 + len(big.background_names)
    study["n_sources"] = sources
    print(f"\nconvergence at {args.convergence_mass:g} GeV ({time.perf_counter() - t0:.0f} s; truth: "
          f"{study['truth_events']} independent background events)", file=sys.stderr)
    print(f"{'events/source':>14} {'median 1-D cm2':>15} {'median trad cm2':>16} {'trad bins':>10}")
    for row in study["rows"]:
        print(f"{row['events_per_source']:>14d} {row['median_limit_network_cm2']:>15.4g} "
              f"{row['median_limit_traditional_cm2']:>16.4g} {row['n_bins_traditional']:>10d}")
    mc_events(study, len(args.masses))
    for k in ("network", "traditional"):
        needed = study[f"events_needed_{k}"]
        d = study[f"decision_{k}"]
        print(f"{k}: events needed for 5 % {needed} per source (above {d['events_needed_above']}); "
              f"reference error {d.get('reference_rel_error', float('nan')):.1%}; {d['reason'] or ''}",
              file=sys.stderr)
    return study


def sources_charged(study: dict, n_masses: int) -> int:
    """Simulations of the study's events per source that a comparison over ``n_masses``
    masses needs: each mass's own signal and every background (``n_sources`` is one
    mass's: its signal and the backgrounds), as ``simulation_events_used`` counts them."""
    return int(n_masses) + int(study["n_sources"]) - 1


def simulation_needed(study: dict, cpu_network_s: float, cpu_traditional_s: float,
                      simulation_cpu_s_per_event: float, cpu_from: str, n_masses: int) -> dict:
    """speedup_cpu_4d_simulation_needed: each analysis charged the simulation it needs for
    the ``n_masses`` masses whose CPU it is charged."""
    from wimpsift.stats.convergence import speedup_with_simulation_needed

    out = speedup_with_simulation_needed(cpu_network_s, cpu_traditional_s, simulation_cpu_s_per_event,
                                         study, sources_charged(study, n_masses))
    out["analysis_cpu_from"] = cpu_from
    return out


class StandIn:
    """Documented stand-in for the issue-5 network: sklearn MLP (10, 3), tanh, on
    (r, z, cS1, log10 cS2[, S1 prompt fraction with ``corrected_pf``]), balanced classes,
    uniform transform on the test split."""

    def __init__(self, seed: int, inputs: str = "corrected"):
        self.prompt_fraction = inputs.endswith("_pf")
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.model = make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=(10, 3), activation="tanh", max_iter=200, random_state=seed))

    def features(self, table: pd.DataFrame) -> np.ndarray:
        columns = [table["r_cm"], table["z_cm"], table["cs1_pe"],
                   np.log10(np.clip(table["cs2_pe"], 1.0, None))]
        return np.column_stack(columns + ([table["s1_prompt_fraction"]] if self.prompt_fraction else []))

    def fit(self, table: pd.DataFrame) -> StandIn:
        train, test = table[table["split"] == "train"], table[table["split"] == "test"]
        y = train["label"].to_numpy()
        rng = np.random.default_rng(0)
        sig, bkg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        w = train["weight"].to_numpy()
        # balance by resampling the backgrounds in proportion to their rates
        bkg_pick = rng.choice(bkg, size=len(sig), p=w[bkg] / w[bkg].sum())
        idx = np.concatenate([sig, bkg_pick])
        self.model.fit(self.features(train.iloc[idx]), y[idx])
        f = self.model.predict_proba(self.features(test))[:, 1]
        yt, wt = test["label"].to_numpy(), test["weight"].to_numpy().astype(float)
        wt = np.where(yt == 1, 0.5 * wt / wt[yt == 1].sum(), 0.5 * wt / wt[yt == 0].sum())
        order = np.argsort(f)
        self.knots_f, self.knots_g = f[order], np.cumsum(wt[order]) - 0.5 * wt[order]
        return self

    def score(self, table: pd.DataFrame) -> np.ndarray:
        f = self.model.predict_proba(self.features(table))[:, 1]
        return np.interp(f, self.knots_f, self.knots_g, left=0.0, right=1.0)


def network_available() -> bool:
    try:
        from wimpsift.training.discriminant import train_one_mass  # noqa: F401
    except ImportError:
        return False
    return True


def trainer(args: argparse.Namespace, use_network: bool, inputs: str = "corrected"):
    def train(mass: float, table: pd.DataFrame, previous):
        if not use_network:
            return StandIn(args.seed, inputs).fit(table), None
        from wimpsift.training.discriminant import train_one_mass, validated_config

        cfg = validated_config(masses_gev=[mass], epochs_from_scratch=args.epochs,
                               epochs_transfer=max(1, args.epochs // 2), seed=args.seed, inputs=inputs)
        model = train_one_mass(mass, table, cfg, initial=previous)
        return model, model.network

    return train


def with_analysis_cpu(study: dict, path: str) -> dict:
    """speedup_cpu_4d_simulation_needed from a reproduce lux metrics.json's CPU and price."""
    with open(path, encoding="utf-8") as f:
        reference = json.load(f)
    study["speedup_cpu_4d_simulation_needed"] = simulation_needed(
        study, reference["timing"]["network"]["cpu_s"]["total"],
        reference["timing"]["traditional"]["cpu_s"]["total"],
        reference["comparison"]["simulation_cpu_s_per_event"], path,
        len(reference["provenance"]["config"]["masses_gev"]))
    return study


def mc_events(study: dict, n_masses: int) -> dict:
    """``mc_events_*``: events needed per source times the simulations a comparison over
    ``n_masses`` masses needs (:func:`sources_charged`)."""
    study["n_masses_charged"] = int(n_masses)
    for k in ("network", "traditional"):
        needed = study[f"events_needed_{k}"]
        study[f"mc_events_{k}"] = (None if needed is None
                                   else float(needed * sources_charged(study, n_masses)))
    return study


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.convergence_from:
        with open(args.convergence_from, encoding="utf-8") as f:
            study = json.loads(f.read().strip().splitlines()[-1])
        study.setdefault("n_sources", 7)  # studies saved before n_sources: signal + 6 LUX backgrounds
        study = mc_events(decide_study(study), len(args.masses))
        if args.analysis_cpu_from:
            study = with_analysis_cpu(study, args.analysis_cpu_from)
        print(json.dumps(study))
        return 0
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    samples = load_samples(args)
    use_network = args.discriminant == "network" or (args.discriminant == "auto" and network_available())
    print(f"discriminant: {'issue-5 dense network' if use_network else 'stand-in MLP (sklearn)'}",
          file=sys.stderr)
    config = ComparisonConfig.build(
        n_bins=args.bins, traditional_bins=tuple(args.trad_bins), variant=args.variant,
        limits=LimitConfig.build(method="toys", n_toys=args.n_toys,
                                 n_background_toys=args.n_background_toys,
                                 mu_grid_points=args.grid_points, seed=args.seed),
        dask=DaskConfig.build(synchronous=not (args.dask or args.scheduler_address),
                              scheduler_address=args.scheduler_address, n_workers=args.workers,
                              progress=False, n_chunks=max(1, args.workers)),
        seed=args.seed, n_pseudo_experiments=args.n_pseudo_experiments,
        combined_background_width=args.combined_background_width,
    )
    pool = None
    if args.n_pseudo_experiments:
        # an independent simulation (other seed) of the backgrounds: the "true" world of
        # the event-level pseudo-experiments, not used to build any template
        independent = load_samples(args, seed_offset=1000)
        pool = independent.for_mass
    study = convergence(args, config, trainer(args, use_network))
    if args.convergence_only:
        if study is not None and args.analysis_cpu_from:
            study = with_analysis_cpu(study, args.analysis_cpu_from)
        print(json.dumps(study))
        return 0
    t0 = time.perf_counter()
    result = compare_analyses(sorted(args.masses), samples.for_mass, trainer(args, use_network),
                              samples.detector, samples.config.sigma_cm2, config, pool_for_mass=pool)
    print(f"benchmark wall time {time.perf_counter() - t0:.1f} s (sample loading included)",
          file=sys.stderr)
    shaped = None
    if args.er_band_shift:
        with_shape = config.model_copy(update={"er_band_shift_log10_cs2": args.er_band_shift})
        shaped = compare_analyses(
            sorted(args.masses), samples.for_mass, trainer(args, use_network), samples.detector,
            samples.config.sigma_cm2, with_shape, pool_for_mass=pool)
        print("\nwith the ER band shape nuisance:")
        print(format_table(shaped.times_traditional, shaped.times_network))
    five = five_d(args, config, use_network)
    ratio, obs_ratio = result.limit_ratio(), result.limit_ratio("observed")
    pe_ratio = result.limit_ratio("pseudo_median")
    print("\nexpected (median) 90% CL limits in cm2: 'templ' from toys of each analysis' own "
          "templates, 'events' from the same event-level pseudo-experiments")
    print(f"{'mass GeV':>9} {'bins 1-D':>9} {'bins trad':>10} {'templ 1-D':>10} {'templ trad':>11} "
          f"{'ratio':>6} {'events 1-D':>11} {'events trad':>12} {'ratio':>6} {'obs 1-D':>9} "
          f"{'obs trad':>9}")
    for mass in sorted(args.masses):
        n, t = result.network[mass].to_dict(), result.traditional[mass].to_dict()
        i = result.info[mass]
        # null (None): a median outside the tested strengths (band_status says which side)
        pe_n, pe_t = ((d.get("pseudo_experiment_sigma_nucleon_cm2") or {}).get("median") for d in (n, t))
        pe_n, pe_t, med_n, med_t = (float("nan") if v is None else v for v in (
            pe_n, pe_t, n["expected_sigma_nucleon_cm2"]["median"], t["expected_sigma_nucleon_cm2"]["median"]))
        print(f"{mass:>9g} {i['n_bins_network']:>9d} {i['n_bins_traditional']:>10d} "
              f"{med_n:>10.3g} {med_t:>11.3g} {ratio[mass]:>6.3f} "
              f"{pe_n:>11.3g} {pe_t:>12.3g} {pe_ratio[mass]:>6.3f} "
              f"{n['observed_sigma_nucleon_cm2']:>9.3g} {t['observed_sigma_nucleon_cm2']:>9.3g}")
    print()
    print(format_table(result.times_traditional, result.times_network))
    if args.output_dir:
        from wimpsift.stats.comparison import write_comparison

        os.makedirs(args.output_dir, exist_ok=True)
        for path in write_comparison(result, args.output_dir, config, args.seed).values():
            print(f"wrote {path}", file=sys.stderr)
    from wimpsift.pipelines.reproduce_lux import simulation_cpu_s_per_event, simulation_events_used

    metrics = result.metrics()
    mc_used = simulation_events_used(samples, args.masses)
    summary = {
        **result.comparison(simulation_cpu_s_per_event=simulation_cpu_s_per_event(samples),
                            mc_events_used=mc_used,
                            mc_events_network=None if study is None else study["mc_events_network"],
                            mc_events_traditional=None if study is None
                            else study["mc_events_traditional"], with_shape_nuisance=shaped,
                            five_d=five),
        "convergence": study,
        "speedup_cpu_4d_simulation_needed": None if study is None else simulation_needed(
            study, result.times_network.total_cpu_s, result.times_traditional.total_cpu_s,
            simulation_cpu_s_per_event(samples), "this run", len(args.masses)),
        "speedup_cpu": metrics["speedup_cpu"],
        "speedup_wall": metrics["speedup_wall"],
        "limit_ratio": {f"{m:g}": r
                        for m, r in (pe_ratio if args.n_pseudo_experiments else ratio).items()},
        "limit_ratio_kind": ("event_level_pseudo_experiments" if args.n_pseudo_experiments
                             else "template_toys"),
        "limit_ratio_template_toys": {f"{m:g}": r for m, r in ratio.items()},
        "observed_limit_ratio": {f"{m:g}": r for m, r in obs_ratio.items()},
        "stage_speedup_cpu": metrics["stage_speedup_cpu"],
        "discriminant": "issue5_network" if use_network else "standin_sklearn_mlp",
        "variant": args.variant, "n_toys": args.n_toys, "n_background_toys": args.n_background_toys,
        "times_network": metrics["times_network"], "times_traditional": metrics["times_traditional"],
    }
    if args.output_dir:
        path = write_summary(args, argv, summary, result, config)
        print(f"wrote {path}", file=sys.stderr)
    print(json.dumps(summary))
    return 0


def write_summary(args: argparse.Namespace, argv: list[str] | None, summary: dict,
                  result, config) -> str:
    """``bench_limits_summary.json`` in ``--output-dir``: the command, the last line's keys,
    each mass's medians on the same event-level experiments, and the provenance
    (``scripts/lux_results_table.py --converged`` renders it)."""
    from wimpsift.provenance import provenance, write_json

    per_mass = {}
    for mass in sorted(args.masses):
        rows = {"network": result.network[mass].to_dict(),
                "traditional": result.traditional[mass].to_dict()}
        per_mass[f"{mass:g}"] = {
            **{f"{name}_limit_cm2": (row.get("pseudo_experiment_sigma_nucleon_cm2") or {}).get(
                "median") for name, row in rows.items()},
            **{f"{name}_coverage": row["extra"].get("coverage") for name, row in rows.items()},
            "limit_ratio": summary["limit_ratio"].get(f"{mass:g}"),
        }
    record = {"command": ["benchmarks/bench_limits.py",
                          *(sys.argv[1:] if argv is None else argv)],
              "events_per_source": {"signal": args.n_signal, "background": args.n_background},
              "summary": summary, "per_mass": per_mass,
              "provenance": provenance(config, args.seed, "bench_limits")}
    return str(write_json(os.path.join(args.output_dir, "bench_limits_summary.json"), record))


if __name__ == "__main__":
    run(main)
