"""Expected-count table (the CNN paper's Table I) for a detector, exposure and WIMP.

Each physical source: rate over its energy range × fiducial exposure × the fraction
of simulated events in the analysis window (threshold, fiducial volume, cS1 and S2
window). Data-driven sources: their published counts scaled with exposure. Beside
each count the table shows the detector file's ``published_expected_events`` for the
detector's own exposure (comparison only, never used in a computation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from wimpsift.detectors import Detector
from wimpsift.seeding import seed_sequence
from wimpsift.simulation import expected_events
from wimpsift.sources import HaloModel, make_source, source_names


@dataclass(frozen=True)
class RateRow:
    source: str
    rate_per_kg_day: float
    before_selection: float
    efficiency: float
    expected: float
    published: float | None


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
        published = None
        if own_exposure and name != "wimp":
            published = detector.background(name).published_expected_events
        rows.append(
            RateRow(
                name,
                numbers["rate_per_kg_day"],
                numbers["before_selection"],
                numbers["efficiency"],
                numbers["expected"],
                published,
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
        lines.append(
            f"{row.source:<12}{before:>14}{row.efficiency:>12.4f}{row.expected:>12.4g}{published:>12}"
        )
    return "\n".join(lines)


def _number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def rate_table_json(rows: list[RateRow]) -> dict:
    """``{"sources": {name: {"before_cuts", "efficiency", "expected", "published"}}}``;
    ``before_cuts`` is null for data-driven sources (their count is the published one)."""
    return {
        "sources": {
            row.source: {
                "before_cuts": _number(row.before_selection),
                "efficiency": _number(row.efficiency),
                "expected": _number(row.expected),
                "published": _number(row.published) if row.published is not None else None,
            }
            for row in rows
        }
    }
