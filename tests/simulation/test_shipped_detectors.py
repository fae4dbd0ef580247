"""Every shipped detector: event and waveform level agree on a mono-energetic line,
and the ER band lies above the NR band."""

from __future__ import annotations

import numpy as np
import pytest

from wimpsift.detectors import load_detector, shipped_detectors
from wimpsift.plots.bands import band_medians
from wimpsift.processing.reconstruction import process_events
from wimpsift.response.event_level import simulate_events
from wimpsift.sources import make_source
from wimpsift.sources.electronic import ElectronicRecoilLines
from wimpsift.waveforms import simulate_waveform_events

LINE_KEV = 40.0


def line_source() -> ElectronicRecoilLines:
    return ElectronicRecoilLines(name="line", recoil_type="er", energy_min_kev=20.0, energy_max_kev=60.0,
                                 energies_kev=[LINE_KEV], rates_per_kg_day=[1.0], widths_kev=[0.0])


@pytest.mark.parametrize("name", shipped_detectors())
def test_line_cs1_and_cs2_agree_between_event_and_waveform_level(name):
    detector = load_detector(name)
    wave = process_events(simulate_waveform_events(detector, line_source(), 280, seed=3)).table
    event = simulate_events(detector, line_source(), 5000, seed=4)
    wave = wave[wave.passes_threshold & wave.in_fiducial]
    event = event[event.passes_threshold & event.in_fiducial]
    assert len(wave) > 150
    for column in ("cs1_pe", "cs2_pe"):
        assert wave[column].median() == pytest.approx(event[column].median(), rel=0.03), column


@pytest.mark.parametrize("name", shipped_detectors())
def test_er_band_lies_above_nr_band(name):
    detector = load_detector(name)
    er = simulate_events(detector, make_source(detector, "er"), 4000, seed=5)
    nr = simulate_events(detector, make_source(detector, "wimp", mass_gev=100.0), 4000, seed=6)
    edges = np.linspace(detector.window.cs1_min_pe, detector.window.cs1_max_pe, 8)
    _, er_median = band_medians(er[er.in_window], edges)
    _, nr_median = band_medians(nr[nr.in_window], edges)
    both = np.isfinite(er_median) & np.isfinite(nr_median)
    assert both.sum() >= 4
    assert np.all(er_median[both] > nr_median[both])
