"""Event-level response: source → NEST quanta → detector response → event table.

:func:`simulate_events` is the vectorised kernel for one chunk: it starts from
:func:`wimpsift.response.interaction_level.sample_interactions`, detects the S1 per PMT,
makes the S2, reconstructs the position and applies the corrections and selection flags
of :mod:`wimpsift.processing`, without waveforms. Each chunk's random numbers depend only
on (seed, chunk index). Writing many chunks to Parquet is I/O and lives in
:mod:`wimpsift.io.event_tables`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wimpsift.detectors import Detector
from wimpsift.errors import ConfigError
from wimpsift.processing.corrections import corrected_s1_pe, corrected_s2_pe
from wimpsift.processing.selection import in_fiducial, in_window, passes_threshold
from wimpsift.response.charge import depth_cm, s2_areas_pe
from wimpsift.response.interaction_level import sample_interactions
from wimpsift.response.light import detect_s1
from wimpsift.response.position import reconstruct_xy, xy_resolution_cm
from wimpsift.response.pulse_shape import prompt_fraction as compute_prompt_fraction
from wimpsift.seeding import SeedLike, generator
from wimpsift.sources import Source
from wimpsift.sources.positions import Volume

WALL_RECONSTRUCTION_SPREAD = 3.0  # inward pull of wall events, in units of the xy resolution


def simulate_events(
    detector: Detector,
    source: Source,
    n_events: int,
    seed: SeedLike,
    volume: Volume = "fiducial",
    prompt_fraction: bool = False,
    chunk_index: int = 0,
) -> pd.DataFrame:
    """Simulate ``n_events`` interactions of ``source`` in ``detector`` (one chunk).

    The chunk draws from child ``chunk_index`` of ``seed``'s sequence
    (:mod:`wimpsift.seeding`).

    Returns the event table (see ``wimpsift.events.EVENT_COLUMNS``) for *all*
    simulated interactions; use the ``passes_threshold``, ``in_fiducial`` and
    ``in_window`` flags to select.
    """
    if n_events <= 0:
        raise ConfigError(f"n_events: got {n_events!r}, expected a positive number of events")
    rng = generator(seed, int(chunk_index))
    n = int(n_events)
    it = sample_interactions(detector, source, n, rng, volume, photon_times=prompt_fraction)
    x, y, z, dt, n_detected = it.x_cm, it.y_cm, it.z_cm, it.drift_time_us, it.n_detected
    found = detect_s1(n_detected, x, y, z, detector, rng)
    s1, s1_n_pmts = found.area_pe, found.n_pmts
    s2, s2_top, s2_bottom = s2_areas_pe(it.n_extracted, detector, rng)
    kind, quanta, n_electrons = it.kind, it.quanta, it.n_electrons

    bias = 0.0
    if kind == "wall":
        bias = (
            np.abs(rng.standard_normal(n)) * WALL_RECONSTRUCTION_SPREAD * xy_resolution_cm(s2_top, detector)
        )
    x_rec, y_rec = reconstruct_xy(it.s2_x_cm, it.s2_y_cm, s2_top, detector, rng, bias)
    r_rec = np.hypot(x_rec, y_rec)
    z_rec = depth_cm(dt, detector)
    cs1 = corrected_s1_pe(s1, x_rec, y_rec, z_rec, detector)
    cs2 = corrected_s2_pe(s2, dt, detector)
    cs2_b = corrected_s2_pe(s2_bottom, dt, detector)
    if prompt_fraction:
        pf = compute_prompt_fraction(quanta.photon_times_ns or [], n_detected, detector, rng)
    else:
        pf = np.full(n, np.nan)
    threshold = passes_threshold(s1_n_pmts, s2, detector)
    fiducial = in_fiducial(r_rec, z_rec, detector)
    return pd.DataFrame(
        {
            "event_id": np.arange(n, dtype=np.int64),
            "source": np.full(n, source.name, dtype=object),
            "recoil_type": np.full(n, source.recoil_type, dtype=object),
            "energy_kev": it.energy_kev,
            "x_true_cm": x,
            "y_true_cm": y,
            "z_true_cm": z,
            "n_photons": quanta.n_photons.astype(np.int64),
            "n_electrons": np.asarray(n_electrons, dtype=np.int64),
            "drift_time_us": dt,
            "x_cm": x_rec,
            "y_cm": y_rec,
            "z_cm": z_rec,
            "r_cm": r_rec,
            "s1_area_pe": s1,
            "s2_area_pe": s2,
            "s2_top_area_pe": s2_top,
            "s2_bottom_area_pe": s2_bottom,
            "s1_n_pmts": s1_n_pmts.astype(np.int64),
            "s1_prompt_fraction": pf,
            "cs1_pe": cs1,
            "cs2_pe": cs2,
            "cs2_bottom_pe": cs2_b,
            "passes_threshold": threshold,
            "in_fiducial": fiducial,
            "in_window": threshold & fiducial & in_window(cs1, s2, detector, cs2_b),
        }
    )
