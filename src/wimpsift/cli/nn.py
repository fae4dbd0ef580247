"""``wimpsift nn train|evaluate|study``: the one-dimensional neural discriminant.

Thin layer: parse, call :mod:`wimpsift.training.discriminant` and
:mod:`wimpsift.training.studies`, write results. ``--json`` prints the metrics as
JSON on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from wimpsift.cli import load_detector_option, options, seed
from wimpsift.errors import ConfigError, DataError, bad_value, renamed

# the configurations' fields as the options spell them, for error messages
_TRAINING_OPTIONS = options("inputs", "hidden", "activation", "epochs_from_scratch",
                            "epochs_transfer", "batch_size", "learning_rate", "mi_k",
                            "mi_epsilon", "mi_n_sigma", "max_retrains", "seed",
                            masses_gev="--masses")
_SAMPLE_OPTIONS = options("detector", "backgrounds", "n_signal", "max_simulated",
                          "test_fraction", "seed", "cache_dir",
                          n_background_per_source="--n-background")


def _masses(text: str) -> list[float]:
    try:
        return [float(m) for m in text.split(",") if m.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated masses in GeV, got {text!r}") from None


def _add_sample_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("samples")
    g.add_argument("--detector", "-d", default="lux_2013", help="shipped detector or TOML path")
    g.add_argument("--backgrounds", help="comma-separated background names (default: all)")
    g.add_argument("--n-signal", type=int, default=5000, help="signal events in window per mass")
    g.add_argument("--n-background", type=int, default=5000,
                   help="events in window per background source")
    g.add_argument("--max-simulated", type=int, default=20_000_000,
                   help="cap on simulated interactions per source")
    g.add_argument("--test-fraction", type=float, default=0.5)
    g.add_argument("--cache-dir", help="Parquet cache of the simulated samples")


def _add_training_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network and training")
    g.add_argument("--masses", type=_masses, help="comma-separated WIMP masses in GeV "
                   "(default: the LUX paper's 22 masses 3.5 ... 1000)")
    g.add_argument("--inputs", default="corrected",
                   help="preset (corrected, raw, corrected_pf, raw_pf) or comma-separated columns")
    g.add_argument("--hidden", default="10,3", help="hidden layer sizes (default 10,3)")
    g.add_argument("--activation", default="tanh")
    g.add_argument("--epochs-from-scratch", type=int, default=20)
    g.add_argument("--epochs-transfer", type=int, default=10)
    g.add_argument("--batch-size", type=int, default=128)
    g.add_argument("--learning-rate", type=float, default=1e-2)
    g.add_argument("--mi-k", type=int, default=5)
    g.add_argument("--mi-epsilon", type=float, default=0.02)
    g.add_argument("--mi-n-sigma", type=float, default=1.0)
    g.add_argument("--max-retrains", type=int, default=2)
    g.add_argument("--seed", type=seed, default=0)


def register(subparsers: argparse._SubParsersAction) -> None:
    nn = subparsers.add_parser("nn", help="one-dimensional neural discriminant (LUX paper)")
    sub = nn.add_subparsers(dest="nn_command", metavar="NN_COMMAND", required=True)

    t = sub.add_parser("train", help="train one network per WIMP mass")
    _add_sample_options(t)
    _add_training_options(t)
    t.add_argument("--mode", choices=["sequential", "independent", "both"], default="sequential",
                   help="transfer learning from the lowest mass up, independent, or both "
                   "(writes the AUC-vs-epoch comparison)")
    t.add_argument("-o", "--output", required=True, help="output folder")
    t.add_argument("--json", action="store_true", help="print per-mass metrics as JSON")
    t.set_defaults(func=_train, output_spec={"folder": True})

    e = sub.add_parser("evaluate", help="apply trained networks to an event table")
    e.add_argument("--models", required=True, help="folder written by 'wimpsift nn train' "
                   "(DIR or DIR/models)")
    e.add_argument("events", help="event table (.parquet); with 'label' (and 'weight') "
                   "columns, metrics are computed too")
    e.add_argument("--in-window", action="store_true",
                   help="keep only events with in_window true (simulated tables hold all events)")
    e.add_argument("-o", "--output", help="output .parquet with one score column per mass")
    e.add_argument("--json", action="store_true", help="print metrics as JSON")
    e.set_defaults(func=_evaluate, output_spec={"suffixes": (".parquet",)})

    s = sub.add_parser("study", help="raw vs corrected, prompt fraction, PCA, projections")
    s.add_argument("study", choices=["raw_vs_corrected", "prompt_fraction", "pca", "projections"])
    _add_sample_options(s)
    _add_training_options(s)
    s.add_argument("--models", help="for pca and projections: reuse the networks of a "
                   "'wimpsift nn train' folder (DIR or DIR/models) instead of training (pca: those of "
                   "--masses, default all)")
    s.add_argument("--projection-mass", type=float, default=50.0,
                   help="mass of the network shown by 'projections' (default 50 GeV)")
    s.add_argument("-o", "--output", required=True, help="output folder")
    s.add_argument("--json", action="store_true", help="print the study table as JSON")
    s.set_defaults(func=_study, output_spec={"folder": True})


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _configs(args: argparse.Namespace, prompt_fraction: bool = False
             ) -> tuple[Any, dict[str, Any]]:
    from wimpsift.provenance import check_writable
    from wimpsift.training.discriminant import DEFAULT_MASSES_GEV, DiscriminantConfig

    if args.cache_dir is not None:
        check_writable(args.cache_dir, "--cache-dir", folder=True)
    try:
        hidden = [int(h) for h in args.hidden.split(",") if h.strip()]
    except ValueError:
        raise ConfigError(f"--hidden: got {args.hidden!r}, expected comma-separated "
                          "integers") from None
    config = DiscriminantConfig.from_options(
        _TRAINING_OPTIONS, masses_gev=list(DEFAULT_MASSES_GEV) if args.masses is None else args.masses,
        inputs=args.inputs, hidden=hidden, activation=args.activation, mode="sequential",
        epochs_from_scratch=args.epochs_from_scratch, epochs_transfer=args.epochs_transfer,
        batch_size=args.batch_size, learning_rate=args.learning_rate, mi_k=args.mi_k,
        mi_epsilon=args.mi_epsilon, mi_n_sigma=args.mi_n_sigma, max_retrains=args.max_retrains,
        seed=args.seed)
    sample_settings = {
        "detector": args.detector, "n_signal": args.n_signal,
        "n_background_per_source": args.n_background, "max_simulated": args.max_simulated,
        "test_fraction": args.test_fraction, "seed": args.seed, "cache_dir": args.cache_dir,
        "prompt_fraction": prompt_fraction,
        # given empty, an empty list (refused), not every background
        "backgrounds": ([b.strip() for b in args.backgrounds.split(",") if b.strip()]
                        if args.backgrounds is not None else None),
    }
    if prompt_fraction and args.backgrounds is None:
        # photon-timing simulation runs for every simulated interaction; CEvNS needs ~10^3
        # interactions per event in the window for ~0.03 expected events: left out
        from wimpsift.sources import background_names

        names = background_names(load_detector_option(args.detector))
        kept = [n for n in names if n != "cevns"]
        if len(kept) != len(names):
            _log("prompt fraction: leaving out the 'cevns' background (negligible rate, "
                 "costly photon-timing simulation); name it in --backgrounds to keep it")
        sample_settings["backgrounds"] = kept
    return config, sample_settings


def _samples(sample_settings: dict[str, Any]):
    import torch

    from wimpsift.training.samples import EventSamples, SampleConfig

    torch.set_num_threads(1)
    config = SampleConfig.from_options(_SAMPLE_OPTIONS, **sample_settings)
    try:
        return EventSamples(config)
    except ConfigError as err:  # the detector or the backgrounds, checked against each other
        raise renamed(err, _SAMPLE_OPTIONS) from None


def load_models(text: str) -> dict[float, Any]:
    """Trained networks from ``--models``: the folder ``nn train -o DIR`` wrote (DIR) or
    its ``models/`` subfolder; a damaged model set is a one-line DataError."""
    from wimpsift.errors import WimpsiftError
    from wimpsift.training.discriminant import load_discriminants

    folder = Path(text)
    if not (folder / "index.json").is_file() and (folder / "models" / "index.json").is_file():
        folder = folder / "models"
    try:
        return load_discriminants(folder)
    except WimpsiftError as err:  # the library names its parameter and a missing member
        raise renamed(err, {"models": "--models", "model": "--models"}) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as err:
        first = str(err).splitlines()[0] if str(err) else ""
        raise DataError(f"--models: {str(folder)!r} is not a readable model set "
                        f"({type(err).__name__}: {first}); train it again") from err


def _mi_k(model: Any) -> int:
    """The neighbours of the MI estimator ``model`` was checked with (``nn train --mi-k``,
    in its provenance; 5, the default, for a model that does not say), so that ``nn
    evaluate`` measures the output MI as training did (with k = 5 instead of 12 it gave
    0.5906 bits where training reported 0.6093 on the same events); a class with no more
    events than k gets fewer neighbours (the k used is in the metrics, ``output_mi_k``)."""
    from wimpsift.training.discriminant import DiscriminantConfig

    default = DiscriminantConfig.model_fields["mi_k"].default
    record = model.provenance if isinstance(model.provenance, dict) else {}
    config = record.get("config", {}) if isinstance(record.get("config"), dict) else {}
    discriminant = config.get("discriminant", {}) if isinstance(config.get("discriminant"), dict) else {}
    k = discriminant.get("mi_k", default)
    return k if isinstance(k, int) and not isinstance(k, bool) and k >= 1 else default


def _records(table) -> list[dict[str, Any]]:
    return json.loads(table.to_json(orient="records"))


def _train(args: argparse.Namespace) -> int:
    from wimpsift.plots.discriminant import plot_auc_vs_epoch, plot_mi_vs_mass
    from wimpsift.provenance import atomic_path, provenance
    from wimpsift.sources.wimp import check_wimp_masses
    from wimpsift.training.discriminant import (
        metrics_table,
        save_discriminants,
        train_masses,
    )

    out = Path(args.output)
    needs_pf = "s1_prompt_fraction" in ",".join(_resolve(args.inputs))
    config, sample_settings = _configs(args, prompt_fraction=needs_pf)
    provider = _samples(sample_settings)
    check_wimp_masses(config.masses_gev, "--masses", provider.config.halo)
    out.mkdir(parents=True, exist_ok=True)  # after validation: a refused run leaves nothing
    modes = ["sequential", "independent"] if args.mode == "both" else [args.mode]
    record = provenance({"discriminant": config, "samples": sample_settings, "mode": args.mode},
                        args.seed, "nn.train")
    runs = {}
    result: dict[str, Any] = {"detector": args.detector, "inputs": list(_resolve(args.inputs))}
    for mode in modes:
        _log(f"training ({mode}) ...")
        cfg = config.model_copy(update={"mode": mode})
        try:
            models = train_masses(cfg, samples=provider.for_mass, log=_log,
                                  sample_settings=sample_settings, detector=provider.detector)
        except DataError as err:  # a mass whose signal is too rare to check
            raise renamed(err, _TRAINING_OPTIONS) from None
        runs[mode] = models
        folder = out if len(modes) == 1 or mode == "sequential" else out / mode
        folder.mkdir(parents=True, exist_ok=True)
        table = metrics_table(models)
        summary = {"mode": mode, "samples": provider.summary,
                   "total_training_seconds": float(table.training_seconds.sum()),
                   "provenance": record}
        save_discriminants(models, folder / "models", summary)
        with atomic_path(folder / "metrics.csv") as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
        plot_mi_vs_mass(models, folder / "mi_vs_mass.png", provenance=record)
        result[mode] = {"metrics": _records(table),
                        "total_training_seconds": summary["total_training_seconds"],
                        "n_retrained": int(table.n_attempts.gt(1).sum())}
    plot_auc_vs_epoch(runs, out / "auc_vs_epoch.png", provenance=record)
    result["samples"] = provider.summary
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        _log(f"wrote {out}")
    return 0


def _resolve(inputs: str) -> tuple[str, ...]:
    from wimpsift.models.dense import resolve_inputs

    try:
        return resolve_inputs(inputs)
    except ConfigError as err:
        raise renamed(err, _TRAINING_OPTIONS) from None


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from wimpsift.events import window_mask
    from wimpsift.io.event_tables import read_events, recorded_detector
    from wimpsift.metrics.leakage import discrimination_summary
    from wimpsift.metrics.mutual_information import mutual_information
    from wimpsift.pipelines.sensitivity import check_models
    from wimpsift.provenance import PROVENANCE_KEY, atomic_path, provenance
    from wimpsift.training.discriminant import balanced_weights, score_column

    models = load_models(args.models)
    path = Path(args.events)
    table, events_record = read_events(path)  # a missing table is said as such there
    recorded = recorded_detector(events_record, f"events: {str(path)!r}")
    if recorded is not None:  # simulated here; a table without provenance (real data) is taken as is
        check_models(models, recorded, table)
    if args.in_window:
        if "in_window" not in table.columns:
            raise DataError("events: --in-window given but the table has no 'in_window' column")
        table = table[window_mask(table, f"events: {str(path)!r}")].reset_index(drop=True)
    scores = pd.DataFrame(index=table.index)
    result: dict[str, Any] = {"n_events": len(table), "metrics": {}}
    has_label = "label" in table.columns
    # a simulated table holds events no network was trained on, some without an S2
    outside = 0 if args.in_window or "in_window" not in table.columns else \
        int((~window_mask(table, f"events: {str(path)!r}")).sum())
    try:
        for mass, model in models.items():
            scores[score_column(mass)] = model.score(table)
            if has_label:
                y = table["label"].to_numpy().astype(int)
                w = table["weight"].to_numpy(float) if "weight" in table.columns else np.ones(len(y))
                logit = model.logit(table)
                wb = balanced_weights(y, w)
                m = discrimination_summary(logit, y, wb)
                # the value only: no subsets for an error (a rare class could not fill them)
                # the models' k, fewer where a class has too few events for it
                k = max(1, min(_mi_k(model), int(np.bincount(y, minlength=2).min()) - 1))
                m["output_mi_bits"] = mutual_information(logit, y, wb, k=k, n_subsets=1).mi_bits
                m["output_mi_k"] = k
                result["metrics"][f"{mass:g}"] = m
    except DataError as err:
        if not outside:
            raise
        raise DataError(f"{err}; {outside} of {len(table)} events are outside the analysis "
                        "window (in_window false): --in-window keeps the window's") from None
    if args.output:
        record = provenance({"models": args.models, "events": str(path), "in_window": args.in_window,
                             "masses_gev": sorted(models), "events_provenance": events_record},
                            None, "nn.evaluate")
        again = [c for c in scores.columns if c in table.columns]  # a table scored before
        if again:
            print(f"note: replacing the table's {', '.join(again)}", file=sys.stderr)
        out = pa.Table.from_pandas(pd.concat([table.drop(columns=again), scores], axis=1),
                                   preserve_index=False)
        meta = {**(out.schema.metadata or {}),
                PROVENANCE_KEY.encode(): json.dumps(record, sort_keys=True).encode()}
        with atomic_path(args.output) as tmp:
            pq.write_table(out.replace_schema_metadata(meta), tmp)
        print(f"wrote {args.output}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{len(table)} events scored by the networks of {', '.join(f'{m:g}' for m in models)} GeV"
          + ("" if has_label else " (no 'label' column: no metrics)"))
    for mass, m in result["metrics"].items():
        print(f"{mass} GeV: AUC {m['auc']:.4f}, background leakage at 50 % signal "
              f"{m['leakage_at_50pct_signal']:.3g}, output MI {m['output_mi_bits']:.4f} bits")
    if not args.output:
        print("note: the scores are not kept; -o FILE.parquet writes them", file=sys.stderr)
    return 0


def _run_study(args: argparse.Namespace, config: Any, provider: Any,
               models: dict[float, Any] | None, masses: list[float] | None,
               sample_settings: dict[str, Any], out: Path, record: dict[str, Any]) -> Any:
    """The study's table (and its files in ``out``), training the networks it needs."""
    from wimpsift.training import studies
    from wimpsift.training.discriminant import train_masses

    if args.study in studies.INPUT_STUDIES:
        return studies.study_inputs(args.study, config, provider.for_mass, out, log=_log,
                                    provenance=record)
    if models is None:
        cfg = config if masses is None else config.model_copy(update={"masses_gev": masses})
        models = train_masses(cfg, samples=provider.for_mass, log=_log,
                              sample_settings=sample_settings, detector=provider.detector)
    if args.study == "pca":
        return studies.study_pca(models, provider.for_mass, out, provenance=record)
    return studies.study_projections(models[args.projection_mass],
                                     provider.for_mass(args.projection_mass), out,
                                     provenance=record)


