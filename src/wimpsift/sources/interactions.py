"""Interaction lists: several interactions per event, each with its position, time,
recoil type and produced quanta.

This is what the waveform simulation starts from (:mod:`wimpsift.waveforms.event`):
simulated sources turn their sampled recoils into an interaction list, and an
instruction CSV (:mod:`wimpsift.io.instructions`) is read into one, so both go
through the same waveform code. An accidental coincidence is an event of two
interactions (one giving only light, one only charge).

Photon emission times: an interaction is known by its photon and electron counts (an
instruction gives no energy), so :func:`nest_photon_times` asks NEST
(``GetPhotonTimes``) for the times, with the energy at which NEST's mean yields give
that many quanta and NEST's exciton share at that energy. Simulated sources use the
same function, so the same interactions give the same pulses from either route. The
quanta-to-energy inversion is written here: NEST has no such function.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from wimpsift.detectors import Detector

XENON_MOLAR_MASS = 131.293


@dataclass
class InteractionList:
    """Interactions grouped into events; arrays have one entry per interaction.

    ``event`` numbers the events 0..n_events-1 (non-decreasing); ``z_cm`` is negative
    below the gate; ``t_ns`` is the interaction time since the start of the event.
    ``charge_kept`` (default 1) is the fraction of electrons not lost before the drift
    (wall and anomalous events). ``energy_kev`` is NaN where unknown (instructions).
    """

    event: np.ndarray
    recoil_type: np.ndarray
    x_cm: np.ndarray
    y_cm: np.ndarray
    z_cm: np.ndarray
    t_ns: np.ndarray
    n_photons: np.ndarray
    n_electrons: np.ndarray
    energy_kev: np.ndarray
    charge_kept: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.event.size)

    @property
    def n_events(self) -> int:
        return int(self.event.max()) + 1 if self.event.size else 0

    def event_slices(self) -> list[slice]:
        """Interaction rows of each event (``event`` is sorted)."""
        bounds = np.searchsorted(self.event, np.arange(self.n_events + 1))
        return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def events(self, start: int, stop: int) -> InteractionList:
        """The interactions of events [start, stop), renumbered from 0."""
        a, b = np.searchsorted(self.event, [start, stop])
        rows = slice(int(a), int(b))
        return InteractionList(
            event=self.event[rows] - start, recoil_type=self.recoil_type[rows],
            x_cm=self.x_cm[rows], y_cm=self.y_cm[rows], z_cm=self.z_cm[rows],
            t_ns=self.t_ns[rows], n_photons=self.n_photons[rows],
            n_electrons=self.n_electrons[rows], energy_kev=self.energy_kev[rows],
            charge_kept=None if self.charge_kept is None else self.charge_kept[rows],
        )


def single_interactions(
    recoil_type: str, x_cm, y_cm, z_cm, n_photons, n_electrons, energy_kev,
) -> InteractionList:
    """One interaction per event, at time zero."""
    n = np.asarray(x_cm).size
    return InteractionList(
        event=np.arange(n, dtype=np.int64),
        recoil_type=np.full(n, recoil_type, dtype=object),
        x_cm=np.asarray(x_cm, float), y_cm=np.asarray(y_cm, float), z_cm=np.asarray(z_cm, float),
        t_ns=np.zeros(n),
        n_photons=np.asarray(n_photons, np.int64), n_electrons=np.asarray(n_electrons, np.int64),
        energy_kev=np.asarray(energy_kev, float),
    )


@lru_cache(maxsize=1)
def _nest_calc():
    import nestpy

    from wimpsift.microphysics.quanta import _stdout_to_stderr

    with _stdout_to_stderr():
        return nestpy.NESTcalc(nestpy.detectors.VDetector())


_GRID_KEV = np.geomspace(0.05, 250.0, 400)  # NEST's NR yields end near 300 keV


@lru_cache(maxsize=16)
def _yield_grid(kind: str, density: float, field: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energies, NEST's mean quanta (photons + electrons) and exciton ratio on a grid.

    Only energies where the quanta are positive and rising are kept (NEST's NR yields
    are zero below about 0.2 keV), so the quanta can be inverted by interpolation.
    """
    import nestpy

    from wimpsift.microphysics.quanta import _stdout_to_stderr

    interaction = nestpy.interactions.NR if kind == "nr" else nestpy.interactions.beta
    calc = _nest_calc()
    with _stdout_to_stderr():
        yields = [calc.GetYields(interaction, float(e), density, field) for e in _GRID_KEV]
    total = np.array([y.PhotonYield + y.ElectronYield for y in yields])
    ratio = np.array([y.ExcitonRatio for y in yields])
    keep = (total > 0) & (total > np.maximum.accumulate(np.concatenate([[0.0], total[:-1]])))
    return _GRID_KEV[keep], total[keep], ratio[keep]


