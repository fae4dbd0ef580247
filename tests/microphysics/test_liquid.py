"""NEST sees the liquid density a detector declares (``geometry.liquid_density_g_cm3``)."""

import numpy as np
import pytest

from wimpsift.detectors import load_detector
from wimpsift.microphysics import nest_quanta
from wimpsift.microphysics.liquid import nest_temperature_k
from wimpsift.microphysics.quanta import nest_detector


@pytest.mark.parametrize("name", ["lux_2013", "lz_ws2024", "xenon1t_sr0"])
def test_nest_detector_has_the_declared_density(name):
    import nestpy

    detector = load_detector(name)
    nest = nest_detector(detector)
    density = nestpy.NESTcalc(nest).SetDensity(nest.get_T_Kelvin(), nest.get_p_bar())
    assert density == pytest.approx(detector.geometry.liquid_density_g_cm3, abs=1e-6)


def test_a_denser_liquid_is_colder():
    assert nest_temperature_k(2.888) < nest_temperature_k(2.862)


@pytest.mark.parametrize("recoil_type, energy_kev", [("er", 5.0), ("nr", 20.0)])
def test_mean_quanta_are_nests_yields_at_the_declared_density(lux, recoil_type, energy_kev):
    """LUX's 2.888 g/cm³ (NEST's own default liquid, 2.861 g/cm³, gives 1.4 % fewer ER
    photons at 5 keV): the mean quanta of the simulation are NEST's mean yields there."""
    import nestpy

    n = 40_000
    quanta = nest_quanta(np.full(n, energy_kev), recoil_type, np.full(n, -20.0), lux, seed=3)
    interaction = nestpy.interactions.beta if recoil_type == "er" else nestpy.interactions.NR
    mean = nestpy.NESTcalc(nestpy.detectors.VDetector()).GetYields(
        interaction, energy_kev, lux.geometry.liquid_density_g_cm3, lux.drift.drift_field_v_cm)
    assert quanta.n_photons.mean() == pytest.approx(mean.PhotonYield, rel=0.004)
    assert quanta.n_electrons.mean() == pytest.approx(mean.ElectronYield, rel=0.004)
