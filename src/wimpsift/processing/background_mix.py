"""A labelled, weighted mix of processed events: a WIMP and every background of a detector.

Each source is simulated at waveform level with its topology
(:mod:`wimpsift.sources.topology`) and processed
(:func:`wimpsift.processing.reconstruction.process_events`). The column ``weight`` is
the expected number of such events in the detector's live time per simulated event:

- physical sources (WIMP, ER, CEvNS, radiogenic neutrons with their multiple
  scatters): :func:`~wimpsift.sources.topology.expected_topology_events` / n simulated;
- data-driven sources (accidental, wall, anomalous): their published count in the
  analysis window, scaled to the detector's exposure, / the simulated events that fall
  in the window (``in_window``); events outside the window get that same weight.

The WIMP's weight is that of its cross-section (only relative weights matter for
acceptances). :func:`expected_mix_weights` balances the two classes for a classifier or
a mutual information: WIMP events equal, backgrounds by their expected rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wimpsift.detectors import Detector
from wimpsift.processing.reconstruction import ProcessedEvents, process_events
from wimpsift.seeding import SeedLike, seed_sequence
from wimpsift.sources import Source, make_source, source_names
from wimpsift.sources.positions import Volume
from wimpsift.sources.topology import expected_topology_events
from wimpsift.waveforms.event import simulate_waveform_events

SIGNAL = "wimp"
"""the signal's name in a mix's ``source`` column; every other source is a background"""


def processed_source(detector: Detector, name: str, n_events: int, seed: SeedLike,
                     mass_gev: float = 500.0, sigma_cm2: float = 1e-45,
                     volume: Volume = "fiducial") -> tuple[pd.DataFrame, np.ndarray]:
    """Processed event table of one source, and its per-event weights."""
    source = make_source(detector, name, mass_gev=mass_gev, sigma_cm2=sigma_cm2)
    raw = simulate_waveform_events(detector, source, n_events, seed, volume=volume)
    table = process_events(raw).table
    table["n_interactions"] = raw.truth["n_interactions"].to_numpy()
    return table, np.full(len(table), source_weight(detector, source, table, n_events, volume))


def source_weight(detector: Detector, source: Source, table: pd.DataFrame, n_events: int,
                  volume: Volume = "fiducial") -> float:
    """Expected events in the detector's live time per simulated event of ``source``
    (see the module docstring); ``table`` holds the processed ``n_events`` events."""
    expected = expected_topology_events(detector, source, volume)
    if expected is None:
        count, reference = source.expected_in_window
        expected_in_window = count * detector.exposure_kg_days / reference
        n_in = int(table["in_window"].sum())
        return expected_in_window / max(n_in, 1)
    return expected / n_events


def processed_mix(detector: Detector, n_per_source: int, seed: int, mass_gev: float = 500.0,
                  sigma_cm2: float = 1e-45, volume: Volume = "fiducial",
                  names: list[str] | None = None, n_events: dict[str, int] | None = None
                  ) -> pd.DataFrame:
    """Processed events of the WIMP and every background of an analysis in ``volume``
    (:func:`wimpsift.sources.source_names`; or ``names``), with ``weight``.

    ``n_events`` overrides ``n_per_source`` for named sources (e.g. more ER events to
    resolve a 99.8 % rejection).
    """
    tables = []
    for name in names or source_names(detector, volume):
        n = (n_events or {}).get(name, n_per_source)
        # each source draws from its own child stream of the seed (wimpsift.seeding)
        table, weight = processed_source(detector, name, n, seed_sequence(seed, "mix", name), mass_gev,
                                         sigma_cm2, volume)
        tables.append(table.assign(weight=weight))
    return pd.concat(tables, ignore_index=True)


def expected_mix_weights(table: pd.DataFrame) -> np.ndarray:
    """WIMP events equal, backgrounds by expected rate; both classes to equal total."""
    is_signal = (table["source"] == SIGNAL).to_numpy()
    w = table["weight"].to_numpy(float).copy()
    w[is_signal] = 1.0 / max(int(is_signal.sum()), 1)
    w[~is_signal] /= max(w[~is_signal].sum(), 1e-300)
    return w


__all__ = ["SIGNAL", "ProcessedEvents", "expected_mix_weights", "processed_mix",
           "processed_source", "source_weight"]
