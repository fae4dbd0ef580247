"""The LUX reproduction's ``report.html`` from its metrics dictionary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wimpsift.papers import LUX_PUBLISHED_LIMITS, limit_at, paper_numbers, published_limit
from wimpsift.reports import write_page
from wimpsift.reports.format import MISSING, fixed, num, pm, sci, seconds, table, times
from wimpsift.stats.timing import PAPER_STAGE_KEYS

#: our stage -> its key in the paper's Table I (papers.toml), the same map the timing table uses
STAGES = [*PAPER_STAGE_KEYS.items(), ("total", "total")]
STAGE_LABELS = {"workspace_creation": "Workspace creation", "toy_generation": "Toy generation",
                "hypothesis_testing": "Hypothesis testing", "training": "Network training",
                "total": "Total"}

INPUT_LABELS = {"r_cm": "r", "z_cm": "z", "cs1_pe": "cS1", "log10_cs2_pe": "log10 cS2", "s1_area_pe": "S1",
                "log10_s2_area_pe": "log10 S2", "s1_prompt_fraction": "S1 prompt fraction",
                "r2_cm2": "r²"}
#: network-table columns left out of the page (in metrics.json): the MI test's resolution
NETWORK_HIDDEN = ("mi_relative_error", "mi_resolved", "mi_test_events_needed")
#: study-table columns left out of the page (in metrics.json): sizes, times, MI resolution
STUDY_HIDDEN = ("n_attempts", "training_seconds", "n_train", "n_test", *NETWORK_HIDDEN)
#: column -> (header with unit, formatter) for the network and study tables
COLUMNS: dict[str, tuple[str, Any]] = {
    "mass_gev": ("WIMP mass (GeV/c²)", num),
    "variant": ("Variant", str),
    "inputs": ("Inputs", lambda v: ", ".join(INPUT_LABELS.get(x, x) for x in v.split(","))),
    "input_mi_bits": ("MI, inputs (bits)", None),
    "output_mi_bits": ("MI, network output (bits)", None),
    "mi_ratio": ("MI ratio output / inputs", lambda v: fixed(v, 3)),
    "mi_complete": ("MI complete", num),
    "auc": ("ROC AUC", lambda v: fixed(v, 4)),
    "leakage_at_50pct_signal": ("Background leakage at 50 % signal", lambda v: num(v, 3)),
    "n_attempts": ("Trainings", num),
    "training_seconds": ("Training time", seconds),
    "n_train": ("Training events", num),
    "n_test": ("Test events", num),
    "n_mi_test": ("MI test events", num),
    "nn_leakage": ("Leakage, network", lambda v: num(v, 3)),
    "nn_auc": ("ROC AUC, network", lambda v: fixed(v, 4)),
    "pca_leakage": ("Leakage, first principal component", lambda v: num(v, 3)),
    "pca_auc": ("ROC AUC, first principal component", lambda v: fixed(v, 4)),
    "leakage_ratio_pca_over_nn": ("Leakage ratio PCA / network", lambda v: num(v, 3)),
}
STUDY_TITLES = {
    "pca": "Study: first principal component against the network (paper Sec. III)",
    "raw_vs_corrected": "Study: raw against position-corrected inputs (paper Fig. 7)",
    "prompt_fraction": "Study: adding the S1 prompt fraction (paper Fig. 8)",
}


def records_table(caption: str, records: list[dict[str, Any]],
                  hidden: tuple[str, ...] = ()) -> dict[str, Any]:
    """A table of records with human headers and units; MI values with their errors."""
    if not records:
        return table(caption, [], [])
    keys = [k for k in records[0] if not k.endswith("_error_bits") and k not in hidden]
    columns = [COLUMNS.get(k, (k.replace("_", " "), None))[0] for k in keys]
    rows = []
    for r in records:
        row = []
        for k in keys:
            value = r[k]
            if k.endswith("_mi_bits"):
                row.append(pm(value, r.get(k.replace("_mi_bits", "_mi_error_bits"))))
            elif value is None:
                row.append(MISSING)
            else:
                row.append((COLUMNS.get(k, (None, None))[1] or num)(value))
        rows.append(row)
    return table(caption, columns, rows)


#: the comparison summary's keys (``metrics.json`` "comparison", bench_limits.py's last line)
COMPARISON_LABELS = {
    "speedup_cpu_4d": "CPU speed-up, 4-D, end to end (simulation included)",
    "speedup_cpu_4d_nuisance": "CPU speed-up with a shape nuisance parameter",
    "shape_nuisance_cost_factor_traditional": "CPU cost factor of the shape nuisance, traditional "
                                              "(paper: 6–8×)",
    "shape_nuisance_cost_factor_network": "CPU cost factor of the shape nuisance, network",
    "speedup_cpu_5d": "CPU speed-up, 5-D (prompt fraction)",
    "five_d_cost_factor_traditional": "CPU cost factor of the prompt fraction (5-D / 4-D), traditional "
                                      "(paper: 7–8× per extra dimension)",
    "five_d_cost_factor_network": "CPU cost factor of the prompt fraction (5-D / 4-D), network",
    "five_d_limit_ratio_min": "5-D limit ratio network / traditional, lowest over masses",
    "five_d_limit_ratio_max": "5-D limit ratio network / traditional, highest over masses",
    "limit_ratio_min": "Limit ratio network / traditional, lowest over masses",
    "limit_ratio_max": "Limit ratio network / traditional, highest over masses",
    "coverage_network": "90 % CL coverage, network",
    "coverage_traditional": "90 % CL coverage, traditional",
    "mc_events_network": "Simulated events needed (within 5 %), network",
    "mc_events_traditional": "Simulated events needed (within 5 %), traditional",
}


def _comparison_table(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary keys with human labels, then the rest."""
    rows = [[label, "–" if summary.get(key) is None else num(summary[key])]
            for key, label in COMPARISON_LABELS.items()]
    rest = {k: v.replace("_", " ") if isinstance(v, str) else v
            for k, v in summary.items() if k not in COMPARISON_LABELS}
    return table("", ["Quantity", "Value"], rows + _mapping_table("", rest)["rows"])


