"""The all-backgrounds comparison against a standard selection with a lower edge.

``wimpsift reproduce cnn --backgrounds all`` cuts, as the seed and XENON1T's 50 % NR
acceptance do, everything below the NR-band median in (cS1, log10 cS2/cS1). Events far
below the band, where wall events with lost charge land, pass that cut; XENON1T's
reference region also has a lower edge, the band's −2σ quantile. This script reads a
finished run (``metrics.json`` and ``data/test_scores.parquet``) and repeats the
comparison with that edge added to the standard selection:

* the −2σ edge is the 97.72 % quantile of the WIMP test events' distance below the median
  (``score_standard_selection``, finite where cuts 1-4 pass) in equal-population bins of
  cS1 (``--bins``, linearly interpolated), estimated on the test WIMPs themselves (in-sample:
  about 2 % of them lie beyond it, so the estimate is slightly optimistic for the band);
* events beyond the edge get −inf, and the threshold is set again at the comparison's
  WIMP acceptance (0.5 in the fiducial volume, 0.5 × the fiducial share in the active one),
  so the band's upper edge moves above the median to keep it.

For each volume it prints the stored totals recomputed from the test scores (a check:
they must equal ``metrics.json``), the banded selection's total and per-source counts,
and each classifier's ratio to both selections. Given several runs that differ only in the
seed, it adds over them each ratio's mean, standard error, the mean's 68 % interval
(Student's t) and the verdict on the ≤ 0.5 target, as ``scripts/cnn_backgrounds_seeds.py``
does for the selection without the edge. The last line is one JSON object.

    python benchmarks/bench_standard_selection_band.py RUN_DIR [RUN_DIR ...] [--bins 8]
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from _bench_cli import Parser, at_least, run

from wimpsift.metrics.background_comparison import (
    CLASSIFIERS,
    SIGNAL,
    _remaining_total,
    over_seeds,
)
from wimpsift.training.background_classifiers import ACTIVE_MIX, FIDUCIAL_MIX

MINUS_2_SIGMA_QUANTILE = 0.97725  # one-sided share within 2σ of a Gaussian's median side


def lower_edge(cs1: np.ndarray, distance: np.ndarray, n_bins: int):
    """The band's −2σ line as a distance below the median, a function of cS1."""
    edges = np.unique(np.quantile(cs1, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, cs1, side="right") - 1, 0, len(edges) - 2)
    centres = np.array([np.median(cs1[which == b]) for b in range(len(edges) - 1)])
    lines = np.array([np.quantile(distance[which == b], MINUS_2_SIGMA_QUANTILE)
                      for b in range(len(edges) - 1)])
    return lambda x: np.interp(x, centres, lines)


