"""The classifiers of ``reproduce cnn --backgrounds all`` compared on weighted test events.

For each classifier (:data:`CLASSIFIERS`: the standard selection, the dense network on
the event variables, the binary and the multi-class CNN) on the test events of one
volume, :func:`comparison` gives the expected background that remains at a WIMP
acceptance, per source and in total, with the test events' Feldman–Cousins intervals
(:mod:`wimpsift.metrics.remaining`), the ratio of each total to the standard
selection's and the verdict on the target ratio (:data:`TARGET_RATIO`), widened by the
ensembles' training noise (:func:`training_noise`) and by the acceptance threshold's
error (:func:`threshold_error`); the same without the irreducible CEvNS; the floor an
ideal NR/ER separator would leave (:func:`ideal_nr_floor`); and the mutual information
between class and the event variables beside each classifier's score's
(:mod:`wimpsift.metrics.mutual_information`). :func:`over_seeds` gives the verdict on
ratios of runs that differ only in the seed. The events:
:mod:`wimpsift.training.mix_samples`; the classifiers and why each choice was made:
:mod:`wimpsift.training.background_classifiers`; the comparison that uses this module:
:mod:`wimpsift.pipelines.cnn_backgrounds`.
"""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy.stats import bootstrap, sem
from scipy.stats import t as student_t

from wimpsift.metrics.mutual_information import mutual_information
from wimpsift.metrics.remaining import (
    ZERO_COUNT_UPPER_68,
    ratio_interval,
    remaining_at_acceptance,
    total_at_acceptance,
)
from wimpsift.processing.background_mix import SIGNAL, expected_mix_weights
from wimpsift.seeding import int_seed

EventVariable = Literal["cs1_pe", "log10_cs2", "r_cm", "z_cm", "s2_width_ratio",
                        "n_s2_above_threshold", "log10_s2_second_pe", "s1_top_fraction",
                        "s1_pattern_gof", "s2_pattern_gof", "s1_prompt_fraction",
                        "s1_width_ns"]
EVENT_VARIABLES: tuple[str, ...] = get_args(EventVariable)
"""inputs of the dense network and of the event variables' MI. The S1 pulse shape (prompt
fraction, width) is among them: nuclear recoils' S1s are faster (more singlet light, faster
recombination; :mod:`wimpsift.response.pulse_shape`), and the CNNs see it in their images'
S1 panel, so without it the dense network and the MI left out information the CNNs use
(before 2026-12-07: on the runs of seeds 0 and 4, the CNNs' output MI exceeded the
variables' and the dense network did no better than a two-sided band cut)."""
DISCRETE_VARIABLES = ("n_s2_above_threshold",)
CLASSIFIERS = ("standard_selection", "dense", "cnn_binary", "cnn_multiclass")
NR_LIKE = ("cevns", "neutrons")
"""backgrounds that are nuclear recoils in the bulk: no NR/ER separator removes them"""
IRREDUCIBLE = ("cevns",)
"""left out of the secondary ratio (``without_irreducible``): CEvNS recoils are WIMP-like
in every variable, so every classifier keeps the same share of them"""
TARGET_RATIO = 0.5
"""the issue's target: a CNN's total remaining background ≤ 0.5 × the standard selection's"""
THRESHOLD_RESAMPLES = 400
"""bootstrap resamples of the WIMP test events for the threshold's error (its standard
error is then known to about 4 %)"""


def member_key(name: str, k: int) -> str:
    """Key of member ``k``'s score of the CNN score ``name`` in
    :meth:`wimpsift.training.background_classifiers.Classifiers.scores`."""
    return f"{name}_member_{k}"


def member_scores(scores: dict[str, np.ndarray], name: str) -> list[np.ndarray]:
    """The ensemble members' scores of classifier ``name`` (empty for a single network)."""
    out: list[np.ndarray] = []
    while member_key(name, len(out)) in scores:
        out.append(scores[member_key(name, len(out))])
    return out


