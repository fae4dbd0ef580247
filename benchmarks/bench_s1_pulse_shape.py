"""How much the simulated S1 pulse shape alone separates WIMPs from ER, per cS1 bin.

Nuclear recoils' S1s are faster than electron recoils' (more singlet light, no slow
recombination light), and the all-backgrounds comparison's CNNs and dense network use it
(``s1_prompt_fraction``, ``s1_width_ns``). How strongly it separates depends on the photon
timing the simulation adds after NEST's emission times (PMT transit-time spread, optical
transport in the liquid, the single-PE pulse, 10 ns samples). This script reads a finished
``wimpsift reproduce cnn --backgrounds all`` run (``data/test_scores.parquet``, runs since
the pulse shape joined the event variables) and gives, in bins of cS1, the ER leakage at
50 % WIMP acceptance of a cut on one pulse-shape variable alone: the WIMP events' weighted
median in the bin is the cut, the leakage the weighted share of ER events beyond it (prompt
fraction above, width below), its error binomial with the ER events' effective number
(Σw)²/Σw². Test events in the analysis window and the fiducial volume (``in_window``).

Published leakages to set beside it are measured in other detectors with other photon
timing (for instance a zero-field prompt-to-total ratio, arXiv 1106.2209); they bound the
order of magnitude, not XENON1T's value.

    python benchmarks/bench_s1_pulse_shape.py RUN_DIR [--cs1-edges 3 6 10 15 20 30 45 70]

The last line printed is one JSON object.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from _bench_cli import Parser, positive, run

VARIABLES = {"s1_prompt_fraction": "above", "s1_width_ns": "below"}
"""pulse-shape variable -> the side of the WIMP median where nuclear recoils lie"""
MIN_EVENTS = 20
"""WIMP and ER test events a bin needs for a leakage"""


def leakage(signal: np.ndarray, signal_weight: np.ndarray, background: np.ndarray,
            background_weight: np.ndarray, side: str) -> tuple[float, float]:
    """Weighted share of ``background`` on the signal's ``side`` ('above' or 'below') of the
    signal's weighted median, and its binomial error with the effective number of events."""
    order = np.argsort(signal)
    cumulative = np.cumsum(signal_weight[order])
    cut = signal[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])]
    passed = background >= cut if side == "above" else background <= cut
    share = float(background_weight[passed].sum() / background_weight.sum())
    n_eff = background_weight.sum() ** 2 / (background_weight ** 2).sum()
    return share, float(np.sqrt(share * (1 - share) / n_eff))


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--cs1-edges", type=positive, nargs="+",
                        default=[3, 6, 10, 15, 20, 30, 45, 70])
    args = parser.parse_args()
    edges = np.asarray(args.cs1_edges, float)
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        parser.error(f"argument --cs1-edges: expected at least 2 increasing values, got "
                     f"{args.cs1_edges}")
    path = args.run_dir / "data" / "test_scores.parquet"
    if not path.is_file():
        parser.error(f"argument run_dir: expected the output folder of `wimpsift reproduce cnn "
                     f"--backgrounds all` (data/test_scores.parquet), got {args.run_dir}")
    table = pd.read_parquet(path)
    missing = [c for c in ("source", "weight", "in_window", "cs1_pe", *VARIABLES)
               if c not in table.columns]
    if missing:
        parser.error(f"argument run_dir: {path} lacks columns {missing}; expected a run made "
                     "since the S1 pulse shape joined the event variables")
    table = table[table["in_window"].to_numpy(bool)]
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        part = table[(table["cs1_pe"] >= lo) & (table["cs1_pe"] < hi)]
        wimp, er = part[part["source"] == "wimp"], part[part["source"] == "er"]
        row: dict[str, object] = {"cs1_pe": [float(lo), float(hi)], "n_wimp": len(wimp),
                                  "n_er": len(er)}
        for name, side in VARIABLES.items():
            if min(len(wimp), len(er)) < MIN_EVENTS:
                row[name] = None
                continue
            share, error = leakage(wimp[name].to_numpy(float), wimp["weight"].to_numpy(float),
                                   er[name].to_numpy(float), er["weight"].to_numpy(float), side)
            row[name] = {"er_leakage_at_half_wimp": share, "error": error,
                         "wimp_mean": float(np.average(wimp[name], weights=wimp["weight"])),
                         "er_mean": float(np.average(er[name], weights=er["weight"]))}
        rows.append(row)
        cells = "  ".join(
            f"{name} {row[name]['er_leakage_at_half_wimp']:.3f} ± {row[name]['error']:.3f}"
            if row[name] else f"{name} (under {MIN_EVENTS} events)" for name in VARIABLES)
        print(f"cS1 {lo:g}-{hi:g} PE: {len(wimp)} WIMP, {len(er)} ER test events; ER leakage "
              f"at 50 % WIMP acceptance: {cells}", flush=True)
    print(json.dumps({"run_dir": str(args.run_dir), "bins": rows}))


if __name__ == "__main__":
    run(main)
