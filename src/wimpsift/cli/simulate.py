"""``wimpsift simulate``, ``rates``, ``bands`` and ``instructions``: the event-level stage."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from wimpsift.cli import load_detector_option, options, seed
from wimpsift.errors import ConfigError, renamed


def _finite_float(text: str) -> float:
    """argparse type of a finite number (the sign is checked where the value is used)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("simulate", help="simulate events to a Parquet event table")
    p.add_argument("--detector", "-d", default="xenon1t_sr0", help="shipped detector name or TOML path")
    p.add_argument("--source", "-s", required=True, help="wimp, er, neutrons, cevns, accidental, wall, ...")
    p.add_argument("--mass-gev", type=_finite_float, help="WIMP mass in GeV/c^2 (source wimp)")
    p.add_argument(
        "--sigma-cm2", type=_finite_float, default=1e-45, help="WIMP-nucleon cross-section, cm^2"
    )
    p.add_argument(
        "--signal-energy-min-kev", type=_finite_float, default=None,
        help="lowest WIMP recoil energy simulated, keVnr (source wimp; default 0.5; NEST decides what "
        "lower ones give)",
    )
    count = p.add_mutually_exclusive_group(required=True)
    count.add_argument("--events", type=int, help="number of interactions to simulate")
    count.add_argument(
        "--exposure-kg-days", type=_finite_float, help="exposure; events drawn from the rate"
    )
    p.add_argument("--volume", default="fiducial",
                   help="fiducial (the TPC radius between the fiducial depths; in_fiducial selects) "
                   "or active")
    p.add_argument("--prompt-fraction", action="store_true", help="simulate the S1 prompt fraction (slower)")
    p.add_argument("--chunk-size", type=int, default=100_000)
    p.add_argument("--execution", default=None, metavar="FILE",
                   help="TOML or JSON file with where the chunks run: backend in_process|local|"
                        "scheduler|jobqueue, and a [jobqueue] section for Slurm/HTCondor/PBS")
    p.add_argument("--seed", type=seed, required=True)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-o", "--output", required=True, help="output .parquet file")
    p.set_defaults(func=_simulate, output_spec={"suffixes": (".parquet",)})

    r = subparsers.add_parser("rates", help="expected events per source (the CNN paper's Table I)")
    r.add_argument("--detector", "-d", default="xenon1t_sr0")
    r.add_argument("--mass-gev", type=_finite_float, default=500.0)
    r.add_argument("--sigma-cm2", type=_finite_float, default=1e-45)
    r.add_argument("--exposure-kg-days", type=_finite_float, help="default: the detector's exposure")
    r.add_argument(
        "--mc-events", type=int, default=50_000, help="simulated events per source for efficiencies"
    )
    r.add_argument("--seed", type=seed, default=0)
    r.add_argument(
        "--json", action="store_true",
        help=('print {"sources": {name: {"before_cuts", "efficiency", "expected", "published", '
              '"published_verified"}}} as JSON'),
    )
    r.set_defaults(func=_rates)

    b = subparsers.add_parser("bands", help="cS1 vs log10(cS2/cS1) figure of ER and WIMP events")
    b.add_argument("--detector", "-d", default="xenon1t_sr0")
    b.add_argument("--mass-gev", type=_finite_float, default=500.0)
    b.add_argument("--events", type=int, default=5000)
    b.add_argument("--seed", type=seed, default=0)
    b.add_argument("-o", "--output", required=True, help="output image (.png, .pdf or .svg)")
    b.set_defaults(func=_bands, output_spec={"suffixes": (".png", ".pdf", ".svg")})

    i = subparsers.add_parser(
        "instructions", help="write an event table as a waveform-simulator instruction CSV"
    )
    i.add_argument("events", help="input .parquet event table")
    i.add_argument("-o", "--output", required=True, help="output .csv")
    i.set_defaults(func=_instructions, output_spec={"suffixes": (".csv",)})


# SimulationConfig's fields as simulate's options spell them, for error messages
_OPTIONS = options("detector", "source", "mass_gev", "sigma_cm2", "signal_energy_min_kev",
                   "exposure_kg_days", "seed", "volume", "chunk_size", n_events="--events")
# the fields the rates and bands commands' options set (they have no --signal-energy-min-kev)
_RATES_OPTIONS = options("mass_gev", "sigma_cm2", "exposure_kg_days")
_BANDS_OPTIONS = options("mass_gev")


