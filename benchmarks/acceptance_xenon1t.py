"""Figure and numbers: XENON1T SR1's NR acceptance versus true recoil energy, ours
(``xenon1t_sr1``, full event-level simulation) beside XENON1T's (row sums of the
migration matrix in the 1 t x yr binwise likelihood release, PyPI ``xe-likelihood``).

Prints, for each curve, the plateau (18-30 keVnr) and the energies where the rising
edge reaches 10 %, 50 % and 90 % of it; last line JSON. Needs the ``test`` extra.

``--decompose`` also measures what moves our edge, one factor at a time, and prints
each factor's 10/50/90 % energies and their shift from ours (and the S1-size efficiency
described below, needed on top of XENON1T-like yields):

- the S1-only and S2-only parts of our selection (which of them makes the edge);
- the S1 detection settings: single-PE acceptance, double-PE emission, coincidence
  level (sensitivities, not sourced alternatives);
- XENON1T-like NR yields instead of NEST's: NEST's photons and electrons thinned
  binomially, energy by energy, to the mean yields of the XENON1T SR1 NR model in
  flamedisx (FlamTeam/flamedisx, ``flamedisx/xenon/x1t_sr1.py`` and its NR source
  defaults: Lindhard k = 0.138, W = 13.7 eV, the Lenardo-type recombination
  alpha = 1.280, zeta = 0.045, beta = 273 x 0.9e-4, gamma = 0.0141, delta = 0.062 and
  the Penning quenching 1 / (1 + 2.706e-4 n_ph^0.92), at 81 V/cm). That model is
  written out here, for this measurement only, because no installed library provides
  it; the package's microphysics stays NEST's.

``--cevns`` separates the CEvNS spectrum from the acceptance: it prints our 8B CEvNS rate
above 1, 2 and 3 keVnr (per tonne x year) and the expected count for ``xenon1t_sr1``'s
exposure with that spectrum folded (a) with XENON1T's published acceptance (the
migration-matrix row sums above) and (b) with our simulated acceptance (NR events flat
in 0.25-6 keVnr), beside the detector file's published count.

The run always prints the S1-size efficiency the edge gap would need (diagnostic, never
applied): XENON1T's acceptance divided by ours per true-energy bin beside the median cS1
of our accepted events there, and the efficiency eps(cS1) (cS1 bins, non-decreasing)
that, multiplying our accepted events, best reproduces XENON1T's curve (bounded least
squares, ``scipy.optimize.lsq_linear``), with the 10/50/90 % energies it gives.
XENON1T's own S1 efficiencies of this kind, the pax S1 reconstruction efficiency versus
detected photons (``RecEfficiency{Lowers,Medians,Uppers}_SR1_70phd_v1.json``) and
the combined S1 cut acceptance versus S1 (``S1AcceptanceSR1_v7_Median.json``), plus the S2
ones, are not public: flamedisx's public SR1 model (FlamTeam/flamedisx,
``flamedisx/xenon/x1t_sr1.py``) reads them with ``fd.get_bbf_file``, which clones the
private repository XENON1T/bbf with a GitHub token (``flamedisx/xenon/data.py``,
``ensure_repo``); no copy of them is in the public code or page indexes searched.

Usage: python benchmarks/acceptance_xenon1t.py [--events 200000] [-o acceptance_xenon1t.png]
       [--decompose] [--cevns]
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _bench_cli import Parser, at_least, run  # noqa: E402

from wimpsift.detectors import load_detector  # noqa: E402
from wimpsift.plots import pyplot, save_figure  # noqa: E402
from wimpsift.response.acceptance import (  # noqa: E402
    nr_acceptance,
    plateau,
    rising_edge_energies,
    xenon1t_sr1_published_acceptance,
)

EDGES_KEV = np.arange(1.0, 32.01, 0.5)
CENTRES_KEV = 0.5 * (EDGES_KEV[1:] + EDGES_KEV[:-1])


def edge(energy_kev: np.ndarray, acceptance: np.ndarray) -> dict:
    p = plateau(energy_kev, acceptance)
    levels = rising_edge_energies(energy_kev, acceptance, p)  # nan: reached in the first bin
    return {"plateau": round(p, 4),
            "e10_e50_e90_kevnr": [round(v, 2) if np.isfinite(v) else None for v in levels]}


def _flat_nr_events(detector, n_events: int, seed: int):
    from wimpsift.response.acceptance import FLAT_E_FOLD_KEV
    from wimpsift.response.event_level import simulate_events
    from wimpsift.sources.neutrons import RadiogenicNeutrons

    lo, hi = float(EDGES_KEV[0]), float(EDGES_KEV[-1])
    flat = RadiogenicNeutrons(name="nr_flat", recoil_type="nr", energy_min_kev=lo, energy_max_kev=hi,
                              rate_per_tonne_year=1.0, rate_energy_min_kev=lo, rate_energy_max_kev=hi,
                              e_fold_kev=FLAT_E_FOLD_KEV)
    return simulate_events(detector, flat, n_events, seed)


def _binned(events, passed: np.ndarray) -> np.ndarray:
    """Accepted fraction per true-energy bin of the events that interact in the fiducial
    mass, as :func:`wimpsift.response.acceptance.nr_acceptance` counts it."""
    which = np.digitize(events["energy_kev"].to_numpy(), EDGES_KEV) - 1
    ok = (which >= 0) & (which < CENTRES_KEV.size)
    total = np.bincount(which[ok], minlength=CENTRES_KEV.size)
    kept = np.bincount(which[ok], weights=np.asarray(passed, dtype=float)[ok], minlength=CENTRES_KEV.size)
    return kept / np.maximum(total, 1) * _slab_per_fiducial_mass()


def _slab_per_fiducial_mass() -> float:
    """The recoils are drawn in the fiducial slab (the whole TPC radius between the
    fiducial depths), whose mass exceeds the fiducial mass by this factor."""
    from wimpsift.sources.positions import sampled_mass_ratio

    return sampled_mass_ratio(load_detector("xenon1t_sr1"))


CS1_EDGES_PE = np.array([3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0,
                         50.0, 60.0, 70.0])


def needed_s1_efficiency(events, energy_1t: np.ndarray, acc_1t: np.ndarray) -> dict:
    """The S1-size efficiency that would carry the edge gap (diagnostic, never applied).

    Per true-energy bin: XENON1T's acceptance / ours and the median cS1 of our accepted
    events. Then eps(cS1) on ``CS1_EDGES_PE`` bins, non-decreasing from 0 (a sum of
    non-negative steps), minimising sum_E (sum_j M[E, j] eps_j - A_1t(E))^2, where M[E, j]
    is the fraction of our events of energy bin E accepted with cS1 in bin j.
    """
    from scipy.optimize import lsq_linear

    energy = events["energy_kev"].to_numpy()
    which = np.digitize(energy, EDGES_KEV) - 1
    passed = events["in_window"].to_numpy()
    cs1 = events["cs1_pe"].to_numpy()
    n_e, n_s = CENTRES_KEV.size, CS1_EDGES_PE.size - 1
    total = np.bincount(which[(which >= 0) & (which < n_e)], minlength=n_e)
    col = np.clip(np.digitize(cs1, CS1_EDGES_PE) - 1, 0, n_s - 1)
    keep = passed & (which >= 0) & (which < n_e)
    matrix = np.zeros((n_e, n_s))
    np.add.at(matrix, (which[keep], col[keep]), 1.0)
    matrix *= _slab_per_fiducial_mass() / np.maximum(total, 1)[:, None]
    ours = matrix.sum(axis=1)
    target = np.interp(CENTRES_KEV, energy_1t, acc_1t)
    median_cs1 = np.array([np.median(cs1[keep & (which == i)]) if np.any(keep & (which == i)) else np.nan
                           for i in range(n_e)])
    rising = np.tril(np.ones((n_s, n_s)))  # eps = cumulative sum of non-negative steps
    fit = lsq_linear(matrix @ rising, target, bounds=(0.0, 1.0))
    eps = rising @ fit.x
    corrected = matrix @ eps
    rms = float(np.sqrt(np.mean((corrected - target) ** 2)))
    rows = [{"energy_kevnr": round(float(e), 2), "xenon1t": round(float(t), 4), "ours": round(float(o), 4),
             "ratio": round(float(t / o), 3) if o > 0 else None,
             "median_cs1_pe": round(float(m), 2) if np.isfinite(m) else None}
            for e, t, o, m in zip(CENTRES_KEV, target, ours, median_cs1, strict=True) if e <= 16.0]
    return {
        "by_energy": rows,
        "cs1_edges_pe": CS1_EDGES_PE.tolist(),
        "eps_by_cs1": [round(float(v), 3) for v in eps],
        "rms_residual": round(rms, 4),
        "with_eps": edge(CENTRES_KEV, corrected),
    }


def xenon1t_like_nr_yields(energy_kev: np.ndarray, drift_field_v_cm: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean S1 photons (after Penning quenching) and electrons of flamedisx's XENON1T SR1 NR model."""
    e = np.asarray(energy_kev, dtype=float)
    eps = 11.5 * e * 54 ** (-7 / 3)
    g = 3 * eps**0.15 + 0.7 * eps**0.6 + eps
    n_quanta = e * (0.138 * g / (1 + 0.138 * g)) / 13.7e-3
    n_ions = n_quanta / (1 + 1.280 * drift_field_v_cm**-0.045 * (1 - np.exp(-273 * 0.9e-4 * n_quanta)))
    xi = n_ions * 0.0141 * drift_field_v_cm**-0.062
    n_el = n_ions * np.log1p(xi) / xi
    n_ph = n_quanta - n_el
    return n_ph / (1 + 8.2e-5 * 3.3 * n_ph ** (0.8 * 1.15)), n_el


