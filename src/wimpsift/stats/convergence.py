"""Convergence in simulated events: median expected limit against template statistics.

The paper's first motivation for the network analysis is that it needs fewer simulated
events. :func:`convergence_study` measures it for both analyses of
:mod:`wimpsift.stats.comparison`: for each size ``n`` (events per source, signal and
every background), the first ``n`` events of each source are taken from one large
sample, the network is trained on their train split (``train`` as in
:func:`compare_analyses`), and both analyses fill their templates from the test split
(with the MC-statistics term of :mod:`wimpsift.stats.likelihood`). Each is then judged
on the same *truth*: the expected counts in its bins of an independent, larger
simulation of the backgrounds (the Asimov data set of the real world, not of the
analysis' own templates). The median expected limit is the asymptotic upper limit on
that data set (Cowan et al.: the Asimov data set gives the median), which keeps the
study to a handful of fits per size; the 4-D traditional templates are sparse, where
asymptotics are least accurate, which the report states beside the numbers.

``events_needed`` is the smallest size from which every larger size's limit is within
``tolerance`` (5 %) of the largest size's (the converged value as far as measured);
``None`` when only the largest size qualifies (not converged within the sizes).
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
    frame = pd.DataFrame(rows)
    return {
        "mass_gev": mass, "rows": rows, "tolerance": tolerance,
        "events_needed_network": events_needed(sizes, list(frame["median_limit_network_cm2"]), tolerance),
        "events_needed_traditional": events_needed(
            sizes, list(frame["median_limit_traditional_cm2"]), tolerance),
        "truth_events": int(len(truth)),
    }
