"""The main job end to end at tiny scale, and its configuration validation."""

import json

import pytest

from wimpsift.cli.main import main
from wimpsift.errors import ConfigError
from wimpsift.run_config import load_run_config

TINY = """
[simulation]
detector = "lux_2013"
wimp_mass_gev = 50.0
events_per_source = 2000
seed = 3

[rates]
mc_events = 2000
"""


def test_main_job_tiny(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "out"
    assert main(["run", "--config", str(config), "-o", str(out)]) == 0
    expected = ("index.html", "bands.png", "rates.json", "rates.txt", "events_er.parquet", "provenance.json")
    for name in expected:
        assert (out / name).is_file(), name
    rates = json.loads((out / "rates.json").read_text())
    assert rates["provenance"]["config"]["simulation"]["detector"] == "lux_2013"
    assert rates["expected_events"]["er"] > rates["expected_events"]["cevns"]


def test_shipped_default_config_is_valid():
    config = load_run_config()
    assert config.simulation.detector == "xenon1t_sr0"


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
