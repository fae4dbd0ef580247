"""Peak finding and classification on the summed waveform.

1. **Finding**: samples above ``threshold_pe_per_sample`` (raised to 5 σ of the baseline
   noise when the noise is known) are grouped into peaks; above-threshold samples closer
   than ``gap_ns`` belong to the same peak.
2. **Properties** (vectorised over all peaks of an event, from the cumulative area of
   the non-negative waveform): area, area-weighted centre time, 10 %→50 % rise time,
   50 % area width (25 %→75 % quantiles), and per-PMT areas — each light burst of the raw
   data contributes its per-PMT areas in proportion to the part of its waveform inside
   the peak window.
3. **Classification**: a narrow peak (50 % width below ``s1_max_width_ns`` and rise time
   below ``s1_max_rise_ns``) seen by at least ``detector.light.s1_coincidence_pmts`` PMTs
   (area above ``pmt_hit_threshold_pe``) is an S1; a wide peak with at least
   ``s2_min_area_pe`` is an S2; anything else (lone PMT hits, afterpulse clusters) is
   ``unknown``.
4. **S2 fragments**: an S2 of few electrons after a long drift is a train of single-
   electron pulses that can lie more than ``gap_ns`` apart, so consecutive peaks that are
   not S1s merge into one when the gap between them is below
   :func:`s2_merge_gap_ns`: the detector's longitudinal diffusion spread at its
   maximum drift time, σ_t = √(2 D t_max)/v, less the electroluminescence duration
   (electrons arriving up to σ_t apart give EL pulses that far apart less one pulse
   length); the merged peaks are measured and classified again. XENONnT SR0
   (σ_t = 6.6 µs): 5.6 µs; where this is below ``gap_ns`` (XENON1T SR0, LUX) nothing
   more merges.
5. **Main peaks**: the main S2 is the largest S2; the main S1 is the largest S1 before
   the main S2 (the largest S1 overall when there is no S2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from wimpsift.config import WimpsiftConfig
from wimpsift.detectors import Detector
from wimpsift.response.charge import longitudinal_spread_us
from wimpsift.waveforms.event import RawEvent

UNKNOWN, S1, S2 = 0, 1, 2
PEAK_TYPES = {UNKNOWN: "unknown", S1: "s1", S2: "s2"}


class PeakSettings(WimpsiftConfig):
    """Settings of peak finding and classification."""

    threshold_pe_per_sample: Annotated[float, Field(gt=0)] = 0.05
    gap_ns: Annotated[float, Field(gt=0)] = 300.0
    s1_max_width_ns: Annotated[float, Field(gt=0)] = 200.0
    s1_max_rise_ns: Annotated[float, Field(gt=0)] = 100.0
    s2_min_area_pe: Annotated[float, Field(ge=0)] = 10.0
    pmt_hit_threshold_pe: Annotated[float, Field(ge=0)] = 0.25


@dataclass
class Peaks:
    """All peaks of one event (arrays of length n_peaks; times in ns from window start)."""

    start_sample: np.ndarray
    end_sample: np.ndarray
    area_pe: np.ndarray
    center_ns: np.ndarray
    rise_ns: np.ndarray
    width_ns: np.ndarray
    t10_ns: np.ndarray
    n_pmts: np.ndarray
    pmt_area_pe: np.ndarray
    """(n_peaks, n_pmts)"""
    peak_type: np.ndarray

    def __len__(self) -> int:
        return self.area_pe.size


def find_peak_windows(waveform: np.ndarray, threshold: float, gap_samples: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) sample indices (end exclusive) of above-threshold clusters."""
    above = np.flatnonzero(waveform > threshold)
    if above.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    split = np.flatnonzero(np.diff(above) > gap_samples)
    starts = above[np.concatenate([[0], split + 1])]
    ends = above[np.concatenate([split, [above.size - 1]])] + 1
    return starts.astype(np.int64), ends.astype(np.int64)


def _quantile_times(cum: np.ndarray, starts, areas, fraction, sample_ns) -> np.ndarray:
    """Time (ns) at which each peak reaches ``fraction`` of its area (linear in samples)."""
    target = cum[starts] + fraction * areas
    k = np.clip(np.searchsorted(cum, target, side="left"), 1, cum.size - 1)
    lo, hi = cum[k - 1], cum[k]
    frac = np.divide(target - lo, hi - lo, out=np.zeros_like(target), where=hi > lo)
    return (k - 1 + frac) * sample_ns


