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
* ``authors_asymptotic`` / ``authors_neyman``: the package authors' own example,
  ``examples/SI_limit.ipynb`` of github.com/XENON1T/xenon1t_approximate_nuclear_recoil_likelihood
  (commit e4d4fe4), step by step: the spectrum tabulated at ``np.logspace(-1, 2, 301)`` keV,
  ``Spectrum.from_sample`` (linear interpolation), the package's ``quad`` per true bin and
  likelihood curves, ``minimize(..., method="Powell")`` from 0 and ``brentq`` up to the
  curve's end as in its ``compute_ul`` (which fails on current SciPy only because
  ``brentq`` gets Powell's array), with ``asymptotic=True`` (chi2) and ``False`` (its
  Neyman threshold); the notebook plots both against the published curve;

and, for the paper's halo, the kinematic end point of the recoil spectrum, the share of
the detected signal from true energies below 3 keV and the detection efficiency there.

Then it separates the spectrum from the likelihood:

* ``reference_ratio_50_100kev``: the package's own 50 GeV/c² reference spectrum
  (``dRdE_wimp_SI_50GeV_10-45.csv``, same release as the likelihood) over ours with the
  paper's halo times wimprates' normalisation k² (the reference is wimprates'; ours is
  normalised to 1, 1.3 % above it), min and max over 50-100 keV. Those recoils need the same fraction of the
  maximum WIMP speed (v_min/v_max 0.65-0.9) as the 4-8 keV recoils that a 10 GeV/c²
  WIMP leaves in XENON1T, so this checks the halo's tail, v_esc, Earth speed and Helm
  form factor where they matter;
* ``events_per_1e-45``, ``events_at_ours``, ``events_at_published``: signal events
  expected in the reconstructed bins, per 1e-45 cm² and at our and the published limit;
* ``llr_at_published``: the package's ``-2 ln`` likelihood ratio at the published
  cross-section (our limit sits where it reaches 2.71);
* ``neyman_threshold_at_published``: the package's Neyman threshold for that many events;
* ``without_excess_bins``: our limit over the published one when the reconstructed bins
  whose observed curve has its minimum at a positive signal are left out (diagnostic only);
* ``published_over_published_median`` / ``paper_over_published_median``: the published
  observed limit and ours over the published median expected limit (same csv): where the
  full likelihood saw a downward fluctuation, the binwise one lands near the median.

Usage: ``python benchmarks/bench_reinterpret_low_mass.py`` (about a minute on one core).
"""

from __future__ import annotations

import json
import time

import numpy as np

from wimpsift.sources.wimp import HaloModel, wimp_rate_per_tonne_year_kev, wimprates_normalisation
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


def authors_notebook_limits(mass: float, halo: HaloModel) -> dict[str, float]:
    """The package authors' ``examples/SI_limit.ipynb`` procedure (see the module docstring)."""
    import warnings

    from scipy import optimize, stats

    from wimpsift.stats.reinterpret import _quiet_import

    xe = _quiet_import()
    energies = np.logspace(-1, 2, 301)
    # the authors' spectrum is wimprates': its normalisation k^2, not ours (sources/wimp.py)
    rate = wimp_rate_per_tonne_year_kev(energies, mass, SIGMA_REF_CM2, halo) * wimprates_normalisation(halo)
    inf = inference("xenon1t_1ty")
    inf.spectrum = xe.Spectrum.from_sample(energies, rate, f"{mass:g} GeV/c2 SI WIMP")
    with warnings.catch_warnings():  # the quad and Powell warnings the notebook shows too
        warnings.simplefilter("ignore")
        f = inf.compute_likelihood_ratio(run=0)
        best = optimize.minimize(f, [0.0], method="Powell")
        x_min, ll_min = float(np.ravel(best["x"])[0]), float(best["fun"])
        total = float(inf.sum_spectrum_in_reconstructed_bins)
        thresholds = {"authors_asymptotic": lambda x: float(stats.chi2(1).isf(0.1)),
                      "authors_neyman": lambda x: float(inf.threshold_function(x * total))}
        return {name: optimize.brentq(lambda x, t=t: float(f(x)) - ll_min - t(x), x_min, f.x[-1])
                * SIGMA_REF_CM2 for name, t in thresholds.items()}