def decompose(n_events: int, seed: int) -> list[dict]:
    """Our edge, its S1 and S2 parts, and the edge with one factor changed at a time."""
    import wimpsift.response.interaction_level as interaction_level
    from wimpsift.microphysics import Quanta, nest_quanta

    det = load_detector("xenon1t_sr1")
    rows = []

    def add(name, events=None, passed=None, detector=None):
        if events is None:
            events = _flat_nr_events(detector, n_events, seed)
        if passed is None:
            passed = events["in_window"].to_numpy()
        rows.append({"factor": name, **edge(CENTRES_KEV, _binned(events, passed))})

    ours = _flat_nr_events(det, n_events, seed)
    cs1, n_pmts = ours["cs1_pe"].to_numpy(), ours["s1_n_pmts"].to_numpy()
    cs2_b, s2 = ours["cs2_bottom_pe"].to_numpy(), ours["s2_area_pe"].to_numpy()
    w = det.window
    add("ours (xenon1t_sr1)", ours)
    add("  S1 part only: coincidence and cS1 window", ours,
        (n_pmts >= det.light.s1_coincidence_pmts) & (cs1 >= w.cs1_min_pe) & (cs1 <= w.cs1_max_pe))
    add("  S2 part only: raw S2 and cS2_b window", ours,
        (s2 >= w.s2_min_pe) & (cs2_b >= w.cs2_bottom_min_pe) & (cs2_b <= w.cs2_bottom_max_pe))

    def light(**update):
        return det.model_copy(update={"light": det.light.model_copy(update=update)})

    for spe in (1.0, 0.85, 0.75):
        add(f"spe_acceptance {spe} (ours {det.light.spe_acceptance})", detector=light(spe_acceptance=spe))
    add(f"double_pe_probability 0.15 (ours {det.light.double_pe_probability})",
        detector=light(double_pe_probability=0.15))
    add(f"coincidence 4-fold (ours {det.light.s1_coincidence_pmts})", detector=light(s1_coincidence_pmts=4))

    grid = np.arange(0.75, EDGES_KEV[-1] + 0.5, 0.25)
    nest_ph, nest_el = [], []
    for i, e in enumerate(grid):
        q = nest_quanta(np.full(4000, e), "nr", np.full(4000, -50.0), det, 1000 + i)
        nest_ph.append(q.n_photons.mean())
        nest_el.append(q.n_electrons.mean())
    x1t_ph, x1t_el = xenon1t_like_nr_yields(grid, det.drift.drift_field_v_cm)
    keep_ph = np.clip(x1t_ph / np.maximum(nest_ph, 1e-9), 0, 1)
    keep_el = np.clip(x1t_el / np.maximum(nest_el, 1e-9), 0, 1)
    original = interaction_level.nest_quanta

    def thinned(energy_kev, recoil_type, z_cm, detector, nest_seed, photon_times=False):
        q = original(energy_kev, recoil_type, z_cm, detector, nest_seed, photon_times)
        rng = np.random.default_rng(nest_seed)
        return Quanta(rng.binomial(q.n_photons, np.interp(energy_kev, grid, keep_ph)),
                      rng.binomial(q.n_electrons, np.interp(energy_kev, grid, keep_el)),
                      q.photon_times_ns)

    interaction_level.nest_quanta = thinned
    try:
        x1t_yields = _flat_nr_events(det, n_events, seed)
    finally:
        interaction_level.nest_quanta = original
    add("NR yields: XENON1T SR1 model (flamedisx) instead of NEST", x1t_yields)
    base = rows[0]["e10_e50_e90_kevnr"]
    for row in rows:
        row["shift_kevnr"] = [None if a is None or b is None else round(a - b, 2)
                              for a, b in zip(row["e10_e50_e90_kevnr"], base, strict=True)]
    energy_1t, acc_1t = xenon1t_sr1_published_acceptance()
    return rows, needed_s1_efficiency(x1t_yields, energy_1t, acc_1t)


