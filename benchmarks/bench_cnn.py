"""Benchmark of the CNN stage: training throughput and the grid search's checkpoint saving.

1. Training images/s of the seed CNN (1 conv block, batch 100) on 75x75 (HitPeak) and
   50x100 (Hit/Peak) images, one torch thread, CPU (or the device given).
2. Grid-search cost, measured side by side in this run on the same data and trials:
   *checkpoint epochs* (one training of max(epochs) per configuration and fold, the
   validation fold scored at every epoch of the grid, as wimpsift does) against *naive
   retraining* (one training per epoch value, as a plain GridSearchCV over epochs does).
   The epoch grid is the seed's {20, 30, 40, 50, 60} divided by ``--epoch-scale``.
   For this grid the ratio cannot go below max/sum = 60/200 = 0.30 of the training
   work, plus the evaluation; the script prints both the measured and the ideal ratio.

The last line is JSON.  Usage: ``python benchmarks/bench_cnn.py [--events 600]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from wimpsift.training.cnn_estimator import CNNClassifier
from wimpsift.training.grid_search import run_trial, stratified_folds


def images(n: int, shape: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = (rng.random((n, *shape)) * 0.5).astype(np.float32)
    y = rng.integers(0, 2, n)
    X[y == 1, 10:20, 10:20] += 0.4
    return X, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600, help="images per measurement")
    parser.add_argument("--epoch-scale", type=int, default=10,
                        help="divide the seed's epoch grid by this (default 10: 2..6)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    throughput = {}
    for name, shape in {"hitpeak_75x75": (75, 75), "hit_50x100": (50, 100)}.items():
        X, y = images(args.events, shape)
        CNNClassifier(epochs=1, batch_size=100, device=args.device).fit(X[:200], y[:200])
        clf = CNNClassifier(epochs=2, batch_size=100, device=args.device).fit(X, y)
        throughput[name] = clf.images_per_s_
        print(f"training {name}: {clf.images_per_s_:.0f} images/s "
              f"({clf.n_parameters_} parameters)", flush=True)

    seed_epochs = [20, 30, 40, 50, 60]
    grid = sorted({max(1, e // args.epoch_scale) for e in seed_epochs})
    X, y = images(args.events, (75, 75), seed=1)
    train_idx, val_idx = stratified_folds(y, 3, 0)[0]
    params = {"batch_size": 100, "random_state": 0, "device": args.device,
              "num_threads": args.threads}
    y01 = y.astype(np.float32)

    run_trial(X, y01, train_idx, val_idx, params, [1])  # warm-up: allocator, kernels
    t0 = time.perf_counter()
    ckpt = run_trial(X, y01, train_idx, val_idx, params, grid)
    t_ckpt = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = {}
    for e in grid:
        naive[str(e)] = run_trial(X, y01, train_idx, val_idx, params, [e])["scores"][str(e)]
    t_naive = time.perf_counter() - t0
    same = all(ckpt["scores"][k] == v for k, v in naive.items())
    ratio = t_ckpt / t_naive
    ideal = max(grid) / sum(grid)
    print(f"grid epochs {grid}: checkpoint {t_ckpt:.1f} s, naive {t_naive:.1f} s, "
          f"ratio {ratio:.3f} (ideal max/sum {ideal:.3f}; target <= 0.25); "
          f"identical scores: {same}", flush=True)
    print(json.dumps({
        "train_images_per_s": {k: round(v, 1) for k, v in throughput.items()},
        "grid_epochs": grid, "checkpoint_s": round(t_ckpt, 2), "naive_s": round(t_naive, 2),
        "checkpoint_over_naive": round(ratio, 3), "ideal_ratio": round(ideal, 3),
        "target_ratio": 0.25, "identical_scores": same, "events": args.events,
        "threads": args.threads, "device": args.device,
    }))


if __name__ == "__main__":
    main()
