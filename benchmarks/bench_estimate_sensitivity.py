"""How far the two unsourced near-wall estimates move the active-volume verdict.

The active-volume comparison of ``wimpsift reproduce cnn --backgrounds all`` counts two
populations whose normalisation rests on estimates for which no source could be read
(``src/wimpsift/detectors/data/README.md``): the materials' gamma rate
(``external_gamma.fiducial_rate_per_kg_day_kev``) and the surface events' share of 206Pb
recoils (``surface.recoil_fraction``). This script reweights finished runs' test events,
the classifiers as trained:

- external gammas: every event's weight × k (their expected count is linear in the rate);
- surface events: the recoils' weights × f'/f and the betas' × (1 − f')/(1 − f), then all
  scaled so that their count in the fiducial analysis window keeps the published value
  that normalises the population (as the simulation normalises it).

Each classifier's threshold is set by the WIMP acceptance, which neither change moves, so
at fixed classifiers the remaining counts are exact for the reweighted rates. That is all
they are: the classifiers were trained on the mix at the shipped estimates, and retrained
on another mix they leak differently, by more than the reweighting moves. Measured
(2026-12-04, quick runs, seeds 0 and 3, a scratch tree with the gamma rate × 4): the
active-volume binary CNN's ratio was 0.716 and 0.601 retrained, against 0.510 and 0.683
reweighted at fixed classifiers, its ER leakage doubling (0.19 → 0.32 and 0.23 → 0.46
expected events) as the ER's share of the active training mix fell from about 18 % to 5 %
(a floor on that share, ``all_backgrounds.binary_source_share_floors``, on by default,
recovers most of it: ``detectors/data/README.md``).
Read the output as the estimates' direct effect on the count, not as the verdict a run
at another rate would reach.

Per scenario it prints each run's ratio of a classifier's total to the standard
selection's, the mean over the runs, its 68 % interval (Student's t, as
``scripts/cnn_backgrounds_seeds.py``) and the verdict on the ≤ 0.5 target; and the factor
k on the gamma rate at which each classifier's mean ratio, and the upper end of its
interval (where the verdict leaves 'met'), reaches the target. Before any of
it, each run's stored totals are recomputed from its test scores (exit 2 if they differ).

Runs written before the test scores carried the truth's recoil type (``true_recoil_type``)
get it by re-simulating their surface test events with the run's own configuration and
seed (the pipeline's ``simulate_mix``), checked event by event against the stored cS1 and
cS2. Seconds per run with the column, about a minute without.

    python benchmarks/bench_estimate_sensitivity.py RUN_DIR [RUN_DIR ...] --output sens.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import sem

from wimpsift.detectors import load_detector
from wimpsift.metrics.background_comparison import (
    CLASSIFIERS,
    TARGET_RATIO,
    over_seeds,
    student_t_68,
)
from wimpsift.metrics.remaining import remaining_at_acceptance
from wimpsift.pipelines.reproduce_cnn import ReproduceCNNConfig, _wimp
from wimpsift.processing.background_mix import SIGNAL
from wimpsift.provenance import provenance, write_json
from wimpsift.seeding import int_seed
from wimpsift.sources import make_source, source_names
from wimpsift.training.background_classifiers import ACTIVE_MIX
from wimpsift.training.mix_samples import simulate_mix

GAMMA_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
RECOIL_SHARES = (0.1, 0.3, 0.45, 0.6, 0.75, 0.9)
COMPARED = ("cnn_binary", "cnn_multiclass", "dense")


class RunError(ValueError):
    """A run folder that cannot be used (one line, names the folder)."""


def _surface_truth(run: Path, config: dict[str, Any], surface: pd.DataFrame) -> np.ndarray:
    """Truth recoil type of a run's surface test events, re-simulated (see module)."""
    cfg = ReproduceCNNConfig.model_validate(config)
    detector = load_detector(cfg.detector)
    s = cfg.all_backgrounds
    mix = simulate_mix(detector, {"surface": cfg.test_events_per_class},
                       int_seed(cfg.seed, "mix", "test"), s.image_kind, s.max_simulated_factor,
                       *_wimp(cfg), s)
    again = mix.table
    same = len(again) == len(surface) and all(
        np.array_equal(again[c].to_numpy(float), surface[c].to_numpy(float))
        for c in ("cs1_pe", "cs2_pe"))
    if not same:
        raise RunError(f"{run}: re-simulated surface events differ from the stored ones "
                       "(different code or configuration); expected a run of this commit's "
                       "simulation")
    return again["true_recoil_type"].to_numpy(object)


