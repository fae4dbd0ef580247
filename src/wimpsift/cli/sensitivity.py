"""``wimpsift sensitivity``: median expected limits with bands for a detector file."""

from __future__ import annotations

import argparse
import json
import sys

from wimpsift.cli import load_detector_option, options, seed
from wimpsift.cli.halo import add_halo_arguments, halo_from_args
from wimpsift.cli.limits import add_limit_arguments, limit_config_from_args
from wimpsift.errors import bad_value

# SensitivityConfig's fields as the options spell them, for error messages
_OPTIONS = options("events_per_source", "detector", "seed",
                   background_rel_uncertainty="--background-width")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sensitivity", help="median expected 90%% CL limits and bands of a detector",
        description="Simulate signal and backgrounds of a detector (cached), build templates of the "
        "analysis (training networks for 'network') and write DIR/limits.csv, limits.json and "
        "limits.png. Rerunning resumes.")
    p.add_argument("--detector", "-d", required=True, help="shipped detector name or TOML path")
    p.add_argument("--masses", type=float, nargs="+", required=True, metavar="GEV")
    p.add_argument("--analysis", required=True, help="cs1-cs2, rz-cs1-cs2 or network")
    p.add_argument("--events-per-source", type=int, default=5000,
                   help="simulated events in the analysis window per source (default 5000)")
    add_limit_arguments(p, n_toys=1000, n_background_toys=1000)
    p.add_argument("--background-width", type=float, default=0.25,
                   help="relative Gaussian width of each background normalisation")
    add_halo_arguments(p)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--workers", type=int, default=1, help="masses in parallel on a local Dask cluster")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run, output_spec={"folder": True})


def _run(args: argparse.Namespace) -> int:
    from wimpsift.pipelines.sensitivity import (
        ANALYSES,
        SensitivityConfig,
        check_masses,
        run_sensitivity,
    )

    if args.analysis not in ANALYSES:
        raise bad_value("--analysis", args.analysis, f"one of {', '.join(ANALYSES)}")
    limits = limit_config_from_args(args, args.seed)
    if args.workers < 1:
        raise bad_value("--workers", args.workers, "an integer >= 1")
    check_masses(args.masses)
    halo = halo_from_args(args)
    load_detector_option(args.detector)  # a bad name fails before anything runs
    config = SensitivityConfig.from_options(
        _OPTIONS, detector=args.detector, analysis=args.analysis, events_per_source=args.events_per_source,
        limits=limits, background_rel_uncertainty=args.background_width, halo=halo, seed=args.seed)
    payload = run_sensitivity(config, args.masses, args.output, args.workers, not args.no_progress)
    if args.json:
        print(json.dumps({k: payload[k] for k in ("detector", "analysis", "limits")}))
    else:
        def band(r, name: str) -> str:
            v = r[f"{name}_cm2"]
            status = r["band_status"][name]
            return f"{v:.3g}" if v is not None else "empty" if status == "empty" else f"none ({status})"

        for r in payload["limits"]:
            floor = r["power_constraint_floor_cm2"]
            print(f"{r['mass_gev']:g} GeV/c^2 ({r['method']}): median {band(r, 'median')} cm^2 "
                  f"(-2σ {band(r, 'minus2')}, -1σ {band(r, 'minus1')}, +1σ {band(r, 'plus1')}, "
                  f"+2σ {band(r, 'plus2')})"
                  + ("" if floor is None else f"; power-constraint floor {floor:.3g}"))
    print(f"wrote {args.output}/limits.csv, limits.json, limits.png", file=sys.stderr)
    return 0
