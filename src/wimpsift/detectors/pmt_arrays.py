"""PMT arrays of the TPC: positions of the top and bottom photomultipliers.

The layouts are *generated* from their published description (nothing is read from
outside the package at run time):

- XENON1T top: 127 three-inch PMTs in concentric rings of 1 + 6 + 12 + 18 + 24 + 30 + 36,
  ring spacing 7.95 cm (outermost radius 47.7 cm). Each ring's PMTs are evenly spaced;
  ring k is turned by -k/4 of its own angular spacing so that neighbouring rings are
  staggered (the published arrangement).
- XENON1T bottom: 121 PMTs on a hexagonal lattice of pitch 8.0 cm, with row counts
  5, 8, 9, 10, 11, 12, 11, 12, 11, 10, 9, 8, 5 along one lattice direction, each row
  centred, the rows turned by 22.5° with respect to the x axis (outermost radius 44.5 cm).
- LUX: 61 + 61 two-inch PMTs, each array a hexagon of 4 shells (1 + 6 + 12 + 18 + 24) on
  a hexagonal lattice of pitch 5.6 cm (outermost PMT at 22.4 cm, inside the 23.65 cm
  radius).

Channel numbers: top array first (0 … n_top-1), then the bottom array, as in the
experiments' processors. Heights are measured from the gate (z = 0, liquid below).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.errors import bad_value


@dataclass(frozen=True, eq=False)
class PmtArrays:
    """Positions (cm) of all PMTs of one TPC, top array first."""

    name: str
    x_cm: np.ndarray
    y_cm: np.ndarray
    n_top: int
    n_bottom: int
    photocathode_radius_cm: float
    pmt_radius_cm: float
    """outer radius of a PMT window (3-inch: 3.81 cm, 2-inch: 2.54 cm), for drawing"""
    top_plane_z_cm: float
    """height of the top photocathodes above the gate"""
    bottom_plane_z_cm: float
    """height of the bottom photocathodes (negative: below the cathode)"""
    el_plane_z_cm: float
    """height of the electroluminescence region (between liquid surface and anode)"""

    @property
    def n_pmts(self) -> int:
        return self.n_top + self.n_bottom

    @property
    def is_top(self) -> np.ndarray:
        return np.arange(self.n_pmts) < self.n_top

    @property
    def top(self) -> slice:
        return slice(0, self.n_top)

    @property
    def bottom(self) -> slice:
        return slice(self.n_top, self.n_pmts)

    @property
    def z_cm(self) -> np.ndarray:
        return np.where(self.is_top, self.top_plane_z_cm, self.bottom_plane_z_cm)


def ring_layout(ring_counts: list[int], spacing_cm: float, phase_step: float = -0.25
                ) -> tuple[np.ndarray, np.ndarray]:
    """Concentric rings; ring k holds ``ring_counts[k]`` PMTs at radius k × spacing.

    Ring k is turned by ``phase_step × k`` of its angular spacing (mod one spacing).
    """
    xs, ys = [], []
    for k, count in enumerate(ring_counts):
        if count == 1:
            xs.append(np.zeros(1))
            ys.append(np.zeros(1))
            continue
        step = 2 * np.pi / count
        phase = ((phase_step * k) % 1.0) * step
        angle = phase + step * np.arange(count)
        xs.append(k * spacing_cm * np.cos(angle))
        ys.append(k * spacing_cm * np.sin(angle))
    return np.concatenate(xs), np.concatenate(ys)


def hex_rows_layout(row_counts: list[int], pitch_cm: float, rotation_deg: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Centred rows of a hexagonal lattice (row spacing pitch·√3/2), then rotated."""
    n_rows = len(row_counts)
    row_y = (np.arange(n_rows) - (n_rows - 1) / 2) * pitch_cm * np.sqrt(3) / 2
    xs, ys = [], []
    for y, count in zip(row_y, row_counts, strict=True):
        xs.append((np.arange(count) - (count - 1) / 2) * pitch_cm)
        ys.append(np.full(count, y))
    x, y = np.concatenate(xs), np.concatenate(ys)
    theta = np.radians(rotation_deg)
    return x * np.cos(theta) - y * np.sin(theta), x * np.sin(theta) + y * np.cos(theta)


def hexagon_layout(n_shells: int, pitch_cm: float) -> tuple[np.ndarray, np.ndarray]:
    """All lattice points of a hexagonal lattice within ``n_shells`` hexagonal shells."""
    pts = []
    for q in range(-n_shells, n_shells + 1):
        for r in range(max(-n_shells, -q - n_shells), min(n_shells, -q + n_shells) + 1):
            pts.append((pitch_cm * (q + r / 2), pitch_cm * r * np.sqrt(3) / 2))
    arr = np.array(pts)
    return arr[:, 0], arr[:, 1]


@lru_cache(maxsize=4)
def _xenon1t() -> PmtArrays:
    xt, yt = ring_layout([1, 6, 12, 18, 24, 30, 36], 7.95)
    xb, yb = hex_rows_layout([5, 8, 9, 10, 11, 12, 11, 12, 11, 10, 9, 8, 5], 8.0, 22.5)
    return PmtArrays(
        name="xenon1t", x_cm=np.concatenate([xt, xb]), y_cm=np.concatenate([yt, yb]),
        n_top=xt.size, n_bottom=xb.size, photocathode_radius_cm=3.2, pmt_radius_cm=3.81,
        top_plane_z_cm=6.0, bottom_plane_z_cm=-96.9 - 5.0, el_plane_z_cm=0.4,
    )


@lru_cache(maxsize=4)
def _lux() -> PmtArrays:
    xt, yt = hexagon_layout(4, 5.6)
    return PmtArrays(
        name="lux", x_cm=np.concatenate([xt, xt]), y_cm=np.concatenate([yt, yt]),
        n_top=xt.size, n_bottom=xt.size, photocathode_radius_cm=2.3, pmt_radius_cm=2.54,
        top_plane_z_cm=5.5, bottom_plane_z_cm=-48.3 - 5.5, el_plane_z_cm=0.5,
    )


_LAYOUTS = {"xenon1t": _xenon1t, "lux": _lux}


def pmt_arrays(detector: Detector | str) -> PmtArrays:
    """The PMT arrays of a detector (by definition or name: ``xenon1t*`` or ``lux*``)."""
    name = detector if isinstance(detector, str) else detector.name
    family = name.split("_")[0].lower()
    if family not in _LAYOUTS:
        raise bad_value("detector", name, f"a detector with a PMT layout ({sorted(_LAYOUTS)})")
    arrays = _LAYOUTS[family]()
    if not isinstance(detector, str):
        g = detector.geometry
        if (g.n_pmts_top, g.n_pmts_bottom) != (arrays.n_top, arrays.n_bottom):
            raise bad_value(
                "detector.geometry", (g.n_pmts_top, g.n_pmts_bottom),
                f"the {family} layout's ({arrays.n_top}, {arrays.n_bottom}) PMTs",
            )
    return arrays
