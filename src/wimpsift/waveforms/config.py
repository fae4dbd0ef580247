"""Settings of the waveform simulation, validated once (units in the names)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from wimpsift.config import WimpsiftConfig

NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]


class WaveformSettings(WimpsiftConfig):
    """How waveforms are sampled and which extra peaks and noise they carry."""


    sample_ns: Positive = 10.0
    spe_rise_ns: Positive = 3.0
    """rise time constant of the single-PE pulse"""
    spe_decay_ns: Positive = 10.0
    """decay time constant of the single-PE pulse"""
    el_gap_cm: Positive = 0.25
    """gas gap between liquid surface and anode where electroluminescence happens"""
    gas_drift_velocity_mm_us: Positive = 2.5
    """electron drift velocity in the gas gap (EL duration = gap / velocity)"""
    pre_trigger_us: Positive = 2.0
    """time of the interaction (S1) after the start of the event window"""
    post_s2_us: Positive = 10.0
    """event window after the main S2"""
    single_electrons_per_event: NonNegative = 1.0
    """mean number of lone single-electron S2s at random times and positions"""
    delayed_electron_fraction: NonNegative = 0.002
    """delayed single electrons after the main S2, per extracted electron"""
    delayed_electron_time_us: Positive = 3.0
    """mean delay (exponential) of the delayed single electrons after the S2"""
    afterpulse_probability: Annotated[float, Field(ge=0, le=0.2)] = 0.005
    """afterpulses per photoelectron"""
    afterpulse_delays_us: tuple[Positive, ...] = (0.6, 1.4, 2.9)
    """afterpulse delay families (ion species), chosen with equal probability"""
    afterpulse_delay_spread_us: NonNegative = 0.1
    baseline_noise_pe_per_sample: NonNegative = 0.0
    """Gaussian noise of the summed baseline, PE per sample (0: off)"""

    @property
    def el_duration_ns(self) -> float:
        return self.el_gap_cm * 10.0 / self.gas_drift_velocity_mm_us * 1000.0
