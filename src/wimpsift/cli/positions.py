"""``wimpsift positions train|evaluate``: (x, y) reconstruction from S2 hit patterns.

Thin layer: parse, call :mod:`wimpsift.training.position`, write results. ``train``
writes the network (state dict, ``torch.save``); ``evaluate`` writes ``metrics.json``
(``{"position_reconstruction": {...}}`` with provenance), ``position_resolution.csv``
and ``position_resolution.png`` into a directory.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wimpsift.cli import load_detector_option, options, seed
from wimpsift.errors import bad_value

# PositionTrainingConfig's fields as train's options spell them, for error messages
_OPTIONS = options("detector", "epochs", "batch_size", "learning_rate", "seed",
                   n_events="--events")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("positions", help="CNN position reconstruction from S2 hit patterns")
    sub = p.add_subparsers(dest="positions_command", metavar="ACTION", required=True)

    t = sub.add_parser("train", help="simulate S2 hit patterns and train the position CNN")
    t.add_argument("--detector", "-d", default="xenon1t_sr0", help="shipped detector name or TOML path")
    t.add_argument("--events", type=int, default=20_000, help="training events (ER + WIMP)")
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--learning-rate", type=float, default=4e-3,
                   help="peak learning rate of the one-cycle schedule")
    t.add_argument("--no-mismatch", action="store_true",
                   help="train on the true light response instead of the mismatched one")
    t.add_argument("--seed", type=seed, default=0)
    t.add_argument("-o", "--output", required=True, help="output network file (.pt)")
    t.set_defaults(func=_train, output_spec={"suffixes": (".pt",)})

    e = sub.add_parser("evaluate", help="compare the CNN with the likelihood fit on test events")
    e.add_argument("--model", required=True, help="network file written by 'positions train'")
    e.add_argument("--events", type=int, default=2000, help="waveform-level test events")
    e.add_argument("--seed", type=seed, default=1, help="seed of the test events")
    e.add_argument("-o", "--output", required=True, help="output directory")
    e.set_defaults(func=_evaluate, output_spec={"folder": True})


def _train(args: argparse.Namespace) -> int:
    from wimpsift.training.position import PositionTrainingConfig, train_position_cnn

    config = PositionTrainingConfig.from_options(
        _OPTIONS, detector=args.detector, n_events=args.events, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
        **({"lrf_mismatch": None} if args.no_mismatch else {}))
    load_detector_option(config.detector)  # a bad name fails before any simulation
    reconstructor = train_position_cnn(config, progress=sys.stderr.isatty())
    reconstructor.save(args.output)
    print(json.dumps({"model": args.output, "validation_rms_cm": reconstructor.meta["history"]}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from wimpsift.plots.position import plot_position_resolution
    from wimpsift.provenance import atomic_path, provenance, write_json
    from wimpsift.training.position import (
        MAX_EVENTS,
        evaluate_positions,
        load_position_model,
        resolution_frame,
    )

    if not 2 <= args.events <= MAX_EVENTS:
        raise bad_value("--events", args.events, f"2 to {MAX_EVENTS:,} test events")
    out = Path(args.output)
    model = load_position_model(args.model, "--model")
    out.mkdir(parents=True, exist_ok=True)
    result = evaluate_positions(model, args.events, args.seed)
    with atomic_path(out / "position_resolution.csv") as tmp:
        resolution_frame(result).to_csv(tmp, index=False)
    config = {"model": str(args.model), "model_provenance": model.meta.get("provenance"),
              "events": args.events}
    record = provenance(config, args.seed, "positions")
    plot_position_resolution(result, out / "position_resolution.png", provenance=record)
    write_json(out / "metrics.json", {"position_reconstruction": result, "provenance": record})
    print(json.dumps({k: result[k] for k in ("cnn_rms_cm", "likelihood_rms_cm",
                                             "likelihood_true_lrf_rms_cm",
                                             "centre_of_gravity_rms_cm")}))
    return 0
