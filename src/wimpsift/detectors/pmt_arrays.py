"""PMT arrays of the TPC, built from the detector definition's ``[pmt_arrays]`` section.

Positions are either listed in the definition (XENON1T: the public processor
configuration's 248 positions, shipped as ``detectors/data/xenon1t_pmt_positions.csv``)
or generated from a hexagonal or ring layout (:mod:`wimpsift.detectors.layouts`).
Nothing here depends on a detector's name: any definition with arrays works for
waveforms, images and ``show``.

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


@lru_cache(maxsize=16)
def _build(section_json: str) -> PmtArrays:
    from wimpsift.detectors.definition import PmtArraysSection

    section = PmtArraysSection.model_validate_json(section_json)
    xt, yt = section.top.positions_cm()
    xb, yb = section.bottom.positions_cm()
    return PmtArrays(
        x_cm=np.concatenate([xt, xb]), y_cm=np.concatenate([yt, yb]), n_top=xt.size, n_bottom=xb.size,
        photocathode_radius_cm=section.photocathode_radius_cm, pmt_radius_cm=section.pmt_radius_cm,
        top_plane_z_cm=section.top_plane_z_cm, bottom_plane_z_cm=section.bottom_plane_z_cm,
        el_plane_z_cm=section.el_plane_z_cm,
    )


def pmt_arrays(detector: Detector) -> PmtArrays:
    """The PMT arrays of a detector definition."""
    if not isinstance(detector, Detector):
        raise bad_value("detector", detector, "a detector definition (load it with load_detector)")
    return _build(detector.pmt_arrays.model_dump_json())
