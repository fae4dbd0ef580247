"""The standard selection on every background of Table I (issue 17), small scale.

Simulates a WIMP (500 GeV, 1e-45 cm²) and every background of the detector at waveform
level with their topology, processes them, fits the standard selection on one seed and
applies it to another, then prints per source: cut-by-cut pass fractions, and the
expected events remaining in the detector's exposure at the selection's WIMP
acceptance (the cS1–cS2 cut at 50 % of the WIMPs passing the other cuts), with errors.
The seed's Table I counts (before any discrimination) come from the detector file.

    python benchmarks/bench_standard_selection.py --n 400 --n-er 5000
The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import json
import time

import numpy as np
from _bench_cli import Parser, at_least, run

from wimpsift.detectors import load_detector
from wimpsift.metrics.remaining import remaining_at_acceptance
from wimpsift.processing.background_mix import processed_mix
from wimpsift.processing.standard_selection import FLAG_COLUMNS, StandardSelection
from wimpsift.provenance import provenance


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="xenon1t_sr0")
    parser.add_argument("--n", type=at_least(1), default=400, help="events per source and split")
    parser.add_argument("--n-er", type=at_least(1), default=None,
                        help="ER test events (default --n): 99.8 %% rejection needs thousands")
    parser.add_argument("--seed", type=at_least(0), default=0)
    args = parser.parse_args()
    detector = load_detector(args.detector)
    t0 = time.perf_counter()
    train = processed_mix(detector, args.n, args.seed)
    test = processed_mix(detector, args.n, args.seed + 1,
                         n_events=None if args.n_er is None else {"er": args.n_er})
    t_sim = time.perf_counter() - t0
    selection = StandardSelection(detector).fit(train, (train["source"] == "wimp").to_numpy())
    flags = selection.flags(test)
    print(f"simulated+processed {len(train) + len(test)} events in {t_sim:.0f} s; "
          f"S2-width band |z| < {selection.s2_width_z_max_:.2f}")
    header = f"{'source':<12}" + "".join(f"{c:>15}" for c in FLAG_COLUMNS)
    print(header)
    fractions = {}
    for name, rows in test.groupby("source").groups.items():
        f = flags.loc[rows]
        cum = np.logical_and.accumulate(f[list(FLAG_COLUMNS[:-1])].to_numpy(), axis=1)
        fractions[name] = {c: float(cum[:, k].mean()) for k, c in enumerate(FLAG_COLUMNS[:-1])}
        print(f"{name:<12}" + "".join(f"{fractions[name][c]:>15.3f}"
                                      for c in FLAG_COLUMNS[:-1]))
    # remaining events: standard selection score on the events passing cuts 1-4
    score = selection.score(test)
    topo = np.isfinite(score)
    wimp_topo = float(topo[test["source"] == "wimp"].mean())
    # 50 % of the WIMPs passing cuts 1-4 = 0.5 x (their share) of all simulated WIMPs
    remaining = remaining_at_acceptance(score, test["source"].to_numpy(),
                                        test["weight"].to_numpy(), acceptance=0.5 * wimp_topo)
    expected_all = test[test["in_window"]].groupby("source")["weight"].sum().to_dict()
    print(f"\nWIMP acceptance of cuts 1-4: {wimp_topo:.3f}; with the cS1-cS2 cut at 50 % of "
          f"those: {remaining['signal_acceptance']:.3f} of all simulated WIMPs")
    print(f"{'source':<12}{'in window':>18}{'remaining':>12}{'error':>10}{'n_pass':>8}")
    for name in sorted(expected_all):
        if name == "wimp":
            continue
        r = remaining[name]
        print(f"{name:<12}{expected_all[name]:>18.4g}{r['events']:>12.4g}{r['error']:>10.2g}"
              f"{r['n_passing']:>8d}")
    print(f"{'total':<12}{'':>18}{remaining['total']:>12.4g}{remaining['total_error']:>10.2g}")
    print(json.dumps({"provenance": provenance(vars(args), args.seed, "bench_standard_selection"),
                      "detector": args.detector, "n_per_source": args.n, "n_er": args.n_er,
                      "seed": args.seed,
                      "seconds": t_sim, "cut_fractions": fractions,
                      "wimp_acceptance_cuts_1_4": wimp_topo,
                      "expected_simulated": expected_all, "remaining_at_50pct": remaining}))


if __name__ == "__main__":
    run(main)
