"""90 % CL coverage of both analyses at a small MC size, with enough experiments to say.

The model of ``tests/stats/test_comparison.py``: an ER band (200 expected events) and a
flat wall background (10), 3000 and 1000 simulated events, a WIMP population below the
ER band (2000 events), a fixed discriminant (distance below the ER band), the
traditional analysis on coarse (2, 2, 6, 6) bins, 200 toys per strength. Signal is
injected at the network analysis' asymptotic median expected limit into
``--n-pseudo-experiments`` event-level experiments per mass drawn from an independent
simulation; the coverage is the fraction of their 90 % CL limits at or above the
injected strength, with its binomial error. The test runs 200 experiments (about 2 %
error per mass); this benchmark runs enough (default 1000 per mass) to decide whether
an analysis under-covers at this MC size. The last line is JSON.

    python benchmarks/bench_coverage.py --n-pseudo-experiments 1000
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# the test's model itself (tests/stats/band_model.py), so the benchmark measures what the test runs
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "stats"))
from _bench_cli import Parser, at_least, run  # noqa: E402
from band_model import BandScorer  # noqa: E402
from band_model import band_source as source  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--n-pseudo-experiments", type=at_least(1), default=1000)
    p.add_argument("--n-toys", type=at_least(1), default=200)
    p.add_argument("--seed", type=at_least(0), default=0)
    args = p.parse_args(argv)

    from wimpsift.detectors import load_detector
    from wimpsift.stats.comparison import ComparisonConfig, compare_analyses
    from wimpsift.stats.distributed import DaskConfig
    from wimpsift.stats.limits import LimitConfig

    rng = np.random.default_rng(0)  # the test's events
    background = pd.concat([source("er", 3000, False, 0, 200.0, rng),
                            source("wall", 1000, False, 0, 10.0, rng)])
    tables = {m: pd.concat([background, source("wimp", 2000, True, 1, 5.0 * m / 50.0, rng)],
                           ignore_index=True) for m in (20.0, 50.0)}
    pool = pd.concat([source("er", 3000, False, 0, 200.0, rng), source("wall", 1000, False, 0, 10.0, rng),
                      source("wimp", 2000, True, 1, 5.0, rng)])
    config = ComparisonConfig.build(
        n_bins=10, traditional_bins=(2, 2, 6, 6), seed=args.seed,
        limits=LimitConfig.build(method="toys", n_toys=args.n_toys, n_background_toys=args.n_toys,
                                 mu_grid_points=10, seed=args.seed),
        dask=DaskConfig.build(synchronous=True, progress=False),
        n_pseudo_experiments=args.n_pseudo_experiments)
    t0 = time.process_time()
    result = compare_analyses([20.0, 50.0], tables.__getitem__, lambda m, t, prev: (BandScorer(), None),
                              load_detector("lux_2013"), 1e-45, config, pool_for_mass=lambda m: pool)
    out: dict[str, object] = {"n_pseudo_experiments": args.n_pseudo_experiments, "n_toys": args.n_toys,
                              "cpu_s": time.process_time() - t0}
    for m in (20.0, 50.0):
        for name, res in (("network", result.network[m]), ("traditional", result.traditional[m])):
            e = res.extra
            print(f"{m:g} GeV {name:>12}: coverage {e['coverage']:.3f} ± {e['coverage_error']:.3f} "
                  f"(beyond grid {e['coverage_fraction_beyond_grid']:.3f})", file=sys.stderr)
            out[f"coverage_{name}_{m:g}"] = e["coverage"]
            out[f"coverage_error_{name}_{m:g}"] = e["coverage_error"]
    summary = result.comparison()
    for k in ("coverage_network", "coverage_error_network", "coverage_traditional",
              "coverage_error_traditional"):
        out[k] = summary[k]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    run(main)
