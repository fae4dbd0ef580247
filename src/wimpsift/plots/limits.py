"""Our limits against WIMP mass beside published curves (LUX seed Fig. 6 with the
experiment's own result drawn in)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wimpsift.plots import pyplot, save_figure


def plot_limits_beside_published(
    per_mass: Mapping[str, Mapping[str, Any]],
    published: Sequence[Mapping[str, Any]],
    path: str | Path,
    title: str = "90 % CL upper limits, spin-independent",
) -> Path:
    """``per_mass``: ``{mass: {"expected_limit_network_cm2", ...}}`` as in the LUX metrics;
    ``published``: curves with ``label``, ``masses_gev`` and ``sigma_cm2``."""
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
    greys = ["black", "dimgray", "tab:green"]
    for i, curve in enumerate(published):
        ax.plot(curve["masses_gev"], curve["sigma_cm2"], color=greys[i % len(greys)], lw=2,
                ls="-" if i == 0 else "-.", label=f"published: {curve['label']}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    low = min(masses + [m for c in published for m in c["masses_gev"]]) if published else min(masses)
    ax.set_xlim(max(low * 0.8, 1.0), max(masses) * 1.5)
    ax.set_xlabel("WIMP mass [GeV/c²]")
    ax.set_ylabel("WIMP-nucleon cross-section [cm²]")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)
