"""``wimpsift reinterpret``: WIMP limits on XENON1T's data / XENONnT projections from
the published binwise likelihood (``xe-likelihood``)."""

from __future__ import annotations

import argparse
import json
import sys

from wimpsift.cli import options
from wimpsift.cli.halo import add_halo_arguments, halo_from_args
from wimpsift.errors import bad_value

# ReinterpretConfig's fields that the command line spells differently
_OPTIONS = options("points_per_bin", "experiment", "threshold", confidence_level="--cl", n_toys="--toys")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reinterpret", help="WIMP limits from XENON's published binwise likelihood",
        description="Fold wimprates WIMP spectra into the binwise likelihood of xe-likelihood: "
        "observed 90% CL limits on XENON1T's 1 t·yr data, or the XENONnT 20 t·yr projection "
        "(median and bands over its toy MC).")
    p.add_argument("--experiment", required=True, help="xenon1t_1ty or xenonnt_20ty")
    p.add_argument("--masses", type=float, nargs="+", required=True, metavar="GEV",
                   help="WIMP masses in GeV/c^2 (within the published curve's range)")
    p.add_argument("--interaction", default="si", help="si, sd_n or sd_p (default si)")
    add_halo_arguments(p)
    p.add_argument("--threshold", default="asymptotic",
                   help="asymptotic (chi2, default) or neyman (XENON1T's conservative Neyman threshold)")
    p.add_argument("--cl", type=float, default=0.9, help="confidence level (default 0.9)")
    p.add_argument("--toys", type=int, default=None,
                   help="projection toy-MC sets to use (xenonnt_20ty; default all)")
    p.add_argument("--points-per-bin", type=int, default=4,
                   help="Gauss-Legendre points per 0.25 keV true-energy bin (default 4)")
    p.add_argument("--workers", type=int, default=1, help="masses in parallel on a local Dask cluster")
    p.add_argument("-o", "--output", metavar="DIR", help="write limits.csv, limits.json, limits.png here")
    p.add_argument("--json", action="store_true", help="print the limits as JSON")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run, output_spec={"folder": True})


def _config(args: argparse.Namespace):
    from wimpsift.stats.reinterpret import EXPERIMENTS, INTERACTIONS, ReinterpretConfig

    if args.experiment not in EXPERIMENTS:
        raise bad_value("--experiment", args.experiment, f"one of {', '.join(EXPERIMENTS)}")
    if args.interaction not in INTERACTIONS:
        raise bad_value("--interaction", args.interaction, f"one of {', '.join(INTERACTIONS)}")
    if args.threshold not in ("asymptotic", "neyman"):
        raise bad_value("--threshold", args.threshold, "asymptotic or neyman")
    halo = halo_from_args(args)
    if args.workers < 1:
        raise bad_value("--workers", args.workers, "an integer >= 1")
    return ReinterpretConfig.from_options(
        _OPTIONS, experiment=args.experiment, interaction=args.interaction, halo=halo,
        confidence_level=args.cl, threshold=args.threshold, points_per_bin=args.points_per_bin,
        n_toys=args.toys)


def _run(args: argparse.Namespace) -> int:
    from wimpsift.pipelines.reinterpret import check_masses, run_reinterpret

    config = _config(args)
    check_masses(config.experiment, args.masses)
    payload = run_reinterpret(config, args.masses, args.output, args.workers, not args.no_progress)
    if args.json:
        print(json.dumps({k: payload[k] for k in ("experiment", "interaction", "limits")}))
    else:
        for row in payload["limits"]:
            values = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k.endswith("_cm2"))
            print(f"{row['mass_gev']:g} GeV/c^2: {values}")
    if args.output:
        print(f"wrote {args.output}/limits.csv, limits.json, limits.png", file=sys.stderr)
    return 0
