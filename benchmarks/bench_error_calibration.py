"""Calibration of quoted errors over independent test sets (the audit of the reported
statistics; slower than a unit test).

1. ER rejection at 50 % WIMP acceptance (:func:`background_rejection_at_acceptance`):
   unit Gaussians ``d`` apart; the rejection's sd over test sets against the rms of the
   quoted error, and how often ``rejection ± error`` holds the true ``Phi(d)`` (68 %).
2. Mutual information (:func:`mutual_information`): two 1-D unit Gaussians one sigma
   apart; the estimates' sd against the rms quoted error, and the mean against the
   numerical integral (:func:`gaussian_mixture_mi_bits`).

The last line printed is one JSON object with every number.

    python benchmarks/bench_error_calibration.py            # 2000 / 150 repetitions
    python benchmarks/bench_error_calibration.py --quick    # 300 / 40
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy import stats

from wimpsift.metrics.classification import background_rejection_at_acceptance
from wimpsift.metrics.mutual_information import gaussian_mixture_mi_bits, mutual_information


def rejection_calibration(separation: float, n: int, repeats: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n), np.zeros(n)].astype(int)
    rej, err = np.empty(repeats), np.empty(repeats)
    for i in range(repeats):
        r = background_rejection_at_acceptance(
            y, np.r_[rng.normal(separation, 1, n), rng.normal(0, 1, n)], 0.5)
        rej[i], err[i] = r["background_rejection"], r["background_rejection_error"]
    truth = float(stats.norm.cdf(separation))
    coverage = float(np.mean(np.abs(rej - truth) <= err))
    return {"separation": separation, "n_per_class": n, "true_rejection": truth,
            "sd": float(rej.std(ddof=1)), "rms_error": float(np.sqrt(np.mean(err**2))),
            "coverage_68": coverage, "coverage_sd": float(np.sqrt(0.68 * 0.32 / repeats))}


def mi_calibration(n: int, repeats: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    est, err = np.empty(repeats), np.empty(repeats)
    for i in range(repeats):
        labels = rng.integers(0, 2, n)
        m = mutual_information(rng.standard_normal(n) + labels, labels, seed=i)
        est[i], err[i] = m.mi_bits, m.error_bits
    return {"n_events": n, "truth_bits": gaussian_mixture_mi_bits([[0.0], [1.0]], [[[1.0]], [[1.0]]]),
            "mean_bits": float(est.mean()), "mean_error": float(est.std(ddof=1) / np.sqrt(repeats)),
            "sd": float(est.std(ddof=1)), "rms_error": float(np.sqrt(np.mean(err**2)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rep_rej, rep_mi = (300, 40) if args.quick else (2000, 150)
    out = {"rejection": [rejection_calibration(d, n, rep_rej, i) for i, (d, n) in
                         enumerate([(1.0, 1000), (2.0, 1000), (3.0, 1000), (3.0, 300)])],
           "mutual_information": mi_calibration(2000, rep_mi, 7)}
    for r in out["rejection"]:
        print(f"rejection d={r['separation']} n={r['n_per_class']}: sd {r['sd']:.5f}, rms error "
              f"{r['rms_error']:.5f}, coverage {r['coverage_68']:.3f} +- {r['coverage_sd']:.3f}")
    m = out["mutual_information"]
    print(f"MI: truth {m['truth_bits']:.4f}, mean {m['mean_bits']:.4f} +- {m['mean_error']:.4f}, "
          f"sd {m['sd']:.4f}, rms error {m['rms_error']:.4f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
