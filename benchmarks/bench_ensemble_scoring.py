"""Benchmark: the CNN ensembles' test-event scoring in process against a local cluster.

The all-backgrounds comparison scores its test events with three CNN ensembles (binary,
active-volume binary, multi-class) of ``--members`` networks each
(:meth:`wimpsift.training.background_classifiers.Classifiers.scores`). This script times that
step on ``--events`` images of the quick scale's shape (real WIMP and ER hit-peak images
of the xenon1t_sr0 detector, repeated) three ways in the same run:

- the baseline: in this process with as many torch threads as the machine gives
  (what ``scores`` did before its members became tasks);
- in this process, one torch thread per member (what it does now without workers);
- on ``--workers`` local Dask processes (cluster start included), every member a task.

The networks are fitted for one epoch on 200 of the images (prediction time does not
depend on the weights) and warmed up on 100 before the clocks start. Prints each wall
time and the ratios to the baseline, and whether the workers' outputs equal the
one-thread in-process outputs bit for bit: they must, or the script exits 1. The last
line of the output is JSON.

Usage::

    python benchmarks/bench_ensemble_scoring.py [--events 40000] [--members 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=40000)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.events < 1 or args.members < 1 or args.workers < 2:
        print("--events, --members: expected >= 1; --workers: expected >= 2",
              file=sys.stderr)
        return 2

    import numpy as np
    import torch

    from wimpsift.detectors import load_detector
    from wimpsift.execution import Executor, execution_config
    from wimpsift.training.mix_samples import simulate_mix
    from wimpsift.training.weighted_cnn import (
        WeightedCNNEnsemble,
        fit_ensembles,
        predict_ensembles,
    )

    mix = simulate_mix(load_detector("xenon1t_sr0"), {"wimp": 100, "er": 100}, 1,
                       "hitpeak", 10, 500.0, None)
    images = mix.images[np.arange(args.events) % len(mix.images)]
    labels = (mix.table["source"] == "wimp").to_numpy(int)
    fit_rows = np.arange(min(200, len(labels)))
    ensembles = {name: WeightedCNNEnsemble(args.members, n_classes, random_state=seed,
                                           epochs=1)
                 for name, n_classes, seed in (("binary", 2, 1), ("binary_active", 2, 2),
                                               ("multiclass", 3, 3))}
    fit_ensembles({name: (e, mix.images[fit_rows], labels[fit_rows] * (e.members[0].n_classes
                                                                        - 1),
                          np.ones(len(fit_rows)), None)
                   for name, e in ensembles.items()})
    jobs = {name: (e, images, None) for name, e in ensembles.items()}
    predict_ensembles({name: (e, images[:100], None) for name, e in ensembles.items()})

    members = [m for e in ensembles.values() for m in e.members]
    for m in members:
        m.threads = torch.get_num_threads()
    t0 = time.perf_counter()
    predict_ensembles(jobs)
    all_threads_s = time.perf_counter() - t0
    for m in members:
        m.threads = 1
    t0 = time.perf_counter()
    here = predict_ensembles(jobs)
    one_thread_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with Executor(execution_config(parallel=True, n_workers=args.workers,
                                   progress=False)) as executor:
        there = predict_ensembles(jobs, executor)
    workers_s = time.perf_counter() - t0
    same = all(np.array_equal(here[name], there[name]) for name in jobs)
    result = {"events": args.events, "members": args.members, "workers": args.workers,
              "image_shape": list(images.shape[1:]),
              "in_process_all_threads_s": round(all_threads_s, 2),
              "torch_threads": torch.get_num_threads(),
              "in_process_one_thread_s": round(one_thread_s, 2),
              "local_cluster_s": round(workers_s, 2),
              "speed_up_cluster": round(all_threads_s / workers_s, 3),
              "speed_up_one_thread": round(all_threads_s / one_thread_s, 3),
              "same_bits": same}
    print(f"{3 * args.members} networks x {args.events} events: in process "
          f"({torch.get_num_threads()} threads) {all_threads_s:.1f} s, one thread "
          f"{one_thread_s:.1f} s, {args.workers} workers {workers_s:.1f} s (cluster start "
          f"included): speed-up {all_threads_s / workers_s:.2f}; same outputs: {same}")
    print(json.dumps(result))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
