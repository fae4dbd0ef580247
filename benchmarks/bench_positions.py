"""Measurement: CNN position reconstruction against the likelihood fit, and their speed.

Trains the position CNN (:mod:`wimpsift.training.position`) on ``--train-events``
simulated S2 hit patterns (assumed, mismatched light response), scores it, the
likelihood fit with the mismatched LRF, the likelihood fit with the true LRF and the
centre of gravity on ``--test-events`` waveform-level events (true response), and times
the reconstruction of the same hit patterns by the CNN and by the likelihood fit in the
same run (the ratio is the CNN's speed-up; one torch thread, one process), both the
CNN averaged over the array's symmetries (``cnn``) and applied once (``cnn_single``).

Usage::

    python benchmarks/bench_positions.py [--train-events 20000] [--epochs 15]
        [--test-events 2000] [--output DIR]

With ``--output`` it writes the network, ``metrics.json``, ``position_resolution.csv``
and ``position_resolution.png`` there. The last line of the output is JSON.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from _bench_cli import Parser, at_least, run  # noqa: E402


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-events", type=at_least(1), default=20_000)
    parser.add_argument("--epochs", type=at_least(1), default=15)
    parser.add_argument("--batch-size", type=at_least(1), default=32)
    parser.add_argument("--test-events", type=at_least(1), default=2000)
    parser.add_argument("--seed", type=at_least(0), default=0)
    parser.add_argument("--output", help="directory for the network, metrics and figure")
    args = parser.parse_args()

    import numpy as np
    import torch

    from wimpsift.detectors import load_detector
    from wimpsift.detectors.pmt_arrays import pmt_arrays
    from wimpsift.processing.reconstruction import LrfMismatch, reconstruct_xy_likelihood
    from wimpsift.response.pmt_light import DEFAULT_OPTICS
    from wimpsift.training.position import (
        PositionTrainingConfig,
        evaluate_positions,
        resolution_frame,
        simulate_top_patterns,
        train_position_cnn,
        training_sources,
    )

    torch.set_num_threads(1)
    config = PositionTrainingConfig(n_events=args.train_events, epochs=args.epochs,
                                    batch_size=args.batch_size, seed=args.seed)
    t0 = time.perf_counter()
    model = train_position_cnn(config, progress=True)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = evaluate_positions(model, args.test_events, args.seed + 1000)
    evaluate_s = time.perf_counter() - t0

    detector = load_detector(config.detector)
    arrays = pmt_arrays(detector)
    top, _, _ = simulate_top_patterns(detector, training_sources(detector, 50.0)[0], 2000,
                                      args.seed + 2000, LrfMismatch())
    radius = detector.geometry.tpc_radius_cm
    reconstruct_xy_likelihood(top[:10], arrays, radius, DEFAULT_OPTICS, 1.0, LrfMismatch())
    t0 = time.perf_counter()
    reconstruct_xy_likelihood(top, arrays, radius, DEFAULT_OPTICS, 1.0, LrfMismatch())
    likelihood_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.predict_xy(top)
    cnn_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.predict_xy(top, symmetrised=False)
    cnn_single_s = time.perf_counter() - t0

    summary = {
        "train_events": args.train_events, "epochs": args.epochs,
        "test_events_scored": result["n_test_events"], "train_s": round(train_s, 1),
        "evaluate_s": round(evaluate_s, 1),
        "validation_rms_cm_last_epoch": model.meta["history"][-1],
        **{f"{name}_{key}": value for name, method in result["methods"].items()
           for key, value in method.items() if not key.startswith("vs_")},
        "likelihood_us_per_event": round(1e6 * likelihood_s / len(top), 1),
        "cnn_us_per_event": round(1e6 * cnn_s / len(top), 1),
        "cnn_speedup_vs_likelihood": round(likelihood_s / cnn_s, 2),
        "cnn_single_us_per_event": round(1e6 * cnn_single_s / len(top), 1),
        "cnn_single_speedup_vs_likelihood": round(likelihood_s / cnn_single_s, 2),
    }
    table = resolution_frame(result)
    with np.printoptions(precision=3):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.output:
        from wimpsift.plots.position import plot_position_resolution
        from wimpsift.provenance import provenance, write_json

        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        model.save(out / "position_cnn.pt")
        table.to_csv(out / "position_resolution.csv", index=False)
        plot_position_resolution(result, out / "position_resolution.png")
        write_json(out / "metrics.json", {"position_reconstruction": result, "benchmark": summary,
                                          "provenance": provenance(vars(args), args.seed,
                                                                   "bench_positions")})
    print(json.dumps(summary))


if __name__ == "__main__":
    run(main)
