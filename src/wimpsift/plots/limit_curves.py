"""Our limit curve (with bands if any) beside a published one, against WIMP mass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wimpsift.plots import pyplot, save_figure


def plot_limit_curve(
    rows: Sequence[Mapping[str, float]],
    path: str | Path,
    title: str,
    central_key: str,
    published: Mapping[str, Any] | None = None,
    published_label: str = "published",
) -> Path:
    """``rows``: one dict per mass with ``mass_gev`` and ``<central_key>`` (and, when
    present, ``minus2_cm2`` … ``plus2_cm2``) in cm²; ``published``: ``mass_gev`` and
    ``limit`` and/or ``median`` (and band keys) in cm²."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    masses = np.array([r["mass_gev"] for r in rows])
    if published is not None:
        pm = published["mass_gev"]
        if "minus2" in published:
            ax.fill_between(pm, published["minus2"], published["plus2"], color="#ffdd55", alpha=0.5,
                            label=f"{published_label} ±2σ")
            ax.fill_between(pm, published["minus1"], published["plus1"], color="#55bb55", alpha=0.5,
                            label=f"{published_label} ±1σ")
        for key, style in (("limit", "k*-"), ("median", "k--")):
            if key in published:
                ax.plot(pm, published[key], style, label=f"{published_label} {key}")
    if rows and "minus2_cm2" in rows[0]:
        def band(key: str) -> np.ndarray:  # a band edge at 0 (asymptotic -2σ) has no place on a log axis
            values = np.array([r[key] for r in rows], dtype=float)
            return np.where(values > 0, values, np.nan)

        ax.fill_between(masses, band("minus2_cm2"), band("plus2_cm2"), color="tab:orange", alpha=0.25,
                        label="wimpsift ±2σ")
        ax.fill_between(masses, band("minus1_cm2"), band("plus1_cm2"), color="tab:orange", alpha=0.4,
                        label="wimpsift ±1σ")
    ax.plot(masses, [r[central_key] for r in rows], "o-", color="tab:red", ms=4,
            label=f"wimpsift {central_key.removesuffix('_cm2')}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("WIMP mass (GeV/c²)")
    ax.set_ylabel("WIMP-nucleon σ (cm²), 90% CL")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
