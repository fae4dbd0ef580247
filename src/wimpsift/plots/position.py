"""Position resolution (RMS of |Δxy|) against S2 size and radius, per reconstruction method.

Takes the dict of :func:`wimpsift.training.position.evaluate_positions`; the published
anchors it carries are drawn as horizontal lines (they are for XENONnT, a larger TPC
with a similar PMT spacing: a scale to compare with, not a target).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wimpsift.plots import pyplot, save_figure

CNN_TRAINING = {"assumed": "trained on the assumed LRF",
                "true": "trained on the simulation's true LRF", "unknown": "training LRF not recorded"}
LABELS = {
    "cnn": "CNN ({training}), averaged over the array's symmetries",
    "cnn_single": "CNN, one evaluation",
    "likelihood": "likelihood, mismatched LRF",
    "likelihood_true_lrf": "likelihood, true LRF (optimistic)",
    "centre_of_gravity": "centre of gravity",
}


def _centres(rows: list[dict[str, float]], log: bool) -> np.ndarray:
    lo = np.array([r["lo"] for r in rows])
    hi = np.array([r["hi"] for r in rows])
    if log:  # bins from 0 and open-ended last bins: at most a factor 4 wide
        lo = np.where(lo > 0, lo, hi / 4)
        hi = np.minimum(hi, 4 * lo)
        return np.sqrt(lo * hi)
    return 0.5 * (lo + hi)


def _values(rows: list[dict[str, float]], key: str) -> np.ndarray:
    return np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)


def plot_position_resolution(result: dict[str, Any], path: str | Path,
                             provenance: dict[str, Any] | None = None) -> Path:
    """Two panels: RMS against S2 top-array area and against true radius (``provenance``
    goes into the file, :func:`wimpsift.plots.save_figure`)."""
    plt = pyplot()
    from matplotlib.ticker import ScalarFormatter

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    panels = (("vs_s2_top_pe", "S2 top-array area [PE]", True),
              ("vs_radius_cm", "true radius [cm]", False))
    for ax, (key, xlabel, log) in zip(axes, panels, strict=True):
        for name, method in result["methods"].items():
            rows = method[key]
            ax.errorbar(_centres(rows, log), _values(rows, "rms_cm"),
                        yerr=_values(rows, "rms_error_cm"), marker="o", ms=4, capsize=2,
                        label=LABELS.get(name, name).format(
                            training=CNN_TRAINING[result.get("cnn_training_lrf", "unknown")]))
        anchors = result["published_anchors"]
        ax.axhline(anchors["bulk_rms_cm"], color="grey", ls="--", lw=1,
                   label=f"anchor, bulk ({anchors['source'].split(' ')[0]})")
        ax.axhline(anchors["wall_rms_cm"], color="grey", ls=":", lw=1, label="anchor, near wall")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("RMS of |Δ(x, y)| [cm]")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        if log:
            ax.set_xscale("log")
    axes[1].axvline(result["tpc_radius_cm"] - result["wall_band_cm"], color="k", lw=0.5)
    axes[0].legend(fontsize=7)
    mismatch = result["lrf_mismatch"]
    fig.suptitle(f"{result['detector']}: {result['n_test_events']} waveform-level test events; "
                 f"LRF mismatch {100 * mismatch['pmt_efficiency_rms']:.0f} % per PMT, "
                 f"width x{mismatch['lrf_height_scale']:g}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, provenance=provenance)