def _mapping_table(caption: str, values: dict[str, Any]) -> dict[str, Any]:
    """A two-column table of a (possibly nested) mapping, nested keys joined by ' / '."""
    rows: list[list[Any]] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict):
            for k, sub in v.items():
                walk(f"{prefix} / {k}" if prefix else str(k), sub)
        elif isinstance(v, list):
            rows.append([prefix.replace("_", " "), ", ".join(num(x) if not isinstance(x, str) else x
                                                             for x in v)])
        else:
            rows.append([prefix.replace("_", " "), v if isinstance(v, str) else num(v)])

    walk("", values)
    return table(caption, ["Quantity", "Value"], rows)


#: how each published LUX curve is named where its data file is not shipped
PUBLISHED_NAMES = {"lux_2013": "LUX 2013 (arXiv:1310.8214)",
                   "lux_2013_reanalysis": "LUX 2013 reanalysis (arXiv:1512.03506)"}


def lux_published_curves() -> tuple[list[dict[str, Any]], list[str]]:
    """The published LUX curves shipped under ``wimpsift/data/published_limits`` (as
    :func:`wimpsift.papers.published_limit` reads them) and the names of those that are not."""
    curves = {name: published_limit(name) for name in LUX_PUBLISHED_LIMITS}
    return ([c for c in curves.values() if c is not None],
            [name for name, c in curves.items() if c is None])


