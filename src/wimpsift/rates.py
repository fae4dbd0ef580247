"""Expected-count table (the CNN paper's Table I) for a detector, exposure and WIMP.

Each physical source: rate over its energy range × fiducial exposure × the fraction
of simulated events in the analysis window (threshold, fiducial volume, cS1 and S2
window). Data-driven sources: their published counts scaled with exposure.
"""

from __future__ import annotations

from dataclasses import dataclass

from wimpsift.detectors import Detector
from wimpsift.papers import CNN_TABLE_I_EXPECTED_EVENTS
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
    paper_value: float | None


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
    compare = detector.name == "xenon1t_sr0" and exposure_kg_days is None
    for name in source_names(detector):
        source = make_source(detector, name, mass_gev, sigma_cm2, halo)
        # each source's efficiency run has its own child stream of the run's seed
        numbers = expected_events(detector, source, exposure_kg_days, n_mc,
                                  seed_sequence(seed, "rates", name))
        paper_value = CNN_TABLE_I_EXPECTED_EVENTS.get(name) if compare else None
        if name == "wimp" and not (mass_gev == 500.0 and sigma_cm2 == 1e-45):
            paper_value = None
        rows.append(
            RateRow(
                name,
                numbers["rate_per_kg_day"],
                numbers["before_selection"],
                numbers["efficiency"],
                numbers["expected"],
                paper_value,
            )
        )
    return rows


def format_rate_table(rows: list[RateRow], detector: Detector, exposure_kg_days: float) -> str:
    lines = [
        f"Expected events in the analysis window: {detector.name}, exposure {exposure_kg_days:.1f} kg·day",
        f"{'source':<12}{'before cuts':>14}{'efficiency':>12}{'expected':>12}{'paper (Tab. I)':>15}",
    ]
    for row in rows:
        before = (
            "data-driven" if row.before_selection != row.before_selection else f"{row.before_selection:.4g}"
        )
        paper = "" if row.paper_value is None else f"{row.paper_value:.4g}"
        lines.append(f"{row.source:<12}{before:>14}{row.efficiency:>12.4f}{row.expected:>12.4g}{paper:>15}")
    return "\n".join(lines)
