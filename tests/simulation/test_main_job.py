"""The main job end to end at tiny scale, and its configuration validation."""

import json

import numpy as np
import pandas as pd
import pytest

from wimpsift.cli.main import main
from wimpsift.detectors import load_detector
from wimpsift.errors import ConfigError
from wimpsift.run_config import load_run_config
from wimpsift.sources import make_source
from wimpsift.sources.positions import volume_mass_kg

TINY = """
[simulation]
detector = "lux_2013"
wimp_mass_gev = 50.0
events_per_source = 2000
seed = 3

[rates]
mc_events = 2000
"""


def test_main_job_tiny(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "out"
    assert main(["run", "--config", str(config), "-o", str(out)]) == 0
    expected = ("index.html", "bands.png", "rates.json", "rates.txt", "events_er.parquet", "provenance.json")
    for name in expected:
        assert (out / name).is_file(), name
    rates = json.loads((out / "rates.json").read_text())
    assert rates["provenance"]["config"]["simulation"]["detector"] == "lux_2013"
    assert rates["provenance"]["seed"] == 3
    assert rates["expected_events"]["er"] > rates["expected_events"]["cevns"]
    # expected = rate x exposure x window efficiency, the efficiency a Monte Carlo fraction
    lux = load_detector("lux_2013")
    er = make_source(lux, "er")
    assert rates["expected_events"]["er"] == pytest.approx(
        er.rate_per_kg_day * lux.exposure_kg_days * rates["efficiency"]["er"], rel=1e-12)
    assert 0 < rates["efficiency"]["er"] < 1
    # the fraction of 2000 events drawn in the fiducial slab, times its mass over the fiducial's
    in_window = rates["efficiency"]["er"] * 2000 * lux.fiducial_mass_kg / volume_mass_kg(lux, "fiducial")
    assert in_window == pytest.approx(round(in_window))
    # the event tables hold the configured events, the WIMP recoils below the ER ones in
    # log10(cS2/cS1) (the NR band lies below the ER band)
    events = {s: pd.read_parquet(out / f"events_{s}.parquet") for s in ("er", "wimp")}
    assert all(len(t) == 2000 for t in events.values())
    band = {s: np.median(np.log10(t.cs2_pe / t.cs1_pe)[t.in_window]) for s, t in events.items()}
    assert band["wimp"] < band["er"]
    assert (out / "bands.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image  # the figure carries its provenance, as every output

    record = json.loads(Image.open(out / "bands.png").info["wimpsift"])
    assert (record["stage"], record["seed"]) == ("bands", 3)
    assert record["config"] == rates["provenance"]["config"]
    # the event tables come from the lineage cache under out/cache, one entry per source
    from wimpsift.cache import Cache

    entries = list(Cache(out / "cache").entries("simulation.events"))
    assert sorted(e.record["config"]["config"]["source"] for e in entries) == ["er", "wimp"]
    for e in entries:
        name = f"events_{e.record['config']['config']['source']}.parquet"
        assert (e.path / "events.parquet").read_bytes() == (out / name).read_bytes()
    # another configuration into the same folder is refused before anything is written:
    # the files of stages it skips would stay beside its own
    other = tmp_path / "other.toml"
    other.write_text(TINY.replace("seed = 3", "seed = 4") + "enabled = false\n")
    before = {f: f.read_bytes() for f in out.iterdir() if f.is_file()}
    capsys.readouterr()  # the first run's progress
    assert main(["run", "--config", str(other), "-o", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "output: " in err[0] and "another configuration" in err[0], err
    assert {f: f.read_bytes() for f in out.iterdir() if f.is_file()} == before


def test_rates_sample_too_large_for_memory_is_refused_before_the_folder(tmp_path, capsys):
    config = tmp_path / "huge.toml"
    config.write_text(TINY.replace("mc_events = 2000", "mc_events = 100000000000"))
    out = tmp_path / "out"
    assert main(["run", "--config", str(config), "-o", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "rates.mc_events: needs at least" in err[0], err
    assert not out.exists()


def test_shipped_default_config_is_valid():
    config = load_run_config()
    assert config.simulation.detector == "xenon1t_sr0"


@pytest.mark.parametrize(("text", "stages"), [
    ("[rates]\nmc_events = 2000\n", ["rates"]),
    ("[simulation]\nseed = 2\n", ["simulation"]),
    ("[simulation]\nenabled = false\n[rates]\n", ["rates"]),
    ("[cnn]\n", ["cnn"]),
])
def test_a_config_file_runs_only_the_stages_whose_tables_it_has(tmp_path, text, stages):
    """As default.toml says: a stage whose table is left out is skipped (a file with only
    [rates] ran the simulation too); the shipped default runs all four."""
    path = tmp_path / "c.toml"
    path.write_text(text)
    config = load_run_config(path)
    enabled = [s for s in ("simulation", "rates", "cnn", "lux") if getattr(config, s).enabled]
    assert enabled == stages
    default = load_run_config()
    assert all(getattr(default, s).enabled for s in ("simulation", "rates", "cnn", "lux"))


@pytest.mark.parametrize("text", ["", "[rates]\nenabled = false\n",
                                  "[cnn]\nenabled = false\n[lux]\nenabled = false\n"])
def test_a_config_file_that_runs_no_stage_is_refused(tmp_path, capsys, text):
    # it wrote an empty report and exit 0
    path = tmp_path / "c.toml"
    path.write_text(text)
    out = tmp_path / "out"
    assert main(["run", "--config", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "runs no stage" in err[0] and "[simulation], [rates], [cnn], [lux]" in err[0]
    assert not out.exists()


def test_a_run_of_rates_alone_simulates_nothing(tmp_path):
    config = tmp_path / "only_rates.toml"
    config.write_text("[rates]\nmc_events = 2000\n")
    out = tmp_path / "out"
    assert main(["run", "--config", str(config), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "provenance.json", "rates.json",
                                                      "rates.txt", "timing.json"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[simulation]\nevents_per_source = 0\n", "events_per_source"),
        ("[simulation]\nflavour = 'x'\n", "flavour"),
        ("[nonsense]\n", "nonsense"),
        ("not toml = = ", "not valid TOML"),
    ],
)
def test_bad_run_config_is_rejected(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_run_config(path)


def test_missing_config_file_exits_2(tmp_path, capsys):
    assert main(["run", "--config", str(tmp_path / "none.toml"), "-o", str(tmp_path / "o")]) == 2
    assert "config" in capsys.readouterr().err


@pytest.mark.parametrize(("table", "text"), [
    ("cnn", "[cnn]\nenabled = true\n[cnn.options]\nepochs = 2\n"),
    ("lux", "[lux]\nenabled = true\n[lux.options]\nmasses_gev = [0]\n"),
])
def test_bad_reproduction_options_name_their_table(tmp_path, capsys, table, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    out = tmp_path / "o"
    assert main(["run", "--config", str(path), "-o", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and f"[{table}.options] of the run configuration: " in err[0], err
    assert not out.exists()


@pytest.mark.parametrize(("table", "options", "said"), [
    ("cnn", "seed = 7", "'seed' is a key of the [cnn] table itself"),  # replaced seed = 3 silently
    ("lux", "seed = 7", "'seed' is a key of the [lux] table itself"),
    ("lux", 'scale = "paper"', "'scale' is a key of the [lux] table itself"),  # a TypeError traceback
    ("cnn", 'backgrounds = "all"', "backgrounds: got 'all', expected 'er'"),  # a KeyError at the end
])
def test_options_the_main_job_sets_itself_are_refused(tmp_path, capsys, table, options, said):
    path = tmp_path / "c.toml"
    path.write_text(f"[{table}]\nseed = 3\n[{table}.options]\n{options}\n")
    out = tmp_path / "o"
    assert main(["run", "--config", str(path), "-o", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and f"[{table}.options] of the run configuration: {said}" in err[0], err
    assert not out.exists()


def test_the_cnn_stages_all_backgrounds_settings_are_refused(tmp_path, capsys):
    """The main job's CNN stage is WIMP against ER: settings of the all-backgrounds
    comparison were accepted and never read."""
    path = tmp_path / "c.toml"
    path.write_text("[cnn]\n[cnn.options]\nall_backgrounds = { epochs = 99 }\n")
    out = tmp_path / "o"
    assert main(["run", "--config", str(path), "-o", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and ("[cnn.options] of the run configuration: all_backgrounds: not used by "
                              "the main job's cnn stage") in err[0], err
    assert not out.exists()
