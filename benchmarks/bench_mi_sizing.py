"""How large must the MI test set be for the completion rule's 1 % error?

The completion rule (:func:`wimpsift.metrics.mutual_information.mi_completion`) compares
the output and input MI of a trained discriminant with their combined error and calls
the comparison unresolved unless that error is at most 1 % of the input MI. This script
measures the combined relative error against the size of the test set on a small run
and extrapolates it to the size that meets a target:

1. LUX 2013 samples (``--n-per-source`` events per source, cached as the LUX
   reproduction caches them) and, for each ``--masses``, the 4-D discriminant trained as
   in ``wimpsift reproduce lux`` (no transfer between masses);
2. the first fraction ``f`` of every source's test split, for each ``--fractions``: input
   and output MI with their disjoint-subset errors, combined relative error;
3. a least-squares fit of log(relative error) against log(test events) per mass (slope
   -0.5 for an error that falls as 1/sqrt(n)) and the test events, and events per
   source, at which the fitted error reaches ``--target`` (default 0.7 %: the 1 %
   bound with room for the scatter of a 5-subset error estimate, about 35 %).

The last line printed is JSON with every number.

    python benchmarks/bench_mi_sizing.py --cache-dir /tmp/lux/cache/samples
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _bench_cli import Parser, at_least, positive, run  # noqa: E402
from _bench_cli import fraction as share  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--masses", type=positive, nargs="+", default=[10.0, 1000.0])
    p.add_argument("--n-per-source", type=at_least(11), default=3000, help="events per source (signal too)")
    p.add_argument("--fractions", type=share, nargs="+", default=[0.25, 0.5, 1.0],
                   help="fractions of each source's test split")
    p.add_argument("--target", type=share, default=0.007, help="relative combined error to reach")
    p.add_argument("--epochs", type=at_least(1), default=20)
    p.add_argument("--cache-dir", default=os.path.join(os.path.expanduser("~"), ".cache", "wimpsift",
                                                       "bench", "samples"))
    p.add_argument("--seed", type=at_least(0), default=0)
    args = p.parse_args(argv)
    if len(set(args.fractions)) < 2:
        p.error(f"argument --fractions: expected two or more different fractions (the error is "
                f"fitted against the test set's size), got {args.fractions}")
    return args


def first_fraction(test: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """The first ``fraction`` of every source's events."""
    return pd.concat([g.iloc[: max(1, int(round(fraction * len(g))))]
                      for _, g in test.groupby("source", sort=True)], ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from wimpsift.metrics.mutual_information import mi_completion, mutual_information
    from wimpsift.models.dense import input_matrix
    from wimpsift.training.discriminant import balanced_weights, train_one_mass, validated_config
    from wimpsift.training.samples import EventSamples, validated_sample_config

    torch.set_num_threads(1)
    samples = EventSamples(validated_sample_config(
        n_signal=args.n_per_source, n_background_per_source=args.n_per_source, seed=args.seed,
        cache_dir=args.cache_dir))
    config = validated_config(masses_gev=args.masses, epochs_from_scratch=args.epochs, seed=args.seed)
    n_sources = 1 + len(samples.background_names)
    out: dict = {"n_per_source": args.n_per_source, "target_relative_error": args.target,
                 "k": config.mi_k, "n_subsets": config.mi_subsets, "masses": {}}
    for mass in sorted(args.masses):
        table = samples.for_mass(mass)
        model = train_one_mass(mass, table, config.model_copy(update={"masses_gev": [mass]}))
        test = table[table["split"] == "test"]
        rows = []
        for fraction in sorted(args.fractions):
            sub = first_fraction(test, fraction)
            y = sub["label"].to_numpy(dtype=int)
            w = balanced_weights(y, sub["weight"].to_numpy(dtype=float))
            t0 = time.perf_counter()
            mi_in = mutual_information(input_matrix(sub, model.inputs), y, w, k=config.mi_k,
                                       n_subsets=config.mi_subsets, seed=config.seed)
            mi_out = mutual_information(model.logit(sub), y, w, k=config.mi_k,
                                        n_subsets=config.mi_subsets, seed=config.seed)
            rule = mi_completion(mi_out, mi_in)
            rows.append({"test_events": len(sub), "input_mi_bits": mi_in.mi_bits,
                         "input_error_bits": mi_in.error_bits, "output_mi_bits": mi_out.mi_bits,
                         "output_error_bits": mi_out.error_bits, "relative_error": rule["relative_error"],
                         "seconds": time.perf_counter() - t0})
            print(f"{mass:g} GeV: {len(sub)} test events, MI in {mi_in.mi_bits:.4f} ± "
                  f"{mi_in.error_bits:.4f}, out {mi_out.mi_bits:.4f} ± {mi_out.error_bits:.4f}, "
                  f"relative combined error {rule['relative_error']:.4f}", file=sys.stderr)
        n = np.log([r["test_events"] for r in rows])
        e = np.log([r["relative_error"] for r in rows])
        slope, intercept = np.polyfit(n, e, 1)
        # the fitted slope, and 1/sqrt(n) from the largest set (the estimator's scaling)
        fitted = float(np.exp((np.log(args.target) - intercept) / slope)) if slope < 0 else None
        largest = rows[-1]
        sqrt_law = largest["test_events"] * (largest["relative_error"] / args.target) ** 2
        out["masses"][f"{mass:g}"] = {
            "rows": rows, "fitted_slope": float(slope),
            "test_events_for_target_fitted": fitted,
            "test_events_for_target_sqrt_law": float(sqrt_law),
            "events_per_source_for_target": float(max(fitted or 0.0, sqrt_law) / n_sources),
        }
    out["events_per_source_for_target"] = max(m["events_per_source_for_target"]
                                              for m in out["masses"].values())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    run(main)
