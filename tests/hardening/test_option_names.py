"""A bad value is reported under the option the user typed, not under the field of the
configuration behind it (``--events-per-source``, not ``SensitivityConfig:
events_per_source``): one ``error:`` line, exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from wimpsift.cli.main import main

IMAGES = ["images", "--events-per-class", "2", "--seed", "1", "-o", "{out}"]

CASES = [
    (["simulate", "--source", "er", "--events", "10", "--seed", "1", "--chunk-size", "0",
      "-o", "{out}.parquet"], "--chunk-size: "),
    (["simulate", "--source", "wimp", "--mass-gev", "-5", "--events", "10", "--seed", "1",
      "-o", "{out}.parquet"], "--mass-gev: "),
    (["simulate", "--source", "wimp", "--events", "10", "--seed", "1", "-o", "{out}.parquet"],
     "--mass-gev: give the WIMP mass"),
    (["simulate", "--source", "er", "--exposure-kg-days", "-1", "--seed", "1",
      "-o", "{out}.parquet"], "--exposure-kg-days: "),
    (["simulate", "--source", "wimp", "--mass-gev", "50", "--exposure-kg-days", "0.001",
      "--seed", "1", "-o", "{out}.parquet"], "--exposure-kg-days: 0.001 gives no events"),
    (["rates", "--mass-gev", "0"], "--mass-gev: "),
    (["rates", "--sigma-cm2", "-1"], "--sigma-cm2: "),
    (["bands", "--mass-gev", "-3", "-o", "{out}.png"], "--mass-gev: "),
    (["sensitivity", "-d", "lux_2013", "--masses", "50", "--analysis", "cs1-cs2",
      "--events-per-source", "5", "-o", "{out}"], "--events-per-source: "),
    (["sensitivity", "-d", "lux_2013", "--masses", "50", "--analysis", "cs1-cs2",
      "--background-width", "-1", "-o", "{out}"], "--background-width: "),
    (["sensitivity", "-d", "lux_2013", "--masses", "50", "50", "--analysis", "cs1-cs2",
      "-o", "{out}"], "--masses: 50 GeV/c^2 is given twice"),
    (["sensitivity", "-d", "lux_2013", "--masses", "50", "--analysis", "cs1-cs2",
      "--mu-grid-points", "1", "-o", "{out}"], "--mu-grid-points: "),
    (["sensitivity", "-d", "lux_2013", "--masses", "50", "--analysis", "cs1-cs2",
      "--n-background-toys", "1", "-o", "{out}"], "--n-background-toys: "),
    (["templates", "wimp", "-d", "lux_2013", "--analysis", "cs1-cs2", "--mass-gev", "50",
      "--events-per-source", "3", "-o", "{out}.json"], "--events-per-source: "),
    (["templates", "wimp", "-d", "lux_2013", "--analysis", "cs1-cs2", "--mass-gev", "50",
      "--sigma-cm2", "0", "-o", "{out}.json"], "--sigma-cm2: "),
    (["templates", "wimp", "-d", "lux_2013", "--analysis", "cs1-cs2", "--mass-gev", "-50",
      "-o", "{out}.json"], "--mass-gev: "),
    (["positions", "train", "--events", "0", "-o", "{out}.pt"], "--events: "),
    (["positions", "train", "--batch-size", "0", "-o", "{out}.pt"], "--batch-size: "),
    (["nn", "train", "--learning-rate", "0", "-o", "{out}"], "--learning-rate: "),
    (["nn", "study", "pca", "--test-fraction", "1.5", "-o", "{out}"], "--test-fraction: "),
    (["nn", "study", "projections", "--projection-mass", "-5", "-o", "{out}"],
     "--projection-mass: got -5.0, expected a positive WIMP mass"),
    (["reproduce", "cnn", "--workers", "0", "-o", "{out}"], "--workers: "),
    (["reproduce", "cnn", "--train-events-per-class", "0", "-o", "{out}"],
     "--train-events-per-class: "),
    (["reproduce", "cnn", "--detector", "nowhere", "-o", "{out}"], "--detector: "),
    (["reproduce", "lux", "--workers", "0", "-o", "{out}"], "--workers: "),
    (["images", "--events-per-class", "-1", "--seed", "1", "-o", "{out}"],
     "--events-per-class: "),
    ([*IMAGES, "--chunk-events", "0"], "--chunk-events: "),
    ([*IMAGES, "--kinds", "wave"], "--kinds: "),
    ([*IMAGES, "--signal", "wimp:-5"], "--signal: "),
    ([*IMAGES, "--shape", "hit=0x5"], "--shape: got 'hit=0x5', expected positive sizes"),
    ([*IMAGES, "--shape", "wave=5x5"], "--shape: got 'wave=5x5', expected one of hit, peak, hitpeak, event"),
    ([*IMAGES, "--shape", "event=8x8"], "--shape: 'event' images are not made (--kinds hit,peak,hitpeak)"),
]


@pytest.mark.parametrize(("argv", "start"), CASES, ids=[" ".join(c[0][:2]) + " " + c[1]
                                                         for c in CASES])
def test_a_bad_value_names_the_option(tmp_path, capsys, argv, start):
    out = tmp_path / "out"
    assert main([a.replace("{out}", str(out)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"error: {start}" in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_a_problem_said_by_two_fields_of_one_option_is_said_once(tmp_path, capsys):
    """``--events-per-source`` sets both the signal and the background sample sizes."""
    argv = ["templates", "er", "-d", "lux_2013", "--analysis", "cs1-cs2",
            "--events-per-source", "3", "-o", str(tmp_path / "t.json")]
    assert main(argv) == 2
    assert capsys.readouterr().err.count("--events-per-source") == 1


DETECTOR_COMMANDS = [
    ["simulate", "--source", "er", "--events", "10", "--seed", "1", "-o", "{out}.parquet"],
    ["rates"],
    ["bands", "-o", "{out}.png"],
    ["sensitivity", "--masses", "50", "--analysis", "cs1-cs2", "-o", "{out}"],
    ["templates", "er", "--analysis", "cs1-cs2", "-o", "{out}.json"],
    ["images", "--events-per-class", "2", "--seed", "1", "-o", "{out}"],
    ["show", "-o", "{out}.png"],
    ["positions", "train", "-o", "{out}.pt"],
    ["nn", "train", "-o", "{out}"],
    ["reproduce", "cnn", "-o", "{out}"],
]


@pytest.mark.parametrize("argv", DETECTOR_COMMANDS, ids=[" ".join(c[:2]) for c in DETECTOR_COMMANDS])
@pytest.mark.parametrize("detector", ["nowhere", "broken.toml"])
def test_a_bad_detector_names_the_option(tmp_path, capsys, monkeypatch, argv, detector):
    """A detector name that is not shipped, or a TOML file that does not parse, is an error
    of ``--detector`` in every command that has the option."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.toml").write_text("x = \n")
    out = tmp_path / "out"
    assert main([a.replace("{out}", str(out)) for a in argv] + ["--detector", detector]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error: --detector: " in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.toml"]