def reference_ratio() -> tuple[float, float]:
    """Package's 50 GeV reference spectrum over ours (paper's halo), 50-100 keV."""
    from importlib import resources

    path = resources.files("xe_likelihood.data.ancillary_data").joinpath("dRdE_wimp_SI_50GeV_10-45.csv")
    table = np.loadtxt(path.open(), delimiter=",")
    keep = (table[:, 0] >= 50.0) & (table[:, 0] <= 100.0)
    ours = wimp_rate_per_tonne_year_kev(table[keep, 0], 50.0, SIGMA_REF_CM2, XENON1T_2018_HALO)
    ratio = table[keep, 1] / (ours * wimprates_normalisation(XENON1T_2018_HALO))  # both wimprates'-normalised
    return float(ratio.min()), float(ratio.max())


def likelihood_diagnostics(mass: float, published_cm2: float) -> dict[str, float]:
    """Where the package's likelihood puts the published cross-section (paper's halo)."""
    from scipy.interpolate import interp1d

    limits_for_mass(mass, ReinterpretConfig(halo=XENON1T_2018_HALO))  # sets the spectrum
    inf = inference("xenon1t_1ty")
    reco = np.asarray(inf.spectrum_in_reconstructed_bins, dtype=float)
    per_1e45 = float(reco.sum())
    f = inf.compute_likelihood_ratio(run=0)
    chi2 = lambda m: np.full(np.shape(m), 2.7055)  # noqa: E731
    ours = upper_limit_from_llr(f.x, f.y, chi2)
    mu_pub = published_cm2 / SIGMA_REF_CM2
    # the same sum of per-bin curves, leaving out bins whose observed minimum is at a signal > 0
    table = inf.likelihood_matrix[0]
    signal = np.asarray(inf.signal_expectations_bins)
    mus = np.asarray(f.x)
    total = np.zeros_like(mus)
    for i, expected in enumerate(reco):
        if np.argmin(table[i]) > 0:
            continue
        total += interp1d(signal, table[i], bounds_error=False, fill_value=np.inf)(expected * mus)
    total -= total.min()
    return {
        "events_per_1e-45": per_1e45,
        "events_at_ours": ours * per_1e45,
        "events_at_published": mu_pub * per_1e45,
        "llr_at_published": float(f(mu_pub)),
        "neyman_threshold_at_published": float(inf.threshold_function(mu_pub * per_1e45)),
        "without_excess_bins": upper_limit_from_llr(mus, total, chi2) / mu_pub,
    }


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
        at = np.flatnonzero(curve["mass_gev"] == mass)[0]
        published = float(curve["limit"][at])
        row = {name: limits_for_mass(mass, cfg)["limit_cm2"] / published for name, cfg in variants.items()}
        row["published_over_published_median"] = published / float(curve["median"][at])
        row["paper_over_published_median"] = row["paper"] * row["published_over_published_median"]
        row["coarse_1kev"] = coarse_limit(mass) / published
        row.update({k: v / published for k, v in authors_notebook_limits(mass, XENON1T_2018_HALO).items()})
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
        row.update(likelihood_diagnostics(mass, published))
        out[f"{mass:g}"] = {k: round(float(v), 4) for k, v in row.items()}
        print(f"{mass:g} GeV: " + ", ".join(f"{k} {v:.4g}" for k, v in out[f"{mass:g}"].items()))
    lo, hi = reference_ratio()
    out["reference_ratio_50_100kev"] = {"min": round(lo, 4), "max": round(hi, 4)}
    print(f"package's 50 GeV reference spectrum / ours, 50-100 keV: {lo:.4f} to {hi:.4f}")
    print(f"wall {time.perf_counter() - started:.1f} s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
