"""Limits from XENON's published binwise likelihood (xe-likelihood) with wimprates spectra."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wimpsift.cli.main import main
from wimpsift.errors import ConfigError, DataError
from wimpsift.sources.wimp import HaloModel, wimp_rate_per_tonne_year_kev, wimprates_normalisation
from wimpsift.stats.reinterpret import (
    XENON1T_2018_HALO,
    ReinterpretConfig,
    inference,
    limits_for_mass,
    published_curve,
    upper_limit_from_llr,
)

PAPER = ReinterpretConfig(halo=XENON1T_2018_HALO)


def _published(mass: float) -> float:
    curve = published_curve("xenon1t_1ty")
    return float(curve["limit"][np.flatnonzero(curve["mass_gev"] == mass)[0]])


def test_root_finding_on_a_parabola_is_analytic():
    # -2 ln L of a Gaussian measurement mu = 1 +- 0.5: the limit is 1 + 0.5 sqrt(threshold)
    mu = np.linspace(0.0, 5.0, 1000)
    llr = ((mu - 1.0) / 0.5) ** 2
    limit = upper_limit_from_llr(mu, llr, lambda m: np.full(np.shape(m), 2.706))
    assert limit == pytest.approx(1.0 + 0.5 * np.sqrt(2.706), rel=1e-4)


def test_root_finding_refuses_a_curve_that_never_crosses():
    mu = np.linspace(0.0, 1.0, 50)
    with pytest.raises(DataError, match="never crosses"):
        upper_limit_from_llr(mu, 0.1 * mu, lambda m: np.full(np.shape(m), 2.706))


def test_limit_sits_where_the_packages_curve_meets_the_threshold():
    result = limits_for_mass(100.0, PAPER)
    inf = inference("xenon1t_1ty")  # spectrum of the last call is still set
    f = inf.compute_likelihood_ratio(run=0)
    assert float(f(result["limit_cm2"] / 1e-45)) == pytest.approx(2.7055, abs=1e-3)


@pytest.mark.parametrize("mass", [30.0, 100.0, 1000.0])
def test_xenon1t_si_limits_within_5_percent_of_the_published_curve(mass):
    assert limits_for_mass(mass, PAPER)["limit_cm2"] / _published(mass) == pytest.approx(1.0, abs=0.05)


@pytest.mark.xfail(strict=True, reason="measured 1.42x the published limit at 10 GeV with the "
                   "paper's halo, as the package authors' own examples/SI_limit.ipynb procedure "
                   "gives on the same data (1.437x with wimprates' halo normalisation k^2 = "
                   "0.987, ours is normalised to 1); the published limit is a downward "
                   "fluctuation (0.61x its median) that the binwise likelihood does not carry "
                   "(stats/reinterpret.py docstring, benchmarks/bench_reinterpret_low_mass.py)")
def test_xenon1t_si_limit_at_10_gev_within_20_percent_of_the_published_curve():
    assert limits_for_mass(10.0, PAPER)["limit_cm2"] / _published(10.0) == pytest.approx(1.0, abs=0.20)


def test_paper_halo_spectrum_equals_the_packages_reference_where_10_gev_recoils_sit():
    # 50-100 keV at 50 GeV needs the same fraction of the maximum WIMP speed as the 4-8 keV
    # recoils of a 10 GeV WIMP: the halo tail, v_esc, Earth speed and form factor match
    from importlib import resources

    path = resources.files("xe_likelihood.data.ancillary_data").joinpath("dRdE_wimp_SI_50GeV_10-45.csv")
    table = np.loadtxt(path.open(), delimiter=",")
    table = table[(table[:, 0] >= 50.0) & (table[:, 0] <= 100.0)]
    # the package's spectrum was made with wimprates, whose speed distribution integrates
    # to k^2 = 0.987 at this halo (ours to 1): compared with that factor, to 1 %
    ours = wimp_rate_per_tonne_year_kev(table[:, 0], 50.0, 1e-45, XENON1T_2018_HALO)
    np.testing.assert_allclose(table[:, 1], ours * wimprates_normalisation(XENON1T_2018_HALO),
                               rtol=0.01)


def test_published_10_gev_limit_is_below_every_threshold_of_the_binwise_likelihood():
    # the 10 GeV gap is the binwise likelihood's, not the threshold's: at the published
    # cross-section its -2 ln ratio is below chi2(1) and below the package's Neyman threshold
    limits_for_mass(10.0, PAPER)  # sets the spectrum
    inf = inference("xenon1t_1ty")
    mu = _published(10.0) / 1e-45
    llr = float(inf.compute_likelihood_ratio(run=0)(mu))
    neyman = float(inf.threshold_function(mu * inf.sum_spectrum_in_reconstructed_bins))
    assert llr < 2.7055
    assert llr < neyman


def test_faster_halo_gives_stronger_low_mass_limits():
    # the 2021 halo (v0 = 238 km/s, Earth at 252 km/s) puts more WIMPs above the 10 GeV threshold
    assert limits_for_mass(10.0, ReinterpretConfig())["limit_cm2"] < limits_for_mass(10.0, PAPER)["limit_cm2"]


def test_spin_dependent_limits_are_weaker_and_neutron_beats_proton_on_xenon():
    si = limits_for_mass(100.0, PAPER)["limit_cm2"]
    sd_n = limits_for_mass(100.0, PAPER.model_copy(update={"interaction": "sd_n"}))["limit_cm2"]
    sd_p = limits_for_mass(100.0, PAPER.model_copy(update={"interaction": "sd_p"}))["limit_cm2"]
    assert si < 1e-3 * sd_n
    assert sd_n < sd_p  # xenon's odd isotopes (129, 131) have an unpaired neutron


def test_fixed_earth_speed_equal_to_wimprates_own_gives_wimprates_rates():
    import numericalunits as nu
    import wimprates

    v_earth = wimprates.v_earth(None, 220.0 * nu.km / nu.s) / (nu.km / nu.s)
    energies = np.array([1.0, 3.0, 8.0, 20.0])
    own = wimp_rate_per_tonne_year_kev(energies, 30.0, 1e-45, HaloModel(v_0_km_s=220.0))
    fixed = wimp_rate_per_tonne_year_kev(energies, 30.0, 1e-45,
                                         HaloModel(v_0_km_s=220.0, v_earth_km_s=v_earth))
    np.testing.assert_allclose(fixed, own, rtol=1e-6)


def test_config_refuses_unknown_values():
    with pytest.raises(ConfigError, match="experiment"):
        ReinterpretConfig.build(experiment="lux")


def test_config_refuses_toys_of_an_observed_limit():
    """n_toys picks the projection's toy-MC sets: with xenon1t_1ty any n_toys gave the
    same limit (5.72e-47 cm² at 50 GeV/c², n_toys 5 or None), only the command line
    refused it; a notebook's configuration now says so too, naming the field."""
    with pytest.raises(ConfigError, match=r"^ReinterpretConfig: n_toys: only with experiment xenonnt_20ty"):
        ReinterpretConfig.build(experiment="xenon1t_1ty", n_toys=5)
    with pytest.raises(ValueError, match="n_toys"):  # as constructed in a notebook
        ReinterpretConfig(experiment="xenon1t_1ty", n_toys=5)
    assert ReinterpretConfig(experiment="xenonnt_20ty", n_toys=5).n_toys == 5


