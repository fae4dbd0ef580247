"""Benchmark of the neural-discriminant stage (issue 5).

1. Time of one MI estimate on 10^5 weighted events: the 1-D network output and the 4-D
   inputs, each with and without the disjoint-subset error (5 subsets).
2. Time to train the networks of all masses sequentially (transfer learning) against
   independently, on the same simulated LUX 2013 samples, measured side by side in one
   run (simulation time excluded; MI checks and automatic retraining included).

The last line printed is one JSON object with every number.

    python benchmarks/bench_mi.py                 # 22 masses, 3000 events per source
    python benchmarks/bench_mi.py --quick         # 4 masses, smaller samples
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch
from _bench_cli import Parser, at_least, run

from wimpsift.metrics.mutual_information import mutual_information
from wimpsift.training.discriminant import DEFAULT_MASSES_GEV, train_masses, validated_config
from wimpsift.training.samples import EventSamples, validated_sample_config


def bench_mi(n_events: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n_events) < 0.3).astype(int)
    x = rng.normal(size=(n_events, 4))
    x[:, 2] += 1.5 * y
    x[:, 3] += 0.5 * x[:, 2] - 0.8 * y
    w = np.where(y == 1, 7.0 / 3.0, 1.0) * rng.uniform(0.5, 1.5, n_events)
    out: dict[str, float] = {"mi_n_events": n_events}
    for label, data in (("1d", x[:, 2] - x[:, 3]), ("4d", x)):
        for subsets in (1, 5):
            t0 = time.perf_counter()
            r = mutual_information(data, y, w, k=5, n_subsets=subsets)
            out[f"mi_{label}_subsets{subsets}_seconds"] = time.perf_counter() - t0
            out[f"mi_{label}_bits"] = r.mi_bits
    return out


def bench_training(masses: list[float], n_per_source: int, cache_dir: str | None,
                   seed: int = 0) -> dict[str, float]:
    samples = EventSamples(validated_sample_config(
        n_signal=n_per_source, n_background_per_source=n_per_source,
        max_simulated=2_000_000, seed=seed, cache_dir=cache_dir))
    t0 = time.perf_counter()
    tables = {m: samples.for_mass(m) for m in masses}
    out: dict[str, float] = {"training_masses": len(masses), "events_per_source": n_per_source,
                             "simulation_seconds": time.perf_counter() - t0}
    for mode in ("sequential", "independent"):
        config = validated_config(masses_gev=masses, mode=mode, seed=seed)
        t0 = time.perf_counter()
        models = train_masses(config, samples=tables.__getitem__)
        out[f"{mode}_seconds"] = time.perf_counter() - t0
        out[f"{mode}_epochs"] = sum(a["epochs"] for m in models.values() for a in m.history)
        out[f"{mode}_retrained_masses"] = sum(m.metrics["n_attempts"] > 1 for m in models.values())
        out[f"{mode}_min_mi_ratio"] = min(m.metrics["mi_ratio"] for m in models.values())
    out["independent_over_sequential_time"] = out["independent_seconds"] / out["sequential_seconds"]
    return out


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 masses, 1500 events per source")
    parser.add_argument("--mi-events", type=at_least(100), default=100_000)
    parser.add_argument("--events-per-source", type=at_least(11), default=3000)
    parser.add_argument("--cache-dir", default=None, help="Parquet cache of the samples")
    args = parser.parse_args()
    torch.set_num_threads(1)
    masses = [10.0, 30.0, 100.0, 1000.0] if args.quick else list(DEFAULT_MASSES_GEV)
    n_per_source = 1500 if args.quick else args.events_per_source
    result = {"torch_threads": torch.get_num_threads()}
    result.update(bench_mi(args.mi_events))
    for key, value in result.items():
        print(f"{key:40s} {value:.4g}" if isinstance(value, float) else f"{key:40s} {value}")
    training = bench_training(masses, n_per_source, args.cache_dir)
    for key, value in training.items():
        print(f"{key:40s} {value:.4g}" if isinstance(value, float) else f"{key:40s} {value}")
    result.update(training)
    print(json.dumps(result))


if __name__ == "__main__":
    run(main)
