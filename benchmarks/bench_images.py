"""Benchmark: processed events → ``hitpeak`` images per second, against the seed's route.

Our route rasterises the main S1/S2 hit patterns and waveforms directly into float32
arrays (``wimpsift.images.render_images``). The seed's route draws the same content with
matplotlib (a 2 × 2 figure of 800 × 800 pixels: S1 on the bottom array, S2 on the top
array, S1 and S2 waveforms with a log y axis; axes removed), saves it as PNG, reads it
back, converts it to grey and downscales it to 75 × 75 — on the same events, in the same
run, one process (one core).

Also reported: the waveform simulation + processing rate (events/s) that produces the
inputs, the rate of rendering ``n_images`` (default 20,000) hitpeak images and the
peak resident memory of the process holding all of them.

Usage::

    python benchmarks/bench_images.py [--events 1000] [--mpl-events 40] [--n-images 20000]

The last line of the output is JSON with both rates and their ratio.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import io  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _bench_cli import Parser, at_least, run  # noqa: E402


def matplotlib_hitpeak(processed, index: int, settings, size: int = 75) -> np.ndarray:
    """The seed's route for one event: matplotlib figure → PNG → grey → 75 × 75 in [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    arrays = processed.arrays
    fig, axes = plt.subplots(2, 2, figsize=(8, 8), dpi=100)
    panels = [
        (axes[0, 0], arrays.bottom, processed.s1_pmt_area_pe[index], settings.hit_s1_max_pe),
        (axes[0, 1], arrays.top, processed.s2_pmt_area_pe[index], settings.hit_s2_max_pe),
    ]
    for ax, sl, area, vmax in panels:
        values = np.log10(1 + np.clip(area[sl], 0, None)) / np.log10(1 + vmax)
        ax.scatter(arrays.x_cm[sl], arrays.y_cm[sl], c=values, cmap="gray", vmin=0, vmax=1, s=180)
        ax.set_facecolor("black")
        ax.set_aspect("equal")
    for ax, trace in ((axes[1, 0], processed.s1_trace_pe[index]),
                      (axes[1, 1], processed.s2_trace_pe[index])):
        t = np.arange(trace.size)
        ax.fill_between(t, settings.peak_min_pe_per_sample,
                        np.clip(trace, settings.peak_min_pe_per_sample, None), color="white")
        ax.set_yscale("log")
        ax.set_ylim(settings.peak_min_pe_per_sample, settings.peak_max_pe_per_sample)
        ax.set_facecolor("black")
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.patch.set_facecolor("black")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="black")
    plt.close(fig)
    buffer.seek(0)
    image = Image.open(buffer).convert("L").resize((size, size), Image.BILINEAR)
    return np.asarray(image, dtype=np.float32) / 255.0


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=at_least(2), default=1000, help="simulated events (inputs)")
    parser.add_argument("--mpl-events", type=at_least(1), default=40, help="events drawn by matplotlib")
    parser.add_argument("--n-images", type=at_least(1), default=20_000, help="hitpeak images to render")
    parser.add_argument("--seed", type=at_least(0), default=1)
    args = parser.parse_args()

    from wimpsift.detectors import load_detector
    from wimpsift.images import ImageSettings, render_images
    from wimpsift.processing.reconstruction import ProcessedEvents, process_events
    from wimpsift.seeding import seed_sequence
    from wimpsift.sources import make_source
    from wimpsift.waveforms import simulate_waveform_events

    detector = load_detector("xenon1t_sr0")
    settings = ImageSettings()
    half = args.events // 2
    t0, c0 = time.perf_counter(), time.process_time()
    parts = []
    for k, name in enumerate(("wimp", "er")):
        source = make_source(detector, name, mass_gev=500.0 if name == "wimp" else None)
        raw = simulate_waveform_events(detector, source, half, seed_sequence(args.seed, k))
        parts.append(process_events(raw))
    simulate_s = time.perf_counter() - t0
    simulate_cpu_s = time.process_time() - c0
    import pandas as pd

    events = ProcessedEvents(
        pd.concat([p.table for p in parts], ignore_index=True),
        *(np.concatenate([getattr(p, n) for p in parts])
          for n in ("s1_pmt_area_pe", "s2_pmt_area_pe", "s1_trace_pe", "s2_trace_pe")),
        parts[0].arrays, parts[0].sample_ns,
    )
    n_events = len(events.s1_pmt_area_pe)

    # our route on all events (warm the coverage-matrix cache once, as a dataset build does)
    render_images(events.select(np.arange(n_events) < 2), ["hitpeak"], settings)
    t0 = time.perf_counter()
    ours = render_images(events, ["hitpeak"], settings)["hitpeak"]
    ours_s = time.perf_counter() - t0
    ours_rate = n_events / ours_s

    # the seed's route on the first mpl_events of the same events
    m = min(args.mpl_events, n_events)
    matplotlib_hitpeak(events, 0, settings)  # import and font-cache warm-up
    t0 = time.perf_counter()
    mpl = np.stack([matplotlib_hitpeak(events, i, settings) for i in range(m)])
    mpl_s = time.perf_counter() - t0
    mpl_rate = m / mpl_s
    similarity = float(np.corrcoef(mpl.ravel(), ours[:m].ravel())[0, 1])

    # n_images hitpeak images (the events tiled), rendered in batches into one array
    reps = int(np.ceil(args.n_images / n_events))
    big = np.empty((args.n_images, *ours.shape[1:]), dtype=np.float32)
    t0 = time.perf_counter()
    done = 0
    for _ in range(reps):
        k = min(n_events, args.n_images - done)
        sub = events if k == n_events else events.select(np.arange(n_events) < k)
        big[done:done + k] = render_images(sub, ["hitpeak"], settings)["hitpeak"]
        done += k
    many_s = time.perf_counter() - t0
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    print(f"inputs: {n_events} events simulated + processed in {simulate_s:.1f} s "
          f"({n_events / simulate_s:.0f} events/s wall, {n_events / simulate_cpu_s:.0f} per CPU s)")
    print(f"ours:       {n_events} hitpeak images in {ours_s * 1e3:.1f} ms -> {ours_rate:,.0f} /s")
    print(f"matplotlib: {m} hitpeak images in {mpl_s:.2f} s -> {mpl_rate:,.1f} /s")
    print(f"ratio ours/matplotlib: {ours_rate / mpl_rate:,.0f}x; pixel correlation {similarity:.2f}")
    print(f"{args.n_images} images: {many_s:.2f} s ({args.n_images / many_s:,.0f} /s), "
          f"array {big.nbytes / 2**20:.0f} MiB, peak RSS {peak_rss_mb:.0f} MiB")
    print(json.dumps({
        "ours_images_per_s": round(ours_rate, 1),
        "matplotlib_images_per_s": round(mpl_rate, 2),
        "ratio": round(ours_rate / mpl_rate, 1),
        "n_events": n_events, "mpl_events": m,
        "simulate_process_events_per_s": round(n_events / simulate_s, 1),
        "simulate_process_events_per_cpu_s": round(n_events / simulate_cpu_s, 1),
        "n_images": args.n_images, "n_images_per_s": round(args.n_images / many_s, 1),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "cores": 1,
    }))


if __name__ == "__main__":
    run(main)
