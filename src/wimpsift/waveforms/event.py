"""Waveform-level simulation of whole events: source → NEST → per-PMT light → pulses.

The physics follows :func:`wimpsift.simulation.simulate_events` step by step and uses
the same event-level functions for the mean light and charge (photon detection
probability, electron survival and extraction, S2 gain), so one event gives the same
S1 and S2 on average at both levels. On top it draws *which* PMT sees each photon,
*when* it arrives, and adds the extra small peaks and optional noise.

Accidental coincidences are a lone S1 (from one low-energy ER, its charge lost) with
a lone S2 (from another ER at an unrelated depth); wall and anomalous events lose
part of their charge, as in the event-level simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wimpsift.detectors import Detector
from wimpsift.detectors.pmt_arrays import PmtArrays, pmt_arrays
from wimpsift.errors import bad_value
from wimpsift.response.charge import longitudinal_spread_us
from wimpsift.response.pmt_light import OpticalSettings, s1_pattern, s2_pattern
from wimpsift.seeding import SeedLike, generator
from wimpsift.simulation import sample_interactions
from wimpsift.sources import Source, sample_positions
from wimpsift.sources.positions import Volume
from wimpsift.waveforms.config import WaveformSettings
from wimpsift.waveforms.extra_peaks import afterpulses
from wimpsift.waveforms.noise import add_baseline_noise
from wimpsift.waveforms.pulse import LightPulse, spe_kernel
from wimpsift.waveforms.s1 import s1_pulse
from wimpsift.waveforms.s2 import s2_pulse


@dataclass
class RawEvent:
    """Raw data of one event: its light pulses inside a window of ``length_samples``."""

    event_id: int
    pulses: list[LightPulse]
    length_samples: int
    sample_ns: float
    noise_pe_per_sample: float = 0.0
    noise_seed: int = 0

    def waveform_slice(self, start: int, length: int) -> np.ndarray:
        """Summed waveform (PE per sample, float32) of samples [start, start + length).

        Baseline noise, when set, is drawn from a generator seeded by (event, start), so
        a slice is reproducible.
        """
        waveform = np.zeros(int(length), dtype=np.float32)
        stop_all = start + int(length)
        for pulse in self.pulses:
            a = max(pulse.start_sample, start)
            b = min(pulse.end_sample, stop_all)
            if b > a:
                waveform[a - start:b - start] += pulse.waveform_pe[a - pulse.start_sample:
                                                                    b - pulse.start_sample]
        if self.noise_pe_per_sample > 0:
            rng = np.random.default_rng([self.noise_seed, int(start) + 2**40])
            add_baseline_noise(waveform, self.noise_pe_per_sample, rng)
        return waveform

    def summed_waveform(self) -> np.ndarray:
        """The whole event window's summed waveform (for plots and checks)."""
        return self.waveform_slice(0, self.length_samples)

    def segments(self, pad_samples: int) -> np.ndarray:
        """(n, 2) merged [start, stop) sample ranges around the light pulses, padded."""
        if not self.pulses:
            return np.zeros((0, 2), dtype=np.int64)
        bounds = np.array([(p.start_sample, p.end_sample) for p in self.pulses], dtype=np.int64)
        bounds = bounds[np.argsort(bounds[:, 0])]
        lo = np.maximum(bounds[:, 0] - pad_samples, 0)
        hi = bounds[:, 1] + pad_samples
        run_end = np.maximum.accumulate(hi)
        new = np.concatenate([[True], lo[1:] > run_end[:-1]])
        first = np.flatnonzero(new)
        last = np.concatenate([first[1:], [lo.size]]) - 1
        return np.stack([lo[first], run_end[last]], axis=1)

    def compressed_waveform(self, pad_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """Summed waveform of the padded pulse regions only, and each sample's index.

        Outside these regions the waveform is baseline (noise only); skipping it makes
        peak finding cost independent of the drift time.
        """
        segments = self.segments(pad_samples)
        if segments.size == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        waves = [self.waveform_slice(int(a), int(b - a)) for a, b in segments]
        index = np.concatenate([np.arange(a, b) for a, b in segments])
        return np.concatenate(waves), index


@dataclass
class WaveformEvents:
    """A chunk of waveform-level events: truth table and raw data."""

    truth: pd.DataFrame
    events: list[RawEvent]
    detector: Detector
    arrays: PmtArrays
    settings: WaveformSettings
    optics: OpticalSettings = field(default_factory=OpticalSettings)

    def __len__(self) -> int:
        return len(self.events)


def simulate_waveform_events(
    detector: Detector,
    source: Source,
    n_events: int,
    seed: SeedLike,
    settings: WaveformSettings | None = None,
    volume: Volume = "fiducial",
    chunk_index: int = 0,
    optics: OpticalSettings | None = None,
) -> WaveformEvents:
    """Simulate ``n_events`` interactions of ``source`` down to light pulses (one chunk).

    Random numbers depend only on (seed, chunk_index): child ("waveforms", chunk_index)
    of ``seed``'s sequence (:mod:`wimpsift.seeding`); the same arguments give the same
    events.
    """
    if int(n_events) <= 0:
        raise bad_value("n_events", n_events, "a positive number of events")
    settings = settings or WaveformSettings()
    optics = optics or OpticalSettings()
    arrays = pmt_arrays(detector)
    rng = generator(seed, "waveforms", int(chunk_index))  # wimpsift.seeding
    n = int(n_events)
    it = sample_interactions(detector, source, n, rng, volume, photon_times=True)
    energy, x, y, z, quanta = it.energy_kev, it.x_cm, it.y_cm, it.z_cm, it.quanta
    n_detected, n_extracted, dt_us = it.n_detected, it.n_extracted, it.drift_time_us
    s2_x, s2_y, n_electrons = it.s2_x_cm, it.s2_y_cm, it.n_electrons
    spread_ns = longitudinal_spread_us(dt_us, detector) * 1000.0

    p_s1 = s1_pattern(x, y, z, arrays, optics)
    p_s2 = s2_pattern(s2_x, s2_y, arrays, detector, optics)
    kernel = spe_kernel(settings.sample_ns, settings.spe_rise_ns, settings.spe_decay_ns)
    sample_ns = settings.sample_ns
    el_ns = settings.el_duration_ns
    t0_ns = settings.pre_trigger_us * 1000.0
    max_drift_ns = detector.max_drift_time_us * 1000.0
    times = quanta.photon_times_ns or []

    events: list[RawEvent] = []
    s1_area = np.zeros(n)
    s2_area = np.zeros(n)
    s2_top = np.zeros(n)
    noise_seeds = rng.integers(0, 2**63 - 1, size=n)
    for i in range(n):
        pulses: list[LightPulse] = []
        s1 = s1_pulse(times[i], int(n_detected[i]), p_s1[i], t0_ns, detector, kernel,
                      sample_ns, rng)
        s2_time = t0_ns + dt_us[i] * 1000.0
        s2 = s2_pulse(int(n_extracted[i]), s2_time, spread_ns[i], p_s2[i], detector, kernel,
                      sample_ns, el_ns, rng)
        for main in (s1, s2):
            if main is not None:
                pulses.append(main)
                ap = afterpulses(main, detector, settings, kernel, rng)
                if ap is not None:
                    pulses.append(ap)
        if s1 is not None:
            s1_area[i] = s1.area_pe
        end_ns = t0_ns + 1000.0
        if s2 is not None:
            s2_area[i] = s2.area_pe
            s2_top[i] = float(s2.pmt_area_pe[arrays.top].sum())
            end_ns = s2.end_sample * sample_ns
            # delayed single electrons from the same (x, y)
            n_delayed = rng.poisson(settings.delayed_electron_fraction * n_extracted[i])
            delays = rng.exponential(settings.delayed_electron_time_us * 1000.0, n_delayed)
            for delay in delays:
                se = s2_pulse(1, end_ns + delay, 0.0, p_s2[i], detector, kernel, sample_ns,
                              el_ns, rng, kind="single_electron")
                if se is not None:
                    pulses.append(se)
        window_ns = max(end_ns, t0_ns + 1000.0) + settings.post_s2_us * 1000.0
        # lone single electrons anywhere in the window, from anywhere in the TPC
        n_lone = rng.poisson(settings.single_electrons_per_event)
        if n_lone:
            lx, ly, _ = sample_positions(n_lone, detector, rng, "active")
            p_lone = s2_pattern(lx, ly, arrays, detector, optics)
            for j, t in enumerate(rng.uniform(0, min(window_ns, max_drift_ns), n_lone)):
                se = s2_pulse(1, t, 0.0, p_lone[j], detector, kernel, sample_ns, el_ns, rng,
                              kind="single_electron")
                if se is not None:
                    pulses.append(se)
        length = int(np.ceil(window_ns / sample_ns))
        events.append(RawEvent(i, pulses, length, sample_ns,
                               settings.baseline_noise_pe_per_sample, int(noise_seeds[i])))

    truth = pd.DataFrame({
        "event_id": np.arange(n, dtype=np.int64),
        "source": np.full(n, source.name, dtype=object),
        "recoil_type": np.full(n, source.recoil_type, dtype=object),
        "energy_kev": energy,
        "x_true_cm": x, "y_true_cm": y, "z_true_cm": z,
        "n_photons": quanta.n_photons.astype(np.int64),
        "n_electrons": np.asarray(n_electrons, dtype=np.int64),
        "s2_x_true_cm": s2_x, "s2_y_true_cm": s2_y,
        "drift_time_true_us": dt_us,
        "n_s1_detected": n_detected.astype(np.int64),
        "n_extracted": np.asarray(n_extracted, dtype=np.int64),
        "s1_true_area_pe": s1_area, "s2_true_area_pe": s2_area, "s2_top_true_area_pe": s2_top,
    })
    return WaveformEvents(truth, events, detector, arrays, settings, optics)