def test_a_bad_file_named_by_an_option_is_an_error_of_that_option(tmp_path, capsys, monkeypatch):
    """The readers of image datasets and model sets name their parameter (``dataset``,
    ``models``); the commands say the option that gave the file."""
    import json

    import pandas as pd

    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"cs1_pe": [10.0], "cs2_pe": [1000.0]}).to_parquet("events.parquet")
    Path("listed").mkdir()
    Path("listed/index.json").write_text(json.dumps({"files": {"50": "gone.pt"}}))
    for argv, start in [
        (["show", "--dataset", "nowhere.h5", "--kind", "hit", "-o", "x.png"],
         "--dataset: 'nowhere.h5' does not exist"),
        (["nn", "evaluate", "events.parquet", "--models", "nowhere"],
         "--models: 'nowhere' has no index.json"),
        (["nn", "evaluate", "events.parquet", "--models", "listed"],
         "--models: 'listed/gone.pt' is not a file"),
        (["nn", "train", "--cache-dir", "events.parquet", "-o", "out"],
         "--cache-dir: 'events.parquet' is a file, expected a folder"),
    ]:
        before = sorted(p.name for p in tmp_path.iterdir())
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"error: {start}" in err[0], err
        assert sorted(p.name for p in tmp_path.iterdir()) == before