def _simulate(args: argparse.Namespace) -> int:
    from wimpsift.io.event_tables import simulate_to_parquet
    from wimpsift.simulation import SimulationConfig

    if args.events is not None and args.events <= 0:
        raise ConfigError(f"--events: got {args.events}, expected a positive number of events")
    if args.source.startswith("wimp:"):  # the images command's spelling of a signal
        raise ConfigError(f"--source: got {args.source!r}; here the mass is its own option: "
                          f"--source wimp --mass-gev {args.source.partition(':')[2]}")
    if args.source == "wimp" and args.mass_gev is None:
        raise ConfigError("--mass-gev: give the WIMP mass to simulate the wimp source")
    config = SimulationConfig.from_options(
        _OPTIONS, detector=args.detector,
        source=args.source,
        mass_gev=args.mass_gev,
        sigma_cm2=args.sigma_cm2,
        **({} if args.signal_energy_min_kev is None
           else {"signal_energy_min_kev": args.signal_energy_min_kev}),
        n_events=args.events,
        exposure_kg_days=args.exposure_kg_days,
        seed=args.seed,
        volume=args.volume,
        prompt_fraction=args.prompt_fraction,
        chunk_size=args.chunk_size,
    )
    detector = load_detector_option(config.detector)
    execution = None
    if args.execution is not None:
        from wimpsift.execution import load_execution_config

        execution = load_execution_config(args.execution)
    try:
        path = simulate_to_parquet(config, args.output, progress=not args.no_progress,
                                   detector=detector, execution=execution)
    except ConfigError as err:  # the source's and the event count's checks name fields
        raise renamed(err, _OPTIONS) from None
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _rates(args: argparse.Namespace) -> int:
    from wimpsift.io.event_tables import table_bytes_per_event
    from wimpsift.provenance import check_resources, provenance
    from wimpsift.rates import format_rate_table, rate_table, rate_table_json

    if args.mc_events <= 0:
        raise ConfigError(f"--mc-events: got {args.mc_events}, expected a positive number")
    check_resources("--mc-events", memory_bytes=args.mc_events * table_bytes_per_event())
    detector = load_detector_option(args.detector)
    if args.exposure_kg_days is not None and args.exposure_kg_days <= 0:
        raise ConfigError(f"--exposure-kg-days: got {args.exposure_kg_days}, expected a positive exposure")
    try:
        rows = rate_table(detector, args.mass_gev, args.sigma_cm2, args.exposure_kg_days,
                          n_mc=args.mc_events, seed=args.seed)
    except ConfigError as err:  # the source's checks name its fields (mass_gev, sigma_cm2)
        raise renamed(err, _RATES_OPTIONS) from None
    if args.json:
        settings = {"detector": detector.name, "mass_gev": args.mass_gev, "sigma_cm2": args.sigma_cm2,
                    "exposure_kg_days": args.exposure_kg_days or detector.exposure_kg_days,
                    "mc_events": args.mc_events}
        payload = {**rate_table_json(rows), "provenance": provenance(settings, args.seed, "rates")}
        print(json.dumps(payload, allow_nan=False, sort_keys=True))
    else:
        exposure = args.exposure_kg_days or detector.exposure_kg_days
        print(format_rate_table(rows, detector, exposure))
    return 0


def _bands(args: argparse.Namespace) -> int:
    from wimpsift.io.event_tables import table_bytes_per_event
    from wimpsift.plots.bands import plot_bands
    from wimpsift.provenance import check_resources, provenance
    from wimpsift.response.event_level import simulate_events
    from wimpsift.seeding import seed_sequence
    from wimpsift.sources import make_source

    if args.events <= 0:
        raise ConfigError(f"--events: got {args.events}, expected a positive number of events")
    # two event tables (ER and WIMP) are held at once
    check_resources("--events", memory_bytes=2 * args.events * table_bytes_per_event())
    detector = load_detector_option(args.detector)
    try:
        wimp_source = make_source(detector, "wimp", args.mass_gev)
    except ConfigError as err:
        raise renamed(err, _BANDS_OPTIONS) from None
    er = simulate_events(detector, make_source(detector, "er"), args.events,
                         seed_sequence(args.seed, "bands", "er"))
    wimp = simulate_events(detector, wimp_source, args.events, seed_sequence(args.seed, "bands", "wimp"))
    plot_bands(
        er[er.in_window],
        wimp[wimp.in_window],
        args.output,
        f"{detector.name}: ER and {args.mass_gev:g} GeV/c² WIMP",
        detector.window.cs1_max_pe,
        provenance({"detector": detector.model_dump(mode="json"), "mass_gev": args.mass_gev,
                    "events": args.events}, args.seed, "bands"),
    )
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _instructions(args: argparse.Namespace) -> int:
    from wimpsift.io.event_tables import read_events
    from wimpsift.io.instructions import events_to_instructions, write_instructions
    from wimpsift.provenance import provenance, provenance_path

    events, record = read_events(Path(args.events))
    instructions = events_to_instructions(events)
    config = {"events": str(args.events), "events_provenance": record}
    write_instructions(instructions, args.output,
                       provenance(config, record.get("seed"), "instructions"))
    print(f"wrote {args.output}: {instructions['instruction'].nunique()} events, and its "
          f"provenance {provenance_path(args.output)}", file=sys.stderr)
    return 0
