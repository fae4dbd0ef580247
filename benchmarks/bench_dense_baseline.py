"""The dense baseline of the all-backgrounds comparison, trained three ways on the same events.

`reproduce cnn --backgrounds all` judges a dense network on the event variables beside the
CNNs. Up to the eighth round it was one network trained on the active volume's expected mix,
while each binary CNN got its own volume's mix, a floor on every background source's share
(`binary_min_source_share`) and an ensemble of three. This script simulates a quick run's
training and test events for each seed (the pipeline's own `simulate_train_test`, so the
events are those of `wimpsift reproduce cnn --scale quick --backgrounds all --seed S`) and
trains the dense network

- ``expected_mix``: as up to the eighth round (one network, the active volume's expected mix);
- ``per_volume_floor``: the binary CNNs' training weights, one network per comparison;
- ``per_volume_floor_ensemble``: the same, ``cnn_ensemble`` networks with the ensemble's
  seeds, their log-odds averaged (what the pipeline does now).

It prints, per seed and comparison, each version's remaining background at the comparison's
WIMP acceptance as a ratio to the standard selection's on the same events (target ≤ 0.5),
and its wall or surface events. Only event simulation (minutes per seed) and the dense fits
(seconds) run; no CNN is trained.

    python benchmarks/bench_dense_baseline.py --seeds 0 1 --output dense.json
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _bench_cli import Parser, at_least, positive, run

from wimpsift.detectors import Detector, load_detector
from wimpsift.metrics.background_comparison import EVENT_VARIABLES, _remaining_total
from wimpsift.processing.background_mix import SIGNAL, expected_mix_weights
from wimpsift.processing.standard_selection import StandardSelection
from wimpsift.provenance import provenance, write_json
from wimpsift.training.background_classifiers import (
    AllBackgroundsSettings,
    binary_training_weights,
)
from wimpsift.training.baselines import EventVariableMLPEnsemble
from wimpsift.training.mix_samples import simulate_train_test
from wimpsift.training.mix_weights import tail_emphasis_weights

VARIANTS = ("expected_mix", "per_volume_floor", "per_volume_floor_ensemble")


def events(detector: Detector, seed: int, n_train: int, n_test: int, mass_gev: float,
           settings: AllBackgroundsSettings, folder: Path | None
           ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]]]:
    """The run's training and test event tables and each volume's sources; with
    ``folder``, kept there (parquet and JSON) and read back on the next call."""
    paths = None if folder is None else [folder / f"seed{seed}_{part}" for part in
                                         ("train.parquet", "test.parquet", "volumes.json")]
    if paths is not None and all(p.is_file() for p in paths):
        return (pd.read_parquet(paths[0]), pd.read_parquet(paths[1]),
                json.loads(paths[2].read_text()))
    train, test, in_volume = simulate_train_test(detector, n_train, n_test, seed, settings,
                                                 mass_gev, None)
    if paths is not None:
        folder.mkdir(parents=True, exist_ok=True)
        train.table.to_parquet(paths[0])
        test.table.to_parquet(paths[1])
        paths[2].write_text(json.dumps(in_volume))
    return train.table, test.table, in_volume


def one_seed(seed: int, n_train: int, n_test: int, mass_gev: float,
             settings: AllBackgroundsSettings, folder: Path | None = None) -> dict:
    detector = load_detector("xenon1t_sr0")
    t0 = time.perf_counter()
    table, test_table, in_volume = events(detector, seed, n_train, n_test, mass_gev, settings,
                                          folder)
    simulated_s = time.perf_counter() - t0
    y = (table["source"] == SIGNAL).to_numpy().astype(int)
    weights = binary_training_weights(table, settings, in_volume["fiducial"])
    # up to the eighth round: one network on the active volume's expected mix, no floor
    before_score = EventVariableMLPEnsemble(1, EVENT_VARIABLES, seed).fit(
        table, y, expected_mix_weights(table.assign(weight=tail_emphasis_weights(
            table, settings.tail_training_emphasis)))).log_odds(test_table)
    scores = {"expected_mix": {"fiducial": before_score, "active": before_score},
              "per_volume_floor": {}, "per_volume_floor_ensemble": {}}
    for volume in ("fiducial", "active"):
        ensemble = EventVariableMLPEnsemble(settings.cnn_ensemble, EVENT_VARIABLES, seed).fit(
            table, y, weights[volume])
        members = ensemble.member_log_odds(test_table)
        scores["per_volume_floor"][volume] = members[0]
        scores["per_volume_floor_ensemble"][volume] = members.mean(axis=0)
    standard = StandardSelection(detector).fit(table, y).score(test_table)

    table = test_table
    source_all = table["source"].to_numpy(object)
    weight_all = table["weight"].to_numpy(float)
    listed = {v: table["source"].isin(n).to_numpy() for v, n in in_volume.items()}
    rows = {"fiducial": table["in_window"].to_numpy(bool) & listed["fiducial"],
            "active": listed["active"]}
    wimp = source_all == SIGNAL
    fiducial_share = float(weight_all[wimp & rows["fiducial"]].sum() / weight_all[wimp].sum())
    acceptance = {"fiducial": 0.5, "active": 0.5 * fiducial_share}
    near_wall = {"fiducial": "wall", "active": "surface"}
    out: dict = {"seed": seed, "simulation_s": simulated_s}
    for volume, r in rows.items():
        wall = near_wall[volume]
        cells = {}
        for name, score in [("standard_selection", standard),
                            *((v, scores[v][volume]) for v in VARIANTS)]:
            t = _remaining_total(score[r], source_all[r], weight_all[r], acceptance[volume])
            cells[name] = {"total": t["total"], wall: t[wall]["events"] if wall in t else 0.0}
        for v in VARIANTS:
            cells[v]["ratio"] = cells[v]["total"] / cells["standard_selection"]["total"]
        out[volume] = cells
    return out


def main() -> None:
    parser = Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=at_least(0), nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--train-events", type=at_least(10), default=500,
                        help="events per source in the window (the quick scale's 500)")
    parser.add_argument("--test-events", type=at_least(10), default=600)
    parser.add_argument("--mass-gev", type=positive, default=500.0)
    parser.add_argument("--settings", type=json.loads, default={},
                        help="all_backgrounds settings other than the defaults, as JSON")
    parser.add_argument("--events", type=Path,
                        help="folder keeping each seed's event tables for the next call")
    parser.add_argument("--output", type=Path, help="JSON file for the numbers")
    args = parser.parse_args()
    settings = AllBackgroundsSettings(**args.settings)
    results = []
    for seed in args.seeds:
        r = one_seed(seed, args.train_events, args.test_events, args.mass_gev, settings,
                     args.events)
        results.append(r)
        for volume in ("fiducial", "active"):
            cells = r[volume]
            wall = "wall" if volume == "fiducial" else "surface"
            print(f"seed {seed} {volume}: standard selection {cells['standard_selection']['total']:.3f} "
                  f"({wall} {cells['standard_selection'][wall]:.3f}); " + "; ".join(
                      f"{v} {cells[v]['total']:.3f} = {cells[v]['ratio']:.2f}x ({wall} "
                      f"{cells[v][wall]:.3f})" for v in VARIANTS), flush=True)
    for volume in ("fiducial", "active"):
        for v in VARIANTS:
            ratios = np.array([r[volume][v]["ratio"] for r in results])
            print(f"{volume} {v}: ratios {np.round(ratios, 2).tolist()}, mean {ratios.mean():.3f}")
    if args.output:
        config = {**vars(args), "output": str(args.output),
                  "events": None if args.events is None else str(args.events),
                  "settings": settings.model_dump(mode="json")}
        write_json(args.output, {"provenance": provenance(config, None, "bench.dense_baseline"),
                                 "seeds": results})


if __name__ == "__main__":
    run(main)