@pytest.mark.parametrize("argv, parameter", [
    (["--experiment", "lux_2013", "--masses", "50"], "--experiment"),
    (["--experiment", "xenon1t_1ty", "--masses", "50", "--interaction", "sd"], "--interaction"),
    (["--experiment", "xenon1t_1ty", "--masses", "3"], "--masses"),
    (["--experiment", "xenon1t_1ty", "--masses", "2e4"], "--masses"),
    (["--experiment", "xenonnt_20ty", "--masses", "nan"], "--masses"),
    (["--experiment", "xenonnt_20ty", "--masses", "50", "--threshold", "neyman"], "threshold"),
    (["--experiment", "xenonnt_20ty", "--masses", "50", "--threshold", "neyman"],
     "--threshold: only with --experiment xenon1t_1ty"),
    (["--experiment", "xenon1t_1ty", "--masses", "50", "--threshold", "neyman", "--cl", "0.95"],
     "--threshold: only with --cl 0.9"),
    (["--experiment", "xenon1t_1ty", "--masses", "50", "--cl", "1.5"], "--cl:"),
    (["--experiment", "xenonnt_20ty", "--masses", "50", "--toys", "0"], "--toys:"),
    (["--experiment", "xenon1t_1ty", "--masses", "50", "--points-per-bin", "0"], "--points-per-bin:"),
    (["--experiment", "xenon1t_1ty", "--masses", "50", "20", "50"], "--masses: 50 GeV/c^2 is given twice"),
])
def test_cli_bad_input_exits_2_with_one_line(argv, parameter, capsys, tmp_path):
    out = tmp_path / "out"
    assert main(["reinterpret", *argv, "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and parameter in err[0]
    assert not out.exists()


def test_cli_json_files_and_same_bytes_twice(capsys, tmp_path):
    argv = ["reinterpret", "--experiment", "xenon1t_1ty", "--masses", "50", "--halo", "xenon1t_2018",
            "--json", "--no-progress"]
    assert main([*argv, "-o", str(tmp_path / "a")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["experiment"] == "xenon1t_1ty"
    assert printed["limits"][0]["mass_gev"] == 50.0
    assert printed["limits"][0]["limit_cm2"] / _published(50.0) == pytest.approx(1.0, abs=0.05)
    assert main([*argv, "-o", str(tmp_path / "b")]) == 0
    for name in ("limits.json", "limits.csv", "limits.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    provenance = json.loads((tmp_path / "a" / "limits.json").read_text())["provenance"]
    assert provenance["config"]["reinterpret"]["halo"]["v_earth_km_s"] == 232.0
    from PIL import Image  # the figure carries the same record as the JSON

    assert json.loads(Image.open(tmp_path / "a" / "limits.png").info["wimpsift"]) == provenance


def test_rows_come_in_increasing_mass_whatever_the_order_given(capsys, tmp_path):
    """The curve is drawn through the rows in order: masses given as 100 20 were drawn
    back and forth (and their bands folded over)."""
    assert main(["reinterpret", "--experiment", "xenon1t_1ty", "--masses", "100", "20", "--json",
                 "--no-progress", "-o", str(tmp_path)]) == 0
    assert [r["mass_gev"] for r in json.loads(capsys.readouterr().out)["limits"]] == [20.0, 100.0]
    rows = (tmp_path / "limits.csv").read_text().splitlines()[1:]
    assert [float(r.split(",")[0]) for r in rows] == [20.0, 100.0]


def test_xenonnt_projection_bands_are_ordered(capsys):
    argv = ["reinterpret", "--experiment", "xenonnt_20ty", "--masses", "50", "--toys", "40", "--json",
            "--no-progress"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)["limits"][0]
    bands = [row[k] for k in ("minus2_cm2", "minus1_cm2", "median_cm2", "plus1_cm2", "plus2_cm2")]
    assert bands == sorted(bands) and bands[0] < bands[-1]
    # 20 t·yr of XENONnT reaches well below XENON1T's 1 t·yr limit at 50 GeV
    assert row["median_cm2"] < 0.1 * _published(50.0)


def test_root_finding_never_returns_zero_for_a_curve_that_jumps_to_infinity():
    # the package's curve is inf at every mu > 0 when a reconstructed bin has negative
    # expected signal (v0 = 990 km/s with wimprates' Earth speed); interpolating to inf put
    # the root on mu = 0, a limit of 0 cm^2 with exit 0
    mu = np.linspace(0.0, 745.0, 1000)
    llr = np.r_[0.0, np.full(999, np.inf)]
    with pytest.raises(DataError, match="jumps from 0 at mu = 0 to inf"):
        upper_limit_from_llr(mu, llr, lambda m: np.full(np.shape(m), 2.706))


def test_root_finding_refuses_a_curve_above_the_threshold_at_its_minimum():
    mu = np.linspace(0.0, 5.0, 100)
    with pytest.raises(DataError, match="above the threshold"):
        upper_limit_from_llr(mu, 3.0 + mu, lambda m: np.full(np.shape(m), 2.706))


@pytest.mark.parametrize("v0", ["950", "990", "999"])
def test_cli_refuses_a_v0_that_puts_the_earth_above_the_escape_speed(v0, capsys, tmp_path):
    # wimprates' Earth speed is ~v0 + 11 km/s; at or above v_esc (544 km/s) its speed
    # distribution is negative at low speeds and the 50 GeV limit came out as 0 cm^2
    out = tmp_path / "out"
    argv = ["reinterpret", "--experiment", "xenon1t_1ty", "--masses", "50", "--points-per-bin", "1",
            "--halo-v0-km-s", v0, "--json", "--no-progress", "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--halo-v0-km-s" in err[0] and "v_esc 544" in err[0]
    assert not out.exists()


@pytest.mark.parametrize("v0", ["3", "29"])
def test_cli_refuses_a_v0_too_narrow_for_wimprates_speed_integral(v0, capsys, tmp_path):
    # with XENON1T's fixed Earth speed, v0 = 3 km/s gave a limit with exit 0 from rates
    # 26 % off (wimprates' quad steps over the narrow peak; tests/simulation/test_sources.py)
    out = tmp_path / "out"
    argv = ["reinterpret", "--experiment", "xenon1t_1ty", "--masses", "50", "--points-per-bin", "1",
            "--halo", "xenon1t_2018", "--halo-v0-km-s", v0, "--json", "--no-progress", "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--halo-v0-km-s" in err[0] and "[30, 1000) km/s" in err[0]
    assert not out.exists()


def test_limits_refuse_a_halo_whose_earth_outruns_the_escape_speed_and_stay_positive_below():
    fast = ReinterpretConfig(halo=HaloModel(v_0_km_s=990.0), points_per_bin=1)
    with pytest.raises(ConfigError, match="v_0_km_s"):
        limits_for_mass(50.0, fast)
    # just below the bound the curve is finite and the limit sits where it meets chi2(1)
    ok = ReinterpretConfig(halo=HaloModel(v_0_km_s=520.0), points_per_bin=1)
    limit = limits_for_mass(50.0, ok)["limit_cm2"]
    assert 0 < limit < 1e-44
    f = inference("xenon1t_1ty").compute_likelihood_ratio(run=0)
    assert float(f(limit / 1e-45)) == pytest.approx(2.7055, abs=1e-3)


def test_an_escape_speed_below_the_earths_own_is_one_line():
    # no v0 puts wimprates' Earth below 20 km/s (its orbit and the Sun's peculiar motion)
    from wimpsift.sources.wimp import check_halo

    with pytest.raises(ConfigError, match=r"^halo\.v_esc_km_s: got 20\.0, expected an escape speed"):
        check_halo(HaloModel(v_esc_km_s=20.0))


@pytest.mark.parametrize("experiment", ["xenon1t_1ty", "xenonnt_20ty"])
def test_a_cached_mass_without_its_limit_is_computed_again(experiment, tmp_path, capsys):
    # a damaged cache entry holding only the mass gave a KeyError traceback (exit 1) after
    # writing a limits.csv without limits
    out = tmp_path / "out"
    argv = ["reinterpret", "--experiment", experiment, "--masses", "50", "--points-per-bin", "1",
            "--json", "--no-progress", "-o", str(out)]
    if experiment == "xenonnt_20ty":  # a projection: bands from its toy-MC sets
        argv += ["--toys", "5"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)["limits"]
    (entry,) = (out / ".cache").rglob("result.json")
    entry.write_text(json.dumps({"mass_gev": 50.0}))
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["limits"] == first
    assert "mass_gev" in json.loads(entry.read_text()) and len(json.loads(entry.read_text())) > 1


def test_a_limit_cached_before_the_faster_halo_fix_is_computed_again(tmp_path):
    # the code before the fix cut a faster halo's fastest WIMPs, under the same wimpsift
    # version: its cached 6 GeV/c^2 row at v0 = 300 km/s (this row, as it wrote it) came
    # back with exit 0, a limit 15 % too weak
    from wimpsift.cache import Cache
    from wimpsift.pipelines.reinterpret import run_reinterpret

    config = ReinterpretConfig(halo=HaloModel(v_0_km_s=300.0))
    stale = {"mass_gev": 6.0, "limit_cm2": 7.18416e-45, "signal_events_at_1e-45_cm2": 0.36036}
    Cache(tmp_path / ".cache").entry("reinterpret.mass", 1, {"config": config, "mass_gev": 6.0}
                                     ).store(stale)
    (row,) = run_reinterpret(config, [6.0], tmp_path, progress=False)["limits"]
    assert row["limit_cm2"] == pytest.approx(limits_for_mass(6.0, config)["limit_cm2"], rel=1e-9)
    assert row["limit_cm2"] < 0.9 * stale["limit_cm2"]


def test_a_faster_halos_limit_is_keyed_by_its_spectrum_revision(tmp_path):
    """The stage version alone guarded against the spectrum fix: the next revision of a
    halo's spectrum would have given back this revision's cached limits. Since revision 3
    (the speed distribution normalised to 1) the default halo's spectrum moved too, so its
    keys carry the revision as well."""
    from wimpsift.pipelines.reinterpret import run_reinterpret
    from wimpsift.sources.wimp import SPECTRUM_REVISION

    for name, halo in (("fast", HaloModel(v_0_km_s=300.0)), ("default", HaloModel())):
        run_reinterpret(ReinterpretConfig(halo=halo), [50.0], tmp_path / name, progress=False)
        (lineage,) = (tmp_path / name / ".cache").glob("reinterpret.mass/*/lineage.json")
        text = lineage.read_text()
        assert '"halo_spectrum": ' + str(SPECTRUM_REVISION) in text, (name, text[:300])