def published_summary(drawn: list[dict[str, Any]], missing: list[str]) -> str:
    """One sentence for a caption: which published curves are drawn, and which are not."""
    parts = [f"{c['label']}" + (" (one point: drawn as a star, not a curve)" if len(c["masses_gev"]) == 1
                                 else "") for c in drawn]
    text = f"Drawn: {'; '.join(parts)}." if parts else "No published curve is drawn."
    if missing:
        text += (" Not drawn, no data file shipped: "
                 + "; ".join(PUBLISHED_NAMES.get(name, name) for name in missing) + ".")
    return text


def lux_context(metrics: dict[str, Any], figures: list[dict[str, str]],
                published: list[dict[str, Any]] | None = None,
                missing_published: list[str] | None = None) -> dict[str, Any]:
    """Template context from ``metrics`` (as in ``metrics.json``), ``figures``
    (``[{"src", "caption"}]``) and the published curves drawn (``[{"label", "source"}]``)."""
    prov = metrics["provenance"]
    cfg = prov["config"]
    paper = paper_numbers()["lux_paper"]["table_i"]

    published = published or []
    limit_rows = []
    for mass in sorted(metrics["per_mass"], key=float):
        r = metrics["per_mass"][mass]
        limit_rows.append([num(float(mass)), sci(r["expected_limit_network_cm2"]),
                           sci(r["expected_limit_traditional_cm2"]), fixed(r["expected_limit_ratio"]),
                           sci(r["observed_limit_network_cm2"]), sci(r["observed_limit_traditional_cm2"]),
                           fixed(r.get("pseudo_experiment_limit_ratio"))])
    limits = table("90 % CL upper limits on the WIMP-nucleon cross-section", [
        "WIMP mass (GeV/c²)", "Expected, network (cm²)", "Expected, traditional (cm²)",
        "Expected ratio network / traditional", "Pseudo-data, network (cm²)",
        "Pseudo-data, traditional (cm²)", "Ratio from event-level pseudo-experiments"], limit_rows)
    # the published curves at our masses: a table of their own, so the limits table fits
    published_at_masses = table("Published limits at our masses", [
        "WIMP mass (GeV/c²)", *[f"{c['label']} (cm²)" for c in published]],
        [[num(float(mass)), *[sci(limit_at(c, float(mass))) for c in published]]
         for mass in sorted(metrics["per_mass"], key=float)]) if published else None

    timing = metrics["timing"]
    time_rows = []
    for stage, paper_key in STAGES:
        trad = timing["traditional"]["cpu_s"].get(stage, 0.0)
        net = timing["network"]["cpu_s"].get(stage, 0.0)
        paper_trad = paper["traditional_hours"].get(paper_key)
        paper_net = paper["network_hours"].get(paper_key)
        time_rows.append([STAGE_LABELS[stage], seconds(trad), seconds(net),
                          times(trad / net) if trad and net else MISSING,
                          None if paper_trad is None else f"{num(paper_trad)} h",
                          None if paper_net is None else f"{num(paper_net)} h",
                          times(paper_trad / paper_net) if paper_trad and paper_net else None])
    timing_table = table("CPU time per stage, ours beside the paper's Table I (CPU hours per signal model)", [
        "Stage", "Traditional (ours)", "Network (ours)", "Speed-up (ours)", "Traditional (paper)",
        "Network (paper)", "Speed-up (paper)"], time_rows)
    speedup = table("End-to-end speed-up of the network analysis", ["", "Ours", "Paper"], [
        ["CPU time", times(metrics["speedup_cpu"]), times(paper["speedup_cpu"])],
        ["Wall time", times(metrics["speedup_wall"]), times(paper["speedup_wall"])]])

    published_text = [f"{c['label']}: " + "; ".join(c["source"][1:3])
                      + ". Points and how they were obtained: "
                      + f"wimpsift/data/published_limits/{c['name']}.csv."
                      + (" Only one point is shipped, drawn as a star, not the curve."
                         if len(c["masses_gev"]) == 1 else "")
                      for c in published]
    published_text += [f"{PUBLISHED_NAMES.get(name, name)}: not drawn, no data file "
                       f"wimpsift/data/published_limits/{name}.csv is shipped."
                       for name in (missing_published or [])]

    sections: list[dict[str, Any]] = [
        {"anchor": "limits", "title": "Limits (paper Fig. 6)", "tables": [limits], "text": [
            "Expected: median of background-only toys of each analysis' own templates. Pseudo-data: "
            "one background-only data set drawn from the test events. The event-level ratio uses "
            "identical background-only experiments from an independent simulation (below 1: the "
            "network analysis is better)."]},
        {"anchor": "published", "title": "Published limits drawn beside ours", "text": published_text
         or ["No published curve is shipped for this detector."],
         "tables": [published_at_masses] if published_at_masses else []},
        {"anchor": "timing", "title": "Computing time (paper Table I)", "tables": [timing_table, speedup],
         "text": ["Our times are seconds on this machine for the masses above; the paper's are CPU hours "
                  "of the full LUX analysis per signal model, so compare the ratios."]},
        {"anchor": "networks", "title": "Networks: mutual information, AUC, leakage (paper Figs. 1-2)",
         "tables": [records_table("Sequential transfer learning, per WIMP mass", metrics["network"],
                                  NETWORK_HIDDEN),
                    records_table("Independent training, per WIMP mass", metrics["network_independent"],
                                  NETWORK_HIDDEN)],
         "text": ["MI ratio: mutual information of the network output over that of its inputs; 1 "
                  "means the one-dimensional output kept all the discriminating information."]},
    ]
    for name, records in metrics.get("studies", {}).items():
        sections.append({"anchor": f"study-{name}", "title": STUDY_TITLES.get(name, f"Study: {name}"),
                         "tables": [records_table("", records, STUDY_HIDDEN)]})
    if metrics.get("comparison"):
        sections.append({"anchor": "comparison",
                         "title": "Network against traditional analysis on fair ground",
                         "tables": [_comparison_table(metrics["comparison"])],
                         "text": ["Speed-ups are end to end, with the simulation each analysis used; "
                                  "limit ratios are network / traditional over masses; coverage is "
                                  "the fraction of signal-injected experiments whose 90 % CL limit "
                                  "covers the injected strength; '–': not measured in this run."]})
    sections.append({"anchor": "figures", "title": "Figures", "figures": figures})
    for section in sections:
        for key in ("text", "tables", "bullets", "figures"):
            section.setdefault(key, [])

    masses = ", ".join(num(m) for m in cfg["masses_gev"])
    warning = None
    if cfg["scale"] == "quick":
        warning = (f"Quick scale: {len(cfg['masses_gev'])} masses, {num(cfg['n_signal'])} signal events "
                   f"and {num(cfg['n_toys'])} toys (the paper: 22 masses, 10 000 events, 2000 toys); "
                   "limits are noisier than the paper's.")
    return {
        "title": "LUX machine-learning paper: neural-network discriminant and 1-D profile likelihood",
        "subtitle": (f"Detector {cfg['detector']}; WIMP masses {masses} GeV/c²; {num(cfg['n_signal'])} "
                     f"signal and {num(cfg['n_background'])} events per background in the window; "
                     f"{num(cfg['n_toys'])} toys per tested strength; wall time "
                     f"{seconds(metrics['wall_seconds'])}."),
        "warning": warning, "sections": sections, "provenance": prov,
        "footer_links": [{"href": "metrics.json", "text": "metrics.json"},
                         {"href": "limits_metrics.json", "text": "limits_metrics.json"}],
    }


def write_lux_report(path: str | Path, metrics: dict[str, Any], figures: list[dict[str, str]],
                     published: list[dict[str, Any]] | None = None,
                     missing_published: list[str] | None = None) -> Path:
    """Write the LUX reproduction's HTML report."""
    return write_page(path, "analysis.html", lux_context(metrics, figures, published, missing_published))
