"""Images for people: PNG export of network images, and a labelled event figure.

:func:`save_png` writes a network image (values in [0, 1]) as an 8-bit grey PNG,
optionally enlarged. :func:`event_figure` draws one waveform-level event the way the
paper's Fig. 3 (the PaX event display) does: the largest S1 and S2 (top left), the top
and bottom hit patterns of the main S2 and S1 (top right), the whole summed waveform
with its peaks (middle), and the PMTs that saw each peak (bottom: red when the peak
passes the coincidence requirement, green for lone-PMT signals). Matplotlib is used
here only, never in the image hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from wimpsift.errors import bad_value
from wimpsift.provenance import atomic_path, check_writable


def save_png(image: np.ndarray, path: str | Path, scale: int = 4,
             provenance: Mapping[str, Any] | None = None) -> Path:
    """Write one (H, W) image in [0, 1] as a grey PNG, each pixel ``scale``× enlarged,
    with ``provenance`` in its metadata."""
    import matplotlib.image as mpimg

    from wimpsift.plots import figure_metadata

    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise bad_value("image", image.shape, "a 2-D (height, width) array")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise bad_value("scale", scale, "a positive integer")
    path = check_writable(path, "output")
    big = np.kron(np.clip(image, 0, 1), np.ones((scale, scale), dtype=np.float32))
    with atomic_path(path) as tmp:
        mpimg.imsave(tmp, big, cmap="gray", vmin=0.0, vmax=1.0, format="png",
                     metadata=figure_metadata("png", provenance))
    return path


def event_figure(raw, index: int, path: str | Path, processing=None, title: str | None = None,
                 provenance: Mapping[str, Any] | None = None) -> Path:
    """Full-size labelled display of event ``index`` of ``raw`` (WaveformEvents), as a PNG/PDF."""
    from matplotlib.colors import LogNorm

    from wimpsift.plots import pyplot, save_figure
    from wimpsift.processing.peaks import (
        PEAK_TYPES,
        S1,
        S2,
        find_peaks,
        main_peaks,
        s2_merge_gap_ns,
    )
    from wimpsift.processing.reconstruction import ProcessingSettings

    plt = pyplot()

    if not 0 <= index < len(raw.events):
        raise bad_value("event", index, f"an event number in [0, {len(raw.events)})")
    path = check_writable(path, "output")
    settings = processing or ProcessingSettings()
    event, arrays, detector = raw.events[index], raw.arrays, raw.detector
    peaks = find_peaks(event, arrays.n_pmts, detector.light.s1_coincidence_pmts, settings.peaks,
                       s2_merge_gap_ns(detector, raw.settings.el_duration_ns))
    i1, i2 = main_peaks(peaks)
    dt = event.sample_ns
    truth = raw.truth.iloc[index]

    fig = plt.figure(figsize=(16, 11))
    grid = fig.add_gridspec(3, 4, height_ratios=[1.3, 1.0, 0.9], hspace=0.45, wspace=0.3)

    def peak_axis(ax, i, label):
        if i < 0:
            ax.text(0.5, 0.5, f"no {label}", ha="center", va="center", transform=ax.transAxes)
            return
        pad = 20 if label == "S1" else 100
        a = int(peaks.start_sample[i]) - pad
        b = int(peaks.end_sample[i]) + pad
        w = event.waveform_slice(a, b - a)
        t = (np.arange(a, b) * dt - peaks.center_ns[i]) / (1 if label == "S1" else 1000)
        ax.plot(t, np.clip(w, 1e-2, None), drawstyle="steps-mid", color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylim(1e-1, max(1e2, float(w.max()) * 2))
        ax.set_xlabel("time from peak centre [" + ("ns" if label == "S1" else "µs") + "]")
        ax.set_ylabel("PE / 10 ns")
        ax.set_title(f"largest {label}: {peaks.area_pe[i]:.1f} PE")

    peak_axis(fig.add_subplot(grid[0, 0]), i1, "S1")
    peak_axis(fig.add_subplot(grid[0, 1]), i2, "S2")

    def hit_axis(ax, i, array, label):
        sl = arrays.top if array == "top" else arrays.bottom
        values = peaks.pmt_area_pe[i][sl] if i >= 0 else np.zeros(sl.stop - sl.start)
        vmax = max(float(values.max()), 1.0)
        sc = ax.scatter(arrays.x_cm[sl], arrays.y_cm[sl], c=np.clip(values, 0.1, None),
                        s=110, cmap="viridis", norm=LogNorm(0.1, vmax), edgecolors="0.5",
                        linewidths=0.3)
        ax.set_aspect("equal")
        ax.set_title(f"{label} on the {array} array")
        ax.set_xlabel("x [cm]")
        ax.set_ylabel("y [cm]")
        # below the map: a colour bar at the side collides with the next panel's y label
        fig.colorbar(sc, ax=ax, label="PE", orientation="horizontal", fraction=0.05, pad=0.2)

    hit_axis(fig.add_subplot(grid[0, 2]), i2, "top", "S2")
    hit_axis(fig.add_subplot(grid[0, 3]), i1, "bottom", "S1")

    ax = fig.add_subplot(grid[1, :])
    waveform = event.summed_waveform()
    ax.plot(np.arange(waveform.size) * dt / 1000, np.clip(waveform, 1e-2, None), color="k", lw=0.5)
    ax.set_yscale("log")
    ax.set_ylim(1e-1, max(1e2, float(waveform.max()) * 2))
    colors = {S1: "tab:blue", S2: "tab:green"}
    for k in range(len(peaks)):
        kind = int(peaks.peak_type[k])
        if kind in colors:
            ax.axvspan(peaks.start_sample[k] * dt / 1000, peaks.end_sample[k] * dt / 1000,
                       color=colors[kind], alpha=0.3)
            ax.annotate(f"{PEAK_TYPES[kind]} {peaks.area_pe[k]:.0f}",
                        (peaks.center_ns[k] / 1000, ax.get_ylim()[1] / 3), fontsize=7,
                        rotation=90, ha="center")
    ax.set_xlabel("time [µs]")
    ax.set_ylabel("PE / 10 ns")
    ax.set_title("summed waveform and peaks (blue: S1, green: S2)")

    ax = fig.add_subplot(grid[2, :], sharex=ax)
    for k in range(len(peaks)):
        hit = np.flatnonzero(peaks.pmt_area_pe[k] > settings.peaks.pmt_hit_threshold_pe)
        coincident = hit.size >= detector.light.s1_coincidence_pmts
        ax.scatter(np.full(hit.size, peaks.center_ns[k] / 1000), hit, s=4,
                   color="red" if coincident else "green")
    ax.axhline(arrays.n_top - 0.5, color="0.6", lw=0.5)
    ax.set_ylim(-1, arrays.n_pmts)
    ax.set_xlabel("time [µs]")
    ax.set_ylabel("PMT channel")
    ax.set_title("PMTs with signal (red: coincident, green: lone PMT)")
    fig.suptitle(title or (
        f"{truth['source']} ({truth['recoil_type']}), {truth['energy_kev']:.1f} keV at "
        f"x = {truth['x_true_cm']:.1f}, y = {truth['y_true_cm']:.1f}, z = {truth['z_true_cm']:.1f} cm"
    ))
    return save_figure(fig, path, dpi=100, provenance=provenance)
