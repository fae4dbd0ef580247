"""Exposure → counts: expected events in the analysis window, the events one ``simulate``
run draws, and the expected-count table (the CNN paper's Table I).

Each physical source: rate over its energy range × fiducial exposure × the fraction
of simulated events in the analysis window (threshold, fiducial volume, cS1 and S2
window). Data-driven sources: their published counts scaled with exposure. Beside
each count the table shows the detector file's ``published_expected_events`` for the
detector's own exposure (comparison only, never used in a computation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.errors import ConfigError
from wimpsift.response.event_level import simulate_events
from wimpsift.seeding import SeedLike, generator, seed_sequence
from wimpsift.simulation import SimulationConfig
from wimpsift.sources import HaloModel, Source, make_source, source_names
from wimpsift.sources.positions import Volume, sampled_mass_ratio

MAX_EVENTS = 1e9  # most interactions one simulate run draws from an exposure


def window_efficiency(
    detector: Detector, source: Source, n_mc: int = 20_000, seed: SeedLike = 0,
    volume: Volume = "fiducial",
) -> float:
    """Fraction of the interactions simulated in ``volume``'s sampled volume
    (:mod:`wimpsift.sources.positions`) that end up in the analysis window."""
    events = simulate_events(detector, source, n_mc, seed, volume)
    return float(events["in_window"].mean())


def expected_events(
    detector: Detector,
    source: Source,
    exposure_kg_days: float | None = None,
    n_mc: int = 20_000,
    seed: SeedLike = 0,
) -> dict[str, float]:
    """Expected events in the analysis window for an exposure (default: the detector's).

    Physical sources: rate × fiducial exposure × window efficiency, the Monte Carlo
    fraction in the window times the sampled slab's mass over the fiducial mass (events
    are drawn beyond the fiducial edge so that reconstructed positions migrate across it
    both ways: :mod:`wimpsift.sources.positions`). Data-driven sources: their published
    count scaled with exposure.
    """
    exposure = detector.exposure_kg_days if exposure_kg_days is None else exposure_kg_days
    if not np.isfinite(exposure) or exposure <= 0:
        raise ConfigError(f"exposure_kg_days: got {exposure!r}, expected a positive exposure")
    if source.expected_in_window is not None:
        count, reference = source.expected_in_window
        return {
            "rate_per_kg_day": float("nan"),
            "efficiency": 1.0,
            "before_selection": float("nan"),
            "expected": count * exposure / reference,
        }
    rate = source.rate_per_kg_day
    eff = window_efficiency(detector, source, n_mc, seed) * sampled_mass_ratio(detector)
    return {
        "rate_per_kg_day": rate,
        "efficiency": eff,
        "before_selection": rate * exposure,
        "expected": rate * exposure * eff,
    }


def expected_in_window(source: Source, detector: Detector, exposure: float, n_in: int,
                       n_sim: int, volume: Volume = "fiducial") -> float:
    """Expected events of ``source`` in the analysis window over ``exposure`` (kg·days of
    the published fiducial mass), from ``n_in`` of ``n_sim`` interactions drawn in
    ``volume``'s sampled volume in the window: a data-driven source's count in the window
    scaled with exposure (the sampled volume does not enter: it is a count in the window);
    a physical source's rate times the sampled mass (heavier than the fiducial mass:
    :func:`~wimpsift.sources.positions.sampled_mass_ratio`) times the window fraction."""
    window = source.expected_in_window
    if window is not None:
        count, reference = window
        return float(count * exposure / reference)
    return float(source.rate_per_kg_day * exposure * sampled_mass_ratio(detector, volume)
                 * n_in / max(n_sim, 1))


def event_count(config: SimulationConfig, detector: Detector, source: Source) -> int:
    """The events one run simulates: ``n_events``, or a Poisson draw of the exposure's
    expected count (its own child stream of the seed)."""
    if config.n_events is not None:
        return config.n_events
    assert config.exposure_kg_days is not None
    rng = generator(config.seed, "exposure_count")
    if source.expected_in_window is not None:
        count, reference = source.expected_in_window
        eff = max(window_efficiency(detector, source, 20_000,
                                    seed_sequence(config.seed, "window_efficiency"), config.volume), 1e-6)
        mean = count * config.exposure_kg_days / reference / eff
    else:
        mean = (source.rate_per_kg_day * config.exposure_kg_days
                * sampled_mass_ratio(detector, config.volume))
    if not np.isfinite(mean) or mean > MAX_EVENTS:
        raise ConfigError(
            f"exposure_kg_days: {config.exposure_kg_days:g} gives {mean:.3g} expected events of "
            f"{source.name!r}, more than the {MAX_EVENTS:.0e} one run simulates; use a smaller exposure"
        )
    n = int(rng.poisson(mean))
    if n == 0:
        raise ConfigError(
            f"exposure_kg_days: {config.exposure_kg_days} gives no events of {source.name!r} "
            f"(expected {mean:.3g}); use a larger exposure or --events"
        )
    return n


@dataclass(frozen=True)
class RateRow:
    source: str
    rate_per_kg_day: float
    before_selection: float
    efficiency: float
    expected: float
    published: float | None
    published_verified: bool | None = None
    """whether ``published`` was read in its source (the detector file's ``published_verified``)"""


def rate_table(
    detector: Detector,
    mass_gev: float = 500.0,
    sigma_cm2: float = 1e-45,
    exposure_kg_days: float | None = None,
    halo: HaloModel | None = None,
    n_mc: int = 50_000,
    seed: int = 0,
) -> list[RateRow]:
    """Expected events per source in the analysis window."""
    rows = []
    own_exposure = exposure_kg_days is None
    for name in source_names(detector):
        source = make_source(detector, name, mass_gev, sigma_cm2, halo)
        # each source's efficiency run has its own child stream of the run's seed
        numbers = expected_events(detector, source, exposure_kg_days, n_mc,
                                  seed_sequence(seed, "rates", name))
        published, verified = None, None
        if own_exposure and name != "wimp":
            spec = detector.background(name)
            published = spec.published_expected_events
            verified = spec.published_verified if published is not None else None
        rows.append(
            RateRow(
                name,
                numbers["rate_per_kg_day"],
                numbers["before_selection"],
                numbers["efficiency"],
                numbers["expected"],
                published,
                verified,
            )
        )
    return rows


def format_rate_table(rows: list[RateRow], detector: Detector, exposure_kg_days: float) -> str:
    lines = [
        f"Expected events in the analysis window: {detector.name}, exposure {exposure_kg_days:.1f} kg·day",
        f"{'source':<12}{'before cuts':>14}{'efficiency':>12}{'expected':>12}{'published':>12}",
    ]
    for row in rows:
        before = "data-driven" if math.isnan(row.before_selection) else f"{row.before_selection:.4g}"
        published = "" if row.published is None else f"{row.published:.4g}"
        if row.published is not None and not row.published_verified:
            published += "?"
        lines.append(
            f"{row.source:<12}{before:>14}{row.efficiency:>12.4f}{row.expected:>12.4g}{published:>12}"
        )
    if any(row.published is not None and not row.published_verified for row in rows):
        lines.append("?: published count not confirmed in its source "
                     "(see published_source in the detector file)")
    return "\n".join(lines)


def _number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def rate_table_json(rows: list[RateRow]) -> dict:
    """``{"sources": {name: {"before_cuts", "efficiency", "expected", "published",
    "published_verified"}}}``; ``before_cuts`` is null for data-driven sources (their count
    is the published one), ``published_verified`` null where there is no published count."""
    return {
        "sources": {
            row.source: {
                "before_cuts": _number(row.before_selection),
                "efficiency": _number(row.efficiency),
                "expected": _number(row.expected),
                "published": _number(row.published) if row.published is not None else None,
                "published_verified": row.published_verified,
            }
            for row in rows
        }
    }
