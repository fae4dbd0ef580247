"""``hit`` images: main S1 hit pattern on the bottom array | main S2 on the top array.

Each panel is the TPC cross-section (diameter = panel side, +y up, centred); every PMT
is a disc of its window radius whose grey level is log10(1 + PE) / log10(1 + max PE).
Edge pixels are anti-aliased: the coverage of each pixel by each PMT disc is computed
once per (layout, panel size) on a 4 × 4 sub-pixel grid, so rendering a batch is one
matrix product.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from threadpoolctl import threadpool_limits

from wimpsift.detectors.pmt_arrays import PmtArrays

SUBPIXELS = 4


@lru_cache(maxsize=32)
def coverage_matrix(arrays: PmtArrays, array: str, height: int, width: int) -> np.ndarray:
    """(height·width, n_array_pmts) float32: share of each pixel covered by each PMT disc."""
    sl = arrays.top if array == "top" else arrays.bottom
    px, py = arrays.x_cm[sl], arrays.y_cm[sl]
    side = min(height, width)
    radius = float(np.max(np.hypot(px, py)) + arrays.pmt_radius_cm)
    scale = side / (2 * radius)  # pixels per cm
    sub = (np.arange(SUBPIXELS) + 0.5) / SUBPIXELS
    cols = (np.arange(width)[:, None] + sub[None, :]).ravel()
    rows = (np.arange(height)[:, None] + sub[None, :]).ravel()
    x = (cols - width / 2) / scale
    y = (height / 2 - rows) / scale
    gx, gy = np.meshgrid(x, y)  # (H*S, W*S)
    d2 = (gx[..., None] - px) ** 2 + (gy[..., None] - py) ** 2
    nearest = np.argmin(d2, axis=-1)
    inside = np.take_along_axis(d2, nearest[..., None], -1)[..., 0] <= arrays.pmt_radius_cm**2
    n = px.size
    onehot = np.zeros((height * SUBPIXELS, width * SUBPIXELS, n), dtype=np.float32)
    ii, jj = np.nonzero(inside)
    onehot[ii, jj, nearest[ii, jj]] = 1.0
    cover = onehot.reshape(height, SUBPIXELS, width, SUBPIXELS, n).mean(axis=(1, 3))
    matrix = cover.reshape(height * width, n).astype(np.float32)
    matrix.setflags(write=False)
    return matrix


def coverage_bytes(arrays: PmtArrays, shape: tuple[int, int]) -> float:
    """A lower bound of the memory :func:`coverage_matrix` takes for a ``hit`` image of
    ``shape``: the larger panel's float64 squared distances and float32 one-hot cover of
    every sub-pixel and PMT, alive together."""
    height, width = shape
    left = width // 2
    panels = ((left, arrays.n_bottom), (width - left, arrays.n_top))
    return float(max(12 * SUBPIXELS**2 * height * w * n for w, n in panels))


def log_scale(area_pe: np.ndarray, max_pe: float) -> np.ndarray:
    """log10(1 + area) / log10(1 + max), clipped to [0, 1], float32."""
    value = np.log10(1.0 + np.clip(np.asarray(area_pe, dtype=np.float32), 0, None))
    return np.clip(value / np.float32(np.log10(1.0 + max_pe)), 0.0, 1.0)


def render_pattern(values: np.ndarray, arrays: PmtArrays, array: str, height: int, width: int
                   ) -> np.ndarray:
    """(N, height, width) panel of per-PMT grey levels ``values`` (N, n_array_pmts)."""
    matrix = coverage_matrix(arrays, array, int(height), int(width))
    with threadpool_limits(limits=1, user_api="blas"):  # the same sums on any machine
        out = np.asarray(values, dtype=np.float32) @ matrix.T
    return np.clip(out, 0.0, 1.0).reshape(-1, height, width)


def render_hit(s1_pmt_area_pe, s2_pmt_area_pe, arrays: PmtArrays, shape, settings
               ) -> np.ndarray:
    """``hit`` images (N, H, W): S1 on the bottom array (left), S2 on the top array (right)."""
    height, width = shape
    left = width // 2
    s1 = log_scale(np.asarray(s1_pmt_area_pe)[:, arrays.bottom], settings.hit_s1_max_pe)
    s2 = log_scale(np.asarray(s2_pmt_area_pe)[:, arrays.top], settings.hit_s2_max_pe)
    out = np.empty((s1.shape[0], height, width), dtype=np.float32)
    out[:, :, :left] = render_pattern(s1, arrays, "bottom", height, left)
    out[:, :, left:] = render_pattern(s2, arrays, "top", height, width - left)
    return out