def pulse_fractions(event: RawEvent, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(n_pulses, n_peaks) share of each light burst's waveform inside each peak window."""
    out = np.zeros((len(event.pulses), starts.size))
    for c, pulse in enumerate(event.pulses):
        w = np.maximum(pulse.waveform_pe, 0.0).astype(float)
        cum = np.concatenate([[0.0], np.cumsum(w)])
        if cum[-1] <= 0:
            continue
        a = np.minimum(np.maximum(starts - pulse.start_sample, 0), w.size)
        b = np.minimum(np.maximum(ends - pulse.start_sample, 0), w.size)
        out[c] = (cum[b] - cum[a]) / cum[-1]
    return out


def s2_merge_gap_ns(detector: Detector, el_duration_ns: float) -> float:
    """Largest gap (ns) between two non-S1 peaks that are fragments of one S2 (module doc)."""
    spread_ns = float(longitudinal_spread_us(detector.max_drift_time_us, detector)) * 1000.0
    return max(spread_ns - float(el_duration_ns), 0.0)


def _merge_fragments(starts: np.ndarray, ends: np.ndarray, peak_type: np.ndarray,
                     real_index: np.ndarray, merge_samples: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Windows (compressed indices) with consecutive non-S1 peaks at most ``merge_samples``
    apart in the event window joined."""
    real_end = real_index[ends - 1] + 1
    gap = real_index[starts[1:]] - real_end[:-1]
    contiguous = gap == starts[1:] - ends[:-1]  # in one padded region of the waveform
    join = ((gap < merge_samples) & contiguous
            & (peak_type[:-1] != S1) & (peak_type[1:] != S1))
    first = np.concatenate([[True], ~join])
    last = np.concatenate([~join, [True]])
    return starts[first], ends[last]


def find_peaks(event: RawEvent, n_pmts: int, coincidence: int,
               settings: PeakSettings | None = None, s2_merge_gap_ns: float = 0.0) -> Peaks:
    """Find, measure and classify the peaks of one event.

    Only the regions around light pulses are scanned (padded by ``gap_ns``, or by
    ``s2_merge_gap_ns`` when longer); the rest of the window is baseline. Sample
    indices and times refer to the event window. Non-S1 peaks closer than
    ``s2_merge_gap_ns`` are one S2 (:func:`s2_merge_gap_ns`; 0: no merging).
    """
    settings = settings or PeakSettings()
    dt = event.sample_ns
    gap = max(1, int(round(settings.gap_ns / dt)))
    merge = int(round(s2_merge_gap_ns / dt))
    waveform, real_index = event.compressed_waveform(max(gap, merge) + 1)
    threshold = max(settings.threshold_pe_per_sample, 5.0 * event.noise_pe_per_sample)
    starts, ends = find_peak_windows(waveform, threshold, gap)
    peaks = _measure(event, waveform, real_index, starts, ends, n_pmts, coincidence, settings)
    if merge > gap and starts.size > 1:
        merged = _merge_fragments(starts, ends, peaks.peak_type, real_index, merge)
        if merged[0].size < starts.size:
            peaks = _measure(event, waveform, real_index, *merged, n_pmts, coincidence,
                             settings)
    return peaks


def _measure(event: RawEvent, waveform: np.ndarray, real_index: np.ndarray, starts: np.ndarray,
             ends: np.ndarray, n_pmts: int, coincidence: int, settings: PeakSettings) -> Peaks:
    """Properties and types of the peaks in windows [starts, ends) of the compressed waveform."""
    dt = event.sample_ns
    clipped = np.maximum(waveform, 0.0).astype(float)
    cum = np.concatenate([[0.0], np.cumsum(clipped)])
    areas = cum[ends] - cum[starts]
    t10 = _quantile_times(cum, starts, areas, 0.10, dt)
    t25 = _quantile_times(cum, starts, areas, 0.25, dt)
    t50 = _quantile_times(cum, starts, areas, 0.50, dt)
    t75 = _quantile_times(cum, starts, areas, 0.75, dt)
    weighted = np.concatenate([[0.0], np.cumsum(clipped * (np.arange(clipped.size) + 0.5) * dt)])
    center = np.divide(weighted[ends] - weighted[starts], areas,
                       out=(starts + 0.5) * dt * 1.0, where=areas > 0)
    width = t75 - t25
    rise = t50 - t10
    # back to event-window samples (a peak never spans two regions)
    shift = real_index[starts] - starts if starts.size else np.zeros(0, np.int64)
    starts, ends = starts + shift, ends + shift
    t10, center = t10 + shift * dt, center + shift * dt
    fractions = pulse_fractions(event, starts, ends)
    if event.pulses:
        pmt = fractions.T @ np.stack([p.pmt_area_pe for p in event.pulses]).astype(float)
    else:
        pmt = np.zeros((starts.size, n_pmts))
    n_hit = (pmt > settings.pmt_hit_threshold_pe).sum(axis=1)
    narrow = (width < settings.s1_max_width_ns) & (rise < settings.s1_max_rise_ns)
    peak_type = np.full(starts.size, UNKNOWN, dtype=np.int8)
    peak_type[narrow & (n_hit >= coincidence)] = S1
    peak_type[~narrow & (areas >= settings.s2_min_area_pe)] = S2
    return Peaks(starts, ends, areas, center, rise, width, t10, n_hit, pmt, peak_type)


def main_peaks(peaks: Peaks) -> tuple[int, int]:
    """Indices of the main S1 and main S2 (−1 when absent)."""
    s2 = np.flatnonzero(peaks.peak_type == S2)
    i2 = int(s2[np.argmax(peaks.area_pe[s2])]) if s2.size else -1
    s1 = np.flatnonzero(peaks.peak_type == S1)
    if i2 >= 0:
        s1 = s1[peaks.end_sample[s1] <= peaks.start_sample[i2]]
    i1 = int(s1[np.argmax(peaks.area_pe[s1])]) if s1.size else -1
    return i1, i2
