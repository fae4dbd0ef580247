"""Microphysics: photons, electrons and S1 photon times from NEST (nestpy)."""

from wimpsift.microphysics.quanta import Quanta, nest_quanta

__all__ = ["Quanta", "nest_quanta"]
