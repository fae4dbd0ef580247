"""Data-driven backgrounds of the CNN paper's Table I, as documented parametric models.

In the experiments these are modelled from side-band data; here each is a physical
caricature whose *count* in the analysis window is the published one, scaled with
exposure:

- ``accidental``: a lone S1 from one low-energy ER paired with a lone S2 from
  another, at an unrelated depth (random drift time in the fiducial range);
- ``wall``: ER events on the PTFE wall whose electrons partly stick to the wall
  (kept fraction uniform in [charge_kept_min, charge_kept_max]); their position is
  reconstructed inward by the position resolution of the small S2;
- ``anomalous``: ER events with anomalously low charge yield (kept fraction uniform
  in [charge_kept_min, charge_kept_max]);
- ``surface``: the wall population over the wall's whole height, 206Pb recoils and
  betas (:mod:`wimpsift.sources.surface`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from wimpsift.sources.electronic import FlatElectronicRecoils

DataDrivenKind = Literal["accidental", "wall", "anomalous", "surface"]


@dataclass
class DataDrivenSource(FlatElectronicRecoils):
    kind: DataDrivenKind = "accidental"
    expected_events: float = 0.0
    reference_exposure_kg_days: float = 1.0
    charge_kept_min: float = 1.0
    charge_kept_max: float = 1.0

    @property
    def expected_in_window(self) -> tuple[float, float]:
        return (self.expected_events, self.reference_exposure_kg_days)

    def charge_kept_fraction(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.charge_kept_min, self.charge_kept_max, n)