def load_run(run: Path) -> dict[str, Any]:
    """Test scores, metrics, the surface events' truth recoil type and the active
    comparison's rows, scores and acceptances (read once) of one run folder."""
    paths = {n: run / n for n in ("metrics.json", "config.json", "data/test_scores.parquet")}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise RunError(f"{run}: missing {', '.join(missing)}; expected the output folder of "
                       "`wimpsift reproduce cnn --backgrounds all`")
    metrics = json.loads(paths["metrics.json"].read_text())
    if "all_backgrounds" not in metrics:
        raise RunError(f"{run}: metrics.json has no all_backgrounds section")
    config = json.loads(paths["config.json"].read_text())["provenance"]["config"]
    scores = pd.read_parquet(paths["data/test_scores.parquet"])
    surface = (scores["source"] == "surface").to_numpy()
    if "true_recoil_type" in scores:
        recoil = scores["true_recoil_type"].to_numpy(object)
    else:
        recoil = np.full(len(scores), "", dtype=object)
        recoil[surface] = _surface_truth(run, config, scores[surface])
    ab = metrics["all_backgrounds"]
    detector = load_detector(ab["detector"])
    rows = scores["source"].isin(source_names(detector, "active")).to_numpy()
    details = ab["active_volume"]["details"]
    return {"run": str(run), "seed": metrics["provenance"]["seed"], "metrics": metrics,
            "scores": scores, "recoil": recoil,
            "recoil_share": float(make_source(detector, "surface").recoil_fraction),
            "active_rows": rows,
            "active_source": scores["source"].to_numpy(object)[rows],
            "active_scores": {n: scores[f"score_{ACTIVE_MIX.get(n, n)}"].to_numpy(float)[rows]
                              for n in CLASSIFIERS},
            "active_acceptance": {n: details[n]["signal_acceptance"] - 1e-9
                                  for n in CLASSIFIERS}}


def totals(run: dict[str, Any], weight: np.ndarray) -> dict[str, float]:
    """Each classifier's total remaining background, active volume, at ``weight``."""
    w = weight[run["active_rows"]]
    return {n: remaining_at_acceptance(run["active_scores"][n], run["active_source"], w,
                                       SIGNAL, run["active_acceptance"][n])["total"]
            for n in CLASSIFIERS}


def check_stored(run: dict[str, Any]) -> float:
    """Largest relative difference between recomputed and stored active totals."""
    stored = run["metrics"]["all_backgrounds"]["active_volume"]["remaining_at_50pct"]
    again = totals(run, run["scores"]["weight"].to_numpy(float))
    return max(abs(again[n] - stored[n]["total"]) / stored[n]["total"] for n in CLASSIFIERS)


def reweighted(run: dict[str, Any], gamma_factor: float = 1.0,
               recoil_share: float | None = None) -> np.ndarray:
    """Test-event weights with the gamma rate × ``gamma_factor`` and the surface events'
    recoil share ``recoil_share`` (module docstring)."""
    scores = run["scores"]
    weight = scores["weight"].to_numpy(float).copy()
    source = scores["source"].to_numpy(object)
    weight[source == "external_gamma"] *= gamma_factor
    if recoil_share is not None:
        share = run["recoil_share"]
        surface = source == "surface"
        nr = surface & (run["recoil"] == "nr")
        scale = np.where(nr, recoil_share / share, (1 - recoil_share) / (1 - share))
        new = weight * np.where(surface, scale, 1.0)
        window = surface & scores["in_window"].to_numpy(bool)
        new[surface] *= weight[window].sum() / new[window].sum()
        weight = new
    return weight


def summarise(runs: list[dict[str, Any]], weights: list[np.ndarray]) -> dict[str, Any]:
    """Per classifier: each run's ratio, the mean, its 68 % interval and the verdict."""
    per_run = [totals(r, w) for r, w in zip(runs, weights, strict=True)]
    out: dict[str, Any] = {"standard_selection_total": [t["standard_selection"]
                                                        for t in per_run]}
    for name in COMPARED:
        out[name] = over_seeds([t[name] / t["standard_selection"] for t in per_run])
    return out


