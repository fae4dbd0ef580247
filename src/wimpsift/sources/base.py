"""The source contract: a recoil spectrum, a rate, and event sampling.

Every source gives ``differential_rate_per_kg_day_kev(energy_kev)``, its integral
``rate_per_kg_day`` over ``energy_range_kev``, and draws energies by inverse-CDF
sampling on a fine grid. Data-driven sources (accidental, wall, anomalous) are
defined by an expected count in the analysis window instead; for them
``expected_in_window`` is set and the simulation applies it directly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

RecoilType = Literal["er", "nr"]
_GRID_POINTS = 4000


@dataclass
class Source(ABC):
    """A recoil-energy source in a liquid-xenon target."""

    name: str
    recoil_type: RecoilType
    energy_min_kev: float
    energy_max_kev: float
    _cdf: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)
    waveform_only: ClassVar[bool] = False
    """True for sources whose positions and topology only the waveform route simulates
    (:mod:`wimpsift.sources.topology`); the event-level simulation refuses them"""

    @property
    def energy_range_kev(self) -> tuple[float, float]:
        return (self.energy_min_kev, self.energy_max_kev)

    @abstractmethod
    def differential_rate_per_kg_day_kev(self, energy_kev: np.ndarray) -> np.ndarray:
        """Differential rate in events / (kg day keV) at the given recoil energies."""

    @property
    def expected_in_window(self) -> tuple[float, float] | None:
        """(events, reference exposure in kg·day) for data-driven sources, else None."""
        return None

    def energy_grid_kev(self) -> np.ndarray:
        lo, hi = self.energy_range_kev
        return np.geomspace(lo, hi, _GRID_POINTS)

    @property
    def rate_per_kg_day(self) -> float:
        """Total rate over the energy range, events / (kg day)."""
        grid = self.energy_grid_kev()
        return float(np.trapezoid(self.differential_rate_per_kg_day_kev(grid), grid))

    def sample_energies_kev(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` recoil energies (keV) from the normalised spectrum."""
        if self._cdf is None:
            grid = self.energy_grid_kev()
            rate = np.clip(self.differential_rate_per_kg_day_kev(grid), 0.0, None)
            cdf = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(grid))])
            if cdf[-1] <= 0:
                from wimpsift.errors import ConfigError  # a ValueError too

                raise ConfigError(f"source {self.name!r} has zero rate over its energy range "
                                  f"({self.energy_min_kev:g}-{self.energy_max_kev:g} keV)")
            self._cdf = (cdf / cdf[-1], grid)
        cdf, grid = self._cdf
        return np.interp(rng.random(n), cdf, grid)
