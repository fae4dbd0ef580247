"""``peak`` images with ``peak_secondary_s2``: the secondary S2s of multiple scatters show."""

from __future__ import annotations

import numpy as np
import pytest

from wimpsift.images.peak import render_trace
from wimpsift.images.raster import ImageSettings, image_settings, render_images

STRIP_MIN_PE_PER_SAMPLE = 1.0  # an S2 above the 150 PE threshold reaches this in its bin


@pytest.fixture(scope="module")
def neutron_processed(xenon1t):
    from wimpsift.processing.reconstruction import process_events
    from wimpsift.sources import make_source
    from wimpsift.waveforms import simulate_waveform_events

    raw = simulate_waveform_events(xenon1t, make_source(xenon1t, "neutrons"), 60, seed=103)
    return process_events(raw)


def _strip_peaks(image: np.ndarray, settings: ImageSettings) -> int:
    """Separate spikes above STRIP_MIN_PE_PER_SAMPLE in the whole-event strip (right panel),
    leaving out its first column (the S1)."""
    width = image.shape[-1]
    strip = image[:, 2 * (width // 3) + 1:]
    level = np.log10(STRIP_MIN_PE_PER_SAMPLE / settings.peak_min_pe_per_sample) / np.log10(
        settings.peak_max_pe_per_sample / settings.peak_min_pe_per_sample)
    lit = strip.sum(axis=0) / image.shape[0] > level
    return int(np.sum(lit[1:] & ~lit[:-1]) + lit[0])


def test_default_peak_images_are_the_two_panel_images(er_processed):
    """Off by default: the S1 | S2 images, exactly as rendered from the two traces."""
    settings = ImageSettings()
    assert settings.peak_secondary_s2 is False
    images = render_images(er_processed, ("peak",), settings)["peak"]
    height, width = settings.shape("peak")
    expected = np.concatenate(
        [render_trace(er_processed.s1_trace_pe, height, width // 2, settings),
         render_trace(er_processed.s2_trace_pe, height, width - width // 2, settings)], axis=2)
    assert images.tobytes() == expected.tobytes()


def test_neutron_multiple_scatters_show_two_s2_peaks(neutron_processed, er_processed):
    settings = image_settings(peak_secondary_s2=True)
    multiple = neutron_processed.table["n_s2_above_threshold"].to_numpy() >= 2
    assert multiple.sum() >= 20
    images = render_images(neutron_processed, ("peak", "hitpeak"), settings)
    peaks = np.array([_strip_peaks(im, settings) for im in images["peak"][multiple]])
    # two S2s closer than one strip column (~14 µs, 2 cm of drift) merge into one spike
    assert np.mean(peaks >= 2) > 0.7, peaks
    # the main S1 and S2 panels are still the two-panel images' traces, narrower
    height, width = settings.shape("peak")
    np.testing.assert_array_equal(
        images["peak"][:, :, width // 3:2 * (width // 3)],
        render_trace(neutron_processed.s2_trace_pe, height, width // 3, settings))
    assert images["hitpeak"].shape[1:] == settings.shape("hitpeak")
    # single-scatter ER: one S2 spike
    single = er_processed.table["n_s2_above_threshold"].to_numpy() == 1
    er_images = render_images(er_processed, ("peak",), settings)["peak"][single]
    er_peaks = np.array([_strip_peaks(im, settings) for im in er_images])
    assert np.mean(er_peaks == 1) > 0.9, er_peaks
