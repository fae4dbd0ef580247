"""A small S2 after a long drift is one peak: its single-electron fragments merge."""

from __future__ import annotations

import numpy as np

from wimpsift.detectors import load_detector
from wimpsift.processing.reconstruction import process_events
from wimpsift.response.charge import longitudinal_spread_us
from wimpsift.sources.interactions import single_interactions
from wimpsift.waveforms.config import WaveformSettings
from wimpsift.waveforms.event import interaction_waveforms


def test_deep_xenonnt_s2_of_thirty_electrons_is_one_peak():
    """XENONnT SR0 at 140 cm: σ_t = √(2 D t)/v ≈ 6.4 µs, so 30 electrons arrive about
    1 µs apart and single-electron pulses fall more than 300 ns apart. The main S2 holds
    all the S2 light (it held about half, and a third of the events had a second S2
    above threshold, before fragments merged), and its 50 % width is the diffusion one."""
    nt = load_detector("xenonnt_sr0")
    n = 100
    angle = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    it = single_interactions("er", 20 * np.cos(angle), 20 * np.sin(angle), np.full(n, -140.0),
                             np.full(n, 300), np.full(n, 60), np.full(n, 10.0))
    raw = interaction_waveforms(nt, it, "probe", seed=1)
    table = process_events(raw).table
    ok = table["passes_threshold"].to_numpy()
    assert ok.mean() > 0.9
    t = table[ok]
    ratio = t["s2_area_pe"] / t["s2_true_area_pe"]
    assert abs(np.median(ratio) - 1) < 0.02 and ratio.quantile(0.1) > 0.9
    assert (t["n_s2_above_threshold"] == 1).mean() > 0.95
    width = t["s2_width_ns"] / t["s2_width_expected_ns"]
    assert 0.85 < np.median(width) < 1.1


def test_merge_gap_is_the_diffusion_spread_at_maximum_drift_less_the_el_pulse():
    """XENONnT SR0: 6.6 µs - 1 µs; XENON1T SR0: σ_t(max drift) = 1.2 µs less the 1 µs EL
    pulse is below the 300 ns peak gap, so nothing more merges there."""
    from wimpsift.processing.peaks import PeakSettings, s2_merge_gap_ns

    el_ns = WaveformSettings().el_duration_ns
    nt, x1t = load_detector("xenonnt_sr0"), load_detector("xenon1t_sr0")
    spread_ns = float(longitudinal_spread_us(nt.max_drift_time_us, nt)) * 1000.0
    assert s2_merge_gap_ns(nt, el_ns) == spread_ns - el_ns
    assert 5000.0 < s2_merge_gap_ns(nt, el_ns) < 6000.0
    assert s2_merge_gap_ns(x1t, el_ns) < PeakSettings().gap_ns
