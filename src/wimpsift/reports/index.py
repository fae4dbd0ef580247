"""The main job's ``index.html``: headline numbers of every part with the papers' beside
ours, then one section per part with its table, figure and links."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from wimpsift.papers import limit_at, paper_numbers, published_limit
from wimpsift.reports import write_page
from wimpsift.reports.cnn import KIND_LABELS
from wimpsift.reports.format import MISSING, fixed, num, pct, pct_pm, sci, table, times
from wimpsift.reports.lux import lux_published_curves, published_summary

SOURCE_LABELS = {
    "er": "Electronic recoils (ER)",
    "neutrons": "Radiogenic neutrons",
    "cevns": "CEvNS (⁸B)",
    "accidental": "Accidental coincidences",
    "wall": "Wall events",
    "anomalous": "Anomalous",
    "wimp": "WIMP signal",
}


def index_context(run: dict[str, Any]) -> dict[str, Any]:
    """``run``: ``provenance`` and, per part that ran, a plain dict: ``simulation``
    (detector, mass, events, figure), ``rates`` (rates.json), ``cnn`` and ``lux`` (their
    metrics.json).

    Wall times of the run (``stage_seconds``, the parts' ``wall_seconds``) are not on the
    page: they differ from run to run, and the page's bytes must not. They are in the
    ``timing.json`` it links to (:func:`run_timing`)."""
    papers = paper_numbers()
    headline: list[list[Any]] = []
    parts: list[dict[str, Any]] = []

    sim = run.get("simulation")
    if sim:
        parts.append(
            {
                "anchor": "simulation",
                "title": "Event-level simulation",
                "tables": [],
                "text": [
                    f"{sim['detector']}: {num(sim['events_per_source'])} ER and "
                    f"{num(sim['events_per_source'])} WIMP events ({num(sim['wimp_mass_gev'])} GeV/c², "
                    f"{sci(sim['sigma_cm2'])} cm²) simulated; the figure shows those in the analysis window."
                ],
                "figures": [
                    {
                        "src": sim["figure"],
                        "caption": (
                            "cS1 against log10(cS2/cS1) of ER (blue) and WIMP (orange) events in the "
                            "analysis window with the band medians (CNN paper Fig. 2)."
                        ),
                    }
                ],
                "links": [{"href": p, "text": p} for p in sim["files"]],
            }
        )

    rates = run.get("rates")
    if rates:
        # backgrounds: the detector file's published counts (rates.json); the WIMP line of
        # the paper's Table I only for its detector and signal model (500 GeV/c², 1e-45 cm²)
        paper = dict(rates.get("published", {}))
        sim_cfg = rates["provenance"]["config"]["simulation"]
        signal_model = (sim_cfg["detector"], sim_cfg["wimp_mass_gev"], sim_cfg["sigma_cm2"])
        if signal_model == ("xenon1t_sr0", 500.0, 1e-45):
            paper["wimp"] = papers["cnn_paper"]["table_i"]["wimp"]
        expected = rates["expected_events"]
        rows = [
            [SOURCE_LABELS.get(s, s), num(v), pct(rates["efficiency"][s], 1), num(paper.get(s))]
            for s, v in expected.items()
        ]
        background = sum(v for s, v in expected.items() if s != "wimp")
        rows.append(
            [
                "All backgrounds",
                num(background),
                MISSING,
                num(sum(v for k, v in paper.items() if k not in ("wimp", "source"))) if paper else None,
            ]
        )
        parts.append(
            {
                "anchor": "rates",
                "title": "Expected events (CNN paper Table I)",
                "figures": [],
                "tables": [
                    table(
                        "Expected events in the analysis window",
                        ["Source", "Expected events (ours)", "Selection efficiency",
                         "Published (detector file; paper Table I for XENON1T SR0)"],
                        rows,
                    )
                ],
                "text": [
                    f"The paper's WIMP line is {num(paper['wimp'] / expected['wimp'], 2)} times ours: the "
                    "standard halo at this mass and cross-section gives the count shown; the README explains."
                ]
                if expected.get("wimp") and "wimp" in paper
                else [],
                "links": [
                    {"href": "rates.json", "text": "rates.json"},
                    {"href": "rates.txt", "text": "rates.txt"},
                ],
            }
        )
        headline.append(
            [
                "Expected events",
                "ER background in the window",
                num(expected.get("er")),
                num(paper.get("er")),
                "CNN paper Table I" if paper else MISSING,
            ]
        )
        if "wimp" in expected:
            headline.append(
                [
                    "Expected events",
                    "WIMP signal in the window",
                    num(expected["wimp"]),
                    num(paper.get("wimp")),
                    "CNN paper Table I (see README)" if "wimp" in paper else MISSING,
                ]
            )

    cnn = run.get("cnn")
    if cnn:
        head = papers["cnn_paper"]["headline"]
        s = cnn["baselines"]["standard_selection"]
        if "hitpeak" in cnn:
            hp = cnn["hitpeak"]
            headline.append(
                [
                    "CNN",
                    "HitPeak ER rejection at 50 % WIMP acceptance",
                    pct_pm(hp["er_rejection_at_50pct"], hp["er_rejection_at_50pct_error"]),
                    pct(head["cnn_er_rejection_at_50pct"]),
                    "CNN paper Sec. IV B",
                ]
            )
            headline.append(
                [
                    "CNN",
                    "HitPeak accuracy (test set)",
                    fixed(hp["accuracy"]),
                    fixed(papers["cnn_paper"]["table_iv"]["hitpeak"]["accuracy"]),
                    "CNN paper Table IV",
                ]
            )
        headline.append(
            [
                "CNN",
                "Standard selection ER rejection, same events",
                pct_pm(s["er_rejection_at_50pct"], s["er_rejection_at_50pct_error"]),
                pct(head["standard_selection_er_rejection"]),
                "CNN paper Sec. IV B (XENON1T)",
            ]
        )
        kinds = [k for k in ("hit", "peak", "hitpeak") if k in cnn]
        parts.append(
            {
                "anchor": "cnn",
                "title": "Reproduction of the CNN paper",
                "figures": [],
                "text": [
                    f"Scale {cnn['scale']}: {num(cnn['n_train_events'][kinds[0]])} training and "
                    f"{num(cnn['n_test_events'][kinds[0]])} test events per image kind."
                    + (
                        " SYNTHETIC TOY IMAGES: a plumbing test, no physics meaning."
                        if cnn["images"] == "synthetic"
                        else ""
                    )
                ],
                "tables": [
                    table(
                        "Test-set results",
                        [
                            "Image kind",
                            "Accuracy",
                            "Recall",
                            "ROC AUC",
                            "ER rejection at 50 % WIMP acceptance",
                        ],
                        [
                            [
                                KIND_LABELS[k],
                                fixed(cnn[k]["accuracy"]),
                                fixed(cnn[k]["recall"]),
                                fixed(cnn[k]["roc_auc"]),
                                pct_pm(
                                    cnn[k]["er_rejection_at_50pct"], cnn[k]["er_rejection_at_50pct_error"]
                                ),
                            ]
                            for k in kinds
                        ],
                    )
                ],
                "links": [
                    {"href": "cnn/report.html", "text": "CNN report"},
                    {"href": "cnn/metrics.json", "text": "cnn/metrics.json"},
                    {"href": "cnn/config.json", "text": "cnn/config.json (provenance)"},
                ],
            }
        )

    lux = run.get("lux")
    if lux:
        paper = papers["lux_paper"]["table_i"]
        headline.append(
            [
                "LUX",
                "Speed-up of the 1-D network analysis, CPU",
                times(lux["speedup_cpu"]),
                times(paper["speedup_cpu"]),
                "LUX paper Table I",
            ]
        )
        headline.append(
            [
                "LUX",
                "Speed-up, wall clock",
                times(lux["speedup_wall"]),
                times(paper["speedup_wall"]),
                "LUX paper Sec. IV B",
            ]
        )
        published = published_limit("lux_2013")
        per_mass = lux["per_mass"]
        mass = min(per_mass, key=lambda m: abs(math.log(float(m) / 50.0)))
        row = per_mass[mass]
        at_mass = limit_at(published, float(mass)) if published else None
        headline.append(
            [
                "LUX",
                f"Expected limit at {num(float(mass))} GeV/c², network (cm²)",
                sci(row["expected_limit_network_cm2"]),
                sci(at_mass),
                "LUX 2013 observed (arXiv:1310.8214)" if published else MISSING,
            ]
        )
        headline.append(
            [
                "LUX",
                f"Expected limit ratio network / traditional at {num(float(mass))} GeV/c²",
                fixed(row["expected_limit_ratio"]),
                "≈ 1",
                "LUX paper Fig. 6",
            ]
        )
        ratios = [r["mi_ratio"] for r in lux["network"] if r.get("mi_ratio") is not None]
        if ratios:
            headline.append(
                [
                    "LUX",
                    "MI ratio network output / inputs (lowest, highest)",
                    f"{fixed(min(ratios))} – {fixed(max(ratios))}",
                    "≈ 1",
                    "LUX paper Fig. 2",
                ]
            )
        parts.append(
            {
                "anchor": "lux",
                "title": "Reproduction of the LUX paper",
                "figures": [
                    {
                        "src": "lux/limits_published.png",
                        "caption": (
                            "Our 90 % CL limits beside the published LUX limits (LUX paper Fig. 6). "
                            + published_summary(*lux_published_curves())
                        ),
                    }
                ],
                "text": [
                    f"Masses {', '.join(num(float(m)) for m in sorted(per_mass, key=float))} GeV/c²."
                ],
                "tables": [],
                "links": [
                    {"href": "lux/report.html", "text": "LUX report"},
                    {"href": "lux/metrics.json", "text": "lux/metrics.json"},
                    {"href": "lux/limits_metrics.json", "text": "lux/limits_metrics.json"},
                ],
            }
        )

    if run.get("timing"):
        parts.append(
            {
                "anchor": "timing",
                "title": "Wall time",
                "figures": [],
                "links": [{"href": run["timing"], "text": run["timing"]}],
                "text": [
                    "The wall time of every stage of this run, and of each part, is in "
                    f"{run['timing']}: it differs from run to run, so it is kept off this page, whose "
                    "bytes are the same for the same seed and configuration."
                ],
                "tables": [],
            }
        )
    return {
        "title": "wimpsift run",
        "subtitle": (
            "Machine-learning dark-matter searches in xenon TPCs: simulation, the CNN paper and the "
            "LUX paper reproduced, with the papers' numbers beside ours."
        ),
        "headline": table("", ["Part", "Quantity", "Ours", "Paper", "Paper source"], headline),
        "headline_notes": [
            "Ours: this run (quick scale unless configured otherwise); rejection errors count the test "
            "events (ER binomial, WIMP for the cut). "
            "Each part's report says where and why we differ."
        ]
        if headline
        else ["No part with headline numbers ran in this configuration."],
        "parts": parts,
        "provenance": run["provenance"],
        "footer_links": [{"href": "provenance.json", "text": "provenance.json"}],
    }


def run_timing(run: dict[str, Any]) -> dict[str, Any]:
    """The wall times of a run, for ``timing.json``: ``stage_seconds`` (the main job's
    stages), their total, and each part's own record (the CNN's ``timings_s`` per step,
    the LUX reproduction's ``wall_seconds``) where its metrics have one."""
    stages = dict(run.get("stage_seconds", {}))
    parts = {name: run[name][key] for name, key in (("cnn", "timings_s"), ("lux", "wall_seconds"))
             if isinstance(run.get(name), dict) and key in run[name]}
    return {"stage_seconds": stages, "total_seconds": sum(stages.values()), "parts": parts,
            "note": "wall-clock seconds of this run; they differ between runs of the same "
                    "configuration, so index.html leaves them out"}


def write_index(path: str | Path, run: dict[str, Any]) -> Path:
    """Write the main job's ``index.html``."""
    return write_page(path, "index.html", index_context(run))