def cevns_fold(n_events: int, seed: int) -> dict:
    """Our 8B CEvNS spectrum folded with XENON1T's published and with our simulated acceptance."""
    from wimpsift.sources import make_source
    from wimpsift.sources.wimp import KG_DAY_PER_TONNE_YEAR

    det = load_detector("xenon1t_sr1")
    spec = det.background("cevns")
    source = make_source(det, "cevns")
    fine = np.linspace(spec.energy_min_kev, spec.energy_max_kev, 20_000)
    rate = source.differential_rate_per_kg_day_kev(fine)  # per kg day keV

    def above(threshold_kev: float) -> float:
        keep = fine >= threshold_kev
        return float(np.trapezoid(rate[keep], fine[keep]) * KG_DAY_PER_TONNE_YEAR)

    energy_1t, acc_1t = xenon1t_sr1_published_acceptance()
    folded_1t = np.trapezoid(rate * np.interp(fine, energy_1t, acc_1t, left=0.0, right=0.0), fine)
    edges = np.arange(0.25, 6.001, 0.25)
    ours = nr_acceptance(det, edges, n_events, seed)
    centres = 0.5 * (edges[1:] + edges[:-1])
    folded_ours = np.trapezoid(rate * np.interp(fine, centres, ours, left=0.0, right=ours[-1]), fine)
    return {
        "rate_above_1_2_3_kevnr_per_tonne_year": [round(above(t), 4) for t in (1.0, 2.0, 3.0)],
        "exposure_kg_days": round(det.exposure_kg_days, 1),
        "expected_with_xenon1t_acceptance": round(float(folded_1t) * det.exposure_kg_days, 4),
        "expected_with_our_acceptance": round(float(folded_ours) * det.exposure_kg_days, 4),
        "published_expected": spec.published_expected_events,
    }


