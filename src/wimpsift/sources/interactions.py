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


def _nest_calc():
    import nestpy

    from wimpsift.microphysics.quanta import _stdout_to_stderr

    with _stdout_to_stderr():
        return nestpy.NESTcalc(nestpy.detectors.VDetector())


_NR_GRID_KEV = np.geomspace(0.05, 250.0, 400)  # NEST's NR yields end near 300 keV


def _energies_kev(calc, interaction, n_quanta: np.ndarray, density: float, field: float,
                  w_ev: float) -> np.ndarray:
    """Energies whose NEST mean quanta (photons + electrons) equal ``n_quanta``.

    ER: NEST's work function, E = W (n_ph + n_e). NR: NEST's mean yields on a grid,
    inverted by interpolation in log energy (the quanta rise monotonically).
    """
    import nestpy

    n_quanta = np.asarray(n_quanta, dtype=float)
    if interaction != nestpy.interactions.NR:
        return np.maximum(n_quanta * w_ev / 1000.0, 0.1)
    totals = np.array([(lambda y: y.PhotonYield + y.ElectronYield)(
        calc.GetYields(interaction, float(e), density, field)) for e in _NR_GRID_KEV])
    return np.exp(np.interp(n_quanta, totals, np.log(_NR_GRID_KEV)))


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
    with _stdout_to_stderr():
        w_ev = calc.WorkFunction(density, XENON_MOLAR_MASS, True).Wq_eV
        for kind, interaction in (("er", nestpy.interactions.beta), ("nr", nestpy.interactions.NR)):
            rows = kinds == kind
            if rows.any():
                energies[rows] = _energies_kev(calc, interaction, n_quanta[rows], density,
                                               field, w_ev)
        nestpy.RandomGen.rndm().set_seed(int(seed) % (2**31 - 1))
        times: list[np.ndarray] = []
        for kind, nph, nq, energy in zip(kinds, n_photons, n_quanta, energies, strict=True):
            if nph <= 0:
                times.append(np.zeros(0))
                continue
            interaction = nestpy.interactions.NR if kind == "nr" else nestpy.interactions.beta
            ratio = calc.GetYields(interaction, float(energy), density, field).ExcitonRatio
            excitons = min(int(round(nq * ratio / (1.0 + ratio))), int(nph))
            t = calc.GetPhotonTimes(interaction, int(nph), excitons, field, float(energy))
            times.append(np.asarray(t, dtype=float))
    return times
