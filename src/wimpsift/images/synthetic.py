"""Toy images for plumbing tests only: NOT a physics simulation.

``wimpsift reproduce cnn --images synthetic`` (and the tests of the CNN pipeline and its
report) use these to run every stage after the images in seconds, without the waveform
simulation; the numbers they give mean nothing physically and the report says so.
Real image datasets come from :mod:`wimpsift.images.dataset`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

ImageSets = dict[str, tuple[np.ndarray, np.ndarray, pd.DataFrame]]
"""Per image kind: images (N, H, W) float32 in [0, 1], labels (N,), event table."""


def synthetic_image_sets(kinds: Sequence[str], events_per_class: int, seed: int,
                         shapes: dict[str, tuple[int, int]] | None = None) -> ImageSets:
    """Toy images for plumbing tests only: NOT a physics simulation.

    A toy event table (cS1 uniform, log10(cS2/cS1) from two overlapping Gaussian bands,
    NR lower; uniform positions) and, per kind, a blob whose brightness and position
    encode cS1, cS2 and (x, y) plus pixel noise.
    """
    shapes = shapes or {"hit": (50, 100), "peak": (50, 100), "hitpeak": (75, 75)}
    rng = np.random.default_rng(seed)
    n = 2 * events_per_class
    y = np.repeat([1, 0], events_per_class)
    cs1 = rng.uniform(3, 70, n)
    band = np.where(y == 1, 1.9, 2.25) - 0.35 * np.log10(cs1 / 10) + rng.normal(0, 0.12, n)
    r = 36 * np.sqrt(rng.random(n))
    phi = rng.uniform(0, 2 * np.pi, n)
    table = pd.DataFrame({
        "event_id": np.arange(n), "source": np.where(y == 1, "wimp", "er"),
        "recoil_type": np.where(y == 1, "nr", "er"), "cs1_pe": cs1,
        "cs2_pe": cs1 * 10 ** band, "s1_area_pe": cs1, "s2_area_pe": cs1 * 10 ** band,
        "x_cm": r * np.cos(phi), "y_cm": r * np.sin(phi), "r_cm": r,
        "z_cm": rng.uniform(-90, -5, n),
    })
    out: ImageSets = {}
    for kind in kinds:
        h, w = shapes[kind]
        yy, xx = np.mgrid[0:h, 0:w]
        img = rng.normal(0.1, 0.03, (n, h, w)).astype(np.float32)
        cx = (0.5 + table["x_cm"].to_numpy() / 100) * w
        cy = (0.5 + table["y_cm"].to_numpy() / 100) * h
        amp = 0.3 + 0.2 * (band - 1.5)
        for i in range(n):
            img[i] += amp[i] * np.exp(-((xx - cx[i]) ** 2 + (yy - cy[i]) ** 2) / 20.0)
        out[kind] = (np.clip(img, 0, 1), y.copy(), table.copy())
    return out
