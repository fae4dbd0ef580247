"""Convergence in simulated events: median expected limit against template statistics.

The paper's first motivation for the network analysis is that it needs fewer simulated
events. :func:`convergence_study` measures it for both analyses of
:mod:`wimpsift.stats.comparison`: for each size ``n`` (events per source, signal and
every background), the first ``n`` events of each source are taken from one large
sample, the network is trained on their train split (``train`` as in
:func:`compare_analyses`), and both analyses fill their templates from the test split
(with the MC-statistics term of :mod:`wimpsift.stats.likelihood`). Each is then judged
on the same *truth*: the expected counts in its bins of an independent simulation of
the backgrounds (its noise is common to every size) (the Asimov data set of the real world, not of the
analysis' own templates). The median expected limit is the asymptotic upper limit on
that data set (Cowan et al.: the Asimov data set gives the median), which keeps the
study to a handful of fits per size; the 4-D traditional templates are sparse, where
asymptotics are least accurate, which the report states beside the numbers.

With ``replicas`` > 1, each size is also run on up to that many disjoint event sets of
the same size (replica 0 is the nested "first n" sample; the number is limited by the
source with the fewest events, in LUX the CEvNS sample capped by ``max_simulated``);
their scatter is the limit's statistical error. ``events_needed_*`` follow the rule of
:func:`convergence_decision` (the largest size as the reference with its pooled
statistical error, a z = 2 decision per size, and a fit of L(N) = L∞ (1 + a N^-p) as
a check of the reference): the events per source after which each analysis is within
``tolerance`` (5 %) of its converged limit, or None with the reason in ``decision_*``.
``events_needed_no_errors_*`` is the earlier rule without errors (:func:`events_needed`),
kept for comparison.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from wimpsift.errors import DataError
from wimpsift.stats.comparison import (
    ComparisonConfig,
    Scorer,
    _flat_index,
    _inside_fraction,
    traditional_binning_for,
)
from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.limits import asymptotic_upper_limit
from wimpsift.stats.traditional import discriminant_templates, traditional_templates


def first_per_source(table: pd.DataFrame, n: int, replica: int = 0) -> pd.DataFrame:
    """Events ``replica * n`` to ``(replica + 1) * n`` of every source (replica 0: the
    first ``n``, the sample as if simulated with ``n``; other replicas are disjoint from it)."""
    rank = table.groupby("source", sort=False).cumcount().to_numpy()
    return table[(rank >= replica * int(n)) & (rank < (replica + 1) * int(n))]


def _truth_weights(pool: pd.DataFrame, expected: dict[str, float]) -> np.ndarray:
    """Each truth event's share of its source's expected count."""
    weights = np.zeros(len(pool))
    for name, mu in expected.items():
        mask = (pool["source"] == name).to_numpy()
        if not mask.any():
            raise DataError(f"convergence: no truth events of background {name!r}")
        weights[mask] = mu / mask.sum()
    return weights


def events_needed(sizes: Sequence[int], limits: Sequence[float], tolerance: float = 0.05) -> int | None:
    """Smallest size from which every limit is within ``tolerance`` of the last one."""
    ref = limits[-1]
    needed = None
    for n, lim in zip(reversed(sizes), reversed(limits), strict=True):
        if abs(lim / ref - 1.0) <= tolerance:
            needed = int(n)
        else:
            break
    return None if needed == sizes[-1] and len(sizes) > 1 else needed


def _relative_scatter(replicas: Sequence[float]) -> float | None:
    """Sample standard deviation of one size's replica limits over their mean (None: < 2)."""
    values = np.asarray(replicas, float)
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1) / np.mean(values))


