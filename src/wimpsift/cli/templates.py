"""``wimpsift templates``: binned templates from event tables (or sources simulated on the
fly), in the format ``wimpsift limits compute`` reads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wimpsift.cli import load_detector_option, options, seed
from wimpsift.errors import ConfigError, DataError, bad_value

DEFAULT_SIGMA_CM2 = 1e-45
"""reference cross-section of a simulated wimp source when ``--sigma-cm2`` is not given"""

# SampleConfig's fields as the options spell them, for error messages
_SAMPLE_OPTIONS = options("detector", "sigma_cm2", "seed", n_signal="--events-per-source",
                          n_background_per_source="--events-per-source")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "templates", help="binned signal and background templates for 'limits compute'",
        description="Each EVENTS item is an event table written by 'wimpsift simulate' (.parquet) "
        "or a source name (wimp, er, ...) simulated here. The wimp source is the signal.")
    p.add_argument("events", nargs="+", metavar="EVENTS", help="event tables or source names")
    p.add_argument("--detector", "-d", required=True, help="shipped detector name or TOML path")
    p.add_argument("--analysis", required=True, help="cs1-cs2, rz-cs1-cs2 or network")
    p.add_argument("--models", metavar="DIR",
                   help="folder written by 'wimpsift nn train' (DIR or DIR/models; network only)")
    p.add_argument("--mass-gev", type=float, help="WIMP mass of a simulated wimp source")
    p.add_argument("--sigma-cm2", type=float,
                   help="reference cross-section of a simulated wimp source (default 1e-45)")
    p.add_argument("--events-per-source", type=int, default=5000, help="simulated sources: events in window")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("-o", "--output", required=True, help="templates JSON")
    p.set_defaults(func=_run, output_spec={"suffixes": (".json",)})


def _from_file(path: Path, detector, columns: list[str]):
    """The in-window events of a simulated table, weighted to their source's expected count;
    ``columns``, the analysis's, must be finite there."""
    import pandas as pd

    from wimpsift.events import check_event_table, window_mask
    from wimpsift.io.event_tables import SLAB_TABLE_VERSION, check_simulated_for, read_events
    from wimpsift.rates import expected_in_window
    from wimpsift.sources import HaloModel, make_source

    table, record = read_events(path)
    where = f"events: {str(path)!r}"
    check_simulated_for(record, detector, where)
    # the weights scale the simulated count: a table cut or joined to another is miscounted
    if record.get("n_events") != len(table):
        raise DataError(f"{where} has {len(table)} rows, but its provenance records "
                        f"{record.get('n_events')!r} simulated events; expected the table "
                        "'wimpsift simulate' wrote, not cut or joined to another")
    config = record.get("config", {})
    volume = config.get("volume", "fiducial")
    if volume == "fiducial" and record.get("table_version", 1) < SLAB_TABLE_VERSION:
        raise DataError(f"events: {str(path)!r} was simulated by an earlier wimpsift, which drew "
                        "the fiducial analysis's events inside the fiducial volume (its counts "
                        "are 2-10 % low); simulate it again")
    name = config.get("source")
    halo = HaloModel(**config["halo"]) if config.get("halo") else None
    source = make_source(detector, name, config.get("mass_gev"), config.get("sigma_cm2"), halo)
    check_event_table(table, ["in_window"], where)
    inside = table[window_mask(table, where)].copy()
    if len(inside) == 0:
        raise DataError(f"events: no event of {str(path)!r} is in the analysis window")
    check_event_table(inside, columns, f"{where} (events in the analysis window)")
    expected = expected_in_window(source, detector, detector.exposure_kg_days, len(inside),
                                   int(record["n_events"]), volume)
    inside["weight"] = expected / len(inside)
    inside["label"] = int(name == "wimp")
    meta = {"mass_gev": config.get("mass_gev"), "sigma_cm2": config.get("sigma_cm2")}
    return pd.DataFrame(inside), meta


def _simulated(name: str, args: argparse.Namespace, detector):
    from wimpsift.sources.wimp import check_wimp_masses
    from wimpsift.training.samples import EventSamples, SampleConfig

    names = [b.name for b in detector.backgrounds]
    if name != "wimp" and name not in names:
        raise bad_value("EVENTS", name, f"an existing .parquet file or a source of {detector.name}: "
                        f"wimp, {', '.join(names)}")
    if name == "wimp" and args.mass_gev is None:
        raise ConfigError("--mass-gev: give the WIMP mass to simulate the wimp source")
    sigma_cm2 = DEFAULT_SIGMA_CM2 if args.sigma_cm2 is None else args.sigma_cm2
    samples = EventSamples(SampleConfig.from_options(
        _SAMPLE_OPTIONS, detector=args.detector, n_signal=args.events_per_source,
        n_background_per_source=args.events_per_source, sigma_cm2=sigma_cm2, seed=args.seed,
        backgrounds=[n for n in names if n == name] or None), detector=detector)
    if name == "wimp":  # a WIMP too light to give recoils, named as its option
        check_wimp_masses([args.mass_gev], "--mass-gev")
    table = samples.source_sample(name, args.mass_gev if name == "wimp" else None).copy()
    table["label"] = int(name == "wimp")
    return table, {"mass_gev": args.mass_gev, "sigma_cm2": sigma_cm2}


