"""Single-PE pulse shape and the light-pulse record of the raw event data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass
class LightPulse:
    """One burst of light in an event.

    ``waveform_pe`` is the sum over PMTs in PE per sample from ``start_sample`` on;
    ``pmt_area_pe`` the area each PMT saw; both integrate to the same total.
    ``kind`` (``s1``, ``s2``, ``single_electron``, ``afterpulse``) is truth, never used
    by the processing.
    """

    kind: str
    start_sample: int
    waveform_pe: np.ndarray
    pmt_area_pe: np.ndarray

    @property
    def end_sample(self) -> int:
        return self.start_sample + self.waveform_pe.size

    @property
    def area_pe(self) -> float:
        return float(self.pmt_area_pe.sum())


@lru_cache(maxsize=8)
def spe_kernel(sample_ns: float, rise_ns: float, decay_ns: float) -> np.ndarray:
    """Single-PE pulse integrated over samples, unit area: (e^{-t/τd} - e^{-t/τr}) shape."""
    n = max(2, int(np.ceil(8 * decay_ns / sample_ns)) + 1)
    edges = np.arange(n + 1) * sample_ns

    def integral(t):  # ∫_0^t (e^{-s/τd} - e^{-s/τr}) ds
        return decay_ns * (1 - np.exp(-t / decay_ns)) - rise_ns * (1 - np.exp(-t / rise_ns))

    kernel = np.diff(integral(edges))
    kernel = kernel / kernel.sum()
    kernel.setflags(write=False)
    return kernel


def shape_from_times(times_ns: np.ndarray, areas_pe: np.ndarray, sample_ns: float,
                     kernel: np.ndarray) -> tuple[int, np.ndarray]:
    """Summed waveform of PE arriving at ``times_ns`` (absolute) with ``areas_pe``.

    Returns the first sample index and the waveform (PE per sample, float32).
    """
    index = np.floor(np.asarray(times_ns) / sample_ns).astype(np.int64)
    start = int(index.min())
    hist = np.bincount(index - start, weights=areas_pe)
    return start, np.convolve(hist, kernel).astype(np.float32)
