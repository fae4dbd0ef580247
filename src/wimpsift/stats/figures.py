"""Figures of limits against WIMP mass (the paper's Fig. 6) and ratios between analyses
(its Figs. 7 and 8): cross-sections in cm², masses in GeV/c²."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wimpsift.errors import DataError
from wimpsift.plots import pyplot as _pyplot
from wimpsift.plots import save_figure
from wimpsift.provenance import check_writable
from wimpsift.stats.limits import LimitResult


def plot_limits_vs_mass(
    analyses: Mapping[str, Mapping[float, LimitResult]],
    path: str | Path,
    title: str = "90% CL upper limits",
    provenance: Mapping[str, Any] | None = None,
    data_label: str = "observed",
) -> Path:
    """Top: limits of each analysis (bands of the first); bottom: ratio to the first
    (``provenance`` goes into the file, :func:`wimpsift.plots.save_figure`). The limits
    on the data set are labelled ``data_label`` (``"pseudo-data"`` where it is one).

    Values below 1 in the ratio panel mean the analysis beats the first one.
    """
    if not analyses:
        raise DataError("analyses: nothing to plot")
    path = check_writable(path, "figure")
    plt = _pyplot()
    names = list(analyses)
    reference = analyses[names[0]]
    masses = sorted(reference)
    if not masses:
        raise DataError(f"analyses[{names[0]!r}]: no masses")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1.3]})

    def cm2(result: LimitResult, key: str) -> float:
        return result.expected_mu[key] * result.sigma_ref_cm2

    ref = [reference[m] for m in masses]
    top.fill_between(masses, [cm2(r, "-2sigma") for r in ref], [cm2(r, "+2sigma") for r in ref],
                     color="#ffdd55", label=f"{names[0]} ±2σ")
    top.fill_between(masses, [cm2(r, "-1sigma") for r in ref], [cm2(r, "+1sigma") for r in ref],
                     color="#55bb55", label=f"{names[0]} ±1σ")
    styles = ["k", "tab:blue", "tab:red", "tab:purple"]
    for i, name in enumerate(names):
        res = analyses[name]
        ms = [m for m in masses if m in res]
        color = styles[i % len(styles)]
        top.plot(ms, [cm2(res[m], "median") for m in ms], "--o", color=color, ms=3,
                 label=f"{name} median")
        top.plot(ms, [res[m].reported_mu * res[m].sigma_ref_cm2 for m in ms], "-s", color=color, ms=3,
                 label=f"{name} {data_label}")
        if i:
            bottom.plot(ms, [res[m].expected_mu["median"] / reference[m].expected_mu["median"] for m in ms],
                        "--o", color=color, ms=3, label=f"{name}/{names[0]} median")
            bottom.plot(ms, [res[m].reported_mu / reference[m].reported_mu for m in ms], "-s", color=color,
                        ms=3, label=f"{name}/{names[0]} {data_label}")
    bottom.axhline(1.0, color="grey", lw=0.8)
    top.set_xscale("log")
    top.set_yscale("log")
    top.set_ylabel("WIMP-nucleon σ (cm²)")
    top.set_title(title)
    top.legend(fontsize=7)
    bottom.set_xlabel("WIMP mass (GeV/c²)")
    bottom.set_ylabel("ratio")
    if len(names) > 1:
        bottom.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, provenance=provenance)
