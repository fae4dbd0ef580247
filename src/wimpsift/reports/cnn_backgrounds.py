"""``report.html`` of ``reproduce cnn --backgrounds all`` from its metrics dictionary.

One table per comparison (fiducial volume, whole active volume): the expected
background events remaining at the comparison's WIMP acceptance, per source and in
total, with Feldman–Cousins 68 % intervals, for each classifier, beside the expected
count before discrimination and the published count (the paper's Table I for XENON1T
SR0); the ratio of each classifier's total to the standard selection's with its 68 %
interval and the verdict on the ≤ 0.5 target, also with the CNN ensembles' training
noise (their members' spread) folded in, and with every error (test events, training
noise, the acceptance threshold's); the ratio to the best classifier; the
floor an ideal NR/ER separator leaves; the mutual information of the event variables
beside each classifier's output and its share of the bound. Then the position
reconstruction, and the events: counts per source, the standard selection's cuts, and
the strata of the tail-sampled sources (:mod:`wimpsift.waveforms.tail_sampling`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wimpsift.reports import write_page
from wimpsift.reports.format import fixed, num, pct, pm, seconds, table

CLASSIFIER_LABELS = {
    "standard_selection": "Standard selection",
    "dense": "Dense network (event variables)",
    "cnn_binary": "CNN, WIMP against all",
    "cnn_multiclass": "CNN, multi-class",
}
MI_LABELS = {"event_variables": "Event variables (k-nearest-neighbour estimate)",
             "cs1_cs2": "cS1 and log10 cS2 only (k-nearest-neighbour estimate)",
             "event_variables_lower_bound": "Event variables, at least (the largest of the two "
             "estimates above and the dense network's output)", **CLASSIFIER_LABELS}
POSITION_LABELS = {"cnn": "Position CNN (averaged over the array's symmetries)",
                   "cnn_single": "Position CNN, one evaluation",
                   "likelihood": "Likelihood fit (mismatched LRF)",
                   "likelihood_true_lrf": "Likelihood fit (true LRF)",
                   "centre_of_gravity": "Centre of gravity"}


def _interval(value: Any, bounds: Any) -> str:
    """``value [lower, upper]`` (68 % interval), three significant digits."""
    if bounds is None:
        return num(value)
    return f"{num(value)} [{num(bounds[0], 2)}, {num(bounds[1], 2)}]"


def _ratio(value: Any, bounds: list[float] | None, verdict: str | None = None) -> str:
    """``ratio [lower, upper]``, two decimals (– for missing bounds), then ``, verdict``
    when one is given."""
    lower, upper = bounds or (None, None)
    text = f"{fixed(value, 2)} [{fixed(lower, 2)}, {fixed(upper, 2)}]"
    return text if verdict is None else f"{text}, {verdict}"


def _remaining_table(caption: str, c: dict[str, Any], published: dict[str, Any]
                     ) -> dict[str, Any]:
    remaining = c["remaining_at_50pct"]
    intervals = c.get("remaining_at_50pct_interval", {})
    classifiers = list(remaining)
    columns = ["Source", "Before discrimination (events)", "Published (events)",
               *[f"{CLASSIFIER_LABELS[k]} (events)" for k in classifiers]]
    sources = [s for s in remaining[classifiers[0]] if s != "total"]
    rows = []
    for source in sources:
        rows.append([source, num(c["no_discrimination"][source]),
                     num(published["counts"].get(source)),
                     *[_interval(remaining[k][source], intervals.get(k, {}).get(source))
                       for k in classifiers]])
    rows.append(["total", num(c["no_discrimination"]["total"]),
                 num(sum(published["counts"].values())) if published["counts"] else None,
                 *[_interval(remaining[k]["total"], intervals.get(k, {}).get("total"))
                   for k in classifiers]])
    ratios = c["ratio_to_standard_selection"]
    ratio_bounds = c.get("ratio_to_standard_selection_interval", {})
    rows.append(["total / standard selection's total [68 % interval]", None, None,
                 *["1" if k == "standard_selection" else _ratio(ratios.get(k), ratio_bounds.get(k))
                   for k in classifiers]])
    met = c.get("target_ratio_met", {})
    rows.append([f"target ≤ {c.get('target_ratio', 0.5)} × standard selection", None, None,
                 *[met.get(k, "–") for k in classifiers]])
    noise = c.get("training_noise", {})
    if noise:
        rows.append(["ensemble members' ratios (training noise: their spread / √n)", None,
                     None, *[", ".join(fixed(r, 2) for r in noise[k]["member_ratios"])
                             if k in noise else None for k in classifiers]])
        rows.append(["ratio with training noise [68 % interval], verdict", None, None,
                     *[_ratio(ratios.get(k), noise[k]["ratio_interval_with_training_noise"],
                              noise[k]["target_ratio_met"])
                       if k in noise else None for k in classifiers]])
    threshold = c.get("threshold_error")
    if threshold:
        rows.append([f"ratio's error from the acceptance threshold ({threshold['signal_test_events']} "
                     f"WIMP test events, {threshold['n_resamples']} bootstrap resamples)", None,
                     None, *[None if k == "standard_selection" else
                             fixed(threshold["ratio_error"].get(k), 3) for k in classifiers]])
        every = c["ratio_interval_all_errors"]
        rows.append(["ratio with every error (test events, training noise, threshold) "
                     "[68 % interval], verdict", None, None,
                     *["1" if k == "standard_selection" else
                       _ratio(ratios.get(k), every.get(k),
                              c["target_ratio_met_all_errors"].get(k, "–"))
                       for k in classifiers]])
    without = c.get("without_irreducible")
    if without and without["sources_left_out"]:
        left_out = ", ".join(without["sources_left_out"])
        w_ratio = without["ratio_to_standard_selection"]
        w_bounds = without["ratio_to_standard_selection_interval"]
        rows.append([f"secondary: total without {left_out} (irreducible) [68 % interval]",
                     None, None, *[_interval(without["total"][k][0], without["total"][k][1:])
                                   for k in classifiers]])
        rows.append([f"secondary: ratio without {left_out} [68 % interval], verdict", None,
                     None, *["1" if k == "standard_selection" else
                             _ratio(w_ratio.get(k), w_bounds.get(k),
                                    without["target_ratio_met"].get(k, "–"))
                             for k in classifiers]])
    rows.append(["total / best classifier's total", None, None,
                 *[fixed(c["ratio_to_best"][k], 2) for k in classifiers]])
    rows.append(["WIMP acceptance reached", None, None,
                 *[pct(c["details"][k]["signal_acceptance"]) for k in classifiers]])
    return table(caption, columns, rows)


def _floor_text(c: dict[str, Any]) -> str:
    floor = c.get("ideal_nr_floor")
    if not floor:
        return ""
    standard = c["remaining_at_50pct"]["standard_selection"]["total"]
    bounds = floor.get("ratio_to_standard_selection_interval") or [None, None]
    ranked = _interval(floor["with_cs1_spectrum"], floor.get("with_cs1_spectrum_interval"))
    return (f"Floor of an ideal NR/ER separator (every source but {', '.join(floor['sources'])} "
            f"removed): {num(floor['energy_blind'])} events if it keeps the NR-like events "
            f"like the WIMPs, {ranked} "
            "if it also ranks them by the WIMP/NR-like cS1 spectrum ratio (training events) — "
            f"{fixed(floor.get('ratio_to_standard_selection'), 2)} [{fixed(bounds[0], 2)}, "
            f"{fixed(bounds[1], 2)}] of the standard selection's {num(standard)}. "
            f"The ≤ {c.get('target_ratio', 0.5)} target is achievable given the NR-like "
            f"sources: {floor['target_achievable']}.")


def _mi_table(caption: str, c: dict[str, Any]) -> dict[str, Any]:
    mi = c["mi_bits"]
    bound = mi.get("event_variables_lower_bound")
    rows = [[MI_LABELS[k], pm(v, c["mi_bits_error"].get(k)),
             fixed(v / bound, 2) if k in CLASSIFIER_LABELS and bound else None]
            for k, v in sorted(mi.items(), key=lambda item: list(MI_LABELS).index(item[0]))]
    return table(caption, ["Inputs or output", "Mutual information with the class (bits)",
                           "Share of the event variables' lower bound"], rows)


def backgrounds_context(metrics: dict[str, Any], figures: list[dict[str, str]]
                        ) -> dict[str, Any]:
    """Template context of the all-backgrounds report."""
    prov = metrics["provenance"]
    cfg = prov["config"]
    a = metrics["all_backgrounds"]
    active = a["active_volume"]
    published = a["published"]
    fid_acc = a["signal_acceptance_of_active_wimps"]
    pos = metrics["position_reconstruction"]
    position_rows = [[POSITION_LABELS.get(name, name), fixed(m["rms_cm"], 2),
                      fixed(m["bulk_rms_cm"], 2), fixed(m["wall_rms_cm"], 2),
                      fixed(m["wall_radial_bias_cm"], 2)]
                     for name, m in pos.get("methods", {}).items()]
    anchors = pos.get("published_anchors")
    if anchors:
        position_rows.append([f"Published anchor ({anchors['source']})", None,
                              fixed(anchors["bulk_rms_cm"], 2),
                              fixed(anchors["wall_rms_cm"], 2), None])
    position_text = (f"Not measured: {pos['not_measured']}" if "not_measured" in pos else
                     f"Small scale: {num(pos['n_train_events'])} training patterns, "
                     f"{num(pos['n_test_events'])} test events.")
    # test events in the window per source; metrics of before ``n_test_events_window``
    # have the active volume's only, which lacks the fiducial-only sources (wall): '–'
    n_test = a.get("n_test_events_window", active["n_test_events"])
    counts = table("Simulated events (training / test), per source",
                   ["Source", "Training events in the window", "Test events in the window",
                    "Simulated (training)", "Simulated (test)"],
                   [[s, num(a["n_train_events"].get(s, 0)), num(n_test.get(s)),
                     num(a["n_simulated"]["train"][s]), num(a["n_simulated"]["test"][s])]
                    for s in a["n_simulated"]["train"]])
    cuts = table("Share of each source's test events (active volume, in the window) that "
                 "pass each cut of the standard selection on its own",
                 ["Source", "Fiducial volume", "Single scatter", "S2 width", "cS1–cS2 below NR median"],
                 [[name, *[pct(f[c]) for c in ("fiducial", "single_scatter", "s2_width", "cs1_cs2")]]
                  for name, f in a["standard_selection_cuts"].items()])
    strata_rows = [[source, part, row["stratum"], row["variable"], num(row["candidates"]),
                    num(row["rendered"]), num(row["in_window"]), num(row.get("weight"))]
                   for part in ("train", "test")
                   for source, rows in a.get("tail_sampling", {}).get(part, {}).items()
                   for row in rows]
    strata = table("Importance sampling of the tails: strata of each tail-sampled source "
                   "(q: rank of NR-likeness among the candidates, 0 the most NR-like)",
                   ["Source", "Set", "Stratum", "Ranked by", "Candidates (truth level)",
                    "Rendered", "Rendered, in the window", "Weight per event (events)"],
                   strata_rows)
    timings = table("Wall time per stage", ["Stage", "Wall time"],
                    [[k.removesuffix("_s").replace("_", " "), seconds(v)]
                     for k, v in metrics["timings_s"].items()])
    published_note = (f"Published counts: {published['source']} (before discrimination, "
                      "fiducial volume).")
    if "wimp" in published:
        published_note += f" Its WIMP count: {num(published['wimp'])} events."
    sections = [
        {"anchor": "fiducial", "title": "Remaining background, fiducial volume",
         "tables": [_remaining_table(
             "Expected background events in the exposure remaining at 50 % WIMP acceptance "
             "(fiducial volume), same test events", a, published),
             _mi_table("Mutual information between class and inputs or output (fiducial)", a)],
         "text": [f"Exposure {num(a['exposure_kg_days'])} kg·days, detector {a['detector']}. "
                  "Each cell: expected events and, in brackets, the Feldman–Cousins 68 % "
                  "interval of its number of passing test events times their weight (at "
                  "zero passing events [0, 1.29 × weight]); the total adds the cells' "
                  "distances in quadrature; the ratio's interval combines both totals' "
                  "(as if independent: conservative on shared test events). The threshold's "
                  "own error is not included. Each CNN is an ensemble of networks trained "
                  "with different seeds; the spread of the members' ratios over √n, the "
                  "ensemble's training noise, widens the ratio's interval in quadrature in "
                  "the row below them (the training events' own noise, shared by all "
                  "members, is not counted). " + published_note,
                  _floor_text(a),
                  "The mutual information of the event variables bounds what the dense "
                  "network can keep; the CNNs read images, so for them it is the variables' "
                  "share of the information only. The k-nearest-neighbour estimate in "
                  f"{len(a['event_variables'])} dimensions is biased low; (cS1, log10 cS2) "
                  "alone and the dense network's output, a subset and a function of the same "
                  "variables, give lower bounds of their information.",
                  f"Best classifier: {CLASSIFIER_LABELS[a['best_classifier']]}."]},
        {"anchor": "active", "title": "Remaining background, whole active volume",
         "tables": [_remaining_table(
             f"Expected background events remaining at {pct(active['signal_acceptance_of_active_wimps'])} "
             "of the WIMPs in the active volume's window (no fiducial cut for the classifiers; "
             "the standard selection keeps its own)", active, {"counts": {}}),
             _mi_table("Mutual information (active volume)", active)],
         "text": ["The acceptance keeps as many WIMPs as 50 % of the fiducial ones "
                  f"({pct(fid_acc)} of the active volume's WIMPs in the window); the "
                  "standard selection sits at its fiducial operating point."
                  + (" The binary CNN here is the one trained on the active volume's "
                     "expected mix; in the fiducial table, the one trained on the blended "
                     "mix (half fiducial window, half active volume)."
                     if "cnn_binary_active_mix" in a.get("training", {}) else "")
                  + (" So is the dense network (an ensemble of the same size, with the "
                     "binary CNNs' training weights)."
                     if "dense_active_mix" in a.get("training", {}) else ""),
                  _floor_text(active)]},
        {"anchor": "positions", "title": "Position reconstruction from hit patterns",
         "tables": [table("RMS of |(x, y) reconstructed − true| on waveform-level test events",
                          ["Method", "Overall (cm)", "Bulk (cm)", "Near the wall (cm)",
                           "Radial bias at the wall (cm)"], position_rows)],
         "text": [position_text]},
        {"anchor": "events", "title": "Events",
         "tables": [counts, cuts, *([strata] if strata_rows else [])],
         "text": [f"Images: {a['image_kind']}; the CNNs' dense layer also reads "
                  f"{', '.join(a.get('cnn_event_scalars', [])) or 'nothing else'} "
                  "(standardised). Multi-class CNN classes: "
                  f"{', '.join(a['classes_multiclass'])}. Dense network inputs: "
                  f"{', '.join(a['event_variables'])}.",
                  *(["Tail-sampled sources: candidates are drawn at truth level (positions, "
                     "topology, NEST quanta) and only a stratified subsample, the NR-like "
                     "tail over-represented, is rendered as waveforms; each rendered event "
                     "weighs (expected events per candidate) × (its stratum's candidates / "
                     "rendered), so every expected count is unbiased. Training and test "
                     "events and every classifier use the same weights. Simulated counts "
                     "of these sources are candidates."] if strata_rows else [])]},
        {"anchor": "figures", "title": "Figures", "figures": figures},
        {"anchor": "timings", "title": "Timings", "tables": [timings]},
    ]
    for section in sections:
        for key in ("text", "tables", "bullets", "figures"):
            section.setdefault(key, [])
    warning = None
    if cfg["scale"] == "quick":
        warning = ("Quick scale: a few hundred events per source; the errors show how little "
                   "the rarest cells are resolved.")
    return {
        "title": "The CNN against every background",
        "subtitle": (f"{cfg['detector']}: signal {cfg['signal']} (GeV/c²) against every "
                     f"background of the detector definition; scale {cfg['scale']}."),
        "warning": warning, "sections": sections, "provenance": prov,
        "footer_links": [{"href": "metrics.json", "text": "metrics.json"},
                         {"href": "config.json", "text": "config.json"}],
    }


def write_backgrounds_report(path: str | Path, metrics: dict[str, Any],
                             figures: list[dict[str, str]]) -> Path:
    """Write the all-backgrounds report (the generic analysis template)."""
    return write_page(path, "analysis.html", backgrounds_context(metrics, figures))