def gamma_parts(runs: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Per run, each classifier's total at the shipped rates and the external gammas' part
    of it (totals are linear in the gamma rate)."""
    base = [totals(r, reweighted(r)) for r in runs]
    doubled = [totals(r, reweighted(r, gamma_factor=2.0)) for r in runs]
    return base, [{n: d[n] - b[n] for n in CLASSIFIERS}
                  for b, d in zip(base, doubled, strict=True)]


def gamma_break_even(base: list[dict], gamma: list[dict], name: str = "cnn_binary",
                     upper: bool = False) -> float | None:
    """Factor on the gamma rate at which ``name``'s mean ratio (``upper``: the upper end
    of its 68 % interval, where the verdict leaves 'met') reaches the target; None if it
    stays below up to × 1000 or is above it already at × 1. ``base``, ``gamma``:
    :func:`gamma_parts`."""
    quantile = student_t_68(len(base)) if upper else 0.0

    def excess(k: float) -> float:
        # totals are linear in the gamma rate: base + (k - 1) × the gammas' part
        ratios = [(b[name] + (k - 1) * g[name])
                  / (b["standard_selection"] + (k - 1) * g["standard_selection"])
                  for b, g in zip(base, gamma, strict=True)]
        return float(np.mean(ratios) + quantile * sem(ratios)) - TARGET_RATIO

    if excess(1.0) >= 0 or excess(1000.0) < 0:
        return None
    return float(brentq(excess, 1.0, 1000.0, xtol=1e-4))


def _line(label: str, s: dict[str, Any]) -> str:
    cells = [f"{name} {s[name]['mean']:.3f} ± {s[name]['standard_error']:.3f} "
             f"({s[name]['verdict']})" for name in COMPARED]
    standard = np.mean(s["standard_selection_total"])
    return f"{label:<26} standard {standard:.3f} | " + " | ".join(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+",
                        help="output folders of `reproduce cnn --backgrounds all`, one per seed")
    parser.add_argument("--output", type=Path, help="JSON file for the numbers")
    args = parser.parse_args(argv)
    if len(args.runs) < 2:
        print("runs: expected at least 2 run folders (one per seed)", file=sys.stderr)
        return 2
    try:
        runs = [load_run(p) for p in args.runs]
    except (RunError, OSError, ValueError, KeyError) as err:
        print(f"runs: {err}", file=sys.stderr)
        return 2
    worst = max(check_stored(r) for r in runs)
    print(f"stored active totals recomputed from the test scores: largest relative "
          f"difference {worst:.1e}")
    if worst > 1e-9:
        print("runs: recomputed totals differ from metrics.json; expected the run's own "
              "test scores", file=sys.stderr)
        return 2
    gamma = {k: summarise(runs, [reweighted(r, gamma_factor=k) for r in runs])
             for k in GAMMA_FACTORS}
    recoil = {f: summarise(runs, [reweighted(r, recoil_share=f) for r in runs])
              for f in RECOIL_SHARES}
    parts = gamma_parts(runs)
    break_even = {name: {"mean": gamma_break_even(*parts, name),
                         "verdict": gamma_break_even(*parts, name, upper=True)}
                  for name in COMPARED}
    print(f"active volume, {len(runs)} runs (seeds {[r['seed'] for r in runs]}); mean ratio "
          "to the standard selection ± standard error (verdict on ≤ 0.5):")
    for k, s in gamma.items():
        print(_line(f"external gammas × {k:g}", s))
    for f, s in recoil.items():
        print(_line(f"surface recoil share {f:g}", s))
    for name, factors in break_even.items():
        text = ["not reached (above at × 1, or below up to × 1000)" if k is None
                else f"× {k:.2f}" for k in factors.values()]
        print(f"gamma-rate factor at which {name} reaches 0.5: mean ratio {text[0]}, "
              f"upper end of its 68 % interval {text[1]}")
    if args.output:
        write_json(args.output, {
            "provenance": provenance({"runs": [r["run"] for r in runs],
                                      "gamma_factors": GAMMA_FACTORS,
                                      "recoil_shares": RECOIL_SHARES}, None,
                                     "benchmarks.estimate_sensitivity"),
            "seeds": [r["seed"] for r in runs], "stored_totals_max_relative_difference": worst,
            "external_gamma_factor": {str(k): s for k, s in gamma.items()},
            "surface_recoil_share": {str(f): s for f, s in recoil.items()},
            "gamma_factor_break_even": break_even})
    return 0


if __name__ == "__main__":
    sys.exit(main())
