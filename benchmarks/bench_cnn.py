"""Benchmark of the CNN stage: training throughput and the grid search's cost.

1. Training images/s of the seed CNN (1 conv block, batch 100) on 75x75 (HitPeak) and
   50x100 (Hit/Peak) images, one torch thread, CPU (or the device given).
2. Cost of the seed's whole three-stage search (layers x batch x epochs, then alpha, then
   learning rate; 3-fold CV), measured side by side in this run on the same data, one
   thread, in process:

   * ``naive``: what a plain scikit-learn ``GridSearchCV`` per stage does, one training
     per (configuration, epochs, fold), nothing shared between stages;
   * ``checkpoint``: wimpsift's exhaustive search (epochs read as checkpoints of one
     training; a trial shared by two stages trained once). Its scores must equal the
     naive ones, and its cost cannot go below the epoch ratio printed as ``ideal``
     (0.2625 for the seed's grid);
   * ``halving``: the same search with successive halving over the epoch grid
     (``halving_factor``), continuing the surviving trainings from their saved state.
     Its scores must equal the exhaustive ones where both exist; the script says
     whether it chose the same hyperparameters.

   The epoch grid is the seed's {20, 30, 40, 50, 60} divided by ``--epoch-scale``.
   Images are a synthetic low-contrast toy unless ``--images`` names a dataset written
   by ``wimpsift images`` (``imgs/images.h5``).

The last line is JSON.  Usage: ``python benchmarks/bench_cnn.py [--events 300]``
(about 6 minutes on one core at the defaults).
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import torch
from _bench_cli import Parser, at_least, run

from wimpsift.allocator import tune_allocator
from wimpsift.training.cnn_estimator import CNNClassifier
from wimpsift.training.grid_search import (
    GridSearchResult,
    grid_config,
    grid_search,
    run_trial,
    stratified_folds,
)


def toy_images(n: int, shape: tuple[int, int], seed: int = 0,
               contrast: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = (rng.random((n, *shape)) * 0.5).astype(np.float32)
    y = rng.integers(0, 2, n)
    X[y == 1, 10:20, 10:20] += contrast
    return X, y


def real_images(path: str, kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from wimpsift.images.dataset import load_images

    X, y, _ = load_images(path, kind)
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(y), size=min(n, len(y)), replace=False))
    return X[take], y[take]


def throughput(device: str, events: int) -> dict[str, float]:
    out = {}
    for name, shape in {"hitpeak_75x75": (75, 75), "hit_50x100": (50, 100)}.items():
        X, y = toy_images(events, shape)
        CNNClassifier(epochs=1, batch_size=100, device=device).fit(X[:200], y[:200])
        clf = CNNClassifier(epochs=2, batch_size=100, device=device).fit(X, y)
        out[name] = clf.images_per_s_
        print(f"training {name}: {clf.images_per_s_:.0f} images/s "
              f"({clf.n_parameters_} parameters)", flush=True)
    return out


def naive_search(X: np.ndarray, y: np.ndarray, exhaustive: GridSearchResult,
                 threads: int) -> tuple[float, bool]:
    """Retrain every (stage, configuration, fold) of the exhaustive search once per grid
    epoch; returns the time and whether every score equals the exhaustive one."""
    cfg = exhaustive.config
    folds = stratified_folds(y, cfg.n_splits, cfg.random_state)
    y01 = y.astype(np.float32)
    same = True
    t0 = time.perf_counter()
    for trial in exhaustive.trials:
        params = {**trial.params, "num_threads": threads, "verbose": False}
        for e in cfg.epochs:
            score = run_trial(X, y01, *folds[trial.fold], params, [e])["scores"][str(e)]
            same &= score == trial.result["scores"][str(e)]  # type: ignore[index]
    return time.perf_counter() - t0, same


def rows_agree(a: GridSearchResult, b: GridSearchResult) -> tuple[bool, int]:
    """Whether every table row of ``b`` that ``a`` also has is identical, and how many.
    (After a different stage-1 choice the later stages' rows have no counterpart.)"""
    def key(r: dict[str, Any]) -> tuple:
        return (r["stage"], r["n_conv_layers"], r["batch_size"], r["leaky_alpha"],
                r["learning_rate"], r["epochs"])

    ref = {key(r): r for r in a.rows()}
    common = [r for r in b.rows() if key(r) in ref]
    return all(ref[key(r)] == r for r in common), len(common)


def stage1_choices(exhaustive: GridSearchResult, halving: GridSearchResult
                   ) -> dict[str, dict[str, Any]]:
    """Stage 1's choice of each search, both scored in the exhaustive table (mean, std)."""
    table = {(r["n_conv_layers"], r["batch_size"], r["epochs"]): r
             for r in exhaustive.rows("layers_batch_epochs")}
    out = {}
    for name, result in (("checkpoint", exhaustive), ("halving", halving)):
        best = result.stage_best["layers_batch_epochs"]
        row = table[(best["n_conv_layers"], best["batch_size"], best["epochs"])]
        out[name] = {"n_conv_layers": row["n_conv_layers"], "batch_size": row["batch_size"],
                     "epochs": row["epochs"], "exhaustive_mean": round(row["mean"], 4),
                     "exhaustive_std": round(row["std"], 4)}
    return out


def main() -> None:
    tune_allocator()  # as the command line does
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=at_least(1), default=300, help="images in the search")
    parser.add_argument("--epoch-scale", type=at_least(1), default=10,
                        help="divide the seed's epoch grid by this (default 10: 2..6)")
    parser.add_argument("--halving-factor", type=at_least(2), default=3)
    parser.add_argument("--images", help="an image dataset (HDF5) instead of the toy")
    parser.add_argument("--kind", default="hitpeak", help="image kind of --images")
    parser.add_argument("--no-naive", action="store_true",
                        help="skip naive retraining (compare checkpoint and halving only)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=at_least(1), default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    speed = throughput(args.device, 600)

    epochs = sorted({max(1, e // args.epoch_scale) for e in (20, 30, 40, 50, 60)})
    if args.images:
        X, y = real_images(args.images, args.kind, args.events, seed=1)
    else:
        X, y = toy_images(args.events, (75, 75), seed=1, contrast=0.12)
    settings = {"epochs": epochs, "executor": "serial", "progress": False,
                "threads_per_trial": args.threads,
                "estimator_params": {"device": args.device}}
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    exhaustive = grid_search(X, y, grid_config(**settings))
    timings["checkpoint"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    halving = grid_search(X, y, grid_config(**settings, halving_factor=args.halving_factor))
    timings["halving"] = time.perf_counter() - t0
    naive_epochs = len(exhaustive.trials) * sum(epochs)
    equal, n_common = rows_agree(exhaustive, halving)
    report: dict[str, Any] = {
        "grid_epochs": epochs, "events": int(len(y)), "images": args.images or "toy",
        "train_images_per_s": {k: round(v, 1) for k, v in speed.items()},
        "epochs_trained": {"naive": naive_epochs,
                           "checkpoint": exhaustive.epochs_trained(),
                           "halving": halving.epochs_trained()},
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "halving_factor": args.halving_factor,
        "halving_rows_equal_exhaustive": equal, "halving_rows_compared": n_common,
        "halving_same_choice": halving.best_params == exhaustive.best_params,
        "best_params": {"checkpoint": exhaustive.best_params, "halving": halving.best_params},
        "best_score": {"checkpoint": exhaustive.best_score, "halving": halving.best_score},
        "stage1_choice": stage1_choices(exhaustive, halving),
        "threads": args.threads, "device": args.device, "target_ratio": 0.25,
    }
    ideal = exhaustive.epochs_trained() / naive_epochs
    print(f"checkpoint: {timings['checkpoint']:.1f} s, {exhaustive.epochs_trained()} epochs; "
          f"halving (eta {args.halving_factor}): {timings['halving']:.1f} s, "
          f"{halving.epochs_trained()} epochs; same choice: {report['halving_same_choice']}",
          flush=True)
    if not args.no_naive:
        t_naive, same = naive_search(X, y, exhaustive, args.threads)
        timings["naive"] = t_naive
        report["seconds"]["naive"] = round(t_naive, 2)
        report["naive_scores_equal_checkpoint"] = same
        report["checkpoint_over_naive"] = round(timings["checkpoint"] / t_naive, 3)
        report["halving_over_naive"] = round(timings["halving"] / t_naive, 3)
        print(f"naive: {t_naive:.1f} s, {naive_epochs} epochs; checkpoint/naive "
              f"{report['checkpoint_over_naive']:.3f} (ideal {ideal:.3f}), halving/naive "
              f"{report['halving_over_naive']:.3f}; target <= 0.25; identical scores: {same}",
              flush=True)
    report["ideal_checkpoint_over_naive"] = round(ideal, 4)
    print(json.dumps(report))


if __name__ == "__main__":
    run(main)
