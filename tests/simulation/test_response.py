"""Physical properties of the event-level detector response."""

import numpy as np
import pytest

from wimpsift.plots.bands import band_medians
from wimpsift.response.event_level import simulate_events
from wimpsift.sources import make_source
from wimpsift.sources.electronic import ElectronicRecoilLines


def _line(energy_kev: float) -> ElectronicRecoilLines:
    return ElectronicRecoilLines(
        name="line",
        recoil_type="er",
        energy_min_kev=0.5 * energy_kev,
        energy_max_kev=2 * energy_kev,
        energies_kev=[energy_kev],
        rates_per_kg_day=[1.0],
        widths_kev=[0.0],
    )


@pytest.fixture(scope="module")
def bands(xenon1t):
    er = simulate_events(xenon1t, make_source(xenon1t, "er"), 60_000, seed=11)
    nr = simulate_events(xenon1t, make_source(xenon1t, "wimp", mass_gev=100.0), 60_000, seed=12)
    return er[er.in_window], nr[nr.in_window]


def test_nr_band_lies_below_er_band(bands, xenon1t):
    er, nr = bands
    edges = np.linspace(xenon1t.window.cs1_min_pe, xenon1t.window.cs1_max_pe, 12)
    _, er_median = band_medians(er, edges)
    _, nr_median = band_medians(nr, edges)
    ok = np.isfinite(er_median) & np.isfinite(nr_median)
    assert ok.sum() >= 8
    assert np.all(nr_median[ok] < er_median[ok] - 0.1)


def test_er_leakage_below_nr_median_is_of_published_order(bands, xenon1t):
    er, nr = bands
    edges = np.linspace(xenon1t.window.cs1_min_pe, xenon1t.window.cs1_max_pe, 12)
    centres, nr_median = band_medians(nr, edges)
    ok = np.isfinite(nr_median)
    y = np.log10(er["cs2_pe"] / er["cs1_pe"])
    threshold = np.interp(er["cs1_pe"], centres[ok], nr_median[ok])
    leakage = float(np.mean(y < threshold))
    # XENON1T: ~99.7-99.8 % rejection at 50 % NR acceptance, i.e. 0.2-0.3 % leakage
    assert 0.001 < leakage < 0.01


def test_mean_cs1_scales_with_g1(xenon1t):
    doubled = xenon1t.model_copy(
        update={
            "light": xenon1t.light.model_copy(update={"g1_pe_per_photon": 2 * xenon1t.light.g1_pe_per_photon})
        }
    )
    a = simulate_events(xenon1t, _line(40.0), 20_000, seed=3)
    b = simulate_events(doubled, _line(40.0), 20_000, seed=3)
    assert b["cs1_pe"].mean() / a["cs1_pe"].mean() == pytest.approx(2.0, rel=0.02)


def test_cs2_is_independent_of_depth_after_correction(xenon1t):
    ev = simulate_events(xenon1t, _line(40.0), 40_000, seed=4)
    top = ev[ev.z_cm > -40]
    bottom = ev[ev.z_cm < -60]
    assert bottom["s2_area_pe"].mean() < 0.95 * top["s2_area_pe"].mean()  # lifetime loss is real
    diff = top["cs2_pe"].mean() - bottom["cs2_pe"].mean()
    err = np.hypot(top["cs2_pe"].std() / np.sqrt(len(top)), bottom["cs2_pe"].std() / np.sqrt(len(bottom)))
    assert abs(diff) < 4 * err


def test_cs1_corrects_the_light_collection_map(xenon1t):
    ev = simulate_events(xenon1t, _line(40.0), 40_000, seed=5)
    top, bottom = ev[ev.z_cm > -40], ev[ev.z_cm < -60]
    assert bottom["s1_area_pe"].mean() > 1.05 * top["s1_area_pe"].mean()
    assert bottom["cs1_pe"].mean() == pytest.approx(top["cs1_pe"].mean(), rel=0.02)


def test_position_resolution_improves_with_s2(xenon1t):
    ev = simulate_events(xenon1t, make_source(xenon1t, "er"), 30_000, seed=6)
    err = np.hypot(ev.x_cm - ev.x_true_cm, ev.y_cm - ev.y_true_cm)
    small = err[ev.s2_top_area_pe < np.percentile(ev.s2_top_area_pe, 25)].median()
    large = err[ev.s2_top_area_pe > np.percentile(ev.s2_top_area_pe, 75)].median()
    assert large < small


def test_prompt_fraction_higher_for_nr_than_er(lux):
    er = simulate_events(lux, make_source(lux, "er"), 3000, seed=7, prompt_fraction=True)
    nr = simulate_events(lux, make_source(lux, "wimp", mass_gev=50.0), 3000, seed=8, prompt_fraction=True)
    er, nr = er[er.in_window], nr[nr.in_window]
    sel_er = er[(er.cs1_pe > 15) & (er.cs1_pe < 40)]
    sel_nr = nr[(nr.cs1_pe > 15) & (nr.cs1_pe < 40)]
    assert sel_nr["s1_prompt_fraction"].mean() > sel_er["s1_prompt_fraction"].mean()


def test_data_driven_sources_behave_as_modelled(xenon1t):
    wall = simulate_events(xenon1t, make_source(xenon1t, "wall"), 20_000, seed=9)
    assert np.allclose(np.hypot(wall.x_true_cm, wall.y_true_cm), xenon1t.geometry.tpc_radius_cm)
    assert (wall.r_cm < xenon1t.geometry.tpc_radius_cm - 1).mean() > 0.1  # reconstructed inwards
    er = simulate_events(xenon1t, make_source(xenon1t, "er"), 20_000, seed=10)
    anomalous = simulate_events(xenon1t, make_source(xenon1t, "anomalous"), 20_000, seed=10)
    ratio_anom = np.median(np.log10(anomalous.cs2_pe / anomalous.cs1_pe)[anomalous.in_window])
    ratio_er = np.median(np.log10(er.cs2_pe / er.cs1_pe)[er.in_window])
    assert ratio_anom < ratio_er - 0.1


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("acceptance", [1.0, 0.935, 0.5])
def test_found_probability_is_one_minus_all_photoelectrons_missed(xenon1t, acceptance):
    from wimpsift.response.light import found_probability

    detector = xenon1t.model_copy(update={"light": xenon1t.light.model_copy(
        update={"spe_acceptance": acceptance})})
    n_pe = np.array([1, 2, 5])
    assert np.allclose(found_probability(n_pe, detector), 1 - (1 - acceptance) ** n_pe)
