"""``wimpsift templates`` and ``wimpsift sensitivity`` on the shipped LUX 2013 detector."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from wimpsift.cli.main import main
from wimpsift.detectors import load_detector
from wimpsift.errors import DataError
from wimpsift.io.event_tables import read_events
from wimpsift.pipelines.sensitivity import check_models
from wimpsift.stats.templates import TemplateSet


@pytest.fixture(scope="module")
def event_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("events")
    files = {}
    for name, detector, extra in (("wimp", "lux_2013", ["--mass-gev", "50"]), ("er", "lux_2013", []),
                                  ("er_1t", "xenon1t_sr0", [])):
        path = folder / f"{name}.parquet"
        source = "er" if name.startswith("er") else name
        assert main(["simulate", "-d", detector, "-s", source, *extra, "--events", "1500", "--seed", "3",
                     "-o", str(path), "--no-progress"]) == 0
        files[name] = path
    return files


def test_templates_from_event_tables_feed_limits_compute(event_files, tmp_path, capsys):
    out = tmp_path / "templates.json"
    assert main(["templates", str(event_files["wimp"]), str(event_files["er"]), "--detector", "lux_2013",
                 "--analysis", "cs1-cs2", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["detector"] == "lux_2013" and data["columns"] == ["cs1_pe", "cs2_pe"]
    ts = TemplateSet.from_dict(data)
    assert ts.shape == (16, 16) and ts.mass_gev == 50.0
    # the ER template holds rate x exposure x window fraction of the simulated file, whose
    # events were drawn in the fiducial slab (mass ratio: sources/positions.py)
    from wimpsift.detectors import load_detector
    from wimpsift.sources import make_source
    from wimpsift.sources.positions import volume_mass_kg

    detector = load_detector("lux_2013")
    table, record = read_events(event_files["er"])
    expected = (make_source(detector, "er").rate_per_kg_day * detector.exposure_kg_days
                * table["in_window"].mean() * volume_mass_kg(detector, "fiducial")
                / detector.fiducial_mass_kg)
    assert ts.backgrounds["er"].sum() >= expected * (1 - 1e-9)  # plus the empty-bin floor
    floor = 0.5 * expected / table["in_window"].sum() * ts.n_bins
    assert ts.backgrounds["er"].sum() <= expected + floor
    capsys.readouterr()
    rc = main(["limits", "compute", str(out), "--events", str(event_files["er"]), "--columns", "cs1_pe",
               "cs2_pe", "--json"])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["observed_mu"] > 0


def test_templates_carry_their_simulations_monte_carlo_statistics(event_files, tmp_path):
    """Each background template carries its Σw² (the empty-bin fill: its own weight squared),
    so the likelihood gets one MC-statistics parameter per bin. Without them a simulation
    small against the exposure was taken as exact: XENON1T SR0 at 1e6 live days, 50 GeV/c^2,
    50 events per source gave a median limit of 1.2e-49 cm^2, against 4.8e-49 from 20000."""
    from wimpsift.stats.likelihood import BinnedLikelihood

    out = tmp_path / "templates.json"
    assert main(["templates", str(event_files["wimp"]), str(event_files["er"]), "--detector", "lux_2013",
                 "--analysis", "cs1-cs2", "-o", str(out)]) == 0
    ts = TemplateSet.from_dict(json.loads(out.read_text()))
    assert ts.background_variances is not None
    table, _ = read_events(event_files["er"])
    inside = table[table["in_window"].to_numpy(bool)]
    simulated, _ = np.histogramdd(inside[["cs1_pe", "cs2_pe"]].to_numpy(), bins=ts.bin_edges)
    weight = ts.backgrounds["er"][simulated > 0].sum() / simulated.sum()  # one per simulated event
    expected = np.where(simulated > 0, simulated * weight**2, (0.5 * weight) ** 2)
    np.testing.assert_allclose(ts.background_variances["er"], expected, rtol=1e-9)
    assert BinnedLikelihood(ts).n_gamma == ts.n_bins


def test_a_data_driven_background_weighs_its_count_in_the_window(tmp_path):
    """A data-driven background's count (LUX's wall events: 24 in the analysis window over the
    detector's exposure, the count 'wimpsift rates' gives) is a count in the window already:
    the templates' weights of its events, read from a simulated table or simulated by
    'templates' and 'sensitivity' (EventSamples), add up to it. Before, both multiplied it by
    the mass ratio of the fiducial slab the interactions are drawn in to the fiducial mass
    (a factor for physical sources' rates only): 33.6 events for LUX, and 0.30, 0.72 and
    0.125 for XENON1T SR0's accidental, wall and anomalous backgrounds (0.22, 0.52, 0.09)."""
    from wimpsift.cli.templates import _from_file
    from wimpsift.rates import expected_events
    from wimpsift.sources import make_source
    from wimpsift.sources.positions import sampled_mass_ratio
    from wimpsift.training.samples import EventSamples, SampleConfig

    detector = load_detector("lux_2013")
    assert sampled_mass_ratio(detector) > 1.3  # the factor that was applied
    expected = expected_events(detector, make_source(detector, "wall"))["expected"]
    assert expected == pytest.approx(24.0)  # the detector file's count, at its own exposure
    path = tmp_path / "wall.parquet"
    assert main(["simulate", "-d", "lux_2013", "-s", "wall", "--events", "400", "--seed", "3",
                 "-o", str(path), "--no-progress"]) == 0
    table, _ = _from_file(path, detector, ["cs1_pe", "cs2_pe"])
    assert table["weight"].sum() == pytest.approx(expected, rel=1e-9)
    samples = EventSamples(SampleConfig(detector="lux_2013", backgrounds=["wall"],
                                        n_background_per_source=100, seed=3), detector=detector)
    assert samples.source_sample("wall")["weight"].sum() == pytest.approx(expected, rel=1e-9)


def test_events_count_in_the_templates_columns_and_window_only(event_files, tmp_path, capsys):
    """A simulated table holds every event; the templates only those in the analysis window.
    Counted whole, events outside the fiducial volume but inside the cS1-cS2 range were
    observed too. The columns default to the templates' own."""
    pytest.importorskip("pyhf")
    templates = tmp_path / "templates.json"
    assert main(["templates", str(event_files["wimp"]), str(event_files["er"]), "--detector",
                 "lux_2013", "--analysis", "cs1-cs2", "-o", str(templates)]) == 0
    edges = json.loads(templates.read_text())["bin_edges"]
    table, _ = read_events(event_files["er"])
    values = table[["cs1_pe", "cs2_pe"]].to_numpy()
    inside, _ = np.histogramdd(values[table["in_window"].to_numpy(bool)], bins=edges)
    everything, _ = np.histogramdd(values[np.isfinite(values).all(axis=1)], bins=edges)
    assert everything.sum() > inside.sum()  # the case that was miscounted
    capsys.readouterr()
    workspace = tmp_path / "workspace.json"
    assert main(["limits", "export-pyhf", str(templates), "--events", str(event_files["er"]),
                 "-o", str(workspace)]) == 0
    n_window = int(table["in_window"].sum())
    assert (f"note: --events: counting the {n_window} of {len(table)} events in the analysis "
            "window") in capsys.readouterr().err
    (observation,) = json.loads(workspace.read_text())["observations"]
    np.testing.assert_array_equal(observation["data"], inside.ravel())
    # columns the templates were not binned in: no event in their bins, refused
    assert main(["limits", "export-pyhf", str(templates), "--events", str(event_files["er"]),
                 "--columns", "cs1_pe", "energy_kev", "-o", str(tmp_path / "w2.json")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "--events: none of the" in err[0], err
    assert not (tmp_path / "w2.json").exists()


@pytest.mark.parametrize("case", ["other_detector", "bad_analysis", "network_without_models", "no_signal",
                                  "one_background_twice", "mass_of_another_signal",
                                  "cross_section_of_another_signal"])
def test_templates_bad_input_exits_2(event_files, tmp_path, capsys, case):
    argv = {
        "other_detector": [str(event_files["wimp"]), str(event_files["er_1t"]), "--analysis", "cs1-cs2"],
        "bad_analysis": [str(event_files["wimp"]), str(event_files["er"]), "--analysis", "s1-only"],
        "network_without_models": [str(event_files["wimp"]), str(event_files["er"]), "--analysis", "network"],
        "no_signal": [str(event_files["er"]), "--analysis", "cs1-cs2"],
        # each table is weighted to the source's whole expected count: twice would double it
        "one_background_twice": [str(event_files["wimp"]), str(event_files["er"]), str(event_files["er"]),
                                 "--analysis", "cs1-cs2"],
        # a table's signal keeps its own mass and cross-section: other values are refused
        # (they were ignored), before the simulated source is simulated
        "mass_of_another_signal": ["er", str(event_files["wimp"]), "--analysis", "cs1-cs2",
                                   "--mass-gev", "100"],
        "cross_section_of_another_signal": [str(event_files["wimp"]), str(event_files["er"]),
                                            "--analysis", "cs1-cs2", "--sigma-cm2", "1e-46"],
    }[case]
    out = tmp_path / "t.json"
    assert main(["templates", *argv, "--detector", "lux_2013", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]
    assert not out.exists()
    if case == "other_detector":
        assert "xenon1t_sr0" in err[0]
    if case == "one_background_twice":
        assert "source 'er'" in err[0]
    if case == "mass_of_another_signal":
        assert "--mass-gev: got 100, but the signal table" in err[0] and "50.0" in err[0]
    if case == "cross_section_of_another_signal":
        assert "--sigma-cm2: got 1e-46" in err[0]


def test_templates_refuse_a_fiducial_table_of_an_earlier_wimpsift(event_files, tmp_path, capsys):
    """A table simulated before the fiducial slab (no ``table_version`` in its provenance)
    drew its events inside the fiducial volume: weighted as the slab, its counts would be
    low, so it is refused; the same table with the current version is taken."""
    import pyarrow.parquet as pq

    from wimpsift.provenance import PROVENANCE_KEY

    table = pq.read_table(event_files["wimp"])
    record = json.loads(table.schema.metadata[PROVENANCE_KEY.encode()])
    assert record["table_version"] >= 2 and record["config"]["volume"] == "fiducial"
    del record["table_version"]
    old = tmp_path / "old_wimp.parquet"
    pq.write_table(table.replace_schema_metadata({PROVENANCE_KEY: json.dumps(record)}), old)
    out = tmp_path / "t.json"
    argv = [str(event_files["er"]), "--analysis", "cs1-cs2", "--detector", "lux_2013", "-o", str(out)]
    assert main(["templates", str(old), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "simulated by an earlier wimpsift" in err[0], err
    assert not out.exists()
    assert main(["templates", str(event_files["wimp"]), *argv]) == 0


def test_limits_compute_refuses_events_of_another_detector_than_the_templates(event_files, tmp_path, capsys):
    templates = tmp_path / "templates.json"
    assert main(["templates", str(event_files["wimp"]), str(event_files["er"]), "--detector", "lux_2013",
                 "--analysis", "cs1-cs2", "-o", str(templates)]) == 0
    capsys.readouterr()
    out = tmp_path / "limit.json"
    assert main(["limits", "compute", str(templates), "--events", str(event_files["er_1t"]), "--columns",
                 "cs1_pe", "cs2_pe", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--events" in err[0] and "xenon1t_sr0" in err[0] and "lux_2013" in err[0]
    assert not out.exists()


@pytest.mark.slow
def test_templates_refuses_a_models_folder_trained_on_other_inputs(event_files, tmp_path, capsys):
    # ~25 s: one tiny network trained with the S1 prompt fraction, which the events lack;
    # --models takes the folder 'nn train -o' writes, as 'nn evaluate' does
    run = tmp_path / "nn"
    assert main(["nn", "train", "--masses", "50", "--n-signal", "150", "--n-background", "150",
                 "--backgrounds", "er", "--epochs-from-scratch", "1", "--max-retrains", "0",
                 "--inputs", "raw_pf", "-o", str(run)]) == 0
    capsys.readouterr()
    out = tmp_path / "t.json"
    assert main(["templates", str(event_files["wimp"]), str(event_files["er"]), "--detector", "lux_2013",
                 "--analysis", "network", "--models", str(run), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--models" in err[0] and "s1_prompt_fraction" in err[0]
    assert not out.exists()


def test_models_trained_on_other_inputs_or_detector_are_refused(event_files):
    events, record = read_events(event_files["er"])  # no prompt fraction simulated: a NaN column
    lux = record["detector"]
    corrected = SimpleNamespace(inputs=("r_cm", "z_cm", "cs1_pe", "log10_cs2_pe"), provenance={})
    check_models({50.0: corrected}, lux, events)  # log10_ inputs come from their column
    with_pf = SimpleNamespace(inputs=("cs1_pe", "log10_cs2_pe", "s1_prompt_fraction"), provenance={})
    with pytest.raises(DataError, match="s1_prompt_fraction"):
        check_models({50.0: with_pf}, lux, events)
    other = SimpleNamespace(inputs=("cs1_pe",), provenance={"config": {"detector": "xenon1t_sr0"}})
    with pytest.raises(DataError, match="xenon1t_sr0"):
        check_models({50.0: other}, lux, events)
    xenon1t = load_detector("xenon1t_sr0").model_dump(mode="json")
    recorded = SimpleNamespace(inputs=("cs1_pe",), provenance={"detector": xenon1t})
    with pytest.raises(DataError, match="trained on detector 'xenon1t_sr0', not 'lux_2013'"):
        check_models({50.0: recorded}, lux, events)


def test_sensitivity_writes_bands_resumes_and_orders_masses(tmp_path, capsys):
    argv = ["sensitivity", "--detector", "lux_2013", "--masses", "33", "1000", "--analysis", "cs1-cs2",
            "--events-per-source", "300", "--no-progress", "--json", "-o", str(tmp_path / "s")]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["detector"] == "lux_2013" and printed["analysis"] == "cs1-cs2"
    rows = printed["limits"]
    for row in rows:
        bands = [row[k] for k in ("minus1_cm2", "median_cm2", "plus1_cm2", "plus2_cm2")]
        assert bands == sorted(bands) and row["median_cm2"] > 0
        # asymptotic CLs+b at 90 %: the -2 sigma band is empty, said so, never a silent 0
        assert row["method"] == "asymptotic" and row["signal_region_events"] >= 10
        assert row["minus2_cm2"] is None and row["band_status"]["minus2"] == "empty"
        assert row["band_status"]["minus1"] == "asymptotic"
        # default power constraint: Phi(-1), the -1 sigma band; the bands stay unconstrained
        assert row["power_constraint"] == pytest.approx(0.158655, abs=1e-6)
        assert row["power_constraint_floor_cm2"] == pytest.approx(row["minus1_cm2"], rel=1e-5)
    # a 1 TeV WIMP is rarer per cross-section than a 33 GeV one: a weaker limit
    assert rows[1]["median_cm2"] > 3 * rows[0]["median_cm2"]
    csv = pd.read_csv(tmp_path / "s" / "limits.csv")
    assert list(csv.columns[:6]) == ["mass_gev", "median_cm2", "minus2_cm2", "minus1_cm2", "plus1_cm2",
                                     "plus2_cm2"]
    assert csv["minus2_cm2"].isna().all() and (csv["minus2_status"] == "empty").all()
    assert csv["minus1_cm2"].to_numpy() == pytest.approx([r["minus1_cm2"] for r in rows], rel=1e-5)
    saved = json.loads((tmp_path / "s" / "limits.json").read_text())
    assert "1310.8214" in saved["published"]["source"] and len(saved["published"]["limits"]) > 10
    from PIL import Image  # the figure carries the same record as the JSON

    figure = tmp_path / "s" / "limits.png"
    assert json.loads(Image.open(figure).info["wimpsift"]) == saved["provenance"]
    before = (tmp_path / "s" / "limits.json").read_bytes(), figure.read_bytes()
    assert main(argv) == 0  # resumes from the cache: same bytes
    assert ((tmp_path / "s" / "limits.json").read_bytes(), figure.read_bytes()) == before
    from wimpsift.cache import Cache

    stages = {s.stage: s.n_entries for s in Cache(tmp_path / "s" / "cache").summary()}
    assert stages["sensitivity.mass"] == 2  # one lineage entry per finished mass
    assert np.isfinite(rows[0]["signal_events_at_sigma_ref"])
    # a cached row is read by these keys; one without them is computed again, not a traceback
    from wimpsift.pipelines.sensitivity import MASS_RESULT_KEYS

    assert all(set(row) == set(MASS_RESULT_KEYS) for row in rows)
    entry = next((tmp_path / "s" / "cache").glob("sensitivity.mass/*/result.json"))
    entry.write_text(json.dumps({"mass_gev": json.loads(entry.read_text())["mass_gev"]}))
    assert main(argv) == 0
    assert ((tmp_path / "s" / "limits.json").read_bytes(), figure.read_bytes()) == before


def test_sensitivity_halo_options_match_reinterpret_and_a_slower_halo_weakens_low_mass(tmp_path, capsys):
    # same -o: the background samples are shared; the WIMP samples and the masses are keyed by halo
    base = ["sensitivity", "--detector", "lux_2013", "--masses", "10", "--analysis", "cs1-cs2",
            "--events-per-source", "200", "--method", "asymptotic", "--no-progress", "--json",
            "-o", str(tmp_path / "s")]  # few events at 10 GeV: auto would take toys (~1 min a run)
    rows = {}
    for halo in (["--halo", "2021"], ["--halo", "xenon1t_2018"], ["--halo-v0-km-s", "200"]):
        assert main([*base, *halo]) == 0
        rows[halo[1]] = json.loads(capsys.readouterr().out)["limits"][0]
    saved = json.loads((tmp_path / "s" / "limits.json").read_text())
    assert "200" in json.dumps(saved["provenance"])  # the last run's v0 is recorded
    # 10 GeV recoils sit in the halo's tail: fewer signal events and weaker limits as v0 drops
    events = [rows[k]["signal_events_at_sigma_ref"] for k in ("2021", "xenon1t_2018", "200")]
    medians = [rows[k]["median_cm2"] for k in ("2021", "xenon1t_2018", "200")]
    assert events[0] > 1.2 * events[1] > 1.2 * events[2]
    assert medians[0] < medians[1] < medians[2]
    assert main([*base, "--halo", "x"]) == 2
    assert "--halo" in capsys.readouterr().err
    assert main([*base, "--halo-v0-km-s", "-5"]) == 2
    assert "--halo-v0-km-s" in capsys.readouterr().err


@pytest.mark.slow
def test_sensitivity_network_trains_and_beats_counting(tmp_path, capsys):
    # ~20 s of CPU: 150 events per source, one mass, the discriminant's default epochs
    argv = ["sensitivity", "--detector", "lux_2013", "--masses", "50", "--analysis", "network",
            "--events-per-source", "150", "--no-progress", "--json", "-o", str(tmp_path / "n")]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)["limits"][0]
    bands = [row[k] for k in ("minus1_cm2", "median_cm2", "plus1_cm2", "plus2_cm2")]
    assert bands == sorted(bands) and np.all(np.isfinite(bands)) and row["median_cm2"] > 0
    # one bin with the same signal and background (25 % normalisation width): the network's
    # score must separate them far better than counting does
    s, b = row["signal_events_at_sigma_ref"], row["background_events"]
    counting_cm2 = 1.645 * np.sqrt(b + (0.25 * b) ** 2) / s * 1e-45
    assert row["median_cm2"] < 0.2 * counting_cm2
    saved = json.loads((tmp_path / "n" / "limits.json").read_text())
    assert saved["provenance"]["config"]["sensitivity"]["analysis"] == "network"


def test_sensitivity_refuses_unknown_analysis_and_detector(tmp_path, capsys):
    for extra, word in ((["--analysis", "s2-only", "--detector", "lux_2013"], "--analysis"),
                        (["--analysis", "cs1-cs2", "--detector", "nowhere"], "detector")):
        assert main(["sensitivity", "--masses", "50", *extra, "-o", str(tmp_path / "x")]) == 2
        assert word in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_published_lux_curve_has_the_abstracts_minimum():
    from wimpsift.papers import published_limit

    curve = published_limit("lux_2013")
    i = int(np.argmin(curve["sigma_cm2"]))
    assert curve["masses_gev"][i] / 33.0 == pytest.approx(1.0, abs=0.05)
    assert curve["sigma_cm2"][i] / 7.6e-46 == pytest.approx(1.0, abs=0.02)  # arXiv:1310.8214 abstract
    assert np.all(np.diff(curve["masses_gev"]) > 0)


def test_published_xenon1t_sr0_curve_has_the_abstracts_minimum():
    from wimpsift.papers import published_limit

    curve = published_limit("xenon1t_sr0")
    i = int(np.argmin(curve["sigma_cm2"]))
    assert len(curve["masses_gev"]) > 20 and np.all(np.diff(curve["masses_gev"]) > 0)
    assert curve["masses_gev"][i] / 35.0 == pytest.approx(1.0, abs=0.05)
    assert curve["sigma_cm2"][i] / 7.7e-47 == pytest.approx(1.0, abs=0.04)  # arXiv:1705.06655 abstract


def test_published_lux_reanalysis_curve_has_the_abstracts_minimum():
    from wimpsift.papers import published_limit

    curve = published_limit("lux_2013_reanalysis")
    i = int(np.argmin(curve["sigma_cm2"]))
    assert len(curve["masses_gev"]) > 20 and np.all(np.diff(curve["masses_gev"]) > 0)
    assert curve["masses_gev"][i] / 33.0 == pytest.approx(1.0, abs=0.05)
    # the abstract of arXiv:1512.03506 quotes one digit: 0.6 zb = 6e-46 cm^2
    assert round(curve["sigma_cm2"][i] / 1e-45, 1) == 0.6
    # stronger than the first analysis of the same data (arXiv:1310.8214) at its minimum
    assert curve["sigma_cm2"][i] < min(published_limit("lux_2013")["sigma_cm2"])


def test_network_templates_read_the_score_column_that_nn_evaluate_writes(event_files, tmp_path,
                                                                          capsys):
    """``nn evaluate`` writes ``nn_score_50GeV``; 50 GeV/c² network templates histogram that
    column, so ``limits compute --events`` reads the scored table without ``--columns``."""
    from wimpsift.training.discriminant import score_column

    nn = tmp_path / "nn"
    assert main(["nn", "train", "-d", "lux_2013", "--masses", "50", "--n-signal", "300",
                 "--n-background", "300", "--backgrounds", "er", "--epochs-from-scratch", "2",
                 "--max-retrains", "0", "--cache-dir", str(tmp_path / "cache"),
                 "-o", str(nn)]) == 0
    templates = tmp_path / "templates.json"
    assert main(["templates", str(event_files["wimp"]), str(event_files["er"]), "--detector",
                 "lux_2013", "--analysis", "network", "--models", str(nn / "models"),
                 "-o", str(templates)]) == 0
    assert json.loads(templates.read_text())["columns"] == [score_column(50.0)] == ["nn_score_50GeV"]
    scored = tmp_path / "scored.parquet"
    assert main(["nn", "evaluate", "--models", str(nn / "models"), str(event_files["er"]),
                 "-o", str(scored)]) == 0
    capsys.readouterr()
    assert main(["limits", "compute", str(templates), "--events", str(scored), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["observed_mu"] >= 0


def test_sensitivity_recomputes_a_detector_file_edited_under_the_same_path(tmp_path, capsys):
    # a mass was keyed by --detector as given: a TOML file edited in place (ten times the
    # live time) gave back the old file's limit with exit 0
    from importlib import resources

    detector = tmp_path / "lux.toml"
    shipped = (resources.files("wimpsift.detectors") / "data" / "lux_2013.toml").read_text()
    detector.write_text(shipped)
    argv = ["sensitivity", "--detector", str(detector), "--masses", "50", "--analysis", "cs1-cs2",
            "--events-per-source", "200", "--method", "asymptotic", "--no-progress", "--json",
            "-o", str(tmp_path / "s")]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)["limits"][0]["median_cm2"]
    assert "live_days = 95.0" in shipped
    detector.write_text(shipped.replace("live_days = 95.0", "live_days = 950.0"))
    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out)["limits"][0]["median_cm2"]
    assert second < first / 3  # ten times the exposure: a much stronger limit


def test_a_window_the_thresholds_exclude_is_said_after_one_chunk(tmp_path):
    """An S2 threshold above every signal left no event in the window: sampling went on to
    max_simulated interactions (20 million by default, minutes) and then advised raising
    it, which cannot help. It now stops once even the efficiency's 95 % upper limit for
    none seen would need more than max_simulated, and says what to check."""
    from importlib import resources

    from wimpsift.training.samples import EventSamples, validated_sample_config

    shipped = (resources.files("wimpsift.detectors") / "data" / "lux_2013.toml").read_text()
    assert "s2_threshold_pe = 235.0" in shipped
    detector = tmp_path / "blind.toml"
    detector.write_text(shipped.replace("s2_threshold_pe = 235.0", "s2_threshold_pe = 1e9"))
    samples = EventSamples(validated_sample_config(detector=str(detector), n_signal=40,
                                                   n_background_per_source=40,
                                                   max_simulated=100_000, seed=1))
    with pytest.raises(DataError, match=r"no er events in the analysis window among 10,000 "
                                        r"simulated interactions .*check the detector's thresholds"):
        samples.source_sample("er")
