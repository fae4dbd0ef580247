"""Figures of the per-mass discriminants (the LUX paper's Figs. 1-2)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wimpsift.plots import pyplot as _pyplot
from wimpsift.plots import save_figure

if TYPE_CHECKING:
    from wimpsift.training.discriminant import TrainedDiscriminant


def plot_auc_vs_epoch(runs: dict[str, dict[float, TrainedDiscriminant]], path: str | Path,
                      provenance: Mapping[str, Any] | None = None) -> Path:
    """The LUX paper's Fig. 1: test AUC against cumulative epoch for each training mode
    (``provenance`` goes into the file, :func:`wimpsift.plots.save_figure`).

    The first attempt of every mass is drawn (before any automatic retraining), so the
    curves show how each mode behaves; dotted lines mark where a new mass starts (masses
    in GeV written along the top for the first run). Epochs of the focus phase (wall
    events as the only background) are drawn faint: the AUC against all backgrounds
    drops while the network trains on walls alone.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colours = {"sequential": "tab:blue", "independent": "tab:red"}
    lowest = 1.0
    for k, (label, models) in enumerate(runs.items()):
        colour = colours.get(label, f"C{k}")
        epoch, xs, ys, focus_x, focus_y = 0, [], [], [], []
        for mass in sorted(models):
            first = models[mass].history[0]
            auc = list(first["auc_per_epoch"])
            n = len(auc)
            in_focus = set(first.get("focus_epochs", []))
            for i, value in enumerate(auc):
                xs.append(epoch + i + 1)
                ys.append(np.nan if i in in_focus else value)
                if i in in_focus:
                    focus_x.append(epoch + i + 1)
                    focus_y.append(value)
            ax.axvline(epoch + 0.5, color=colour, alpha=0.25, lw=0.6, ls=":")
            if k == 0:
                ax.annotate(f"{mass:g}", (epoch + 1, 1.0), xycoords=("data", "axes fraction"),
                            fontsize=6, rotation=90, va="top", color="0.4")
            epoch += n
        ax.plot(xs, ys, ".-", ms=2, lw=0.8, label=label, color=colour)
        if np.isfinite(ys).any():
            lowest = min(lowest, float(np.nanmin(ys)))
        if focus_x:
            ax.plot(focus_x, focus_y, ".", ms=2, alpha=0.3, color=colour,
                    label=f"{label}: wall-only phase (may fall below the axis)")
    # zoom on the epochs trained against all backgrounds
    ax.set_ylim(max(0.0, lowest - 0.3 * (1.0 - lowest) - 1e-3), 1.0 + 0.05 * (1.0 - lowest) + 1e-4)
    ax.set_xlabel("training epoch (masses in sequence, lowest first)")
    ax.set_ylabel("test AUC")
    ax.legend()
    ax.set_title("AUC against epoch: sequential transfer vs independent training")
    fig.tight_layout()
    return save_figure(fig, path, provenance=provenance)


def plot_mi_vs_mass(models: dict[float, TrainedDiscriminant], path: str | Path,
                    provenance: Mapping[str, Any] | None = None) -> Path:
    """The LUX paper's Fig. 2: MI (bits) between class and inputs / network output against
    mass (``provenance`` goes into the file)."""
    from wimpsift.training.discriminant import metrics_table

    plt = _pyplot()
    t = metrics_table(models)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.errorbar(t.mass_gev, t.input_mi_bits, t.input_mi_error_bits, color="k", marker="o",
                ms=3, label="inputs")
    ax.errorbar(t.mass_gev, t.output_mi_bits, t.output_mi_error_bits, color="tab:red",
                marker="s", ms=3, label="network output")
    ax.set_xscale("log")
    ax.set_xlabel("WIMP mass [GeV/c$^2$]")
    ax.set_ylabel("mutual information with class [bits]")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path, provenance=provenance)
