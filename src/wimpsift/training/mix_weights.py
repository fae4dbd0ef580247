"""Training weights of a labelled, weighted event mix (WIMP against backgrounds).

The expected mix (:func:`~wimpsift.processing.background_mix.expected_mix_weights`:
WIMP events equal, backgrounds by their expected rate) is what a classifier meets, but
not what it learns best from; these weights reshape the background class for training
only, keeping the classes' totals. :func:`blended_mix_weights` mixes the fiducial
window's rates into the active volume's, :func:`source_share_floor` gives small sources
a least share, :func:`tail_emphasis_weights` weighs a tail-sampled source's NR-like tail
up inside it; :func:`background_shares` reports the result. Why each exists, with the
measurements behind it: :mod:`wimpsift.training.background_classifiers`. Every comparison is
made on the expected (unbiased) weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wimpsift.errors import ConfigError
from wimpsift.processing.background_mix import SIGNAL, expected_mix_weights


def blended_mix_weights(table: pd.DataFrame, fiducial_sources: list[str] | None
                        ) -> np.ndarray:
    """Training weights of the binary CNN: WIMP events equal; backgrounds half by the
    fiducial window's expected mix, half by the active volume's; both classes to equal
    total. One network serves both comparisons: trained on the active mix alone
    (external gammas 80 % of it) it learned the ER band poorly (measured 2026-12-02,
    fiducial comparison, hybrid binary CNN, same test events: 30 → 16 ER test events
    passing, total 1.43 → 1.07; in the quick run 1.70 → 1.03, while its active-volume
    total rose 3.35 → 4.55). The dense network keeps the active mix: with this blend its
    totals rose in both comparisons (0.91 → 1.15 and 0.94 → 3.1). Without
    ``fiducial_sources``,
    :func:`~wimpsift.processing.background_mix.expected_mix_weights`."""
    w = expected_mix_weights(table)
    if fiducial_sources is None:
        return w
    background = (table["source"] != SIGNAL).to_numpy()
    inside = (background & table["in_window"].to_numpy(bool)
              & table["source"].isin(fiducial_sources).to_numpy())
    rate = table["weight"].to_numpy(float)
    fiducial = np.where(inside, rate, 0.0)
    if fiducial.sum() > 0:
        w[background] = 0.5 * w[background] + 0.5 * fiducial[background] / fiducial.sum()
    return w


def source_share_floor(table: pd.DataFrame, weights: np.ndarray, share: float,
                       named: dict[str, float] | None = None) -> np.ndarray:
    """``weights`` with every background source's total raised to at least ``share`` of
    the background total, or to ``named[source]`` where that is larger (the total is
    kept; the larger sources give up what the small ones gain, in proportion). The binary
    CNN's floor: at their expected rates the wall events of the fiducial window weigh
    0.8 % of its loss and the ER bulk 98 %, and a network trained so lets the NR-like
    wall events through (:mod:`wimpsift.training.background_classifiers`)."""
    w = np.asarray(weights, float).copy()
    named = named or {}
    if share <= 0 and not any(v > 0 for v in named.values()):
        return w
    source = table["source"].to_numpy(object)
    background = source != SIGNAL
    totals = pd.Series(w[background]).groupby(source[background], sort=False).sum()
    totals = totals[totals > 0]
    least = pd.Series([max(share, named.get(str(n), 0.0)) for n in totals.index],
                      index=totals.index)
    if least.sum() >= 1:
        raise ConfigError(f"binary_min_source_share: got {share} per source and "
                          f"{named or 'no source named'}, {least.sum():.3g} in all over "
                          f"{len(totals)} background sources; expected below 1")
    total = totals.sum()
    floored = pd.Series(False, index=totals.index)
    while True:
        # what the unfloored sources share, in proportion to their totals
        scale = total * (1 - least[floored].sum()) / totals[~floored].sum()
        low = ~floored & (totals * scale < least * total)
        if not low.any():
            break
        floored |= low
    factor = np.where(floored, least * total / totals, scale)
    for name, f in zip(totals.index, factor, strict=True):
        w[source == name] *= f
    return w


def background_shares(table: pd.DataFrame, weights: np.ndarray) -> dict[str, float]:
    """Each background source's share of the background training weight."""
    background = (table["source"] != SIGNAL).to_numpy()
    totals = pd.Series(np.asarray(weights, float)[background]).groupby(
        table["source"].to_numpy(object)[background], sort=True).sum()
    return {str(name): float(v / totals.sum()) for name, v in totals.items()}


def tail_emphasis_weights(table: pd.DataFrame, power: float) -> np.ndarray:
    """Training rates: each event's ``weight`` × ``sampling_factor`` ** −``power``,
    rescaled so each source keeps its total. At ``power`` 0 the expected rates; above,
    the tail strata of a tail-sampled source (small sampling factors) weigh more inside
    it, so the loss attends to the NR-like tail the comparison is decided on. Only the
    training weights change: every comparison is on the expected (unbiased) weights."""
    w = table["weight"].to_numpy(float)
    if power == 0 or "sampling_factor" not in table:
        return w
    out = w * table["sampling_factor"].to_numpy(float) ** -power
    source = table["source"].to_numpy(object)
    for name in pd.unique(source):
        rows = source == name
        if out[rows].sum() > 0:
            out[rows] *= w[rows].sum() / out[rows].sum()
    return out
