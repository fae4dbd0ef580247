"""Electronic-recoil backgrounds: a flat beta/gamma continuum and mono-energetic lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wimpsift.sources.base import Source


@dataclass
class FlatElectronicRecoils(Source):
    """Flat ER spectrum (85Kr and 214Pb betas, Compton gammas) at a rate per kg·day·keVee."""

    rate_per_kg_day_kev: float = 1.0

    def differential_rate_per_kg_day_kev(self, energy_kev: np.ndarray) -> np.ndarray:
        energy_kev = np.asarray(energy_kev, dtype=float)
        inside = (energy_kev >= self.energy_min_kev) & (energy_kev <= self.energy_max_kev)
        return np.where(inside, self.rate_per_kg_day_kev, 0.0)

    @property
    def rate_per_kg_day(self) -> float:
        return self.rate_per_kg_day_kev * (self.energy_max_kev - self.energy_min_kev)

    def sample_energies_kev(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.energy_min_kev, self.energy_max_kev, n)


@dataclass
class ElectronicRecoilLines(Source):
    """Mono-energetic ER lines (127Xe shells, 37Ar K shell), optionally Gaussian-smeared."""

    energies_kev: list[float] = field(default_factory=list)
    rates_per_kg_day: list[float] = field(default_factory=list)
    widths_kev: list[float] = field(default_factory=list)

    def differential_rate_per_kg_day_kev(self, energy_kev: np.ndarray) -> np.ndarray:
        energy_kev = np.asarray(energy_kev, dtype=float)
        out = np.zeros_like(energy_kev)
        for e0, rate, width in zip(self.energies_kev, self.rates_per_kg_day, self.widths_kev, strict=True):
            sigma = max(width, 0.01 * e0)  # a delta line drawn as a narrow Gaussian
            out += rate * np.exp(-0.5 * ((energy_kev - e0) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
        return out

    @property
    def rate_per_kg_day(self) -> float:
        return float(np.sum(self.rates_per_kg_day))

    def sample_energies_kev(self, n: int, rng: np.random.Generator) -> np.ndarray:
        p = np.asarray(self.rates_per_kg_day) / np.sum(self.rates_per_kg_day)
        line = rng.choice(len(p), size=n, p=p)
        e0 = np.asarray(self.energies_kev)[line]
        width = np.asarray(self.widths_kev)[line]
        return np.clip(e0 + width * rng.standard_normal(n), 1e-3, None)
