"""``wimpsift reproduce <analysis>``: rerun a paper's analysis end to end.

Sub-commands live in :data:`SUBCOMMANDS` (name → function adding its parser); another
analysis joins the group by adding one entry.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from wimpsift.cli import options, seed
from wimpsift.errors import ConfigError, renamed

EXECUTION_HELP = ("TOML or JSON file with where tasks run: backend in_process|local|scheduler|"
                  "jobqueue, and a [jobqueue] section for Slurm/HTCondor/PBS (overrides "
                  "--workers and --scheduler-address)")


# the reproductions' configuration fields as their options spell them, for error messages
CNN_OPTIONS = options("seed", "device", "scheduler_address", "threads", "train_events_per_class",
                      "test_events_per_class", "pool_stride", "images", "scoring",
                      "halving_factor", "backgrounds", "detector", "execution",
                      n_workers="--workers")
LUX_OPTIONS = options("seed", "workers", "scheduler_address", "execution")


def _execution(args: argparse.Namespace):
    if args.execution is None:
        return None
    from wimpsift.execution import load_execution_config

    return load_execution_config(args.execution)


def _run_cnn(args: argparse.Namespace) -> int:
    from wimpsift.pipelines.reproduce_cnn import make_config, run_reproduce_cnn

    cfg = make_config(
        args.scale, CNN_OPTIONS, seed=args.seed, device=args.device, n_workers=args.workers,
        scheduler_address=args.scheduler_address, threads=args.threads,
        train_events_per_class=args.train_events_per_class,
        test_events_per_class=args.test_events_per_class, pool_stride=args.pool_stride,
        images=args.images, scoring=args.scoring, executor="serial" if args.serial else None,
        progress=not args.no_progress, halving_factor=args.halving_factor,
        execution=_execution(args), backgrounds=args.backgrounds, detector=args.detector,
    )
    try:
        metrics = run_reproduce_cnn(cfg, args.output)
    except ConfigError as err:  # a setting found wrong while running: named as typed
        raise renamed(err, CNN_OPTIONS) from None
    out = Path(args.output)
    if cfg.backgrounds == "all":
        for where, c in (("fiducial", metrics["all_backgrounds"]),
                         ("active volume", metrics["all_backgrounds"]["active_volume"])):
            totals = ", ".join(f"{k} {v['total']:.3g}"
                               for k, v in c["remaining_at_50pct"].items())
            print(f"{where}: remaining background at the comparison's WIMP acceptance: {totals}")
            verdicts = ", ".join(
                f"{k} {c['ratio_to_standard_selection'][k]:.2f} ({v})"
                for k, v in c.get("target_ratio_met_all_errors", {}).items())
            if verdicts:
                print(f"{where}: ratio to the standard selection, verdict with every error "
                      f"(test events, training noise, threshold): {verdicts}")
        pos = metrics["position_reconstruction"]
        if pos["cnn_rms_cm"] is not None:
            print(f"positions: CNN {pos['cnn_rms_cm']:.3f} cm RMS, likelihood "
                  f"{pos['likelihood_rms_cm']:.3f} cm RMS")
        print(f"wrote {out / 'report.html'} and {out / 'metrics.json'}")
        return 0
    for kind in cfg.kinds:
        m = metrics[kind]
        print(f"{kind:8s} accuracy {m['accuracy']:.3f} recall {m['recall']:.3f} "
              f"precision {m['precision']:.3f} AP {m['average_precision']:.3f} "
              f"AUC {m['roc_auc']:.3f} ER rejection@50% {m['er_rejection_at_50pct']:.4f}")
    for name, b in metrics["baselines"].items():
        print(f"{name}: ER rejection@50% {b['er_rejection_at_50pct']:.4f}")
    print(f"wrote {out / 'report.html'} and {out / 'metrics.json'}")
    return 0


def _add_cnn(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cnn", help="CNN paper: simulation, images, grid search, final models, test, report",
        description="Reproduce the CNN paper (WIMP vs ER event images) and write "
        "DIR/report.html and DIR/metrics.json. Rerunning resumes a stopped run.",
    )
    p.add_argument("--scale", choices=["quick", "paper"], default="quick",
                   help="quick: a few thousand events (with --backgrounds all, the default, "
                   "about 21 min on 2 cores; with er a reduced grid, a few minutes); paper: "
                   "the paper's 20,000 + 10,000 events (with er its full grid, hours)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--seed", type=seed, default=None, help="random seed (default 0)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    p.add_argument("--workers", type=int, default=None, help="local Dask workers (default 2)")
    p.add_argument("--scheduler-address", default=None,
                   help="use this dask.distributed scheduler instead of a local cluster")
    p.add_argument("--serial", action="store_true", help="run the grid search in process")
    p.add_argument("--execution", default=None, metavar="FILE", help=EXECUTION_HELP)
    p.add_argument("--halving-factor", type=int, default=None, metavar="ETA",
                   help="successive halving over the epoch grid: continue only the best "
                   "1/ETA of the configurations at each grid epoch (default: exhaustive; "
                   "--backgrounds er only)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads for the final trainings (default 1)")
    p.add_argument("--train-events-per-class", type=int, default=None)
    p.add_argument("--test-events-per-class", type=int, default=None)
    p.add_argument("--pool-stride", type=int, default=None,
                   help="max-pooling stride: 2 halves the volume (seed text, default), "
                   "1 as in the paper's notebook; --backgrounds er only")
    p.add_argument("--scoring", default=None,
                   choices=["recall", "precision", "accuracy", "f1", "roc_auc",
                            "average_precision"],
                   help="grid-search score (default recall, as the paper; --backgrounds er only)")
    p.add_argument("--backgrounds", choices=["er", "all"], default=None,
                   help="all (default): WIMP against every background of the detector, four "
                   "classifiers side by side; er: the paper's WIMP against ER analysis")
    p.add_argument("--detector", default=None,
                   help="shipped detector definition (default xenon1t_sr0)")
    p.add_argument("--images", choices=["wimpsift", "synthetic"], default=None,
                   help="synthetic: toy images to test the pipeline (no physics meaning)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_run_cnn, output_spec={"folder": True})


def _run_lux(args: argparse.Namespace) -> int:
    from wimpsift.pipelines.reproduce_lux import make_config, run_reproduce_lux

    cfg = make_config(args.scale, LUX_OPTIONS, seed=args.seed, workers=args.workers,
                      scheduler_address=args.scheduler_address, execution=_execution(args),
                      studies=False if args.no_studies else None, five_d=False if args.no_5d else None)
    try:
        metrics = run_reproduce_lux(cfg, args.output)
    except ConfigError as err:  # a setting found wrong while running: named as typed
        raise renamed(err, LUX_OPTIONS) from None
    for mass, row in metrics["per_mass"].items():
        network, traditional = row["expected_limit_network_cm2"], row["expected_limit_traditional_cm2"]
        print(f"{float(mass):7g} GeV  expected 90% CL limit: network {network:.3g} cm2, "
              f"traditional {traditional:.3g} cm2 (ratio {row['expected_limit_ratio']:.3f}; "
              f"event-level {row['pseudo_experiment_limit_ratio']:.3f})")
    print(f"speed-up {metrics['speedup_cpu']:.1f}x CPU, {metrics['speedup_wall']:.1f}x wall")
    five_d = metrics["comparison"].get("speedup_cpu_5d")
    if five_d is not None:
        print(f"5-D (prompt fraction): speed-up {five_d:.1f}x CPU end to end, traditional cost factor "
              f"{metrics['comparison']['five_d_cost_factor_traditional']:.2f}x over 4-D")
    out = Path(args.output)
    print(f"wrote {out / 'report.html'} and {out / 'metrics.json'}")
    return 0


def _add_lux(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lux", help="LUX paper: networks with MI checks, 1-D vs traditional limits, timing, studies",
        description="Reproduce the LUX ML paper and write DIR/report.html and DIR/metrics.json. "
        "Samples and limit toys are cached in DIR/cache, so rerunning resumes a stopped run.",
    )
    p.add_argument("--scale", choices=["quick", "paper"], default="quick",
                   help="quick: 4 masses, 3000 events per source, 300 toys (minutes); "
                   "paper: the paper's 22 masses, 10,000 events per source, 2000 toys")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--seed", type=seed, default=0, help="random seed")
    p.add_argument("--workers", type=int, default=None, help="local Dask workers for the toys (default 1)")
    p.add_argument("--scheduler-address", default=None,
                   help="use this dask.distributed scheduler instead of running toys in process")
    p.add_argument("--execution", default=None, metavar="FILE", help=EXECUTION_HELP)
    p.add_argument("--no-studies", action="store_true", help="skip the PCA, input and projection studies")
    p.add_argument("--no-5d", action="store_true",
                   help="skip the 5-D comparison (S1 prompt fraction added to both analyses)")
    p.set_defaults(func=_run_lux, output_spec={"folder": True})


#: sub-command name -> function that adds its parser to the ``reproduce`` group
SUBCOMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {
    "cnn": _add_cnn, "lux": _add_lux,
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("reproduce", help="reproduce a paper's analysis end to end")
    sub = parser.add_subparsers(dest="analysis", metavar="ANALYSIS", required=True)
    for add in SUBCOMMANDS.values():
        add(sub)
