"""Our limits against WIMP mass beside published curves: the one module for that figure.

Published curves come as plain dicts: ``label``, ``masses_gev`` and ``sigma_cm2`` (as
:func:`wimpsift.papers.published_limit` reads them), optionally with a band
(``minus2_cm2`` … ``plus2_cm2``, as in xe-likelihood's releases). A one-point curve (a
paper's stated minimum) is drawn as a marker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wimpsift.plots import pyplot, save_figure

_GREYS = ["black", "dimgray", "tab:green"]
#: the confidence level of every shipped published curve (LUX, XENON1T, xe-likelihood's)
PUBLISHED_CONFIDENCE_LEVEL = 0.9


def _cl_text(confidence_level: float) -> str:
    return f"{100 * confidence_level:g} % CL"


def _positive(values: Sequence[float]) -> np.ndarray:
    """Values on a log axis: an empty band (None/NaN) or a 0 has no place there."""
    values = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    return np.where(values > 0, values, np.nan)


def _draw_published(ax, published: Sequence[Mapping[str, Any]], confidence_level: float = 0.9) -> None:
    """The published curves; labelled with their CL where ours is at another one."""
    suffix = ("" if abs(confidence_level - PUBLISHED_CONFIDENCE_LEVEL) < 1e-12
              else f" ({_cl_text(PUBLISHED_CONFIDENCE_LEVEL)})")
    for i, curve in enumerate(published):
        masses = np.asarray(curve["masses_gev"], dtype=float)
        colour = _GREYS[i % len(_GREYS)]
        if "minus2_cm2" in curve:
            ax.fill_between(masses, _positive(curve["minus2_cm2"]), _positive(curve["plus2_cm2"]),
                            color="#ffdd55", alpha=0.5, label=f"published: {curve['label']} ±2σ{suffix}")
            ax.fill_between(masses, _positive(curve["minus1_cm2"]), _positive(curve["plus1_cm2"]),
                            color="#55bb55", alpha=0.5, label=f"published: {curve['label']} ±1σ{suffix}")
        if len(masses) == 1:
            ax.plot(masses, curve["sigma_cm2"], "*", color=colour, ms=10,
                    label=f"published: {curve['label']}{suffix}")
        else:
            ax.plot(masses, curve["sigma_cm2"], color=colour, lw=2, ls="-" if i == 0 else "-.",
                    label=f"published: {curve['label']}{suffix}")


def _finish(fig, ax, title: str, path: str | Path, legend_loc: str = "best",
            provenance: Mapping[str, Any] | None = None, confidence_level: float = 0.9) -> Path:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("WIMP mass [GeV/c²]")
    ax.set_ylabel(f"WIMP-nucleon cross-section [cm²], {_cl_text(confidence_level)}")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc=legend_loc)
    fig.tight_layout()
    return save_figure(fig, path, provenance=provenance)


def plot_limit_curve(
    rows: Sequence[Mapping[str, float]],
    path: str | Path,
    title: str,
    central_key: str,
    published: Sequence[Mapping[str, Any]] = (),
    provenance: Mapping[str, Any] | None = None,
    confidence_level: float = 0.9,
) -> Path:
    """``rows``: one dict per mass with ``mass_gev`` and ``<central_key>`` (and, when
    present, ``minus2_cm2`` … ``plus2_cm2``) in cm², limits at ``confidence_level`` (the
    y-axis says which; published curves, at 90 % CL, say so where it differs);
    ``published``: curves as above; ``provenance`` goes into the file
    (:func:`wimpsift.plots.save_figure`)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    _draw_published(ax, published, confidence_level)
    masses = np.array([r["mass_gev"] for r in rows])
    if rows and "minus2_cm2" in rows[0]:
        def band(key: str) -> np.ndarray:
            return _positive([r[key] for r in rows])

        lower2 = band("minus2_cm2")
        empty = ~np.isfinite(lower2)  # an empty -2σ band (CLs+b): the yellow band starts at -1σ there
        ax.fill_between(masses, np.where(empty, band("minus1_cm2"), lower2), band("plus2_cm2"),
                        color="tab:orange", alpha=0.25,
                        label="wimpsift ±2σ" + (" (−2σ empty where not drawn)" if empty.any() else ""))
        ax.fill_between(masses, band("minus1_cm2"), band("plus1_cm2"), color="tab:orange", alpha=0.4,
                        label="wimpsift ±1σ")
    ax.plot(masses, [r[central_key] for r in rows], "o-", color="tab:red", ms=4,
            label=f"wimpsift {central_key.removesuffix('_cm2')}")
    if rows and rows[0].get("power_constraint_floor_cm2") is not None:
        ax.plot(masses, _positive([r["power_constraint_floor_cm2"] for r in rows]), ":", color="tab:red",
                label=f"power-constraint floor (critical power {rows[0]['power_constraint']:.3g})")
    return _finish(fig, ax, title, path, provenance=provenance, confidence_level=confidence_level)


def plot_limits_beside_published(
    per_mass: Mapping[str, Mapping[str, Any]],
    published: Sequence[Mapping[str, Any]],
    path: str | Path,
    title: str = "90 % CL upper limits, spin-independent",
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """The LUX reproduction (paper Fig. 6 with the experiment's own result drawn in):
    ``per_mass``: ``{mass: {"expected_limit_network_cm2", ...}}`` as in the LUX metrics;
    ``published``: curves as above."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    masses = sorted(float(m) for m in per_mass)
    rows = [per_mass[key] for key in sorted(per_mass, key=float)]
    ours = [("expected_limit_network_cm2", "network (1-D), median expected", "tab:blue", "--o"),
            ("expected_limit_traditional_cm2", "traditional (4-D), median expected", "tab:orange", "--s"),
            ("observed_limit_network_cm2", "network (1-D), pseudo-data", "tab:blue", "-o"),
            ("observed_limit_traditional_cm2", "traditional (4-D), pseudo-data", "tab:orange", "-s")]
    for key, label, colour, style in ours:
        ax.plot(masses, [r[key] for r in rows], style, color=colour, ms=4, lw=1.5, label=f"ours: {label}")
    _draw_published(ax, published)
    low = min(masses + [m for c in published for m in c["masses_gev"]]) if published else min(masses)
    ax.set_xlim(max(low * 0.8, 1.0), max(masses) * 1.5)
    return _finish(fig, ax, title, path, legend_loc="upper left", provenance=provenance)
