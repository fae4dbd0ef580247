"""Radiogenic neutron single scatters: an exponential nuclear-recoil spectrum.

The spectrum shape exp(-E/E0) is a modelling choice (it describes simulated
single-scatter neutron spectra in xenon TPCs to about 20 % in 5–50 keVnr); its
normalisation is the detector's published rate in a stated energy interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wimpsift.sources.base import Source
from wimpsift.sources.wimp import KG_DAY_PER_TONNE_YEAR


@dataclass
class RadiogenicNeutrons(Source):
    rate_per_tonne_year: float = 1.0
    rate_energy_min_kev: float = 4.0
    rate_energy_max_kev: float = 50.0
    e_fold_kev: float = 40.0

    def differential_rate_per_kg_day_kev(self, energy_kev: np.ndarray) -> np.ndarray:
        energy_kev = np.asarray(energy_kev, dtype=float)
        e0 = self.e_fold_kev
        in_interval = e0 * (np.exp(-self.rate_energy_min_kev / e0) - np.exp(-self.rate_energy_max_kev / e0))
        norm = self.rate_per_tonne_year / KG_DAY_PER_TONNE_YEAR / in_interval
        inside = (energy_kev >= self.energy_min_kev) & (energy_kev <= self.energy_max_kev)
        return np.where(inside, norm * np.exp(-energy_kev / e0), 0.0)
