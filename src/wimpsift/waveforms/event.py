"""Waveform-level simulation of whole events: interactions → per-PMT light → pulses.

One way turns interactions into waveforms, :func:`interaction_waveforms`: an event is
a list of interactions (:class:`wimpsift.sources.interactions.InteractionList`), from a
simulated source (:func:`source_interactions`, NEST quanta) or from an instruction
CSV (:mod:`wimpsift.io.instructions`). The physics follows
:func:`wimpsift.response.event_level.simulate_events` and uses the same event-level functions for
the mean light and charge (photon detection probability, electron survival and
extraction, S2 gain), so one interaction gives the same S1 and S2 on average at both
levels. On top it draws *which* PMT sees each photon, *when* it arrives, and adds the
extra small peaks and optional noise. The S1s of an event's interactions merge where
they overlap in time; each interaction gives its own S2 at its own drift time.

Accidental coincidences are events of two interactions: a lone S1 (from one low-energy
ER, its charge lost) and a lone S2 (from another ER at an unrelated depth); wall and
anomalous events lose part of their charge, as in the event-level simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wimpsift.detectors import Detector
from wimpsift.detectors.pmt_arrays import PmtArrays, pmt_arrays
from wimpsift.errors import bad_value
from wimpsift.response.charge import drift_time_us, extracted_electrons, longitudinal_spread_us
from wimpsift.response.light import photon_detection_probability
from wimpsift.response.pmt_light import OpticalSettings, s1_pattern, s2_pattern
from wimpsift.seeding import SeedLike, generator
from wimpsift.sources import Source, sample_positions
from wimpsift.sources.interactions import (
    InteractionList,
    nest_photon_times,
)
from wimpsift.sources.positions import Volume
from wimpsift.sources.topology import source_topology
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


def _merge_by_time(pulses: list[LightPulse]) -> list[LightPulse]:
    """Merge light pulses whose sample ranges overlap into one pulse each (S1s of one event)."""
    merged: list[LightPulse] = []
    for pulse in sorted(pulses, key=lambda p: p.start_sample):
        if merged and pulse.start_sample < merged[-1].end_sample:
            last = merged[-1]
            stop = max(last.end_sample, pulse.end_sample)
            waveform = np.zeros(stop - last.start_sample, dtype=np.float32)
            for p in (last, pulse):
                waveform[p.start_sample - last.start_sample:
                         p.end_sample - last.start_sample] += p.waveform_pe
            merged[-1] = LightPulse(last.kind, last.start_sample, waveform,
                                    last.pmt_area_pe + pulse.pmt_area_pe)
        else:
            merged.append(pulse)
    return merged


def _main(weights: np.ndarray) -> int:
    """Index of the largest entry (the first on ties)."""
    return int(np.argmax(weights)) if weights.size else 0


def interaction_waveforms(
    detector: Detector,
    interactions: InteractionList,
    source_name: str | np.ndarray,
    seed: SeedLike,
    settings: WaveformSettings | None = None,
    chunk_index: int = 0,
    optics: OpticalSettings | None = None,
) -> WaveformEvents:
    """Light pulses of every event of an interaction list (one chunk).

    Each interaction's S1 photons are detected (event-level detection probability),
    emitted at the interaction time plus their emission times, and the S1s of an event
    merge where they overlap in time; each interaction's surviving, extracted electrons
    give their own S2 at the interaction time plus their own drift time. Random numbers
    depend only on (seed, chunk_index) and the interactions, so the same interactions
    give the same pulses whether they came from a source or from an instruction file.
    Random numbers depend only on (seed, chunk_index) and the interactions: child
    ("waveforms", chunk_index) of ``seed``'s sequence (:mod:`wimpsift.seeding`).
    """
    settings = settings or WaveformSettings()
    optics = optics or OpticalSettings()
    arrays = pmt_arrays(detector)
    rng = generator(seed, "waveforms", int(chunk_index))  # wimpsift.seeding
    it = interactions
    n = it.n_events
    times_seed = int(rng.integers(1, 2**31 - 1))
    n_detected = rng.binomial(it.n_photons, photon_detection_probability(
        it.x_cm, it.y_cm, it.z_cm, detector))
    dt_us = drift_time_us(it.z_cm, detector)
    kept = 1.0 if it.charge_kept is None else it.charge_kept
    n_extracted = extracted_electrons(it.n_electrons, dt_us, detector, rng, kept)
    spread_ns = longitudinal_spread_us(dt_us, detector) * 1000.0
    times = nest_photon_times(it.recoil_type, it.n_photons, it.n_electrons, detector,
                              times_seed)
    p_s1 = s1_pattern(it.x_cm, it.y_cm, it.z_cm, arrays, optics)
    p_s2 = s2_pattern(it.x_cm, it.y_cm, arrays, detector, optics)
    kernel = spe_kernel(settings.sample_ns, settings.spe_rise_ns, settings.spe_decay_ns)
    sample_ns = settings.sample_ns
    el_ns = settings.el_duration_ns
    t0_ns = settings.pre_trigger_us * 1000.0
    max_drift_ns = detector.max_drift_time_us * 1000.0

    events: list[RawEvent] = []
    columns = {k: np.zeros(n) for k in ("s1", "s2", "s2_top", "energy", "x", "y", "z", "s2_x",
                                        "s2_y", "dt")}
    counts = {k: np.zeros(n, np.int64) for k in ("photons", "electrons", "detected",
                                                 "extracted", "interactions")}
    recoil = np.empty(n, dtype=object)
    noise_seeds = rng.integers(0, 2**63 - 1, size=n)
    for e, rows in enumerate(it.event_slices()):
        index = np.arange(rows.start, rows.stop)
        s1s = [s1_pulse(times[i], int(n_detected[i]), p_s1[i], t0_ns + it.t_ns[i], detector,
                        kernel, sample_ns, rng) for i in index]
        s1s = _merge_by_time([p for p in s1s if p is not None])
        s2s = []
        for i in index:
            s2 = s2_pulse(int(n_extracted[i]), t0_ns + it.t_ns[i] + dt_us[i] * 1000.0,
                          spread_ns[i], p_s2[i], detector, kernel, sample_ns, el_ns, rng)
            if s2 is not None:
                s2s.append((i, s2))
        pulses: list[LightPulse] = []
        for main in [*s1s, *(s2 for _, s2 in s2s)]:
            pulses.append(main)
            ap = afterpulses(main, detector, settings, kernel, rng)
            if ap is not None:
                pulses.append(ap)
        end_ns = max([t0_ns + 1000.0, *(p.end_sample * sample_ns for p in s1s)])
        for i, s2 in s2s:
            s2_end_ns = s2.end_sample * sample_ns
            end_ns = max(end_ns, s2_end_ns)
            # delayed single electrons from the same (x, y)
            n_delayed = rng.poisson(settings.delayed_electron_fraction * n_extracted[i])
            delays = rng.exponential(settings.delayed_electron_time_us * 1000.0, n_delayed)
            for delay in delays:
                se = s2_pulse(1, s2_end_ns + delay, 0.0, p_s2[i], detector, kernel, sample_ns,
                              el_ns, rng, kind="single_electron")
                if se is not None:
                    pulses.append(se)
        window_ns = end_ns + settings.post_s2_us * 1000.0
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
        events.append(RawEvent(e, pulses, length, sample_ns,
                               settings.baseline_noise_pe_per_sample, int(noise_seeds[e])))

        # truth: the S1 position is the brightest interaction's, the S2 truth the main S2's
        light = index[_main(n_detected[index])]
        charge = index[_main(n_extracted[index])] if n_extracted[index].any() else \
            index[_main(it.n_electrons[index])]
        columns["s1"][e] = sum(p.area_pe for p in s1s)
        if s2s:
            main_s2 = max((s2 for _, s2 in s2s), key=lambda p: p.area_pe)
            columns["s2"][e] = main_s2.area_pe
            columns["s2_top"][e] = float(main_s2.pmt_area_pe[arrays.top].sum())
        energies = it.energy_kev[index]
        columns["energy"][e] = energies[np.isfinite(energies)].sum() \
            if np.isfinite(energies).any() else np.nan
        columns["x"][e], columns["y"][e], columns["z"][e] = it.x_cm[light], it.y_cm[light], \
            it.z_cm[light]
        columns["s2_x"][e], columns["s2_y"][e] = it.x_cm[charge], it.y_cm[charge]
        columns["dt"][e] = dt_us[charge]
        recoil[e] = it.recoil_type[charge]
        counts["photons"][e] = it.n_photons[index].sum()
        counts["electrons"][e] = it.n_electrons[index].sum()
        counts["detected"][e] = n_detected[index].sum()
        counts["extracted"][e] = n_extracted[index].sum()
        counts["interactions"][e] = index.size

    truth = pd.DataFrame({
        "event_id": np.arange(n, dtype=np.int64),
        "source": np.broadcast_to(np.asarray(source_name, dtype=object), (n,)).copy(),
        "recoil_type": recoil,
        "energy_kev": columns["energy"],
        "x_true_cm": columns["x"], "y_true_cm": columns["y"], "z_true_cm": columns["z"],
        "n_photons": counts["photons"],
        "n_electrons": counts["electrons"],
        "s2_x_true_cm": columns["s2_x"], "s2_y_true_cm": columns["s2_y"],
        "drift_time_true_us": columns["dt"],
        "n_s1_detected": counts["detected"],
        "n_extracted": counts["extracted"],
        "n_interactions": counts["interactions"],
        "s1_true_area_pe": columns["s1"], "s2_true_area_pe": columns["s2"],
        "s2_top_true_area_pe": columns["s2_top"],
    })
    return WaveformEvents(truth, events, detector, arrays, settings, optics)


def source_interactions(detector: Detector, source: Source, n_events: int, seed: SeedLike,
                        volume: Volume = "fiducial", chunk_index: int = 0) -> InteractionList:
    """Recoils of ``source`` as an interaction list (NEST quanta).

    Each source's topology (:mod:`wimpsift.sources.topology`): radiogenic neutrons
    scatter several times, an accidental coincidence is a lone S1 and an unrelated lone
    S2, wall and anomalous events carry the source's kept charge fraction. Detection and
    extraction draws of :func:`wimpsift.response.interaction_level.sample_interactions` are not used
    (the waveform stage draws its own).
    """
    rng = generator(seed, "interactions", int(chunk_index))  # wimpsift.seeding
    return source_topology(detector, source, int(n_events), rng, volume)


def simulate_waveform_events(
    detector: Detector,
    source: Source,
    n_events: int,
    seed: int,
    settings: WaveformSettings | None = None,
    volume: Volume = "fiducial",
    chunk_index: int = 0,
    optics: OpticalSettings | None = None,
) -> WaveformEvents:
    """Simulate ``n_events`` events of ``source`` down to light pulses (one chunk).

    The source's recoils become an interaction list (:func:`source_interactions`) that
    goes through :func:`interaction_waveforms`, as an instruction file does. Random
    numbers depend only on (seed, chunk_index): the same arguments give the same events.
    """
    if int(n_events) <= 0:
        raise bad_value("n_events", n_events, "a positive number of events")
    interactions = source_interactions(detector, source, n_events, seed, volume, chunk_index)
    return interaction_waveforms(detector, interactions, source.name, seed, settings,
                                 chunk_index, optics)