def _check_signal_options(args: argparse.Namespace, item: str, meta: dict) -> None:
    """Refuse --mass-gev or --sigma-cm2 that disagree with a signal table's own values
    (they would be ignored)."""
    for option, given, stored in (("--mass-gev", args.mass_gev, meta["mass_gev"]),
                                  ("--sigma-cm2", args.sigma_cm2, meta["sigma_cm2"])):
        if given is not None and given != stored:
            raise ConfigError(f"{option}: got {given:g}, but the signal table {item!r} was "
                              f"simulated with {stored!r}; leave {option} out or give that value")


def _run(args: argparse.Namespace) -> int:
    import pandas as pd

    from wimpsift.pipelines.sensitivity import (
        ANALYSES,
        AXIS_COLUMNS,
        TemplateBinning,
        axis_edges,
        build_templates,
        check_models,
        templates_payload,
    )
    from wimpsift.provenance import provenance, write_json

    if args.analysis not in ANALYSES:
        raise bad_value("--analysis", args.analysis, f"one of {', '.join(ANALYSES)}")
    if args.mass_gev is not None and not args.mass_gev > 0:
        raise bad_value("--mass-gev", args.mass_gev, "a positive WIMP mass in GeV/c^2")
    if args.analysis == "network" and not args.models:
        raise ConfigError("--models: the network analysis needs a 'wimpsift nn train' models folder")
    if args.models and args.analysis != "network":  # it would be ignored
        raise ConfigError(f"--models: only with --analysis network; the {args.analysis} "
                          "analysis bins the events' own columns")
    detector = load_detector_option(args.detector)
    # the tables are read (and checked) before any source is simulated
    columns = AXIS_COLUMNS.get(args.analysis, [])  # the network's inputs: checked by its scorer
    read = {item: _from_file(Path(item), detector, columns) for item in args.events
            if Path(item).suffix == ".parquet" or Path(item).exists()}
    for item, (table, meta) in read.items():
        if int(table["label"].iloc[0]) == 1:  # the table's own mass and cross-section
            _check_signal_options(args, item, meta)
    parts, signal_meta, given = [], None, {}
    for item in args.events:
        table, meta = read[item] if item in read else _simulated(item, args, detector)
        if int(table["label"].iloc[0]) == 1:
            if signal_meta is not None:
                raise DataError("EVENTS: give one wimp source (the signal), not several")
            signal_meta = meta
        # each input is weighted to its source's whole expected count: two of one source add up
        source = str(table["source"].iloc[0])
        if source in given:
            raise DataError(f"EVENTS: {item!r} and {given[source]!r} are both source {source!r}; "
                            "give each source once (simulate one larger table instead)")
        given[source] = item
        parts.append(table)
    if signal_meta is None:
        raise DataError("EVENTS: no wimp source (the signal) among the inputs")
    table = pd.concat(parts, ignore_index=True)
    scorer = None
    if args.analysis == "network":
        from wimpsift.cli.nn import load_models  # the one reader of --models (DIR or DIR/models)

        models = load_models(args.models)
        check_models(models, detector.model_dump(mode="json"), table,
                     ("--detector's", "given by --detector"))
        mass = signal_meta["mass_gev"]
        if mass not in models:
            raise DataError(f"--models: no model for {mass:g} GeV/c^2 (trained: {sorted(models)})")
        scorer = models[mass]
    binning = TemplateBinning()
    edges = axis_edges(args.analysis, detector, table, binning)
    templates = build_templates(table, args.analysis, edges, float(signal_meta["sigma_cm2"]),
                                signal_meta["mass_gev"], binning, scorer)
    payload = templates_payload(templates, args.analysis, detector.name)
    payload["provenance"] = provenance({"events": [str(e) for e in args.events], "detector": detector.name,
                                        "analysis": args.analysis, "models": args.models,
                                        "binning": binning}, args.seed, "templates")
    # the definition, as a simulated table's provenance holds it: 'limits --events' compares them
    payload["provenance"]["detector"] = detector.model_dump(mode="json")
    write_json(args.output, payload)
    print(f"wrote {args.output}: {templates.n_bins} bins, signal {templates.signal.sum():.4g} events at "
          f"{templates.sigma_ref_cm2:g} cm^2, backgrounds "
          + ", ".join(f"{k} {v.sum():.4g}" for k, v in templates.backgrounds.items()), file=sys.stderr)
    return 0
