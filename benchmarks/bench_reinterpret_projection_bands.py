"""Why our XENONnT projection's lower bands sit above the published ones.

For 10 and 50 GeV/c² (paper's halo, the first ``N_TOYS`` toy data sets of
xe-likelihood's XENONnT 20 t·yr projection) it prints, for the package's own recipe
(per toy the chi2(1) 90 % limit of the summed per-bin curves, then percentiles at
Phi(-2..2), as ``BinwiseInference.compute_uls`` / ``compute_ul_percentiles`` do):

* each band over the published one (``xenonnt_projection_SI_20ty.csv``, arXiv 2007.08796);
* each band over our median, beside the published band over its median;
* the same with the one-sided threshold chi2 = 1.64 instead of 2.71;
* the share of toys whose best fit is at zero signal, and the share of (toy, bin)
  curves whose minimum is the first point of the signal axis (signal 0).

Usage: ``python benchmarks/bench_reinterpret_projection_bands.py`` (about 40 s).
"""

from __future__ import annotations

import json
import time

import numpy as np
from scipy import stats

from wimpsift.stats.reinterpret import (
    BAND_QUANTILES,
    SIGMA_REF_CM2,
    XENON1T_2018_HALO,
    ReinterpretConfig,
    inference,
    limits_for_mass,
    published_curve,
    upper_limit_from_llr,
)

N_TOYS = 300
THRESHOLDS = {"chi2_2.71": float(stats.chi2(1).isf(0.1)), "one_sided_1.64": float(stats.norm.isf(0.1) ** 2)}


def main() -> None:
    started = time.perf_counter()
    config = ReinterpretConfig(experiment="xenonnt_20ty", halo=XENON1T_2018_HALO, n_toys=5)
    curve = published_curve("xenonnt_20ty")
    inf = inference("xenonnt_20ty")
    at_zero_axis = np.mean([np.argmin(inf.likelihood_matrix[r], axis=1) == 0 for r in range(N_TOYS)])
    out: dict[str, object] = {"n_toys": N_TOYS,
                              "bin_curves_minimum_at_zero_signal": round(float(at_zero_axis), 3)}
    for mass in (10.0, 50.0):
        limits_for_mass(mass, config)  # sets the spectrum
        curves = [inf.compute_likelihood_ratio(run=r) for r in range(N_TOYS)]
        i = int(np.flatnonzero(curve["mass_gev"] == mass)[0])
        row: dict[str, object] = {
            "toys_best_fit_zero": round(float(np.mean([f.x[np.argmin(f.y)] == 0 for f in curves])), 3),
            "published_over_median": {k: round(float(curve[k][i] / curve["median"][i]), 3)
                                      for k in BAND_QUANTILES},
        }
        for name, value in THRESHOLDS.items():
            mus = np.array([upper_limit_from_llr(f.x, f.y, lambda m, v=value: np.full(np.shape(m), v))
                            for f in curves])
            q = {k: float(np.quantile(mus, stats.norm.cdf(n))) for k, n in BAND_QUANTILES.items()}
            row[name] = {
                "ours_over_published": {k: round(q[k] * SIGMA_REF_CM2 / curve[k][i], 3) for k in q},
                "ours_over_median": {k: round(q[k] / q["median"], 3) for k in q},
            }
        out[f"{mass:g}"] = row
        print(f"{mass:g} GeV: {json.dumps(row)}")
    print(f"wall {time.perf_counter() - started:.1f} s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
