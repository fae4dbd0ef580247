"""What moves the XENON1T reinterpretation away from the published curve at low mass.

For 6, 10 and 30 GeV/c² (control) it prints our observed SI limit divided by the
published one (xe-likelihood's ``xenon1t_1ty.csv``, arXiv 1805.12562) for:

* ``paper``: the paper's halo (v0 220, v_esc 544 km/s, rho 0.3, Earth 232 km/s), 4
  Gauss-Legendre points per 0.25 keV true bin, asymptotic threshold (our default);
* ``earth_wimprates``: the same with wimprates' Earth speed for v0 = 220 (234.4 km/s);
* ``halo_2021``: v0 238 km/s, wimprates' Earth speed (252 km/s);
* ``midpoint`` / ``gl16``: 1 or 16 points per bin instead of 4;
* ``coarse_1kev``: the spectrum sampled every 1 keV and linearly interpolated (as a
  ``Spectrum.from_sample`` user would do), integrated by the package's own ``quad``;
* ``neyman``: the package's conservative Neyman threshold instead of chi2;

and, for the paper's halo, the kinematic end point of the recoil spectrum, the share of
the detected signal from true energies below 3 keV and the detection efficiency there.
Usage: ``python benchmarks/bench_reinterpret_low_mass.py`` (about a minute on one core).
"""

from __future__ import annotations

import json
import time

import numpy as np

from wimpsift.sources.wimp import HaloModel, wimp_rate_per_tonne_year_kev
from wimpsift.stats.reinterpret import (
    SIGMA_REF_CM2,
    XENON1T_2018_HALO,
    ReinterpretConfig,
    inference,
    limits_for_mass,
    published_curve,
    upper_limit_from_llr,
)

XENON_NUCLEUS_GEV = 131.293 * 0.9314941
C_KM_S = 299792.458


def coarse_limit(mass: float) -> float:
    """Spectrum tabulated every 1 keV, linearly interpolated, the package's quad per bin."""
    grid = np.arange(0.5, 71.0, 1.0)
    rate = wimp_rate_per_tonne_year_kev(grid, mass, SIGMA_REF_CM2, XENON1T_2018_HALO)
    inf = inference("xenon1t_1ty")
    inf.spectrum = lambda e: float(np.interp(e, grid, rate))
    f = inf.compute_likelihood_ratio(run=0)
    return upper_limit_from_llr(f.x, f.y, lambda m: np.full(np.shape(m), 2.7055)) * SIGMA_REF_CM2


def main() -> None:
    curve = published_curve("xenon1t_1ty")
    paper = ReinterpretConfig(halo=XENON1T_2018_HALO)
    variants = {
        "paper": paper,
        "earth_wimprates": ReinterpretConfig(halo=HaloModel(v_0_km_s=220.0)),
        "halo_2021": ReinterpretConfig(),
        "midpoint": paper.model_copy(update={"points_per_bin": 1}),
        "gl16": paper.model_copy(update={"points_per_bin": 16}),
        "neyman": paper.model_copy(update={"threshold": "neyman"}),
    }
    out: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    for mass in (6.0, 10.0, 30.0):
        published = float(curve["limit"][np.flatnonzero(curve["mass_gev"] == mass)[0]])
        row = {name: limits_for_mass(mass, cfg)["limit_cm2"] / published for name, cfg in variants.items()}
        row["coarse_1kev"] = coarse_limit(mass) / published
        # where the detected signal comes from (paper's halo)
        inf = inference("xenon1t_1ty")
        edges = np.asarray(inf.true_energy_edges)
        centres = 0.5 * (edges[1:] + edges[:-1])
        from wimpsift.stats.reinterpret import true_bin_counts

        counts = true_bin_counts(edges, mass, paper)
        efficiency = np.asarray(inf.migration_matrix[0]).sum(axis=1)
        detected = counts * efficiency
        low = centres < 3.0
        mu = mass * XENON_NUCLEUS_GEV / (mass + XENON_NUCLEUS_GEV)
        v_max = (544.0 + 232.0) / C_KM_S
        row["endpoint_kev"] = 2 * mu**2 * v_max**2 / XENON_NUCLEUS_GEV * 1e6
        row["detected_share_below_3kev"] = float(detected[low].sum() / detected.sum())
        row["efficiency_below_3kev"] = float(detected[low].sum() / counts[low].sum())
        out[f"{mass:g}"] = {k: round(float(v), 4) for k, v in row.items()}
        print(f"{mass:g} GeV: " + ", ".join(f"{k} {v:.4g}" for k, v in out[f"{mass:g}"].items()))
    print(f"wall {time.perf_counter() - started:.1f} s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
