"""PMT layout generators: positions (cm) of one PMT array from a few numbers.

- ``hexagonal``: the ``count`` lattice points of a hexagonal lattice of pitch
  ``pitch_cm`` nearest the axis (ties broken by angle), turned by ``rotation_deg``;
  61 = 1 + 6 + 12 + 18 + 24 gives a full hexagon of 4 shells.
- ``rings``: one PMT on the axis, then concentric rings at radius k × ``pitch_cm``
  holding 6k PMTs each (about one pitch apart along the ring), the last ring
  partly filled and evenly spaced; ring k turned by ``rotation_deg`` + k × half its
  angular spacing so that neighbouring rings are staggered.

Shipped detectors with a published layout (XENON1T) list every position explicitly
instead.
"""

from __future__ import annotations

import numpy as np


def _rotate(x: np.ndarray, y: np.ndarray, rotation_deg: float) -> tuple[np.ndarray, np.ndarray]:
    theta = np.radians(rotation_deg)
    return x * np.cos(theta) - y * np.sin(theta), x * np.sin(theta) + y * np.cos(theta)


def hexagonal_layout(count: int, pitch_cm: float, rotation_deg: float = 0.0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` points of a hexagonal lattice nearest the axis."""
    shells = int(np.ceil(np.sqrt(count / 3.0))) + 2
    q, r = np.meshgrid(np.arange(-shells, shells + 1), np.arange(-shells, shells + 1))
    x = pitch_cm * (q + r / 2.0).ravel()
    y = pitch_cm * (r * np.sqrt(3) / 2.0).ravel()
    radius = np.round(np.hypot(x, y) / pitch_cm, 9)
    angle = np.round(np.mod(np.arctan2(y, x), 2 * np.pi), 9)
    order = np.lexsort((angle, radius))[:count]
    return _rotate(x[order], y[order], rotation_deg)


def rings_layout(count: int, pitch_cm: float, rotation_deg: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Concentric rings of 1, 6, 12, 18, ... PMTs, the last ring partly filled."""
    xs, ys = [np.zeros(1)], [np.zeros(1)]
    left, k = count - 1, 1
    while left > 0:
        n = min(6 * k, left)
        step = 2 * np.pi / n
        angle = np.radians(rotation_deg) + (k % 2) * step / 2 + step * np.arange(n)
        xs.append(k * pitch_cm * np.cos(angle))
        ys.append(k * pitch_cm * np.sin(angle))
        left -= n
        k += 1
    return np.concatenate(xs)[:count], np.concatenate(ys)[:count]
