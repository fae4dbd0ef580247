"""S1 prompt fraction from NEST photon emission times.

For each event the detected photons are a random subset of the emitted ones (NEST
times: singlet/triplet decay plus recombination). Each detected photon gets the optical
transport delay (exponential, mean ``optical_transport_time_ns``) and the PMT transit-time
spread (Gaussian, ``transit_time_spread_ns``). The pulse start is the 10 % quantile of the
arrival times; the prompt fraction is the share of photons arriving within
``prompt_window_ns`` after [start − 10 ns].
"""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import Detector


def prompt_fraction(
    photon_times_ns: list[np.ndarray],
    n_detected: np.ndarray,
    detector: Detector,
    rng: np.random.Generator,
) -> np.ndarray:
    light = detector.light
    out = np.full(len(photon_times_ns), np.nan)
    for i, (times, k) in enumerate(zip(photon_times_ns, np.asarray(n_detected), strict=True)):
        k = int(min(k, times.size))
        if k < 2:
            continue
        chosen = rng.choice(times, size=k, replace=False)
        arrival = (
            chosen
            + rng.exponential(max(light.optical_transport_time_ns, 1e-9), k)
            + light.transit_time_spread_ns * rng.standard_normal(k)
        )
        start = np.quantile(arrival, 0.1) - 10.0
        out[i] = np.mean((arrival >= start) & (arrival < start + light.prompt_window_ns))
    return out
