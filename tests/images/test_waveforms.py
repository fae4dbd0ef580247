"""Waveform-level response and processing: physics checks against truth."""

import numpy as np
import pytest

from wimpsift.events import EVENT_COLUMNS, check_event_table
from wimpsift.response.charge import electron_survival
from wimpsift.response.light import relative_lce


def test_processed_table_has_the_event_level_columns(er_processed):
    table = er_processed.table
    assert list(table.columns[: len(EVENT_COLUMNS)]) == list(EVENT_COLUMNS)
    check_event_table(table[table.passes_threshold])
    assert table.passes_threshold.mean() > 0.9


def test_s2_hit_pattern_follows_true_position(er_processed):
    t = er_processed.table[er_processed.table.passes_threshold]
    top = er_processed.s2_pmt_area_pe[er_processed.table.passes_threshold.to_numpy()]
    arrays = er_processed.arrays
    top = top[:, arrays.top]
    cx = top @ arrays.x_cm[arrays.top] / top.sum(axis=1)
    cy = top @ arrays.y_cm[arrays.top] / top.sum(axis=1)
    # plain centroid: pulled inwards but follows the truth
    assert np.corrcoef(cx, t.x_true_cm)[0, 1] > 0.95
    assert np.corrcoef(cy, t.y_true_cm)[0, 1] > 0.95
    # likelihood reconstruction: sub-cm
    dr = np.hypot(t.x_cm - t.x_true_cm, t.y_cm - t.y_true_cm)
    assert np.median(dr) < 1.0


def test_drift_time_and_depth(er_processed):
    t = er_processed.table[er_processed.table.passes_threshold]
    assert np.median(np.abs(t.drift_time_us - t.drift_time_true_us)) < 0.2
    assert np.median(np.abs(t.z_cm - t.z_true_cm)) < 0.05


def test_nr_s1_faster_than_er_at_equal_s1(er_processed, nr_processed):
    def prompt(table):
        m = (table.s1_area_pe > 20) & (table.s1_area_pe < 80)
        assert m.sum() > 50
        return table.s1_prompt_fraction[m].mean(), table.s1_width_ns[m].mean()

    er_pf, er_width = prompt(er_processed.table)
    nr_pf, nr_width = prompt(nr_processed.table)
    assert nr_pf > er_pf + 0.05
    assert nr_width < er_width


def test_s2_width_grows_with_drift_time(er_processed):
    t = er_processed.table[er_processed.table.passes_threshold]
    assert np.corrcoef(t.s2_width_ns, np.sqrt(t.drift_time_us))[0, 1] > 0.7
    shallow = t.s2_width_ns[t.drift_time_us < 200].mean()
    deep = t.s2_width_ns[t.drift_time_us > 450].mean()
    assert deep > shallow + 200


def test_areas_agree_with_truth(er_processed):
    t = er_processed.table[er_processed.table.passes_threshold]
    s1_bias = np.median(t.s1_area_pe / t.s1_true_area_pe - 1)
    s2_bias = np.median(t.s2_area_pe / t.s2_true_area_pe - 1)
    assert abs(s1_bias) < 0.02
    assert abs(s2_bias) < 0.02


def test_waveform_and_event_level_agree_on_average(er_raw, er_processed, xenon1t):
    """The same event gives the same S1 and S2 on average at both levels."""
    from wimpsift.response.event_level import simulate_events
    from wimpsift.sources import make_source

    def ratios(t):
        s1_expected = (t.n_photons * xenon1t.light.g1_pe_per_photon
                       * relative_lce(t.x_true_cm, t.y_true_cm, t.z_true_cm, xenon1t))
        s2_expected = (t.n_electrons * electron_survival(t.drift_time_true_us, xenon1t)
                       * xenon1t.charge.extraction_efficiency * xenon1t.se_gain_pe)
        ok = (s1_expected > 5) & (s2_expected > 200)
        return (t.s1_area_pe[ok].sum() / s1_expected[ok].sum(),
                t.s2_area_pe[ok].sum() / s2_expected[ok].sum())

    wave = er_processed.table.copy()
    wave_s1, wave_s2 = ratios(wave)
    event = simulate_events(xenon1t, make_source(xenon1t, "er"), 3000, seed=5)
    event["drift_time_true_us"] = event["drift_time_us"]
    event_s1, event_s2 = ratios(event)
    # PMTs whose hit is not found lose their light: a PMT with k PE is lost with
    # probability (1 - acceptance)^k <= 1 - acceptance, so the found S1 lies between
    # (acceptance) and 1 times g1 x photons
    acceptance = xenon1t.light.spe_acceptance
    for found in (wave_s1, event_s1):
        assert acceptance - 0.01 < found < 1.0
    assert wave_s2 == pytest.approx(1.0, abs=0.03)
    assert wave_s1 == pytest.approx(event_s1, abs=0.03)
    assert wave_s2 == pytest.approx(event_s2, abs=0.03)
    # and the distributions of the two levels match in the mean
    assert wave.s1_area_pe.mean() == pytest.approx(event.s1_area_pe.mean(), rel=0.08)