def _mi_inputs(table: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(int_seed(seed, "mi", "dither"))
    columns = []
    for name in EVENT_VARIABLES:
        if name == "log10_cs2":
            values = np.log10(np.clip(table["cs2_pe"].to_numpy(float), 1e-9, None))
        else:
            values = table[name].to_numpy(float)
        if name in DISCRETE_VARIABLES:
            values = values + rng.random(len(values))
        columns.append(values)
    return np.column_stack(columns)


def _finite_score(score: np.ndarray, seed: int) -> np.ndarray:
    """-inf (failed a cut) → below every finite score, dithered (ties break the kNN)."""
    out = np.asarray(score, float).copy()
    bad = ~np.isfinite(out)
    if bad.any():
        finite = out[~bad]
        low = finite.min() - 1.0 if finite.size else 0.0
        rng = np.random.default_rng(int_seed(seed, "mi", "ties"))
        out[bad] = low - rng.random(int(bad.sum()))
    return out


def verdict(interval: tuple[float, float] | None, target: float = TARGET_RATIO) -> str:
    """'met' when a ratio's whole 68 % interval is at or below ``target``, 'not met' when
    it is all above, else 'undecided within errors'."""
    if interval is None:
        return "undefined"
    lo, hi = interval
    return "met" if hi <= target else "not met" if lo > target else "undecided within errors"


def student_t_68(n_runs: int) -> float:
    """Half-width of a 68 % interval in standard errors for the mean of ``n_runs``
    (Student's t with n - 1 degrees of freedom)."""
    return float(student_t.ppf(0.5 + 0.68 / 2, n_runs - 1))


def over_seeds(ratios: list[float], target: float = TARGET_RATIO) -> dict[str, Any]:
    """Ratios of runs that differ only in the seed: their mean, its standard error, the
    mean's 68 % interval (:func:`student_t_68`, clipped at 0) and the verdict on it."""
    mean, error = float(np.mean(ratios)), float(sem(ratios))
    half = student_t_68(len(ratios)) * error
    interval = [max(mean - half, 0.0), mean + half]
    return {"ratios": [float(r) for r in ratios], "mean": mean, "standard_error": error,
            "interval_68": interval, "verdict": verdict(interval, target)}


def ideal_nr_floor(reference: pd.DataFrame, sub: pd.DataFrame, backgrounds: list[str],
                   acceptance: float) -> dict[str, Any]:
    """The background an ideal NR/ER separator leaves at ``acceptance``
    (:mod:`wimpsift.pipelines.cnn_backgrounds`):
    every source but the NR-like ones (:data:`NR_LIKE`) removed, and WIMPs and NR-like
    events ranked (``energy_blind``) not at all, or (``with_cs1_spectrum``) by the
    ratio of the WIMP to the NR-like cS1 spectrum, estimated from the histograms of the
    ``reference`` (training) events in 20 WIMP-quantile bins and interpolated between
    bin centres. Its interval (``with_cs1_spectrum_interval``) counts the NR-like test
    events only: the removed sources contribute exactly nothing."""
    nr = [b for b in NR_LIKE if b in backgrounds]
    source = sub["source"].to_numpy(object)
    weight = sub["weight"].to_numpy(float)
    blind = acceptance * float(weight[np.isin(source, nr)].sum())
    ref_source = reference["source"].to_numpy(object)
    ref_cs1 = np.log10(np.clip(reference["cs1_pe"].to_numpy(float), 1e-3, None))
    ref_weight = reference["weight"].to_numpy(float)
    signal, background = ref_source == SIGNAL, np.isin(ref_source, nr)
    out: dict[str, Any] = {"sources": nr, "energy_blind": blind}
    if not background.any():
        return {**out, "with_cs1_spectrum": blind}
    edges = np.unique(np.quantile(ref_cs1[signal], np.linspace(0, 1, 21)))
    edges[0], edges[-1] = min(edges[0], ref_cs1.min()), max(edges[-1], ref_cs1.max())
    h_signal = np.histogram(ref_cs1[signal], edges)[0] / signal.sum()
    h_background = np.histogram(ref_cs1[background], edges, weights=ref_weight[background])[0]
    h_background = h_background / h_background.sum()
    log_ratio = np.log((h_signal + 1e-3) / (h_background + 1e-3))
    centres = 0.5 * (edges[1:] + edges[:-1])
    # the other sources are removed by construction, not by a count of their test events:
    # they take no part (an empty cell's Feldman–Cousins upper limit would widen the interval)
    kept = np.isin(source, [SIGNAL, *nr])
    cs1 = np.log10(np.clip(sub["cs1_pe"].to_numpy(float)[kept], 1e-3, None))
    score = np.interp(cs1, centres, log_ratio)
    r = remaining_at_acceptance(score, source[kept], weight[kept], SIGNAL, acceptance)
    return {**out, "with_cs1_spectrum": r["total"],
            "with_cs1_spectrum_interval": list(r["total_interval_68"]),
            "with_cs1_spectrum_per_source": {b: r[b]["events"] for b in nr if b in r},
            "signal_acceptance": r["signal_acceptance"]}


def _judged_acceptance(signal_score: np.ndarray, signal_weight: np.ndarray,
                       acceptance: float) -> float:
    """``acceptance`` or, when fewer WIMPs have a finite score (a cut-based classifier),
    the share of those."""
    reachable = float(signal_weight[np.isfinite(signal_score)].sum() / signal_weight.sum())
    return min(acceptance, reachable * (1 - 1e-9))


def _remaining_total(score: np.ndarray, source: np.ndarray, weight: np.ndarray,
                     acceptance: float) -> dict[str, Any]:
    """:func:`remaining_at_acceptance` at :func:`_judged_acceptance`."""
    is_signal = source == SIGNAL
    return remaining_at_acceptance(score, source, weight, SIGNAL, _judged_acceptance(
        score[is_signal], weight[is_signal], acceptance))


def widen(centre: float, interval: list[float], *errors: float) -> list[float]:
    """``interval`` around ``centre`` with ``errors`` added in quadrature to each side's
    distance (the lower end not below 0)."""
    below, above = centre - interval[0], interval[1] - centre
    extra = math.hypot(*errors) if errors else 0.0
    return [max(centre - math.hypot(below, extra), 0.0), centre + math.hypot(above, extra)]


def threshold_error(scores: dict[str, np.ndarray], rows: np.ndarray, source: np.ndarray,
                    weight: np.ndarray, acceptance: float, seed: int,
                    n_resamples: int = THRESHOLD_RESAMPLES) -> dict[str, Any]:
    """The acceptance threshold's error on each classifier's total and ratio.

    Every classifier's threshold is the ``acceptance`` quantile of its scores of the WIMP
    test events, so it carries their sampling noise, which the test-event intervals
    (counts of passing background events) do not. :func:`scipy.stats.bootstrap`
    resamples the WIMP test events with replacement, the background events fixed; one
    resample sets every classifier's threshold, so the ratio keeps the correlation
    between the classifiers' totals (a classifier identical to the standard selection
    has no threshold error on its ratio). Returns the standard errors of each total
    (``total_error``) and of each ratio to the standard selection (``ratio_error``)."""
    is_signal = source == SIGNAL
    signal_weight, background_weight = weight[is_signal], weight[~is_signal]
    signal = {name: scores[name][rows][is_signal] for name in CLASSIFIERS}
    background = {name: scores[name][rows][~is_signal] for name in CLASSIFIERS}
    levels = {name: _judged_acceptance(v, signal_weight, acceptance)
              for name, v in signal.items()}
    others = [name for name in CLASSIFIERS if name != "standard_selection"]

    def statistic(index: np.ndarray) -> np.ndarray:
        totals = {name: total_at_acceptance(signal[name][index], signal_weight[index],
                                            background[name], background_weight, levels[name])
                  for name in CLASSIFIERS}
        standard = totals["standard_selection"]
        ratios = [totals[name] / standard if standard > 0 else np.nan for name in others]
        return np.array([*totals.values(), *ratios])

    result = bootstrap((np.arange(int(is_signal.sum())),), statistic, vectorized=False,
                       n_resamples=n_resamples, method="percentile",
                       rng=np.random.default_rng(int_seed(seed, "threshold", "bootstrap")))
    # undefined (None) where a resample left the standard selection no background
    error = [float(e) if np.isfinite(e) else None for e in result.standard_error]
    return {"n_resamples": n_resamples, "signal_test_events": int(is_signal.sum()),
            "total_error": dict(zip(CLASSIFIERS, error[:len(CLASSIFIERS)], strict=True)),
            "ratio_error": dict(zip(others, error[len(CLASSIFIERS):], strict=True))}


def training_noise(scores: dict[str, np.ndarray], rows: np.ndarray, source: np.ndarray,
                   weight: np.ndarray, acceptance: float, totals: dict[str, float],
                   ratio_intervals: dict[str, list[float] | None]) -> dict[str, Any]:
    """The ensembles' training noise (CNNs and dense network) on the ratio to the
    standard selection.

    Each member's total remaining background at ``acceptance`` (same test events, same
    rule as the ensemble), their standard deviation s over the n members, and s / √n,
    the error of a mean of n independent trainings, as the ensemble's error from its
    random seeds (``totals``: the ensembles' and the standard selection's totals). The
    ensemble averages logits, not totals, so this is an estimate;
    it does not cover the training events' own sampling noise (all members share them).
    ``ratio_interval_with_training_noise`` widens the test events' 68 % interval of the
    ratio by s / √n / the standard selection's total, in quadrature on each side, and
    ``target_ratio_met`` is the verdict on it. Empty for single networks."""
    out: dict[str, Any] = {}
    standard_total = totals["standard_selection"]
    for name, interval in ratio_intervals.items():
        members = member_scores(scores, name)
        if len(members) < 2 or interval is None or standard_total <= 0:
            continue
        member_totals = [_remaining_total(m[rows], source, weight, acceptance)["total"]
                         for m in members]
        error = float(np.std(member_totals, ddof=1) / math.sqrt(len(member_totals)))
        widened = widen(totals[name] / standard_total, interval, error / standard_total)
        out[name] = {"member_totals": [float(t) for t in member_totals],
                     "member_ratios": [float(t / standard_total) for t in member_totals],
                     "ensemble_error": error,
                     "ratio_interval_with_training_noise": widened,
                     "target_ratio_met": verdict(widened)}
    return out


def comparison(table: pd.DataFrame, weight_per_event: dict[str, float], rows: np.ndarray,
               scores: dict[str, np.ndarray], seed: int, acceptance: float = 0.5,
               names: list[str] | None = None, reference: pd.DataFrame | None = None, *,
               mi_neighbours: int, mi_subsets: int) -> dict[str, Any]:
    """Remaining background at ``acceptance`` and the MI of each classifier on ``rows``
    of the test events ``table`` (events of the sources ``names`` of that volume; default
    every source of ``table``). ``weight_per_event`` gives each source's weight per
    simulated event, in the order the sources are reported; ``mi_neighbours`` and
    ``mi_subsets`` set the kNN estimate of the MI
    (:func:`~wimpsift.metrics.mutual_information.mutual_information`).

    Errors (:mod:`wimpsift.metrics.remaining`): ``remaining_at_50pct_error`` is the
    Monte Carlo error √(Σ w²), at zero passing events the Feldman–Cousins 68 % upper
    limit (1.29 events) × the source's weight; ``remaining_at_50pct_interval`` the
    Feldman–Cousins 68 % interval of each cell and of the total. The ratio of each
    classifier's total to the standard selection's carries a 68 % interval from both
    totals' intervals (``ratio_to_standard_selection_interval``) and the verdict on the
    ≤ 0.5 target (``target_ratio_met``), from test events only; ``training_noise`` widens
    each CNN ensemble's interval by its members' spread (:func:`training_noise`) and gives
    the verdict on that; ``threshold_error`` is the acceptance threshold's error
    (:func:`threshold_error`), and ``ratio_interval_all_errors`` with
    ``target_ratio_met_all_errors`` the interval and verdict with all three errors;
    ``without_irreducible`` repeats the totals, ratios
    and verdicts without CEvNS (:data:`IRREDUCIBLE`), a secondary comparison of what the
    classifiers can change. With ``reference`` (the training events), the
    floor of an ideal NR/ER separator (:func:`ideal_nr_floor`) is added.
    """
    sub = table[rows]
    source = sub["source"].to_numpy(object)
    weight = sub["weight"].to_numpy(float)
    is_signal = source == SIGNAL
    listed = set(table["source"]) if names is None else set(names)
    backgrounds = [s for s in weight_per_event if s != SIGNAL and s in listed]
    empty_error = {b: weight_per_event[b] * ZERO_COUNT_UPPER_68 for b in backgrounds}
    remaining, errors, intervals, details = {}, {}, {}, {}
    for name in CLASSIFIERS:
        r = _remaining_total(scores[name][rows], source, weight, acceptance)
        remaining[name] = {"total": r["total"], **{b: r[b]["events"] if b in r else 0.0
                                                   for b in backgrounds}}
        errors[name] = {b: r[b]["error"] if b in r else empty_error[b] for b in backgrounds}
        errors[name] = {"total": float(np.sqrt(sum(e**2 for e in errors[name].values()))),
                        **errors[name]}
        cells = {b: (list(r[b]["interval_68"]) if b in r else [0.0, empty_error[b]])
                 for b in backgrounds}
        total = remaining[name]["total"]
        below = math.sqrt(sum((remaining[name][b] - cells[b][0]) ** 2 for b in backgrounds))
        above = math.sqrt(sum((cells[b][1] - remaining[name][b]) ** 2 for b in backgrounds))
        intervals[name] = {"total": [max(total - below, 0.0), total + above], **cells}
        details[name] = {"threshold": r["threshold"], "signal_acceptance": r["signal_acceptance"],
                         "n_passing": {b: r[b]["n_passing"] for b in backgrounds if b in r}}
    expected = {b: float(weight[source == b].sum()) for b in backgrounds}
    labels = is_signal.astype(int)
    mi_weights = expected_mix_weights(sub)
    mi, mi_err = {}, {}
    if labels.sum() > 2 * mi_subsets * mi_neighbours and \
            (1 - labels).sum() > 2 * mi_subsets * mi_neighbours:
        inputs = {"event_variables": _mi_inputs(sub, seed),
                  **{name: _finite_score(scores[name][rows], seed) for name in CLASSIFIERS}}
        for name, x in inputs.items():
            m = mutual_information(x, labels, mi_weights, k=mi_neighbours,
                                   n_subsets=mi_subsets, seed=seed, stratify=True)
            mi[name], mi_err[name] = m.mi_bits, m.error_bits
    if "event_variables" in mi:
        # the MI of a subset or of a function of the event variables is at most theirs
        # (data processing); the kNN estimate in len(EVENT_VARIABLES) dimensions is biased low
        m = mutual_information(inputs["event_variables"][:, :2], labels, mi_weights,
                               k=mi_neighbours, n_subsets=mi_subsets,
                               seed=seed, stratify=True)
        mi["cs1_cs2"], mi_err["cs1_cs2"] = m.mi_bits, m.error_bits
        bound = max(("event_variables", "cs1_cs2", "dense"), key=lambda k: mi[k])
        mi["event_variables_lower_bound"] = mi[bound]
        mi_err["event_variables_lower_bound"] = mi_err[bound]
    standard_total = remaining["standard_selection"]["total"]
    best = min(CLASSIFIERS, key=lambda k: remaining[k]["total"])

    def span(name: str) -> tuple[float, float, float]:
        return (remaining[name]["total"], *intervals[name]["total"])

    ratio_interval_ = {}
    for name in CLASSIFIERS:
        if name != "standard_selection":
            r = ratio_interval(span(name), span("standard_selection"))
            ratio_interval_[name] = None if r is None else [r[1], r[2]]
    noise = training_noise(scores, rows, source, weight, acceptance,
                           {k: v["total"] for k, v in remaining.items()}, ratio_interval_)
    threshold = threshold_error(scores, rows, source, weight, acceptance, seed)
    # every error of the ratio: test events, the ensembles' training noise, the threshold
    all_errors = {
        name: None if interval is None or threshold["ratio_error"][name] is None else widen(
            remaining[name]["total"] / standard_total, interval,
            threshold["ratio_error"][name],
            *([noise[name]["ensemble_error"] / standard_total] if name in noise else []))
        for name, interval in ratio_interval_.items()}
    # secondary: without CEvNS, which no classifier can remove (the same for all)
    rest = [b for b in backgrounds if b not in IRREDUCIBLE]

    def span_without(name: str) -> tuple[float, float, float]:
        value = sum(remaining[name][b] for b in rest)
        below = math.sqrt(sum((remaining[name][b] - intervals[name][b][0]) ** 2 for b in rest))
        above = math.sqrt(sum((intervals[name][b][1] - remaining[name][b]) ** 2 for b in rest))
        return value, max(value - below, 0.0), value + above

    without = {name: list(span_without(name)) for name in CLASSIFIERS}
    ratio_without, ratio_without_interval = {}, {}
    for name in CLASSIFIERS:
        if name != "standard_selection":
            r = ratio_interval(span_without(name), span_without("standard_selection"))
            ratio_without[name] = None if r is None else r[0]
            ratio_without_interval[name] = None if r is None else [r[1], r[2]]
    floor = {}
    if reference is not None:
        floor = ideal_nr_floor(reference, sub, backgrounds, acceptance)
        value = floor["with_cs1_spectrum"]
        lo, hi = floor.get("with_cs1_spectrum_interval", [value, value])
        r = ratio_interval((value, lo, hi), span("standard_selection"))
        floor["ratio_to_standard_selection"] = None if r is None else r[0]
        floor["ratio_to_standard_selection_interval"] = None if r is None else [r[1], r[2]]
        floor["target_achievable"] = {"met": "yes", "not met": "no"}.get(
            verdict(floor["ratio_to_standard_selection_interval"]),
            "undecided within errors")
    return {
        "best_classifier": best,
        "ratio_to_best": {k: remaining[k]["total"] / remaining[best]["total"]
                          if remaining[best]["total"] > 0 else None for k in CLASSIFIERS},
        "remaining_at_50pct": remaining,
        "remaining_at_50pct_error": errors,
        "remaining_at_50pct_interval": intervals,
        "details": details,
        "no_discrimination": {"total": float(sum(expected.values())), **expected},
        "ratio_to_standard_selection": {
            name: (remaining[name]["total"] / standard_total if standard_total > 0 else None)
            for name in CLASSIFIERS if name != "standard_selection"},
        "ratio_to_standard_selection_interval": ratio_interval_,
        "target_ratio": TARGET_RATIO,
        "target_ratio_met": {k: verdict(v) for k, v in ratio_interval_.items()},
        "training_noise": noise,
        "threshold_error": threshold,
        "ratio_interval_all_errors": all_errors,
        "target_ratio_met_all_errors": {k: verdict(v) for k, v in all_errors.items()},
        "without_irreducible": {
            "sources_left_out": [b for b in backgrounds if b in IRREDUCIBLE],
            "total": without,
            "ratio_to_standard_selection": ratio_without,
            "ratio_to_standard_selection_interval": ratio_without_interval,
            "target_ratio_met": {k: verdict(v) for k, v in ratio_without_interval.items()}},
        "mi_share_of_bound": ({k: mi[k] / mi["event_variables_lower_bound"]
                               for k in CLASSIFIERS if k in mi}
                              if mi.get("event_variables_lower_bound") else {}),
        "ideal_nr_floor": floor,
        "mi_bits": mi,
        "mi_bits_error": mi_err,
        "n_test_events": {s: int((source == s).sum()) for s in [SIGNAL, *backgrounds]},
        "signal_acceptance_of_active_wimps": acceptance * float(
            weight[is_signal].sum() / table.loc[table["source"] == SIGNAL, "weight"].sum()),
    }