def fit_limit_curve(sizes: Sequence[int], means: Sequence[float], errors: Sequence[float],
                    tolerance: float = 0.05) -> dict[str, Any] | None:
    """Least-squares fit of L(N) = L∞ (1 + a N^-p) (iminuit; p in [0.1, 3]).

    Returns L∞, a, p with errors and the size at which the fitted curve is within
    ``tolerance`` of L∞, ``N_tol = (|a| / tolerance)^(1/p)``, with its error propagated from
    the fit's covariance; None with fewer than four sizes (three parameters) or a failed fit.
    """
    from iminuit import Minuit

    n = np.asarray(sizes, float)
    y, e = np.asarray(means, float), np.asarray(errors, float)
    if len(n) < 4 or not np.all(e > 0):
        return None
    scale, n_ref = float(y[-1]), float(n[-1])

    def chi2(l_inf: float, a: float, p: float) -> float:
        model = l_inf * (1.0 + a * (n / n_ref) ** -p)
        return float(np.sum(((y / scale - model) / (e / scale)) ** 2))

    m = Minuit(chi2, l_inf=1.0, a=0.05, p=0.5)
    m.errordef = Minuit.LEAST_SQUARES
    m.limits["p"] = (0.1, 3.0)
    m.limits["l_inf"] = (0.0, None)
    m.migrad()
    m.hesse()
    if not m.valid or m.covariance is None:
        return None
    l_inf, a, p = (float(m.values[k]) for k in ("l_inf", "a", "p"))
    cov = np.asarray(m.covariance, float)

    def log_n_tol(a_: float, p_: float) -> float:
        return np.log(n_ref) + np.log(max(abs(a_), 1e-300) / tolerance) / p_

    grad = np.array([0.0,
                     (log_n_tol(a + 1e-6, p) - log_n_tol(a - 1e-6, p)) / 2e-6,
                     (log_n_tol(a, p + 1e-6) - log_n_tol(a, p - 1e-6)) / 2e-6])
    log_err = float(np.sqrt(max(grad @ cov @ grad, 0.0)))
    n_tol = float(np.exp(log_n_tol(a, p)))
    return {"l_inf_cm2": l_inf * scale, "l_inf_error_cm2": float(np.sqrt(cov[0, 0])) * scale,
            "a": a, "a_error": float(np.sqrt(cov[1, 1])), "p": p, "p_error": float(np.sqrt(cov[2, 2])),
            "chi2": float(m.fval), "ndof": int(len(n) - 3),
            "events_within_tolerance": n_tol,
            "events_within_tolerance_range": [n_tol * float(np.exp(-log_err)),
                                              n_tol * float(np.exp(log_err))],
            "reference_over_l_inf": float(y[-1] / (l_inf * scale))}