def compare(run_dir: Path, metrics: dict, seed: int | None, n_bins: int) -> dict[str, object]:
    """One run's comparison against the selection with and without the lower edge."""
    table = pd.read_parquet(run_dir / "data" / "test_scores.parquet")
    source = table["source"].to_numpy(object)
    weight = table["weight"].to_numpy(float)
    cs1 = table["cs1_pe"].to_numpy(float)
    standard = table["score_standard_selection"].to_numpy(float)
    volumes = {"fiducial": (metrics, FIDUCIAL_MIX), "active": (metrics["active_volume"], ACTIVE_MIX)}
    listed = {v: [s for s in m["remaining_at_50pct"]["standard_selection"] if s != "total"]
              for v, (m, _) in volumes.items()}
    wimp = source == SIGNAL
    rows = {"fiducial": table["in_window"].to_numpy(bool) & np.isin(source, listed["fiducial"] + [SIGNAL]),
            "active": np.isin(source, listed["active"] + [SIGNAL])}
    share = float(weight[wimp & rows["fiducial"]].sum() / weight[wimp].sum())
    acceptance = {"fiducial": 0.5, "active": 0.5 * share}
    fit = wimp & rows["fiducial"] & np.isfinite(standard)
    edge = lower_edge(cs1[fit], standard[fit], n_bins)
    banded = np.where(np.isfinite(standard) & (standard <= edge(np.where(cs1 > 0, cs1, 0.0))),
                      standard, -np.inf)
    out: dict[str, object] = {"run_dir": str(run_dir), "seed": seed,
                              "bins": n_bins, "wimps_fitting_the_edge": int(fit.sum())}
    for volume, (stored, mix) in volumes.items():
        sel, accept = rows[volume], acceptance[volume]

        def total(score: np.ndarray, sel: np.ndarray = sel, accept: float = accept) -> dict:
            return _remaining_total(score[sel], source[sel], weight[sel], accept)

        recomputed = {name: total(table[f"score_{mix.get(name, name)}"].to_numpy(float))["total"]
                      for name in CLASSIFIERS}
        check = {name: recomputed[name] - stored["remaining_at_50pct"][name]["total"]
                 for name in CLASSIFIERS}
        band = total(banded)
        band_counts = {s: band[s]["events"] if s in band else 0.0 for s in listed[volume]}
        line = {"volume": volume, "acceptance": acceptance[volume],
                "stored_minus_recomputed_max": max(abs(v) for v in check.values()),
                "standard_selection": recomputed["standard_selection"],
                "standard_with_lower_edge": band["total"],
                "standard_with_lower_edge_acceptance": band["signal_acceptance"],
                "standard_with_lower_edge_per_source": band_counts,
                "ratio_to_standard": {n: recomputed[n] / recomputed["standard_selection"]
                                      for n in CLASSIFIERS if n != "standard_selection"},
                "ratio_to_standard_with_lower_edge": {n: recomputed[n] / band["total"]
                                                      for n in CLASSIFIERS if n != "standard_selection"}}
        print(json.dumps({"run_dir": str(run_dir), **line}), flush=True)
        out[volume] = line
    return out


def over_runs(runs: list[dict]) -> dict[str, object]:
    """Per volume and classifier, over runs that differ only in the seed: each ratio's mean,
    standard error, the mean's 68 % interval (Student's t) and the verdict on the target
    (:func:`wimpsift.metrics.background_comparison.over_seeds`), against both selections."""
    summary: dict[str, object] = {}
    for volume in ("fiducial", "active"):
        lines = [run[volume] for run in runs]
        part: dict[str, object] = {
            key: over_seeds([line[key] for line in lines])
            for key in ("standard_selection", "standard_with_lower_edge")}
        for selection in ("ratio_to_standard", "ratio_to_standard_with_lower_edge"):
            part[selection] = {name: over_seeds([line[selection][name] for line in lines])
                               for name in lines[0][selection]}
        for key in ("standard_selection", "standard_with_lower_edge"):  # totals: no target
            part[key] = {k: part[key][k] for k in ("ratios", "mean", "standard_error")}
        summary[volume] = part
    return summary


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="run_dir")
    parser.add_argument("--bins", type=at_least(1), default=8)
    args = parser.parse_args()
    runs = []
    for run_dir in args.run_dirs:  # every folder checked before any work
        needed = [run_dir / "metrics.json", run_dir / "data" / "test_scores.parquet"]
        if not all(path.is_file() for path in needed):
            parser.error(f"argument run_dir: expected the output folder of `wimpsift reproduce "
                         f"cnn --backgrounds all` (metrics.json, data/test_scores.parquet), got {run_dir}")
        metrics = json.loads(needed[0].read_text())
        if "all_backgrounds" not in metrics:
            parser.error(f"argument run_dir: {needed[0]} has no all_backgrounds section; expected "
                         "a run with --backgrounds all")
        runs.append((run_dir, metrics["all_backgrounds"], metrics["provenance"].get("seed")))
    seeds = [seed for _, _, seed in runs]
    if len(runs) > 1 and len(set(seeds)) != len(seeds):
        parser.error(f"argument run_dir: seeds {seeds}; expected a different seed per run")
    results = [compare(run_dir, metrics, seed, args.bins) for run_dir, metrics, seed in runs]
    if len(results) == 1:
        print(json.dumps(results[0]))
    else:
        print(json.dumps({"runs": results, "over_runs": over_runs(results)}))


if __name__ == "__main__":
    run(main)
