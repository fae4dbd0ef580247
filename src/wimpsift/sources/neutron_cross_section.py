"""Neutron total cross-section of natural xenon at MeV energies, from ENDF/B-VII.1.

The isotopes' pointwise total cross-sections (ENDF/B-VII.1 as distributed by NNDC, rows
transcribed in ``sources/data/xenon_neutron_total_cross_section_endfb71.csv``, source and
licence in the file) are weighted with the atom fractions of natural xenon. Between
tabulated energies the cross-section is interpolated linearly in energy (the pointwise
tables are reconstructed for linear interpolation). 124Xe and 126Xe (0.18 % of the atoms)
are not tabulated; the weights are renormalised over the tabulated isotopes, i.e. the two
are given the mean of the others.

The total includes inelastic scattering (the odd isotopes have levels at tens of keV) and
capture (negligible at MeV). ``neutron_scatters`` treats every interaction as an elastic
scatter, so its multiplicity counts interaction sites.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from wimpsift.sources.tables import data_table

XENON_ATOM_FRACTIONS = {124: 0.000952, 126: 0.000890, 128: 0.019102, 129: 0.264006,
                        130: 0.040710, 131: 0.212324, 132: 0.269086, 134: 0.104357,
                        136: 0.088573}
"""natural xenon, atom fractions: the IUPAC representative isotopic composition as listed
in NIST's "Atomic Weights and Isotopic Compositions" (Xe)"""
TABLE_FILE = "xenon_neutron_total_cross_section_endfb71.csv"


@cache
def isotope_tables() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Tabulated (energy in MeV, total cross-section in barn) per mass number."""
    rows = data_table(TABLE_FILE)
    tables = {}
    for mass_number in np.unique(rows[:, 0]).astype(int):
        sel = rows[:, 0] == mass_number
        tables[int(mass_number)] = (rows[sel, 1], rows[sel, 2])
    return tables


def natural_xenon_total_cross_section_barn(energy_mev: np.ndarray | float) -> np.ndarray:
    """σ_tot of natural xenon at ``energy_mev`` (within the table's 0.5–3 MeV), barn."""
    energy = np.asarray(energy_mev, dtype=float)
    tables = isotope_tables()
    low = max(e[0] for e, _ in tables.values())
    high = min(e[-1] for e, _ in tables.values())
    if np.any(energy < low) or np.any(energy > high):
        raise ValueError(f"energy_mev: expected values in [{low}, {high}] MeV, the range "
                         "tabulated for every isotope")
    weights = np.array([XENON_ATOM_FRACTIONS[a] for a in tables])
    sigma = np.array([np.interp(energy, e, s) for e, s in tables.values()])
    return np.tensordot(weights / weights.sum(), sigma, axes=1)


def mean_total_cross_section_barn(energy_min_mev: float, energy_max_mev: float) -> float:
    """σ_tot of natural xenon averaged uniformly over an energy interval, barn."""
    energy = np.linspace(energy_min_mev, energy_max_mev, 2001)
    sigma = natural_xenon_total_cross_section_barn(energy)
    return float(np.trapezoid(sigma, energy) / (energy_max_mev - energy_min_mev))