def convergence_decision(sizes: Sequence[int], replica_limits: Sequence[Sequence[float]],
                         tolerance: float = 0.05, z: float = 2.0) -> dict[str, Any]:
    """Events needed for ``tolerance`` with the limits' statistical errors (the documented rule).

    * Reference ("converged limit"): the limit at the largest size, L_ref.
    * Errors: the replica limits of a size (disjoint event sets of the same size) scatter
      by the statistical error of one limit at that size. Template statistics make it fall
      as N^-1/2, so every size's relative scatter, scaled by sqrt(N / N_max) and pooled
      (weights: replicas - 1), estimates the reference's relative error σ_ref. A size's
      mean over its k replicas has the relative error σ_N / sqrt(k), σ_N the larger of its
      own scatter and the pooled σ_ref sqrt(N_max / N) (k = 3 replicas make the own scatter
      uncertain by ~50 %).
    * Each smaller size's deviation d = mean / L_ref - 1 has the error
      σ_d = (1 + d) sqrt(σ_N² / k + σ_ref²); it is ``within`` when |d| + z σ_d <= tolerance,
      ``outside`` when |d| - z σ_d > tolerance, else ``undecided`` (z = 2: about 95 %).
    * ``events_needed``: the smallest size from which every smaller-than-reference size is
      ``within``; an upper bound on the events needed, with ``events_needed_above`` the
      largest size decided ``outside`` (None when none is). None, with ``reason``, when the
      size just below the reference is not ``within`` (not converged within the sizes, or
      the errors do not decide), or when no size has replicas (errors unknown).
    * A fit of L(N) = L∞ (1 + a N^-p) (:func:`fit_limit_curve`) is reported beside it as a
      cross-check of the reference: when L_ref is not within ``tolerance`` of the fitted
      L∞ beyond z errors, the largest size is not converged and ``events_needed`` is None.
    """
    sizes = [int(n) for n in sizes]
    reps = [np.asarray(r, float) for r in replica_limits]
    if len(sizes) != len(reps) or len(sizes) < 2 or any(len(r) == 0 for r in reps):
        raise DataError("convergence_decision: one non-empty list of replica limits per size "
                        "(at least two sizes) expected")
    if sorted(sizes) != sizes:
        raise DataError("convergence_decision: sizes in increasing order expected")
    n_max, ref = sizes[-1], float(reps[-1][0])
    num = den = 0.0
    for n, r in zip(sizes, reps, strict=True):
        rel = _relative_scatter(r)
        if rel is not None:
            num += (len(r) - 1) * rel**2 * n / n_max
            den += len(r) - 1
    out: dict[str, Any] = {"tolerance": tolerance, "z": z, "reference_cm2": ref,
                           "reference_events_per_source": n_max, "events_needed": None,
                           "events_needed_above": None, "reason": None, "rows": [], "fit": None}
    if den == 0:
        out["reason"] = "no size has two or more replicas: the limits' statistical errors are unknown"
        return out
    sigma_ref = float(np.sqrt(num / den))
    out["reference_rel_error"] = sigma_ref
    means, errors = [], []
    for n, r in zip(sizes, reps, strict=True):
        own = _relative_scatter(r)
        sigma_n = max(own or 0.0, sigma_ref * np.sqrt(n_max / n))
        mean = float(np.mean(r))
        means.append(mean)
        errors.append(mean * sigma_n / np.sqrt(len(r)))
        if n == n_max:
            continue
        d = mean / ref - 1.0
        sigma_d = (1.0 + d) * float(np.sqrt(sigma_n**2 / len(r) + sigma_ref**2))
        status = ("within" if abs(d) + z * sigma_d <= tolerance
                  else "outside" if abs(d) - z * sigma_d > tolerance else "undecided")
        out["rows"].append({"events_per_source": n, "replicas": len(r), "mean_cm2": mean,
                            "rel_scatter": own, "deviation": d, "deviation_error": sigma_d,
                            "status": status})
    fit = fit_limit_curve(sizes, means, errors, tolerance)
    out["fit"] = fit
    needed = None
    for row in reversed(out["rows"]):
        if row["status"] != "within":
            break
        needed = row["events_per_source"]
    # an undecided size above it does not make an outside one less outside
    outside = [row["events_per_source"] for row in out["rows"] if row["status"] == "outside"]
    out["events_needed_above"] = max(outside, default=None)
    if needed is None:
        last = out["rows"][-1]
        out["reason"] = (f"not converged: {last['events_per_source']} events per source are "
                         f"{last['deviation']:+.1%} ± {last['deviation_error']:.1%} from the "
                         f"largest size ({last['status']} at z = {z:g})")
        return out
    if fit is not None:
        off = fit["reference_over_l_inf"] - 1.0
        err = fit["l_inf_error_cm2"] / fit["l_inf_cm2"] * (1.0 + off)
        if abs(off) - z * err > tolerance:
            out["reason"] = (f"the largest size is {off:+.1%} ± {err:.1%} from the fitted "
                             "L∞: not converged itself")
            return out
    out["events_needed"] = needed
    return out


