"""S2 pulses: drifted electrons, longitudinal diffusion and electroluminescence.

The extracted electrons (event-level survival and extraction,
:func:`wimpsift.response.charge.extracted_electrons`) arrive at the liquid surface at
the drift time plus a Gaussian spread from longitudinal diffusion,
σ_t = √(2 D t) / v (:func:`wimpsift.response.charge.longitudinal_spread_us`), so the
S2 widens as √(drift time). Each electron then emits light uniformly while it crosses
the gas gap (EL duration = gap / gas drift velocity); the detected photons per
electron are Gaussian with mean ``se_gain_pe / (1 + p_dpe)`` and relative spread
``se_gain_resolution``, so that the mean S2 area per electron is the detector's
``se_gain_pe``. Photons are shared among PMTs by the S2 pattern (top LRF around the
electrons' (x, y), broad bottom) and converted to PE areas with double-PE emission and
single-PE gain spread.
"""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.response.pmt_light import photoelectron_areas, share_photons
from wimpsift.waveforms.pulse import LightPulse


def s2_pulse(
    n_extracted: int,
    arrival_ns: float,
    spread_ns: float,
    pattern: np.ndarray,
    detector: Detector,
    kernel: np.ndarray,
    sample_ns: float,
    el_duration_ns: float,
    rng: np.random.Generator,
    kind: str = "s2",
) -> LightPulse | None:
    """S2 of ``n_extracted`` electrons arriving around ``arrival_ns`` (σ ``spread_ns``)."""
    n = int(n_extracted)
    if n <= 0:
        return None
    mean_photons = detector.se_gain_pe / (1 + detector.light.double_pe_probability)
    per_electron = np.rint(
        mean_photons * (1 + detector.charge.se_gain_resolution * rng.standard_normal(n))
    ).clip(0)
    n_photons = int(per_electron.sum())
    if n_photons == 0:
        return None
    times = arrival_ns + spread_ns * rng.standard_normal(n)
    index = np.floor(times / sample_ns).astype(np.int64)
    start = int(index.min())
    profile = np.bincount(index - start, weights=per_electron)
    el_samples = max(1, int(round(el_duration_ns / sample_ns)))
    profile = np.convolve(profile, np.full(el_samples, 1.0 / el_samples))
    profile = np.convolve(profile, kernel)
    photons = share_photons(n_photons, pattern, rng)
    _, pmt_area = photoelectron_areas(photons, detector, rng)
    total = pmt_area.sum()
    waveform = (profile * (total / profile.sum())).astype(np.float32)
    return LightPulse(kind, start, waveform, pmt_area.astype(np.float32))
