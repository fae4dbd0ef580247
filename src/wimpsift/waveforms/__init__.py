"""Waveform-level detector response: S1 and S2 pulse shapes, extra small peaks, noise.

An event's raw data is a list of :class:`~wimpsift.waveforms.pulse.LightPulse` records,
one per burst of light (the S1, the S2, each single electron, the afterpulses of a
peak): each holds its summed waveform in PE per 10 ns sample and its area on every
PMT. The per-PMT time profile of a burst is the common one (all PMTs see the same
burst), which keeps the data small (no 248 × 70,000-sample arrays) while letting the
processing measure per-PMT areas of any time window. See
:func:`wimpsift.waveforms.event.simulate_waveform_events`.
"""

from wimpsift.waveforms.config import WaveformSettings
from wimpsift.waveforms.event import RawEvent, simulate_waveform_events
from wimpsift.waveforms.pulse import LightPulse

__all__ = ["LightPulse", "RawEvent", "WaveformSettings", "simulate_waveform_events"]