def _one_size(mass, sub, n, train, names, expected, expected_signal, truth, truth_w, lik_config,
              detector, sigma_ref_cm2, config) -> dict[str, Any]:
    """Both analyses' Asimov limits (cm²) with templates from ``sub`` (``n`` events per source)."""
    train_set, test = sub[sub["split"] == "train"], sub[sub["split"] == "test"]
    signal_test = test[test["label"] == 1]
    if len(train_set) == 0 or len(signal_test) == 0:
        raise DataError(f"convergence: {n} events per source leave no train or signal test events")
    cpu0 = time.process_time()
    scorer, _ = train(mass, sub, None)
    cpu_train = time.process_time() - cpu0
    scores = {k: scorer.score(test[test["source"] == k]) for k in names}
    ts = discriminant_templates(scorer.score(signal_test), scores,
                                {"signal": expected_signal, **expected}, config.n_bins,
                                sigma_ref_cm2, mass)
    binning = traditional_binning_for(test, detector, config.traditional_bins, config.variant)
    inside = {k: expected[k] * _inside_fraction(test[test["source"] == k], binning) for k in names}
    inside["signal"] = expected_signal * _inside_fraction(signal_test, binning)
    tt = traditional_templates(signal_test, {k: test[test["source"] == k] for k in names}, inside,
                               binning, sigma_ref_cm2, mass)
    limits = {}
    net_index = _flat_index(np.asarray(scorer.score(truth), float)[:, None], list(ts.bin_edges))
    trad_index = _flat_index(binning.coordinates(truth), binning.edges())
    for label, templates, (idx, ok) in (("network", ts, net_index), ("traditional", tt, trad_index)):
        lik = BinnedLikelihood(templates, lik_config)
        counts = np.bincount(idx[ok], weights=truth_w[ok], minlength=templates.n_bins)
        mu, _ = asymptotic_upper_limit(lik, counts, cl=config.limits.confidence_level)
        limits[label] = mu * sigma_ref_cm2
    return {"events_per_source": n, "median_limit_network_cm2": limits["network"],
            "median_limit_traditional_cm2": limits["traditional"],
            "n_bins_traditional": tt.n_bins, "training_cpu_s": cpu_train}


