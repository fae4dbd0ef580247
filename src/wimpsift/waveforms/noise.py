"""Baseline noise of the summed waveform (optional, Gaussian, PE per sample)."""

from __future__ import annotations

import numpy as np


def add_baseline_noise(waveform: np.ndarray, sigma_pe: float, rng: np.random.Generator
                       ) -> np.ndarray:
    """Add white Gaussian noise of ``sigma_pe`` per sample (in place; returns the array)."""
    if sigma_pe > 0:
        waveform += (sigma_pe * rng.standard_normal(waveform.size)).astype(waveform.dtype)
    return waveform
