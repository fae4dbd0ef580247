"""XENON1T's standard event selection on processed (waveform-level) events.

The cuts, in the order XENON1T applied them (arXiv 1705.06655, 1906.04717), each a
per-event pass flag:

1. ``window``: the S1 coincidence and raw S2 threshold (``passes_threshold``) and the
   analysis window in cS1, raw S2 and, where the detector sets one, cS2_b (the
   detector's ``window``);
2. ``fiducial``: reconstructed position in the detector's fiducial cylinder;
3. ``single_scatter``: no second S2 at or above ``second_s2_max_pe`` (default the
   detector's S2 threshold) — removes neutron multiple scatters;
4. ``s2_width``: the main S2's 50 %-area width agrees with the width that diffusion
   gives at the measured drift time (``s2_width_expected_ns``,
   :mod:`wimpsift.processing.topology`). The statistic is
   z = (w / w_expected − 1) √N_e / 1.166 (1.166/√N is the relative sampling error of a
   Gaussian's inter-quartile range from N electrons, N_e = S2 / single-electron gain);
   the band |z| < z_max is set on the signal training events to keep
   ``s2_width_acceptance`` of them, as XENON1T set it on calibration data —
   removes accidental coincidences whose lone S2 came from another depth;
5. ``cs1_cs2``: below the NR-band median in (cS1, log10 cS2/cS1), estimated from the
   signal training events that pass cuts 1–4
   (:class:`wimpsift.training.baselines.NRBandMedianSelection`) — 50 % WIMP acceptance.

``passes`` is the logical AND. :meth:`StandardSelection.score` gives a number per event
(−inf where cuts 1–4 fail, otherwise the signed distance below the NR median) so the
same rejection-at-acceptance code as for classifiers applies.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field

from wimpsift.config import WimpsiftConfig
from wimpsift.detectors import Detector
from wimpsift.errors import DataError
from wimpsift.processing.selection import in_fiducial, in_window
from wimpsift.training.baselines import NRBandMedianSelection

IQR_SAMPLING_ERROR = 1.166
"""√N × relative standard error of a Gaussian sample's inter-quartile range"""
FLAG_COLUMNS = ("window", "fiducial", "single_scatter", "s2_width", "cs1_cs2", "passes")
_NEEDED = ("passes_threshold", "s1_area_pe", "r_cm", "z_cm", "s2_area_pe", "s2_width_ns",
           "s2_width_expected_ns", "s2_second_area_pe", "cs1_pe", "cs2_pe", "cs2_bottom_pe")


class StandardSelectionSettings(WimpsiftConfig):
    """Settings of the standard selection (None: the detector's S2 threshold)."""

    second_s2_max_pe: Annotated[float, Field(gt=0)] | None = None
    s2_width_acceptance: Annotated[float, Field(gt=0.5, lt=1)] = 0.99
    n_bins: Annotated[int, Field(ge=1)] = 20


def s2_width_z(table: pd.DataFrame, detector: Detector) -> np.ndarray:
    """Deviation of the S2 width from the diffusion expectation, in sampling errors."""
    n_e = np.maximum(table["s2_area_pe"].to_numpy(dtype=float) / detector.se_gain_pe, 1.0)
    ratio = table["s2_width_ns"].to_numpy(dtype=float) / np.maximum(
        table["s2_width_expected_ns"].to_numpy(dtype=float), 1e-9)
    return (ratio - 1.0) * np.sqrt(n_e) / IQR_SAMPLING_ERROR


class StandardSelection:
    """Fit on labelled training events (1 = WIMP), then flag any processed events."""

    def __init__(self, detector: Detector, settings: StandardSelectionSettings | None = None
                 ) -> None:
        self.detector = detector
        self.settings = settings or StandardSelectionSettings()

    def _check(self, table: pd.DataFrame) -> None:
        missing = [c for c in _NEEDED if c not in table.columns]
        if missing:
            raise DataError(f"events: missing columns {missing} (process waveform events first)")

    def _topology_flags(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        d = self.detector
        second_max = self.settings.second_s2_max_pe or d.charge.s2_threshold_pe
        return {
            "window": table["passes_threshold"].to_numpy(dtype=bool) & in_window(
                table["cs1_pe"].to_numpy(float), table["s2_area_pe"].to_numpy(float), d,
                table["cs2_bottom_pe"].to_numpy(float)),
            "fiducial": in_fiducial(table["r_cm"].to_numpy(float), table["z_cm"].to_numpy(float),
                                    d),
            "single_scatter": table["s2_second_area_pe"].to_numpy(dtype=float) < second_max,
        }

    def fit(self, table: pd.DataFrame, y: Any) -> StandardSelection:
        """Set the S2-width band and the NR median from the signal events (``y == 1``)."""
        self._check(table)
        y = np.asarray(y)
        if y.shape != (len(table),) or not ((y == 1).any() and (y == 0).any()):
            raise DataError("y: expected one label per event, with both 1 (WIMP) and 0")
        flags = self._topology_flags(table)
        base = flags["window"] & flags["fiducial"] & flags["single_scatter"]
        signal = base & (y == 1)
        if signal.sum() < 20:
            raise DataError(f"events: {int(signal.sum())} signal events pass the topology cuts;"
                            " expected at least 20 to set the S2-width band and NR median")
        z = np.abs(s2_width_z(table[signal], self.detector))
        self.s2_width_z_max_ = float(np.quantile(z, self.settings.s2_width_acceptance))
        keep = base & (np.abs(s2_width_z(table, self.detector)) < self.s2_width_z_max_)
        # the NR median comes from the signal rows only; background rows just carry label 0
        rows = (keep & (y == 1)) | ((y == 0) & (table["cs1_pe"].to_numpy(float) > 0)
                                    & (table["cs2_pe"].to_numpy(float) > 0))
        self.nr_band_ = NRBandMedianSelection(n_bins=self.settings.n_bins).fit(table[rows],
                                                                               y[rows])
        return self

    def flags(self, table: pd.DataFrame) -> pd.DataFrame:
        """Per-event pass flags of every cut (:data:`FLAG_COLUMNS`)."""
        self._check(table)
        flags = self._topology_flags(table)
        flags["s2_width"] = np.abs(s2_width_z(table, self.detector)) < self.s2_width_z_max_
        positive = (table["cs1_pe"].to_numpy(float) > 0) & (table["cs2_pe"].to_numpy(float) > 0)
        below = np.zeros(len(table), bool)
        if positive.any():
            below[positive] = self.nr_band_distance(table[positive]) > 0
        flags["cs1_cs2"] = below
        passes = np.logical_and.reduce([flags[k] for k in FLAG_COLUMNS[:-1]])
        return pd.DataFrame({**flags, "passes": passes}, index=table.index)

    def nr_band_distance(self, table: pd.DataFrame) -> np.ndarray:
        """The cS1–cS2 statistic of every event: NR-band median − log10(cS2/cS1) at its
        cS1 (positive below the median), whatever the other cuts say; cS1 and cS2 must
        be positive (DataError otherwise)."""
        return self.nr_band_.decision_function(table)

    def score(self, table: pd.DataFrame) -> np.ndarray:
        """NR-median distance where cuts 1–4 pass, −inf elsewhere (higher = more WIMP-like)."""
        flags = self.flags(table)
        topo = flags[["window", "fiducial", "single_scatter", "s2_width"]].all(axis=1)
        out = np.full(len(table), -np.inf)
        if topo.any():
            out[topo.to_numpy()] = self.nr_band_distance(table[topo.to_numpy()])
        return out
