"""Event-topology quantities that real selections use, added to the processed table.

Columns (units in the names; dimensionless ones are ratios or fit statistics):

- ``n_s2_above_threshold``: S2 peaks with at least the detector's S2 threshold
  (``charge.s2_threshold_pe``) — 1 for a single scatter, more for neutron multiples;
- ``s2_second_area_pe``: area of the second-largest S2 (0 when there is none);
- ``s1_top_fraction``: share of the main S1 seen by the top array;
- ``s2_width_expected_ns``: the 50 %-area width (25 %→75 %) expected from longitudinal
  diffusion at the measured drift time, σ_t = √(2 D t)/v, convolved with the
  electroluminescence duration (a box); written here in closed form: the arrival-time
  CDF of a Gaussian ⊗ box is F(t) = [G(t) − G(t − L)] / L with
  G(x) = x Φ(x/σ) + σ φ(x/σ), and its quartiles are found on a grid;
- ``s1_pattern_gof`` / ``s2_pattern_gof``: Poisson deviance
  2 Σ_i [μ_i − n_i + n_i log(n_i/μ_i)] of the main S1 hit pattern (all PMTs) and the
  main S2 top-array hit pattern against the patterns expected at the reconstructed
  position (:func:`wimpsift.response.pmt_light.s1_pattern`,
  :func:`~wimpsift.response.pmt_light.s2_top_lrf`), μ_i = observed total × pattern.
  PE areas carry double-PE emission and gain spread, so the deviance is a relative
  goodness-of-fit (larger = worse), not a calibrated χ².

:func:`event_profile` gives the whole event's summed waveform at coarse time resolution
(mean PE per sample in ``n_bins`` equal bins from the window start to the end of the
longest possible event) for the ``event`` images: secondary S2s stay visible there.
Only the light-pulse regions are summed (the rest is baseline).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from wimpsift.detectors import Detector
from wimpsift.detectors.pmt_arrays import PmtArrays
from wimpsift.processing.peaks import S2, Peaks
from wimpsift.response.charge import longitudinal_spread_us
from wimpsift.response.pmt_light import OpticalSettings, s1_pattern, s2_top_lrf
from wimpsift.waveforms.event import RawEvent

TOPOLOGY_COLUMNS = ("n_s2_above_threshold", "s2_second_area_pe", "s1_top_fraction",
                    "s2_width_expected_ns", "s1_pattern_gof", "s2_pattern_gof")


def s2_multiplicity(peaks: Peaks, threshold_pe: float) -> tuple[int, float]:
    """(S2s with area ≥ ``threshold_pe``, area of the second-largest S2) of one event."""
    areas = np.sort(peaks.area_pe[peaks.peak_type == S2])[::-1]
    second = float(areas[1]) if areas.size > 1 else 0.0
    return int((areas >= threshold_pe).sum()), second


def event_profile(event: RawEvent, n_bins: int, bin_samples: int) -> np.ndarray:
    """(n_bins,) mean PE per sample of the summed waveform in bins of ``bin_samples``."""
    waveform, index = event.compressed_waveform(0)
    which = index // int(bin_samples)
    keep = which < n_bins
    sums = np.bincount(which[keep], weights=waveform[keep].astype(float), minlength=n_bins)
    return (sums / bin_samples).astype(np.float32)


def _box_gauss_quartile_width(sigma_ns: np.ndarray, box_ns: float) -> np.ndarray:
    """25 %→75 % width of a Gaussian (σ) convolved with a box of length ``box_ns``."""
    sigma = np.maximum(np.asarray(sigma_ns, dtype=float), 1e-6)
    half = 0.5 * box_ns + 5.0 * sigma
    t = np.linspace(-1.0, 1.0, 2001)[None, :] * half[:, None] + 0.5 * box_ns
    s = sigma[:, None]

    def g(x):
        return x * norm.cdf(x / s) + s * norm.pdf(x / s)

    cdf = (g(t) - g(t - box_ns)) / box_ns if box_ns > 0 else norm.cdf(t / s)
    q25 = np.array([np.interp(0.25, c, row) for c, row in zip(cdf, t, strict=True)])
    q75 = np.array([np.interp(0.75, c, row) for c, row in zip(cdf, t, strict=True)])
    return q75 - q25


def expected_s2_width_ns(drift_time_us: np.ndarray, detector: Detector,
                         el_duration_ns: float) -> np.ndarray:
    """50 %-area S2 width expected from diffusion at ``drift_time_us`` (see module doc)."""
    dt = np.maximum(np.asarray(drift_time_us, dtype=float), 0.0)
    grid = np.linspace(0.0, max(detector.max_drift_time_us, float(dt.max(initial=0.0))), 400)
    widths = _box_gauss_quartile_width(longitudinal_spread_us(grid, detector) * 1000.0,
                                       el_duration_ns)
    return np.interp(dt, grid, widths)


def poisson_deviance(observed: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """Per-row Poisson deviance of ``observed`` (N, k) against total × ``pattern`` (N, k)."""
    n = np.maximum(np.asarray(observed, dtype=float), 0.0)
    mu = np.maximum(n.sum(axis=1, keepdims=True) * pattern, 1e-12)
    log_term = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / mu), 0.0)
    return 2.0 * (mu - n + log_term).sum(axis=1)


def topology_columns(
    table: pd.DataFrame, s2_counts: Sequence[tuple[int, float]], s1_pmt_area_pe: np.ndarray,
    s2_pmt_area_pe: np.ndarray, arrays: PmtArrays, detector: Detector, optics: OpticalSettings,
    el_duration_ns: float,
) -> pd.DataFrame:
    """The :data:`TOPOLOGY_COLUMNS` of processed events (``table`` has x_cm, y_cm, z_cm,
    drift_time_us; ``s2_counts`` comes from :func:`s2_multiplicity` per event)."""
    counts = np.asarray([c for c, _ in s2_counts], dtype=np.int64).reshape(-1)
    second = np.asarray([a for _, a in s2_counts], dtype=float).reshape(-1)
    s1 = np.asarray(s1_pmt_area_pe, dtype=float)
    top = np.asarray(s2_pmt_area_pe, dtype=float)[:, arrays.top]
    s1_total = s1.sum(axis=1)
    x, y, z = (table[c].to_numpy(dtype=float) for c in ("x_cm", "y_cm", "z_cm"))
    has_s1, has_s2 = s1_total > 0, top.sum(axis=1) > 0
    s1_gof = np.full(len(table), np.nan)
    s2_gof = np.full(len(table), np.nan)
    if has_s1.any():
        expected = s1_pattern(x[has_s1], y[has_s1], z[has_s1], arrays, optics)
        s1_gof[has_s1] = poisson_deviance(s1[has_s1], expected)
    if has_s2.any():
        s2_gof[has_s2] = poisson_deviance(top[has_s2], s2_top_lrf(x[has_s2], y[has_s2],
                                                                  arrays, optics))
    return pd.DataFrame({
        "n_s2_above_threshold": counts,
        "s2_second_area_pe": second,
        "s1_top_fraction": np.divide(s1[:, arrays.top].sum(axis=1), s1_total,
                                     out=np.full(len(table), np.nan), where=has_s1),
        "s2_width_expected_ns": expected_s2_width_ns(
            table["drift_time_us"].to_numpy(dtype=float), detector, el_duration_ns),
        "s1_pattern_gof": s1_gof,
        "s2_pattern_gof": s2_gof,
    }, index=table.index)