def _study(args: argparse.Namespace) -> int:
    from wimpsift.provenance import provenance
    from wimpsift.training import studies

    out = Path(args.output)
    if not (math.isfinite(args.projection_mass) and args.projection_mass > 0):
        raise bad_value("--projection-mass", args.projection_mass, "a positive WIMP mass in GeV")
    if args.models and args.study in studies.INPUT_STUDIES:
        raise ConfigError(f"--models: only for the pca and projections studies; {args.study} "
                          "trains its own networks, one per input set")
    if args.masses is not None and args.study == "projections":  # it would be ignored
        raise ConfigError("--masses: not for the projections study; it shows one network, the "
                          "one at --projection-mass")
    config, sample_settings = _configs(args, prompt_fraction=args.study == "prompt_fraction")
    provider = _samples(sample_settings)
    masses = None if args.study == "pca" else [args.projection_mass]
    models = load_models(args.models) if args.models else None
    if models is not None:  # applied to the samples of --detector
        from wimpsift.pipelines.sensitivity import check_trained_for

        check_trained_for(models, provider.detector.model_dump(mode="json"),
                          ("--detector's", "given by --detector"))
    if models is not None and masses is not None:
        if args.projection_mass not in models:
            raise ConfigError(f"--projection-mass: {args.projection_mass:g} GeV is not "
                              f"among the trained masses {sorted(models)}")
        models = {args.projection_mass: models[args.projection_mass]}
    elif models is not None and args.masses is not None:  # pca: the trained masses asked for
        missing = [m for m in args.masses if m not in models]
        if missing:
            raise ConfigError(f"--masses: {missing[0]:g} GeV is not among the trained masses "
                              f"{sorted(models)}")
        models = {m: model for m, model in models.items() if m in args.masses}
    record = provenance({"study": args.study, "discriminant": config, "samples": sample_settings,
                         "models": args.models, "projection_mass_gev": args.projection_mass},
                        args.seed, "nn.study")
    out.mkdir(parents=True, exist_ok=True)  # after validation: a refused run leaves nothing
    try:
        table = _run_study(args, config, provider, models, masses, sample_settings, out, record)
    except DataError as err:  # a mass whose signal is too rare to check
        raise renamed(err, _TRAINING_OPTIONS) from None
    if args.json:
        print(json.dumps({"study": args.study, "table": _records(table)}, indent=1))
    else:
        _log(f"wrote {out}")
    return 0