def convergence_study(
    mass: float,
    table: pd.DataFrame,
    truth_pool: pd.DataFrame,
    sizes: Sequence[int],
    train: Callable[[float, pd.DataFrame, Any], tuple[Scorer, Any]],
    detector: Any,
    sigma_ref_cm2: float,
    config: ComparisonConfig | None = None,
    tolerance: float = 0.05,
    replicas: int = 1,
) -> dict[str, Any]:
    """Median expected limits (cm²) of both analyses against events per source."""
    config = config or ComparisonConfig()
    sizes = sorted(int(n) for n in sizes)
    names = sorted(set(table.loc[table["label"] == 0, "source"]))
    expected = {n: float(table.loc[table["source"] == n, "weight"].sum()) for n in names}
    expected_signal = float(table.loc[table["label"] == 1, "weight"].sum())
    widths = {n: config.background_rel_uncertainty.get(n, config.default_rel_uncertainty) for n in names}
    lik_config = LikelihoodConfig.build(background_rel_uncertainty=widths)
    truth = truth_pool[truth_pool["label"] == 0] if "label" in truth_pool.columns else truth_pool
    truth_w = _truth_weights(truth, expected)
    per_source = int(table.groupby("source").size().min())
    rows = []
    for n in sizes:
        n_rep = max(1, min(int(replicas), per_source // n))
        reps = [_one_size(mass, first_per_source(table, n, r), n, train, names, expected,
                          expected_signal, truth, truth_w, lik_config, detector, sigma_ref_cm2, config)
                for r in range(n_rep)]
        row = dict(reps[0])
        row["replica_limits_network_cm2"] = [r["median_limit_network_cm2"] for r in reps]
        row["replica_limits_traditional_cm2"] = [r["median_limit_traditional_cm2"] for r in reps]
        row["training_cpu_s"] = float(sum(r["training_cpu_s"] for r in reps))
        rows.append(row)
    return decide_study({"mass_gev": mass, "rows": rows, "tolerance": tolerance,
                         "truth_events": int(len(truth)), "replicas": int(replicas)})


def decide_study(study: dict[str, Any]) -> dict[str, Any]:
    """Add ``events_needed_*`` and ``decision_*`` (:func:`convergence_decision`) and the
    error-free ``events_needed_no_errors_*`` (:func:`events_needed`) to a study from its
    rows (also a saved one: rows without replicas count as one replica)."""
    sizes = [int(row["events_per_source"]) for row in study["rows"]]
    tolerance = study.get("tolerance", 0.05)
    for k in ("network", "traditional"):
        limits = [row[f"median_limit_{k}_cm2"] for row in study["rows"]]
        replicas = [row.get(f"replica_limits_{k}_cm2", [row[f"median_limit_{k}_cm2"]])
                    for row in study["rows"]]
        study[f"events_needed_no_errors_{k}"] = events_needed(sizes, limits, tolerance)
        decision = convergence_decision(sizes, replicas, tolerance)
        study[f"decision_{k}"] = decision
        study[f"events_needed_{k}"] = decision["events_needed"]
    return study

def speedup_with_simulation_needed(
    cpu_network_s: float, cpu_traditional_s: float, simulation_cpu_s_per_event: float,
    study: dict[str, Any], n_sources: int,
) -> dict[str, Any]:
    """The seed's argument, measured: the end-to-end CPU speed-up when each analysis is
    charged the simulation it needs to come within the study's tolerance of its converged
    limit (``events_needed_*`` of :func:`convergence_study` times ``n_sources``, the
    simulations of that size the charged CPU's comparison needs: each mass's signal and
    every background) instead of the events a run happened to use. ``cpu_*_s`` are the
    analyses' own CPU (templates, toys, fits, training) from a comparison run; they are not
    rescaled to the needed sizes (the network's training grows with its events: the
    study's ``training_cpu_s`` per size says by how much).

    ``value`` uses both analyses' ``events_needed`` (each an upper bound: within the
    tolerance from there on); ``range`` brackets it with each analysis' decided
    ``events_needed_above`` (needs more than that), the low end charging the traditional
    analysis its lower and the network its upper bound. Where the traditional analysis has
    not converged within the sizes but was decided outside at a size, ``lower_bound``
    charges it that size. None values come with a ``reason``. ``fit_estimate`` (when both
    decisions have a fit) charges the sizes at which each fitted L(N) comes within the
    tolerance of its L∞, with the range of the fits' errors: a cross-check beside the
    rule, not the rule.
    """
    decision = {k: study[f"decision_{k}"] for k in ("network", "traditional")}

    def ratio(events_trad: float | None, events_net: float | None) -> float | None:
        if events_trad is None or events_net is None:
            return None
        net = cpu_network_s + simulation_cpu_s_per_event * events_net * n_sources
        return (cpu_traditional_s + simulation_cpu_s_per_event * events_trad * n_sources) / net

    need = {k: decision[k]["events_needed"] for k in decision}
    above = {k: decision[k]["events_needed_above"] for k in decision}
    out: dict[str, Any] = {
        "value": ratio(need["traditional"], need["network"]), "range": None, "lower_bound": None,
        "reason": None, "events_needed_per_source": need, "events_needed_above_per_source": above,
        "cpu_network_s": cpu_network_s, "cpu_traditional_s": cpu_traditional_s,
        "simulation_cpu_s_per_event": simulation_cpu_s_per_event, "n_sources": n_sources,
        "speedup_without_simulation": cpu_traditional_s / cpu_network_s if cpu_network_s > 0 else None,
    }
    fits = {k: decision[k].get("fit") for k in decision}
    if all(f is not None for f in fits.values()):
        # the fitted curves' sizes (not the rule: a cross-check that says what the
        # undecided sizes would imply), each range charged as ``range`` below
        n_fit = {k: fits[k]["events_within_tolerance"] for k in fits}
        lo = {k: fits[k]["events_within_tolerance_range"][0] for k in fits}
        hi = {k: fits[k]["events_within_tolerance_range"][1] for k in fits}
        out["fit_estimate"] = {
            "value": ratio(n_fit["traditional"], n_fit["network"]),
            "range": [ratio(lo["traditional"], hi["network"]), ratio(hi["traditional"], lo["network"])],
            "events_per_source": n_fit, "events_per_source_range": {k: [lo[k], hi[k]] for k in fits},
        }
    if out["value"] is not None:
        out["range"] = [ratio(above["traditional"] or 0, need["network"]),
                        ratio(need["traditional"], above["network"] or 0)]
        out["lower_bound"] = out["range"][0]
    elif need["network"] is not None and above["traditional"] is not None:
        out["lower_bound"] = ratio(above["traditional"], need["network"])
        out["reason"] = ("traditional analysis not converged within the sizes: lower bound only "
                         f"({decision['traditional']['reason']})")
    else:
        out["reason"] = "; ".join(f"{k}: {decision[k]['reason']}" for k in decision
                                  if decision[k]["reason"]) or "no decision"
    return out
