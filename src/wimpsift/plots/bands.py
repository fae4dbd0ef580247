"""cS1 against log10(cS2/cS1) for ER and WIMP events with band medians (CNN paper Fig. 2)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wimpsift.plots import pyplot, save_figure


def band_medians(events: pd.DataFrame, cs1_edges_pe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of log10(cS2/cS1) in cS1 bins (NaN for bins with fewer than 10 events)."""
    y = np.log10(events["cs2_pe"].to_numpy() / events["cs1_pe"].to_numpy())
    index = np.digitize(events["cs1_pe"].to_numpy(), cs1_edges_pe) - 1
    medians = np.full(len(cs1_edges_pe) - 1, np.nan)
    for i in range(len(medians)):
        sel = y[index == i]
        if sel.size >= 10:
            medians[i] = np.median(sel)
    return 0.5 * (cs1_edges_pe[1:] + cs1_edges_pe[:-1]), medians


def plot_bands(
    er: pd.DataFrame, wimp: pd.DataFrame, path: str | Path, title: str, cs1_max_pe: float = 70.0,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    plt = pyplot()
    from matplotlib import patheffects

    edges = np.linspace(0, cs1_max_pe, 15)
    fig, ax = plt.subplots(figsize=(7, 5))
    outline = [patheffects.withStroke(linewidth=4.5, foreground="white")]
    styles = ((er, "tab:blue", "navy", "ER"), (wimp, "tab:orange", "darkred", "WIMP"))
    for events, colour, _, label in styles:
        ax.scatter(
            events["cs1_pe"],
            np.log10(events["cs2_pe"] / events["cs1_pe"]),
            s=2,
            alpha=0.35,
            color=colour,
            rasterized=True,
            label=f"{label} ({len(events)} events)",
        )
    # medians last, dark with a white outline, so each stays visible on either cloud
    for events, _, median_colour, label in styles:
        centres, medians = band_medians(events, edges)
        ax.plot(centres, medians, color=median_colour, lw=2.2, path_effects=outline,
                label=f"{label} band median")
    ax.set_xlabel("cS1 [PE]")
    ax.set_ylabel("log10(cS2 / cS1)")
    ax.set_xlim(0, cs1_max_pe)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    return save_figure(fig, path, provenance=provenance)
