"""Backgrounds with their topology at waveform level, the processing quantities real
selections use, and XENON1T's standard selection (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest

from wimpsift.processing.reconstruction import process_events
from wimpsift.processing.topology import (
    _box_gauss_quartile_width,
    expected_s2_width_ns,
    poisson_deviance,
)
from wimpsift.response.pmt_light import s2_top_lrf
from wimpsift.sources import make_source
from wimpsift.sources.neutron_cross_section import (
    XENON_ATOM_FRACTIONS,
    isotope_tables,
    mean_total_cross_section_barn,
    natural_xenon_total_cross_section_barn,
)
from wimpsift.sources.neutron_scatters import (
    NEUTRON_ENERGY_RANGE_MEV,
    TOTAL_CROSS_SECTION_BARN,
    mean_free_path_cm,
    multiplicities,
    scatter_tracks,
    single_scatter_fraction,
)
from wimpsift.sources.topology import expected_topology_events
from wimpsift.waveforms.event import simulate_waveform_events, source_interactions


@pytest.fixture(scope="module")
def processed(xenon1t):
    """Processed waveform events of a few sources (about 20 s in all)."""
    out = {}
    for name, n, seed in (("er", 300, 1), ("neutrons", 150, 2), ("accidental", 200, 3),
                          ("wall", 150, 4)):
        raw = simulate_waveform_events(xenon1t, make_source(xenon1t, name), n, seed=seed)
        table = process_events(raw).table
        table["n_interactions"] = raw.truth["n_interactions"].to_numpy()
        out[name] = table
    return out


# ---- neutron transport -----------------------------------------------------------------
def test_mean_free_path_from_density_and_cross_section(xenon1t):
    n_xe = xenon1t.geometry.liquid_density_g_cm3 * 6.02214076e23 / 131.293
    assert mean_free_path_cm(xenon1t) == pytest.approx(1 / (n_xe * TOTAL_CROSS_SECTION_BARN
                                                            * 1e-24))
    assert 10.0 < mean_free_path_cm(xenon1t) < 13.0  # 1-2 MeV neutrons in LXe, ENDF/B-VII.1


def test_natural_xenon_cross_section_is_the_abundance_weighted_table():
    """At 1 MeV every isotope has a tabulated row: natural xenon's value is their
    atom-fraction-weighted mean (renormalised over the tabulated isotopes), read back
    from the shipped rows without interpolation."""
    tables = isotope_tables()
    assert sorted(tables) == [128, 129, 130, 131, 132, 134, 136]
    weight = sum(XENON_ATOM_FRACTIONS[a] for a in tables)
    assert weight == pytest.approx(1 - 0.000952 - 0.000890)
    at_1mev = sum(XENON_ATOM_FRACTIONS[a] * s[e == 1.0][0] for a, (e, s) in tables.items())
    assert natural_xenon_total_cross_section_barn(1.0) == pytest.approx(at_1mev / weight)
    # every isotope covers 0.5-3 MeV, on increasing energies, with 4.5-7 b
    for e, s in tables.values():
        assert e[0] == 0.5 and e[-1] >= 3.0 and np.all(np.diff(e) > 0)
        assert np.all((s > 4.5) & (s < 7.0))


def test_cross_section_mean_and_range():
    """The 1-2 MeV mean lies between the interval's end values (the cross-section
    peaks near 1.2 MeV and falls towards 2 MeV, where the neutron's wavelength shrinks);
    energies outside the tabulated range are refused."""
    sigma = natural_xenon_total_cross_section_barn(np.array([1.0, 1.25, 2.0, 3.0]))
    assert sigma[1] > sigma[0] > sigma[2] > sigma[3]
    mean = mean_total_cross_section_barn(*NEUTRON_ENERGY_RANGE_MEV)
    assert mean == TOTAL_CROSS_SECTION_BARN
    assert sigma[2] < mean < sigma[1]
    with pytest.raises(ValueError, match="energy_mev"):
        natural_xenon_total_cross_section_barn(0.1)


def test_path_to_first_scatter_is_exponential_in_an_unbounded_target(xenon1t):
    """In a target much larger than λ nothing leaves before its first scatter: the path
    from entry to the first scatter is exponential with mean λ; later steps match the
    distances between scatter positions."""
    huge = xenon1t.model_copy(update={"geometry": xenon1t.geometry.model_copy(
        update={"tpc_radius_cm": 5000.0, "tpc_length_cm": 10000.0})})
    track, xyz, path = scatter_tracks(5000, huge, np.random.default_rng(0))
    first = np.concatenate([[True], track[1:] != track[:-1]])
    assert first.sum() > 4990  # only grazing entries at the rim leave unscattered
    lam = mean_free_path_cm(huge)
    assert path[first].mean() == pytest.approx(lam, rel=0.04)
    assert np.median(path[first]) == pytest.approx(lam * np.log(2), rel=0.05)
    same = ~first[1:]
    steps = np.linalg.norm(np.diff(xyz, axis=0), axis=1)[same]
    assert np.allclose(np.diff(path)[same], steps)


def test_multiplicity_grows_with_target_size(xenon1t, lux):
    rng = np.random.default_rng(1)
    m_big = multiplicities(xenon1t, 4000, rng, "active")
    m_small = multiplicities(lux, 4000, rng, "active")
    assert (m_big >= 1).all() and (m_small >= 1).all()
    assert m_big.mean() > m_small.mean() > 1.5
    assert 0 < single_scatter_fraction(xenon1t) < np.mean(m_big == 1)


def test_neutron_rate_adds_multiple_scatters_to_the_single_scatter_rate(xenon1t):
    source = make_source(xenon1t, "neutrons")
    single = source.rate_per_kg_day * xenon1t.fiducial.mass_kg * xenon1t.exposure.live_days
    total = expected_topology_events(xenon1t, source)
    assert total == pytest.approx(single / single_scatter_fraction(xenon1t))
    assert total > 5 * single
    assert expected_topology_events(xenon1t, make_source(xenon1t, "wall")) is None


def test_neutron_interactions_are_reproducible_and_multi_scatter(xenon1t):
    source = make_source(xenon1t, "neutrons")
    a = source_interactions(xenon1t, source, 50, seed=5)
    b = source_interactions(xenon1t, source, 50, seed=5)
    assert a.n_events == 50 and len(a) > 100
    for name in ("event", "x_cm", "z_cm", "t_ns", "n_photons", "n_electrons", "energy_kev"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert set(a.recoil_type) == {"nr"}
    assert (a.t_ns >= 0).all()


# ---- waveform-level topology -----------------------------------------------------------
def test_neutrons_show_several_s2s_single_scatters_one(processed):
    n, er = processed["neutrons"], processed["er"]
    n, er = n[n["passes_threshold"]], er[er["passes_threshold"]]
    multi = (n["n_s2_above_threshold"] >= 2).mean()
    truth_multi = (n["n_interactions"] >= 2).mean()
    # S2s merge when scatters share a depth, so the visible share is below the truth
    assert 0.6 < multi <= truth_multi
    assert (n.loc[n["n_s2_above_threshold"] >= 2, "s2_second_area_pe"]
            >= 150.0).all()
    assert (er["n_s2_above_threshold"] == 1).mean() > 0.97


def test_s2_width_grows_as_sqrt_drift_time(processed, xenon1t):
    """width² = a + b t with b from diffusion: (1.349)² 2 D / v² (Gaussian quartiles)."""
    t = processed["er"]
    t = t[t["passes_threshold"] & (t["s2_area_pe"] > 500)]
    slope, _ = np.polyfit(t["drift_time_us"], t["s2_width_ns"] ** 2, 1)
    d_cm2_us = xenon1t.drift.diffusion_longitudinal_cm2_s * 1e-6
    v_cm_us = xenon1t.drift.drift_velocity_mm_us / 10
    expected = (2 * 0.6744897501960817) ** 2 * 2 * d_cm2_us / v_cm_us**2 * 1e6  # ns²/µs
    assert slope == pytest.approx(expected, rel=0.2)
    ratio = t["s2_width_ns"] / t["s2_width_expected_ns"]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.05)


def test_expected_width_limits(xenon1t):
    assert _box_gauss_quartile_width(np.array([1e-3]), 1000.0)[0] == pytest.approx(500.0, rel=1e-3)
    assert _box_gauss_quartile_width(np.array([300.0]), 0.0)[0] == pytest.approx(
        2 * 0.6744897501960817 * 300.0, rel=1e-3)
    widths = expected_s2_width_ns(np.array([10.0, 100.0, 400.0]), xenon1t, 1000.0)
    assert np.all(np.diff(widths) > 0)


def test_accidental_s2_widths_do_not_match_their_drift_time(processed):
    def spread(t):
        t = t[t["passes_threshold"]]
        return np.quantile(np.abs(np.log(t["s2_width_ns"] / t["s2_width_expected_ns"])), 0.8)

    assert spread(processed["accidental"]) > 2.5 * spread(processed["er"])


def test_wall_events_sit_at_the_edge_with_few_in_the_fiducial_volume(processed, xenon1t):
    wall = processed["wall"]
    wall = wall[wall["passes_threshold"]]
    er = processed["er"]
    assert np.median(wall["r_cm"]) > xenon1t.fiducial.radius_cm
    assert 0 < wall["in_fiducial"].mean() < 0.3
    # the S1 light comes from the wall: the S1 hit pattern fits the S2 position worse
    assert np.nanmedian(wall["s1_pattern_gof"]) > np.nanmedian(
        er.loc[er["passes_threshold"], "s1_pattern_gof"])


def test_pattern_deviance_is_smallest_at_the_true_position(xenon1t):
    from wimpsift.detectors.pmt_arrays import pmt_arrays

    arrays = pmt_arrays(xenon1t)
    rng = np.random.default_rng(3)
    truth = s2_top_lrf([10.0], [-5.0], arrays)
    observed = rng.poisson(2000 * truth).astype(float)
    at_truth = poisson_deviance(observed, truth)[0]
    for dx in (2.0, 5.0, 15.0):
        assert poisson_deviance(observed, s2_top_lrf([10.0 + dx], [-5.0], arrays))[0] > at_truth
    assert at_truth == pytest.approx(arrays.n_top, rel=0.25)  # deviance ~ χ² with n_top dof


def test_multi_scatter_neutrons_round_trip_through_an_instruction_file(tmp_path, xenon1t):
    """Every scatter written as an instruction row gives back identical events."""
    import pandas as pd

    from wimpsift.io.instructions import (
        instructions_to_interactions,
        read_instructions,
        write_instructions,
    )
    from wimpsift.waveforms.event import interaction_waveforms

    source = make_source(xenon1t, "neutrons")
    it = source_interactions(xenon1t, source, 30, seed=7)
    raw = interaction_waveforms(xenon1t, it, "neutrons", seed=7)
    rows = pd.DataFrame({
        "instruction": it.event, "recoil_type": it.recoil_type, "x": it.x_cm, "y": it.y_cm,
        "depth": -it.z_cm, "s1_photons": it.n_photons, "s2_electrons": it.n_electrons,
        "t": it.t_ns})
    csv = write_instructions(rows, tmp_path / "neutrons.csv")
    back, _ = instructions_to_interactions(read_instructions(csv, xenon1t))
    again = interaction_waveforms(xenon1t, back, "instructions", seed=7)
    assert (raw.truth["n_interactions"] >= 2).mean() > 0.7
    for column in ("n_interactions", "s1_true_area_pe", "s2_true_area_pe", "n_extracted"):
        np.testing.assert_array_equal(again.truth[column], raw.truth[column])


def test_event_images_show_secondary_s2s(xenon1t):
    """The whole-event profile holds all S2 light; neutron events light up more columns."""
    from wimpsift.images.raster import check_kinds, render_images

    assert "event" in check_kinds("hit,event")
    raws = {name: simulate_waveform_events(xenon1t, make_source(xenon1t, name), 40, seed=9)
            for name in ("er", "neutrons")}
    lit = {}
    for name, raw in raws.items():
        events = process_events(raw)
        assert events.event_trace_pe.shape == (40, 1000)
        # the profile keeps the light: its integral is at least the main S1 + S2 area
        bins = events.event_trace_pe.sum(axis=1) * (
            np.ceil((2.0 + xenon1t.max_drift_time_us + 10.0) * 100 / 1000))
        t = events.table
        ok = t["passes_threshold"].to_numpy()
        assert np.all(bins[ok] >= 0.99 * (t["s1_area_pe"] + t["s2_area_pe"])[ok])
        image = render_images(events, ["event"])["event"]
        assert image.shape == (40, 50, 100) and 0 <= image.min() and image.max() <= 1
        # columns with light above the single-electron level (≈ 0.05 PE per sample)
        columns = (events.event_trace_pe.reshape(40, 100, 10).mean(axis=2) > 0.05).sum(axis=1)
        lit[name] = np.median(columns[ok])
        sub = events.select(ok)
        assert sub.event_trace_pe.shape[0] == ok.sum()
    assert lit["neutrons"] >= 2 * lit["er"]  # measured: 9 against 3 columns


def test_event_image_columns_keep_a_short_spike():
    from wimpsift.images.event import column_maxima, render_event
    from wimpsift.images.raster import ImageSettings

    profile = np.zeros((1, 1000), np.float32)
    profile[0, 3] = 10.0  # a short S1-like spike in one bin
    profile[0, 500:502] = 1.0
    cols = column_maxima(profile, 100)
    assert cols.shape == (1, 100)
    assert cols[0, 0] == 10.0 and cols[0, 50] == 1.0 and cols[0].sum() == 11.0
    image = render_event(profile, (20, 100), ImageSettings())
    # log scale 0.1..100 PE/sample: 10 PE -> 2/3 of the height, 1 PE -> 1/3
    assert image[0, :, 0].sum() == pytest.approx(20 * 2 / 3, abs=1e-4)
    assert image[0, :, 50].sum() == pytest.approx(20 / 3, abs=1e-4)
    assert image[0, :, 10].sum() == 0.0


@pytest.mark.parametrize("detector_name", ["xenon1t_sr0", "lux_2013"])
def test_every_background_of_every_shipped_detector_has_a_topology(detector_name):
    from wimpsift.detectors import load_detector, shipped_detectors
    from wimpsift.sources import source_names

    assert detector_name in shipped_detectors()
    detector = load_detector(detector_name)
    names = dict.fromkeys([*source_names(detector, "fiducial"), *source_names(detector, "active")])
    for name in names:
        volume = "fiducial" if name in source_names(detector, "fiducial") else "active"
        source = make_source(detector, name, mass_gev=50.0)
        it = source_interactions(detector, source, 8, seed=1, volume=volume)
        assert it.n_events == 8, name
        expected = expected_topology_events(detector, source, volume)
        assert expected is None or expected > 0, name
        per_event = np.bincount(it.event)
        if name == "neutrons":
            assert per_event.max() >= 2
        elif name in ("accidental", "wall", "surface"):
            assert (per_event == 2).all()  # light and charge from two places
        elif name == "external_gamma":
            assert (per_event >= 1).all()  # one interaction per Compton scatter
        else:
            assert (per_event == 1).all()


def test_single_scatter_rates_use_the_volume_mass_when_the_file_gives_no_fiducial_mass(xenon1t):
    """``fiducial.mass_kg`` is optional (default: volume x density); the neutron and
    external-gamma counts of the waveform route read the detector's fiducial mass, which
    is that default then (before, ``None`` multiplied a rate: a TypeError)."""
    from wimpsift.detectors import Detector

    data = xenon1t.model_dump(mode="json")
    data["fiducial"]["mass_kg"] = None
    derived = Detector.model_validate(data)
    assert derived.fiducial.mass_kg is None
    ratio = derived.fiducial_mass_kg / xenon1t.fiducial_mass_kg  # 1042.57 / 1042 kg
    for name in ("neutrons", "external_gamma"):
        total = expected_topology_events(derived, make_source(derived, name), "active")
        published = expected_topology_events(xenon1t, make_source(xenon1t, name), "active")
        assert total == pytest.approx(published * ratio, rel=1e-12)
