"""An unknown key in a file the user wrote (a detector definition, the run configuration,
an execution file) is named where it is, with the setting it resembles or the settings
there are, under the option that named the file: one ``error:`` line, exit code 2, nothing
written."""

from __future__ import annotations

from importlib import resources

import pytest
from pydantic import ValidationError

from wimpsift.cli.main import main
from wimpsift.config import unknown_setting
from wimpsift.run_config import SimulationStage, load_run_config


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_typo_in_a_detector_file_names_the_setting_meant(tmp_path, capsys, monkeypatch):
    shipped = (resources.files("wimpsift.detectors") / "data" / "lux_2013.toml").read_text()
    assert "\nelectron_lifetime_us = 800.0" in shipped
    (tmp_path / "typo.toml").write_text(
        shipped.replace("\nelectron_lifetime_us = 800.0", "\nelectron_lifetime = 800.0"))
    monkeypatch.chdir(tmp_path)
    assert main(["rates", "--detector", "typo.toml", "--mc-events", "10"]) == 2
    line = _error_line(capsys)
    assert "error: --detector: 'typo.toml' is malformed: drift.electron_lifetime: unknown " \
           "setting; did you mean 'electron_lifetime_us'? (got 800.0)" in line, line
    assert [p.name for p in tmp_path.iterdir()] == ["typo.toml"]


def test_an_unknown_key_of_the_run_configuration_lists_the_settings_there_are(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("[simulation]\nevents = 5\n")
    out = tmp_path / "out"
    assert main(["run", "--config", str(config), "-o", str(out)]) == 2
    line = _error_line(capsys)
    expected = ", ".join(SimulationStage.model_fields)
    assert f"error: --config: {str(config)!r} is invalid: simulation.events: unknown setting; " \
           f"expected one of {expected} (got 5)" in line, line
    assert not out.exists()
    # the library names its parameter, not the command's option
    with pytest.raises(ValueError, match=r"^config: .* simulation\.events: unknown setting"):
        load_run_config(config)


def test_an_unknown_key_of_an_execution_file_is_an_error_of_the_option(tmp_path, capsys):
    execution = tmp_path / "cluster.toml"
    execution.write_text('backend = "jobqueue"\n[jobqueue]\nsystem = "slurm"\ncore = 2\n')
    out = tmp_path / "events.parquet"
    assert main(["simulate", "--source", "er", "--events", "10", "--seed", "1",
                 "--execution", str(execution), "-o", str(out)]) == 2
    line = _error_line(capsys)
    assert f"error: --execution: {str(execution)!r} is invalid: jobqueue.core: unknown " \
           "setting; did you mean 'cores'? (got 2)" in line, line
    assert not out.exists()


def test_the_python_interface_still_raises_pydantics_error():
    with pytest.raises(ValidationError) as info:
        SimulationStage(seeds=3)
    (problem,) = info.value.errors()
    assert problem["type"] == "unknown_setting" and problem["ctx"] == {"setting": "seeds"}
    assert problem["msg"] == "unknown setting; did you mean 'seed'?"


def test_unknown_setting_says_the_near_miss_or_lists_every_setting():
    assert unknown_setting("cores_", ["cores", "jobs"]) == "unknown setting; did you mean 'cores'?"
    assert unknown_setting("x", ["cores", "jobs"]) == "unknown setting; expected one of cores, jobs"
