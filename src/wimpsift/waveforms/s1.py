"""S1 pulses: detected NEST photons shared among PMTs, with photon arrival times.

Each produced photon (NEST emission time: singlet/triplet decay and recombination, so
ER and NR pulses differ) is detected with the event-level probability
:func:`wimpsift.response.light.photon_detection_probability`; the detected ones are a
random subset. A detected photon lands on a PMT drawn from the S1 light-collection
pattern (multinomial sharing), arrives after an exponential optical transport delay
and a Gaussian PMT transit-time spread, frees one or two photoelectrons (double-PE
emission) and each PE gets a gain from the single-PE spread. Each PMT's hit is found
with the event-level probability :func:`wimpsift.response.light.found_probability`
of its photoelectron count; photons on PMTs without a found hit are not part of the
S1 (the same per-PMT detection as :func:`wimpsift.response.light.detect_s1`). The
summed waveform is the histogram of PE areas in 10 ns samples convolved with the
single-PE pulse.
"""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.response.light import found_probability
from wimpsift.waveforms.pulse import LightPulse, shape_from_times


def s1_pulse(
    emission_times_ns: np.ndarray,
    n_detected: int,
    pattern: np.ndarray,
    t0_ns: float,
    detector: Detector,
    kernel: np.ndarray,
    sample_ns: float,
    rng: np.random.Generator,
) -> LightPulse | None:
    """The S1 of one interaction at time ``t0_ns``; ``None`` when no PMT has a found hit.

    ``pattern`` is the per-PMT probability (``wimpsift.response.pmt_light.s1_pattern``).
    """
    k = int(min(n_detected, emission_times_ns.size))
    if k <= 0:
        return None
    light = detector.light
    chosen = rng.choice(emission_times_ns, size=k, replace=False)
    arrival = (
        t0_ns + chosen
        + rng.exponential(max(light.optical_transport_time_ns, 1e-9), k)
        + light.transit_time_spread_ns * rng.standard_normal(k)
    )
    channel = rng.choice(pattern.size, size=k, p=pattern)
    n_pe = 1 + (rng.random(k) < light.double_pe_probability)
    area = np.maximum(n_pe + light.spe_resolution * np.sqrt(n_pe) * rng.standard_normal(k), 0.0)
    pe_per_pmt = np.bincount(channel, weights=n_pe, minlength=pattern.size)
    found = rng.random(pattern.size) < found_probability(pe_per_pmt, detector)
    kept = found[channel]
    if not kept.any():
        return None
    arrival, area, channel = arrival[kept], area[kept], channel[kept]
    start, waveform = shape_from_times(arrival, area, sample_ns, kernel)
    pmt_area = np.bincount(channel, weights=area, minlength=pattern.size).astype(np.float32)
    return LightPulse("s1", start, waveform, pmt_area)
