"""Small extra peaks that make finding the main S1 and S2 a real task.

- Lone single electrons at random times and positions (electrons released from
  impurities or the liquid surface long after earlier events).
- Delayed single electrons after the main S2 (photoionisation and delayed extraction),
  ``delayed_electron_fraction`` per extracted electron, exponential delays.
- PMT afterpulses: each PE of a peak gives, with ``afterpulse_probability``, one more PE
  in the same PMT after one of a few fixed delays (residual-gas ion species).
"""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.waveforms.config import WaveformSettings
from wimpsift.waveforms.pulse import LightPulse, shape_from_times


def afterpulses(parent: LightPulse, detector: Detector, settings: WaveformSettings,
                kernel: np.ndarray, rng: np.random.Generator) -> LightPulse | None:
    """Afterpulses of one light pulse, or ``None``."""
    n_pe = np.rint(np.maximum(parent.pmt_area_pe, 0.0)).astype(np.int64)
    counts = rng.binomial(n_pe, settings.afterpulse_probability)
    total = int(counts.sum())
    if total == 0:
        return None
    channel = np.repeat(np.arange(n_pe.size), counts)
    # the parent PE times follow the parent's waveform
    w = np.maximum(parent.waveform_pe.astype(float), 0.0)
    cum = np.cumsum(w)
    parent_sample = np.minimum(np.searchsorted(cum, rng.random(total) * cum[-1], side="right"),
                               w.size - 1)
    delay_us = rng.choice(np.asarray(settings.afterpulse_delays_us), size=total)
    delay_us = delay_us + settings.afterpulse_delay_spread_us * rng.standard_normal(total)
    times = (parent.start_sample + parent_sample) * settings.sample_ns + np.abs(delay_us) * 1000
    area = np.maximum(1 + detector.light.spe_resolution * rng.standard_normal(total), 0.0)
    start, waveform = shape_from_times(times, area, settings.sample_ns, kernel)
    pmt_area = np.bincount(channel, weights=area, minlength=n_pe.size).astype(np.float32)
    return LightPulse("afterpulse", start, waveform, pmt_area)