def test_extra_peaks_make_the_main_peak_search_real(er_raw, er_processed):
    kinds = {p.kind for ev in er_raw.events for p in ev.pulses}
    assert {"s1", "s2", "single_electron", "afterpulse"} <= kinds
    assert er_processed.table.n_peaks.mean() > 3


def test_accidental_coincidences_have_unrelated_depth(xenon1t):
    from wimpsift.processing.reconstruction import process_events
    from wimpsift.sources import make_source
    from wimpsift.waveforms import simulate_waveform_events

    raw = simulate_waveform_events(xenon1t, make_source(xenon1t, "accidental"), 120, seed=7)
    t = process_events(raw).table
    t = t[t.passes_threshold]
    assert len(t) > 30
    assert abs(np.corrcoef(t.z_cm, t.z_true_cm)[0, 1]) < 0.4


def test_baseline_noise_option(xenon1t):
    from wimpsift.processing.reconstruction import process_events
    from wimpsift.sources import make_source
    from wimpsift.waveforms import WaveformSettings, simulate_waveform_events

    settings = WaveformSettings(baseline_noise_pe_per_sample=0.02)
    raw = simulate_waveform_events(xenon1t, make_source(xenon1t, "er"), 40, seed=8, settings=settings)
    w = raw.events[0].summed_waveform()
    assert np.std(w[:100]) == pytest.approx(0.02, rel=0.3)
    t = process_events(raw).table
    assert t.passes_threshold.mean() > 0.8
    ok = t.passes_threshold
    assert np.median(np.abs(t.s2_area_pe[ok] / t.s2_true_area_pe[ok] - 1)) < 0.03


def test_bad_event_count_is_rejected(xenon1t):
    from wimpsift.errors import ConfigError
    from wimpsift.sources import make_source
    from wimpsift.waveforms import simulate_waveform_events

    with pytest.raises(ConfigError, match="n_events"):
        simulate_waveform_events(xenon1t, make_source(xenon1t, "er"), 0, seed=1)


def test_resolution_summary(er_processed):
    from wimpsift.processing.reconstruction import resolution_summary

    summary = resolution_summary(er_processed.table)
    assert summary["passing_fraction"] > 0.9
    assert summary["xy_68_cm"] < 1.0
    assert abs(summary["s1_area_bias"]) < 0.02 and abs(summary["s2_area_bias"]) < 0.02
    assert resolution_summary(er_processed.table.iloc[:0])["n_events"] == 0


def test_lux_waveforms_and_images(lux):
    from wimpsift.images import render_images
    from wimpsift.processing.reconstruction import process_events
    from wimpsift.sources import make_source
    from wimpsift.waveforms import simulate_waveform_events

    processed = process_events(simulate_waveform_events(lux, make_source(lux, "er"), 40, seed=3))
    assert processed.s1_pmt_area_pe.shape == (40, 122)
    t = processed.table[processed.table.passes_threshold]
    assert len(t) > 30
    assert np.median(np.hypot(t.x_cm - t.x_true_cm, t.y_cm - t.y_true_cm)) < 1.0
    images = render_images(processed, ["hitpeak"])["hitpeak"]
    assert images.shape == (40, 75, 75) and 0 <= images.min() and images.max() <= 1