def _fmt(value: float | None, spec: str) -> str:
    return "  –  " if value is None else format(value, spec)


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=at_least(1), default=200_000)
    parser.add_argument("--seed", type=at_least(0), default=11)
    parser.add_argument("-o", "--output", default="acceptance_xenon1t.png")
    parser.add_argument("--decompose", action="store_true",
                        help="also measure what moves our rising edge, one factor at a time")
    parser.add_argument("--cevns", action="store_true",
                        help="also fold our 8B CEvNS spectrum with XENON1T's and with our acceptance")
    args = parser.parse_args()

    energy_1t, acc_1t = xenon1t_sr1_published_acceptance()
    events = _flat_nr_events(load_detector("xenon1t_sr1"), args.events, args.seed)
    ours = _binned(events, events["in_window"].to_numpy())  # = nr_acceptance(...) on the same events
    result = {}
    for name, e, a in (("xenon1t", energy_1t, acc_1t), ("wimpsift", CENTRES_KEV, ours)):
        result[name] = edge(e, a)
        print(f"{name:>9}: plateau {result[name]['plateau']:.3f}; 10/50/90 % of it at "
              + ", ".join(f"{v:.2f}" for v in result[name]["e10_e50_e90_kevnr"]) + " keVnr")

    result["needed_s1_efficiency"] = need = needed_s1_efficiency(events, energy_1t, acc_1t)
    print("\nS1-size efficiency the gap would need (diagnostic, not applied):")
    print("  true keVnr   XENON1T   ours    ratio   median cS1 of ours (PE)")
    for row in need["by_energy"][::2]:
        print(f"  {row['energy_kevnr']:9.2f}   {row['xenon1t']:.4f}   {row['ours']:.4f}  "
              f"{_fmt(row['ratio'], '6.3f')}   {_fmt(row['median_cs1_pe'], '6.2f')}")
    print("  eps(cS1), non-decreasing, least squares over 1-32 keVnr (rms residual "
          f"{need['rms_residual']:.4f}):")
    print("    cS1 bin (PE): " + " ".join(f"{a:g}-{b:g}" for a, b in zip(
        CS1_EDGES_PE[:-1], CS1_EDGES_PE[1:], strict=True)))
    print("    eps:          " + " ".join(f"{v:.2f}" for v in need["eps_by_cs1"]))
    print(f"  ours x eps: plateau {need['with_eps']['plateau']:.3f}; 10/50/90 % at "
          + ", ".join(_fmt(v, ".2f") for v in need["with_eps"]["e10_e50_e90_kevnr"]) + " keVnr")
    print("  XENON1T's own efficiencies of this kind (S1 reconstruction efficiency vs detected photons,\n"
          "  combined S1/S2 cut acceptance vs S1/S2) are not public: flamedisx's x1t_sr1.py reads them\n"
          "  with fd.get_bbf_file, which clones the private repository XENON1T/bbf.")

    if args.decompose:
        result["decomposition"], need_x1t = decompose(args.events, args.seed)
        result["needed_s1_efficiency_with_xenon1t_yields"] = need_x1t
        print(f"\n{'factor':<62} plateau  10/50/90 % (keVnr)   shift from ours")
        for row in result["decomposition"]:
            print(f"{row['factor']:<62} {row['plateau']:.3f}   "
                  + " ".join(_fmt(v, "5.2f") for v in row["e10_e50_e90_kevnr"]) + "   "
                  + " ".join(_fmt(v, "+5.2f") for v in row["shift_kevnr"]))
        print("  eps(cS1) needed with XENON1T-like NR yields (rms residual "
              f"{need_x1t['rms_residual']:.4f}):")
        print("    eps:          " + " ".join(f"{v:.2f}" for v in need_x1t["eps_by_cs1"]))
        print(f"  with it: plateau {need_x1t['with_eps']['plateau']:.3f}; 10/50/90 % at "
              + ", ".join(_fmt(v, ".2f") for v in need_x1t["with_eps"]["e10_e50_e90_kevnr"]) + " keVnr")

    if args.cevns:
        result["cevns"] = c = cevns_fold(args.events, args.seed)
        print("\n8B CEvNS, xenon1t_sr1: rate above 1/2/3 keVnr "
              + "/".join(f"{v:.4g}" for v in c["rate_above_1_2_3_kevnr_per_tonne_year"])
              + f" per t yr; expected in {c['exposure_kg_days']:.0f} kg d: "
              f"{c['expected_with_xenon1t_acceptance']:.3f} with XENON1T's acceptance, "
              f"{c['expected_with_our_acceptance']:.3f} with ours (published {c['published_expected']})")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    inside = energy_1t <= EDGES_KEV[-1]
    ax.plot(energy_1t[inside], acc_1t[inside], label="XENON1T SR1 (xe-likelihood migration matrix)")
    ax.step(CENTRES_KEV, ours, where="mid", label=f"wimpsift xenon1t_sr1 ({args.events:,} NR events)")
    ax.set_xlabel("true nuclear recoil energy [keVnr]")
    ax.set_ylabel("acceptance (threshold, FV, ROI)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    save_figure(fig, args.output)
    result["figure"] = str(args.output)
    print(json.dumps(result))


if __name__ == "__main__":
    run(main)
