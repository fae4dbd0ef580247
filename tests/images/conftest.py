"""Small waveform-level samples shared by the image tests (module-scoped, a few seconds)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def er_raw(xenon1t):
    from wimpsift.sources import make_source
    from wimpsift.waveforms import simulate_waveform_events

    return simulate_waveform_events(xenon1t, make_source(xenon1t, "er"), 300, seed=101)


@pytest.fixture(scope="session")
def nr_raw(xenon1t):
    from wimpsift.sources import make_source
    from wimpsift.waveforms import simulate_waveform_events

    return simulate_waveform_events(xenon1t, make_source(xenon1t, "wimp", mass_gev=500.0), 300,
                                    seed=102)


@pytest.fixture(scope="session")
def er_processed(er_raw):
    from wimpsift.processing.reconstruction import process_events

    return process_events(er_raw)


@pytest.fixture(scope="session")
def nr_processed(nr_raw):
    from wimpsift.processing.reconstruction import process_events

    return process_events(nr_raw)
