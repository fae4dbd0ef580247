"""Grid-search figures: per-layer heatmaps (the CNN paper's Figs. 9-11) and the
α and learning-rate curves (Figs. 12-13), from a
:class:`~wimpsift.training.grid_search.GridSearchResult`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wimpsift.plots import pyplot as _pyplot
from wimpsift.plots import save_figure

if TYPE_CHECKING:
    from wimpsift.training.grid_search import GridSearchResult

LAYERS_STAGE = "layers_batch_epochs"


def plot_layer_heatmaps(result: GridSearchResult, directory: str | Path,
                        provenance: Mapping[str, Any] | None = None) -> list[Path]:
    """One heatmap per number of conv layers: batch size × epochs, mean CV score
    annotated with its std (the paper's Figs. 9-11). Returns the written paths."""
    plt = _pyplot()
    rows = result.rows(LAYERS_STAGE)
    paths = []
    layers = sorted({r["n_conv_layers"] for r in rows})
    batches = sorted({r["batch_size"] for r in rows})
    epochs = sorted({r["epochs"] for r in rows})
    lo = min(r["mean"] for r in rows)
    hi = max(r["mean"] for r in rows)
    for n in layers:
        grid = np.full((len(batches), len(epochs)), np.nan)
        err = np.full_like(grid, np.nan)
        for r in rows:
            if r["n_conv_layers"] == n:
                i, j = batches.index(r["batch_size"]), epochs.index(r["epochs"])
                grid[i, j], err[i, j] = r["mean"], r["std"]
        fig, ax = plt.subplots(figsize=(1.3 * len(epochs) + 2, 0.8 * len(batches) + 1.8))
        im = ax.imshow(grid, cmap="viridis", vmin=lo, vmax=hi, aspect="auto")
        for i in range(len(batches)):
            for j in range(len(epochs)):
                if np.isnan(grid[i, j]):
                    continue  # pruned by successive halving
                ax.text(j, i, f"{grid[i, j]:.3f}\n±{err[i, j]:.3f}", ha="center", va="center",
                        fontsize=8, color="white" if grid[i, j] < (lo + hi) / 2 else "black")
        ax.set(xticks=range(len(epochs)), xticklabels=epochs, yticks=range(len(batches)),
               yticklabels=batches, xlabel="epochs", ylabel="batch size",
               title=f"{n} conv layer(s): CV {result.config.scoring} (mean ± std)")
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        path = Path(directory) / f"grid_layers{n}.png"
        paths.append(save_figure(fig, path, dpi=110, provenance=provenance))
    return paths


def plot_stage_curves(result: GridSearchResult, stage: str, path: str | Path,
                      provenance: Mapping[str, Any] | None = None) -> Path:
    """Cross-validated precision and recall against epoch for each value of the stage's
    parameter (the paper's Figs. 12-13)."""
    plt = _pyplot()
    param = "leaky_alpha" if stage == "alpha" else "learning_rate"
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("precision", "recall"), strict=True):
        rows = result.rows(stage, scoring=metric)
        for value in sorted({r[param] for r in rows}):
            sel = sorted((r for r in rows if r[param] == value), key=lambda r: r["epochs"])
            ax.errorbar([r["epochs"] for r in sel], [r["mean"] for r in sel],
                        yerr=[r["std"] for r in sel], marker="o", capsize=3,
                        label=f"{param} = {value:g}")
        ax.set(xlabel="epochs", ylabel=f"CV {metric}", title=metric.capitalize())
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, provenance=provenance)
