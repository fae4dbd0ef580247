"""The traditional analysis: multi-dimensional templates in (r, z, cS1, log10 cS2).

With ``pf_bins`` set, the S1 prompt fraction is a fifth axis (the 5-D analysis of
issue 12): the pulse-area factor becomes f(cS1, log10 cS2, prompt fraction), range
[``pf_min``, ``pf_max``] (a fraction of photons, 0 to 1 by default).

Two variants, both flattened into one binned likelihood on the same engine as the
network analysis (:class:`wimpsift.stats.templates.TemplateSet`):

* ``factorised`` (the LUX standard analysis of the LUX paper, Sec. IV B): each component
  is ``N × f(r², z) × f(cS1, log10 cS2)``, the outer product of a position and a
  pulse-area histogram (r² bins have equal volume);
* ``full``: one 4-D (5-D) histogram of all axes, which needs far more simulated
  events to fill.

Events are selected inside all axis ranges before either histogram is filled, so
both factors are normalised on the same events. Background bins left empty by the
finite simulation get ``empty_bin_fill`` simulated-event weights of each background
(0 switches the floor off, and then :class:`TemplateSet` rejects bins with signal but
no background), with a variance of one such weight squared: 100 % MC uncertainty.

Every background template carries its Σw² (``TemplateSet.background_variances``). For
the factorised variant the variance of the product is propagated to first order,
``N² (var(f_pos) f_area² + f_pos² var(f_area))`` (the two factors are filled from the
same events, a correlation this neglects).

The 1-D network analysis uses :func:`discriminant_templates` on the same events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from wimpsift.errors import DataError
from wimpsift.stats._config import StatsConfig
from wimpsift.stats.templates import HistogramTemplate, TemplateSet, histogram_template

AXES = ("r2_cm2", "z_cm", "cs1_pe", "log10_cs2")


class TraditionalBinning(StatsConfig):
    """Bins of the traditional templates (ranges in the units of the names)."""

    variant: Literal["factorised", "full"] = "factorised"
    r2_max_cm2: float = Field(gt=0)
    z_min_cm: float
    z_max_cm: float
    cs1_min_pe: float = Field(ge=0)
    cs1_max_pe: float = Field(gt=0)
    log10_cs2_min: float
    log10_cs2_max: float
    r2_bins: int = Field(default=8, ge=1, le=200)
    z_bins: int = Field(default=8, ge=1, le=200)
    cs1_bins: int = Field(default=16, ge=1, le=400)
    log10_cs2_bins: int = Field(default=16, ge=1, le=400)
    #: bins of the S1 prompt fraction (None: the 4-D analysis)
    pf_bins: int | None = Field(default=None, ge=1, le=100)
    pf_min: float = 0.0
    pf_max: float = 1.0
    empty_bin_fill: float = Field(default=0.5, ge=0)

    @model_validator(mode="after")
    def _ranges(self) -> TraditionalBinning:
        for lo, hi in (("z_min_cm", "z_max_cm"), ("cs1_min_pe", "cs1_max_pe"),
                       ("log10_cs2_min", "log10_cs2_max"), ("pf_min", "pf_max")):
            if not getattr(self, lo) < getattr(self, hi):
                raise ValueError(f"{lo} must be below {hi}")
        return self

    def edges(self) -> list[np.ndarray]:
        return [
            np.linspace(0.0, self.r2_max_cm2, self.r2_bins + 1),
            np.linspace(self.z_min_cm, self.z_max_cm, self.z_bins + 1),
            np.linspace(self.cs1_min_pe, self.cs1_max_pe, self.cs1_bins + 1),
            np.linspace(self.log10_cs2_min, self.log10_cs2_max, self.log10_cs2_bins + 1),
        ] + ([] if self.pf_bins is None else [np.linspace(self.pf_min, self.pf_max, self.pf_bins + 1)])

    def coordinates(self, events: pd.DataFrame, name: str = "events") -> np.ndarray:
        """The events' coordinates on this binning's axes: (r², z, cS1, log10 cS2[, pf])."""
        return event_coordinates(events, name, prompt_fraction=self.pf_bins is not None)


def event_coordinates(events: pd.DataFrame, name: str = "events", prompt_fraction: bool = False
                      ) -> np.ndarray:
    """``(n, 4)`` array of (r², z, cS1, log10 cS2) from an event table; ``(n, 5)`` with
    the S1 prompt fraction last when ``prompt_fraction``."""
    needed = ("r_cm", "z_cm", "cs1_pe", "cs2_pe") + (("s1_prompt_fraction",) if prompt_fraction else ())
    missing = [c for c in needed if c not in events.columns]
    if missing:
        raise DataError(f"{name}: missing columns {missing}")
    cs2 = events["cs2_pe"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_cs2 = np.where(cs2 > 0, np.log10(np.where(cs2 > 0, cs2, 1.0)), np.nan)
    columns = [events["r_cm"].to_numpy(dtype=float) ** 2, events["z_cm"].to_numpy(dtype=float),
               events["cs1_pe"].to_numpy(dtype=float), log_cs2]
    if prompt_fraction:
        columns.append(events["s1_prompt_fraction"].to_numpy(dtype=float))
    return np.column_stack(columns)


def _inside(coords: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    ok = np.all(np.isfinite(coords), axis=1)
    for axis, e in enumerate(edges):
        ok &= (coords[:, axis] >= e[0]) & (coords[:, axis] <= e[-1])
    return ok


def _n_inside(events: pd.DataFrame, binning: TraditionalBinning) -> int:
    return int(np.count_nonzero(_inside(binning.coordinates(events), binning.edges())))


def component_template(
    events: pd.DataFrame, expected_events: float, binning: TraditionalBinning,
    weights: np.ndarray | None = None, name: str = "component",
) -> np.ndarray:
    """The 4-D template ``(r2, z, cs1, log10cs2[, pf])`` of one component, ``expected_events``
    in total."""
    edges = binning.edges()
    coords = binning.coordinates(events, name)
    w = np.ones(len(coords)) if weights is None else np.asarray(weights, dtype=float)
    keep = _inside(coords, edges)
    if not np.any(keep):
        raise DataError(f"{name}: no event inside the traditional analysis ranges")
    c, w = coords[keep], w[keep]
    if binning.variant == "full":
        return histogram_template([c[:, k] for k in range(len(edges))], edges, expected_events, w, name)
    pos = histogram_template([c[:, 0], c[:, 1]], edges[:2], 1.0, w, name)
    area = histogram_template([c[:, k] for k in range(2, len(edges))], edges[2:], 1.0, w, name)
    to_pos = (slice(None), slice(None)) + (None,) * (len(edges) - 2)
    to_area = (None, None) + (slice(None),) * (len(edges) - 2)
    p, a = pos.counts[to_pos], area.counts[to_area]
    var_p, var_a = pos.variances[to_pos], area.variances[to_area]
    return HistogramTemplate(expected_events * p * a,
                             expected_events**2 * (var_p * a**2 + p**2 * var_a))


def _fill_empty(backgrounds: dict[str, HistogramTemplate], per_event: Mapping[str, float],
                fill: float) -> dict[str, HistogramTemplate]:
    # every bin without background gets the floor, not only those with signal: an
    # observed event in a bin of zero expectation would make the likelihood vanish
    # for every signal strength
    if fill <= 0:
        return backgrounds
    empty = sum(b.counts for b in backgrounds.values()) <= 0
    if not np.any(empty):
        return backgrounds
    return {k: HistogramTemplate(b.counts + empty * fill * per_event[k],
                                 b.variances + empty * (fill * per_event[k]) ** 2)
            for k, b in backgrounds.items()}


def _template_set(signal: HistogramTemplate, backgrounds: dict[str, HistogramTemplate],
                  edges: list[np.ndarray], sigma_ref_cm2: float, mass_gev: float | None) -> TemplateSet:
    return TemplateSet(
        signal=signal.counts, backgrounds={k: b.counts for k, b in backgrounds.items()},
        background_variances={k: b.variances for k, b in backgrounds.items()},
        bin_edges=edges, sigma_ref_cm2=sigma_ref_cm2, mass_gev=mass_gev)


def traditional_templates(
    signal_events: pd.DataFrame,
    background_events: Mapping[str, pd.DataFrame],
    expected: Mapping[str, float],
    binning: TraditionalBinning,
    sigma_ref_cm2: float,
    mass_gev: float | None = None,
) -> TemplateSet:
    """Templates of the traditional analysis; ``expected`` maps ``"signal"`` and each
    background name to its expected events inside the ranges (signal at ``sigma_ref_cm2``)."""
    missing = [k for k in ("signal", *background_events) if k not in expected]
    if missing:
        raise DataError(f"expected: no expected event count for {missing}")
    signal = component_template(signal_events, expected["signal"], binning, name="signal")
    backgrounds = {
        name: component_template(ev, expected[name], binning, name=f"backgrounds[{name!r}]")
        for name, ev in background_events.items()
    }
    # a simulated event's weight: ``expected`` counts the events inside the ranges only
    per_event = {name: expected[name] / max(_n_inside(ev, binning), 1)
                 for name, ev in background_events.items()}
    backgrounds = _fill_empty(backgrounds, per_event, binning.empty_bin_fill)
    return _template_set(signal, backgrounds, binning.edges(), sigma_ref_cm2, mass_gev)


def discriminant_templates(
    signal_scores: np.ndarray,
    background_scores: Mapping[str, np.ndarray],
    expected: Mapping[str, float],
    n_bins: int,
    sigma_ref_cm2: float,
    mass_gev: float | None = None,
    empty_bin_fill: float = 0.5,
) -> TemplateSet:
    """1-D templates in the uniform-transformed discriminant g in [0, 1]."""
    if int(n_bins) < 1:
        raise DataError(f"n_bins: got {n_bins!r}, expected a positive number of bins")
    edges = [np.linspace(0.0, 1.0, int(n_bins) + 1)]
    signal = histogram_template(np.asarray(signal_scores, dtype=float), edges, expected["signal"],
                                name="signal")
    backgrounds = {
        name: histogram_template(np.asarray(s, dtype=float), edges, expected[name],
                                 name=f"backgrounds[{name!r}]")
        for name, s in background_scores.items()
    }
    per_event = {k: expected[k] / max(len(v), 1) for k, v in background_scores.items()}
    backgrounds = _fill_empty(backgrounds, per_event, empty_bin_fill)
    return _template_set(signal, backgrounds, edges, sigma_ref_cm2, mass_gev)