def _energies_and_excitons(kind: str, n_quanta: np.ndarray, density: float, field: float,
                           w_ev: float) -> tuple[np.ndarray, np.ndarray]:
    """Energies (keV) whose NEST mean quanta equal ``n_quanta``, and exciton counts.

    ER: NEST's work function, E = W (n_ph + n_e). NR: NEST's mean yields on a grid,
    inverted by interpolation in log energy (the quanta rise monotonically). The exciton
    share Nex / (Nex + Ni) is NEST's at that energy.
    """
    n_quanta = np.asarray(n_quanta, dtype=float)
    grid, total, ratio = _yield_grid(kind, density, field)
    log_grid = np.log(grid)
    if kind == "nr":
        energy = np.exp(np.interp(n_quanta, total, log_grid))
    else:
        energy = np.clip(n_quanta * w_ev / 1000.0, grid[0], None)
    r = np.interp(np.log(energy), log_grid, ratio)
    return energy, np.rint(n_quanta * r / (1.0 + r)).astype(np.int64)


def nest_photon_times(recoil_type: np.ndarray, n_photons: np.ndarray, n_electrons: np.ndarray,
                      detector: Detector, seed: int) -> list[np.ndarray]:
    """NEST emission times (ns) of each interaction's photons, from its quanta alone.

    NEST (``GetPhotonTimes``) draws singlet, triplet and recombination delays; it is
    given the energy at which its mean yields give the interaction's quanta and its
    exciton share at that energy. Seeded by ``seed``: the same inputs give the same times.
    """
    import nestpy

    from wimpsift.microphysics.quanta import _stdout_to_stderr

    calc = _nest_calc()
    density = detector.geometry.liquid_density_g_cm3
    field = detector.drift.drift_field_v_cm
    n_photons = np.asarray(n_photons, dtype=np.int64)
    n_quanta = n_photons + np.asarray(n_electrons, dtype=np.int64)
    kinds = np.asarray(recoil_type, dtype=object)
    energies = np.zeros(n_photons.size)
    excitons = np.zeros(n_photons.size, dtype=np.int64)
    w_ev = calc.WorkFunction(density, XENON_MOLAR_MASS, True).Wq_eV
    for kind in ("er", "nr"):
        rows = kinds == kind
        if rows.any():
            energies[rows], excitons[rows] = _energies_and_excitons(
                kind, n_quanta[rows], density, field, w_ev)
    excitons = np.minimum(excitons, n_photons)
    species = {"er": nestpy.interactions.beta, "nr": nestpy.interactions.NR}
    times: list[np.ndarray] = []
    with _stdout_to_stderr():
        nestpy.RandomGen.rndm().set_seed(int(seed) % (2**31 - 1))
        for kind, nph, nex, energy in zip(kinds, n_photons, excitons, energies, strict=True):
            if nph <= 0:
                times.append(np.zeros(0))
                continue
            t = calc.GetPhotonTimes(species[kind], int(nph), int(nex), field, float(energy))
            times.append(np.asarray(t, dtype=float))
    return times
