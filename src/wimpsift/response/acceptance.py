"""Signal acceptance versus true recoil energy: the fraction of nuclear recoils of a
given energy that pass the threshold, the fiducial volume and the analysis window.

Recoils are drawn flat in energy in the fiducial slab and go through the full
event-level simulation (NEST quanta, per-PMT S1 detection, S2, corrections and
selections), so the curve is what the simulated experiment accepts, to compare with
a published acceptance: :func:`xenon1t_sr1_published_acceptance` reads XENON1T's
from the migration matrix of its 1 t x yr binwise likelihood release (PyPI
``xe-likelihood``, MIT, installed with the ``test`` extra), whose rows (true NR
energy) sum to the total efficiency of detection, selection cuts, the 1.3 t fiducial
volume and the ROI (cS1 3-70 PE, cS2_b 50.1-7940 PE for XENON1T SR1).
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

from wimpsift.detectors import Detector
from wimpsift.errors import bad_value
from wimpsift.sources.neutrons import RadiogenicNeutrons

FLAT_E_FOLD_KEV = 1e9  # an exponential this long is flat to 1e-7 over 100 keV
PLATEAU_KEV = (18.0, 30.0)  # above the rising edge, below the fall from the cS1 < 70 PE end


def xenon1t_sr1_published_acceptance() -> tuple[np.ndarray, np.ndarray]:
    """True-energy bin centres (keVnr) and row sums of XENON1T's SR1 migration matrix."""
    try:
        from xe_likelihood.data import xe1t_nr_1ty_result
    except ImportError as err:
        raise ImportError("the published XENON1T acceptance needs 'xe-likelihood' "
                          "(pip install 'wimpsift[test]')") from err
    matrix = json.loads((resources.files(xe1t_nr_1ty_result) / "XENON1T_binwise_NR_MM.json").read_text())
    axis = matrix["Xedges"]
    edges = np.linspace(axis["low_edge"], axis["high_edge"], axis["N"])
    rows = np.asarray(matrix["Z"]["Data"]["0"], dtype=float)
    return 0.5 * (edges[1:] + edges[:-1]), rows.sum(axis=1)


def plateau(energy_kev: np.ndarray, acceptance: np.ndarray) -> float:
    """Mean acceptance over ``PLATEAU_KEV``."""
    energy_kev = np.asarray(energy_kev)
    inside = (energy_kev >= PLATEAU_KEV[0]) & (energy_kev <= PLATEAU_KEV[1])
    return float(np.mean(np.asarray(acceptance)[inside]))


def nr_acceptance(detector: Detector, energy_edges_kev: np.ndarray, n_events: int, seed: int
                  ) -> np.ndarray:
    """NR events in the analysis window per true-energy bin, as a fraction of those that
    interact in the fiducial mass (the recoils are drawn in the fiducial slab:
    :mod:`wimpsift.sources.positions`)."""
    from wimpsift.response.event_level import simulate_events
    from wimpsift.sources.positions import sampled_mass_ratio

    edges = np.asarray(energy_edges_kev, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] <= 0:
        raise bad_value("energy_edges_kev", energy_edges_kev, "increasing positive bin edges")
    flat = RadiogenicNeutrons(
        name="nr_flat", recoil_type="nr", energy_min_kev=float(edges[0]),
        energy_max_kev=float(edges[-1]), rate_per_tonne_year=1.0,
        rate_energy_min_kev=float(edges[0]), rate_energy_max_kev=float(edges[-1]),
        e_fold_kev=FLAT_E_FOLD_KEV,
    )
    events = simulate_events(detector, flat, n_events, seed)
    which = np.digitize(events["energy_kev"].to_numpy(), edges) - 1
    inside = (which >= 0) & (which < edges.size - 1)
    total = np.bincount(which[inside], minlength=edges.size - 1)
    passed = np.bincount(which[inside], weights=events["in_window"].to_numpy()[inside],
                         minlength=edges.size - 1)
    fraction = np.divide(passed, total, out=np.zeros(total.size), where=total > 0)
    return fraction * sampled_mass_ratio(detector)


def rising_edge_energies(energy_kev: np.ndarray, acceptance: np.ndarray, plateau: float,
                         levels: tuple[float, ...] = (0.1, 0.5, 0.9)) -> list[float]:
    """Energies where the acceptance first reaches each level × plateau (linear interpolation)."""
    energy_kev, acceptance = np.asarray(energy_kev, dtype=float), np.asarray(acceptance, dtype=float)
    out = []
    for level in levels:
        target = level * plateau
        above = np.flatnonzero(acceptance >= target)
        if above.size == 0 or above[0] == 0:
            out.append(float("nan"))
            continue
        i = int(above[0])
        e0, e1, a0, a1 = energy_kev[i - 1], energy_kev[i], acceptance[i - 1], acceptance[i]
        out.append(float(e0 + (target - a0) * (e1 - e0) / (a1 - a0)))
    return out
