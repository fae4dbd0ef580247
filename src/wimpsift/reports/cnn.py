"""The CNN reproduction's ``report.html`` from its metrics dictionary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wimpsift.papers import paper_numbers
from wimpsift.reports import write_page
from wimpsift.reports.format import fixed, num, pct, pct_pm, seconds, table

KIND_LABELS = {"hit": "Hit", "peak": "Peak", "hitpeak": "HitPeak"}
METRICS = [("accuracy", "Accuracy"), ("recall", "Recall (WIMP efficiency)"),
           ("precision", "Precision"), ("average_precision", "Average precision"),
           ("roc_auc", "ROC AUC")]
HYPER_PARAMETERS = {
    "n_conv_layers": "Convolution layers", "batch_size": "Batch size", "epochs": "Epochs",
    "leaky_alpha": "LeakyReLU α", "learning_rate": "Learning rate (Adam)",
}

STAGES = {"layers_batch_epochs": "1: layers, batch, epochs", "alpha": "2: LeakyReLU α",
          "learning_rate": "3: learning rate"}


def _paper_value(kind: str, key: str) -> float | None:
    paper = paper_numbers()["cnn_paper"]
    value = paper["table_iv"].get(kind, {}).get(key)
    if value is None and kind == "hitpeak":
        value = {"precision": paper["headline"]["hitpeak_precision"],
                 "er_rejection_at_50pct": paper["headline"]["cnn_er_rejection_at_50pct"]}.get(key)
    return value


def _leaked(m: dict[str, Any]) -> str:
    return f"{m['er_leaked_at_50pct']} / {m['n_background']}"


def cnn_context(metrics: dict[str, Any], figures: list[dict[str, str]], grid: dict[str, Any],
                grid_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Template context: ``metrics`` as in ``metrics.json``, ``figures`` as
    ``[{"src", "caption"}]``, ``grid`` the grid-search settings, ``grid_rows`` its trials."""
    prov = metrics["provenance"]
    cfg = prov["config"]
    kinds = [k for k in ("hit", "peak", "hitpeak") if k in metrics]
    paper = paper_numbers()["cnn_paper"]

    columns = ["Metric (test set)"]
    for kind in kinds:
        columns += [f"{KIND_LABELS[kind]} (ours)", f"{KIND_LABELS[kind]} (paper)"]
    rows = []
    for key, label in METRICS:
        row: list[Any] = [label]
        for kind in kinds:
            row += [fixed(metrics[kind][key]), fixed(_paper_value(kind, key))]
        rows.append(row)
    row = ["ER rejection at 50 % WIMP acceptance"]
    for kind in kinds:
        m = metrics[kind]
        row += [pct_pm(m["er_rejection_at_50pct"], m["er_rejection_at_50pct_error"]),
                pct(_paper_value(kind, "er_rejection_at_50pct"))]
    rows.append(row)
    table_iv = table("Our test-set results beside the paper's Table IV", columns, rows)

    b = metrics["baselines"]
    s, d = b["standard_selection"], b["dense_network"]
    rej_rows = [[f"CNN, {KIND_LABELS[k]} images",
                 pct_pm(metrics[k]["er_rejection_at_50pct"], metrics[k]["er_rejection_at_50pct_error"]),
                 _leaked(metrics[k]),
                 pct(paper["headline"]["cnn_er_rejection_at_50pct"]) if k == "hitpeak" else None]
                for k in kinds]
    rej_rows.append(["Standard selection (below the NR band median)",
                     pct_pm(s["er_rejection_at_50pct"], s["er_rejection_at_50pct_error"]), _leaked(s),
                     pct(paper["headline"]["standard_selection_er_rejection"])])
    rej_rows.append([f"Dense network on {', '.join(d['inputs'])}",
                     pct_pm(d["er_rejection_at_50pct"], d["er_rejection_at_50pct_error"]), _leaked(d),
                     None])
    rejection = table("ER rejection at 50 % WIMP acceptance, same test events",
                      ["Classifier", "ER rejection (ours)", "ER events leaked", "Paper"], rej_rows)
    cut = s["cut_below_training_nr_median"]

    g = metrics["grid_search"]
    chosen = table("Chosen hyper-parameters", ["Hyper-parameter", "Value"],
                   [[label, num(g["best_params"][key])] for key, label in HYPER_PARAMETERS.items()
                    if key in g["best_params"]])
    searched = table(
        "Grid searched", ["Hyper-parameter", "Values"],
        [[label, ", ".join(num(v) for v in grid[key])] for key, label in HYPER_PARAMETERS.items()
         if key in grid])
    trials = table(
        f"Cross-validated {g['scoring']} per trial",
        ["Stage", "Conv layers", "Batch size", "LeakyReLU α", "Learning rate", "Epochs",
         f"Mean {g['scoring']} ± std"],
        [[STAGES.get(r["stage"], r["stage"]), num(r["n_conv_layers"]), num(r["batch_size"]),
          num(r["leaky_alpha"]), num(r["learning_rate"]), num(r["epochs"]),
          f"{fixed(r['mean'])} ± {fixed(r['std'])}"]
         for r in grid_rows])
    search_text = [
        f"{grid.get('n_splits', 3)}-fold stratified cross-validation on the "
        f"{KIND_LABELS[cfg['search_kind']]} training images, scored on {g['scoring']}; epochs are "
        "checkpoints of one training, then α, then the learning rate are scanned. "
        f"Best cross-validated {g['scoring']}: {fixed(g['best_score'])}. Trials: {g['n_trials']} "
        f"({g['n_trained']} trained, {g['n_cached']} from cache), {g['epochs_trained']} training epochs.",
    ]
    if g.get("halving_factor"):
        search_text.append(
            f"Successive halving (η = {g['halving_factor']}): at each grid epoch only the best 1/η of a "
            "stage's configurations were continued; every score shown equals the exhaustive search's.")

    n_train = metrics["n_train_events"][cfg["search_kind"]]
    n_test = metrics["n_test_events"][cfg["search_kind"]]
    warning = None
    if cfg["images"] == "synthetic":
        warning = "SYNTHETIC TOY IMAGES: a plumbing test of the pipeline, no physics meaning."
    elif cfg["scale"] == "quick":
        warning = (f"Quick scale: {num(n_train)} training and {num(n_test)} test events (the paper used "
                   "20 000 and 10 000), a reduced grid and fewer epochs; numbers are not directly "
                   "comparable with the paper's.")
    timings = table("Wall time per stage", ["Stage", "Wall time"],
                    [[k.removesuffix("_s").replace("_", " "), seconds(v)]
                     for k, v in metrics["timings_s"].items()])
    sections = [
        {"anchor": "table-iv", "title": "Test-set results (paper Table IV)", "tables": [table_iv],
         "text": ["Rejection errors: the ER test events (binomial, at least 1.29 events) and the "
                  "cut's placement on the WIMP test events. Recall is the WIMP efficiency at a "
                  "network output of 0.5."]},
        {"anchor": "rejection", "title": "CNN against the standard selection", "tables": [rejection],
         "text": [f"The standard cut itself (NR band median from training NR events) keeps "
                  f"{pct(cut['nr_acceptance'])} of test WIMPs and rejects {pct(cut['er_rejection'], 2)} "
                  "of test ER events."]},
        {"anchor": "grid", "title": "Grid search", "tables": [chosen, searched, trials],
         "text": search_text},
        {"anchor": "choices", "title": "Choices where the paper is vague", "bullets": [
            f"Max pooling stride {cfg['pool_stride']} (the paper's text: the volume halves, stride 2; "
            "its notebook: stride 1).",
            "L2 penalties as Keras adds them: 0.005·Σw² on convolution kernels and 0.001·Σ(w²+b²) on "
            "the dense layer; Glorot-uniform kernels, zero biases.",
            f"Final models keep the weights of the best validation epoch ({cfg['monitor']}).",
            "Scoring the search on recall (the paper's choice) rewards models that call everything a "
            "WIMP; precision and ROC AUC are shown beside it and --scoring changes the criterion.",
            "The test set is an independent simulation (another seed); the standard selection's NR "
            "median comes from training WIMP (NR) events only.",
        ]},
        {"anchor": "figures", "title": "Figures", "figures": figures},
        {"anchor": "timings", "title": "Timings", "tables": [timings]},
    ]
    for section in sections:
        for key in ("text", "tables", "bullets", "figures"):
            section.setdefault(key, [])
    return {
        "title": "CNN classification of WIMP and ER event images",
        "subtitle": (f"Reproduction of the CNN paper on {cfg['detector']}: signal {cfg['signal']} "
                     f"(GeV/c²), background {cfg['background']}; scale {cfg['scale']}."),
        "warning": warning, "sections": sections, "provenance": prov,
        "footer_links": [{"href": "metrics.json", "text": "metrics.json"},
                         {"href": "config.json", "text": "config.json"}],
    }


def write_cnn_report(path: str | Path, metrics: dict[str, Any], figures: list[dict[str, str]],
                     grid: dict[str, Any], grid_rows: list[dict[str, Any]]) -> Path:
    """Write the CNN reproduction's HTML report."""
    return write_page(path, "analysis.html", cnn_context(metrics, figures, grid, grid_rows))
