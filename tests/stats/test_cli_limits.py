"""``wimpsift limits``: results, provenance, exit code 2 on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wimpsift.cli.main import main


@pytest.fixture
def templates_file(make_model, tmp_path):
    lik = make_model()
    data = lik.templates.to_dict()
    data["observed"] = np.round(lik.expected(lik.nominal_parameters(0.0))).tolist()
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(data))
    return path


def test_compute_writes_result_with_provenance(templates_file, tmp_path, capsys):
    out = tmp_path / "limit.json"
    rc = main(["limits", "compute", str(templates_file), "--widths", '{"er": 0.1, "wall": 0.3}',
               "--power-constraint", "0.5", "-o", str(out), "--json"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    saved = json.loads(out.read_text())
    assert saved["result"] == printed
    assert saved["provenance"]["stage"] == "limits"
    assert saved["provenance"]["config"]["limits"]["power_constraint"] == 0.5
    median = printed["expected_sigma_nucleon_cm2"]["median"]
    assert printed["reported_sigma_nucleon_cm2"] >= median * (1 - 1e-6)


def test_discovery_and_export(templates_file, tmp_path, capsys):
    found = tmp_path / "discovery.json"
    assert main(["limits", "discovery", str(templates_file), "--asimov-mu", "5", "--json",
                 "-o", str(found)]) == 0
    z = json.loads(capsys.readouterr().out)["significance_sigma"]
    assert z > 5
    saved = json.loads(found.read_text())  # the result with what it was computed from
    assert saved["result"]["significance_sigma"] == z
    assert saved["provenance"]["stage"] == "discovery"
    assert saved["provenance"]["config"]["observed"]["asimov_mu"] == 5.0
    ws = tmp_path / "ws.json"
    assert main(["limits", "export-pyhf", str(templates_file), "-o", str(ws)]) == 0
    assert json.loads(ws.read_text())["measurements"][0]["config"]["poi"] == "mu"
    # the HistFactory schema has no place for provenance: it is written beside the workspace
    record = json.loads((tmp_path / "ws.provenance.json").read_text())
    assert record["stage"] == "export-pyhf"
    assert record["config"]["templates"] == str(templates_file)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cl", "1.5"], "--cl"),
        (["--cl", "0"], "--cl"),
        (["--width", "-0.2"], "error: --width: "),  # options named, not the fields behind them
        (["--widths", '{"er": 0.1}'], "error: --widths: "),
        (["--method", "toys", "--n-toys", "3"], "error: --n-toys: "),
        (["--cl", "0.999", "--n-toys", "50"], "error: --n-toys: expected at least 1000 toys"),
        (["--observed", "MISSING"], "--observed"),
        (["--asimov-mu", "-1"], "--asimov-mu"),
    ],
)
def test_bad_options_exit_2(templates_file, capsys, extra, message):
    assert main(["limits", "compute", str(templates_file), *extra]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(signal=[float("nan")] + d["signal"][1:]), "non-finite"),
        (lambda d: d["backgrounds"].update(er=[0.0] * len(d["signal"]), wall=[0.0] * len(d["signal"])),
         "empty"),
        (lambda d: d["backgrounds"].update(er=[1.0, 2.0]), "expected 10"),
        (lambda d: d.update(observed=[1.0, 2.0]), "error: templates 'observed': 2 bins"),
        (lambda d: d.pop("backgrounds"), "missing key 'backgrounds'"),
        (lambda d: [d["backgrounds"][k].__setitem__(9, 0.0) for k in d["backgrounds"]],
         "expected signal but no background model"),
    ],
)
def test_bad_templates_exit_2(templates_file, capsys, edit, message):
    data = json.loads(templates_file.read_text())
    edit(data)
    templates_file.write_text(json.dumps(data))
    assert main(["limits", "compute", str(templates_file)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "error: --observed: 2 bins, expected 10 (the templates' binning)"),
        ('{"observed": "a"}', "error: --observed: counts are not numeric"),
        ("[-1, 0, 0, 0, 0, 0, 0, 0, 0, 0]", "error: --observed: counts must be finite and >= 0"),
        ('{"counts": [1]}', "error: --observed: 'obs.json' holds no counts; give --observed FILE"),
    ],
)
def test_bad_observed_counts_name_the_option(templates_file, tmp_path, monkeypatch, capsys,
                                             content, message):
    """Counts read from ``--observed`` are checked there, against the templates' bins."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "obs.json").write_text(content)
    for action in ("compute", "discovery"):
        assert main(["limits", action, str(templates_file), "--observed", "obs.json"]) == 2
        assert message in capsys.readouterr().err


def test_no_observed_counts_say_which_options_give_them(templates_file, tmp_path, capsys):
    data = json.loads(templates_file.read_text())
    data.pop("observed", None)
    templates_file.write_text(json.dumps(data))
    out = tmp_path / "workspace.json"
    assert main(["limits", "export-pyhf", str(templates_file), "-o", str(out)]) == 2
    assert "error: --observed: none given and the templates hold no 'observed' counts; give " \
           "--observed FILE" in capsys.readouterr().err
    assert not out.exists()


def test_event_input_options(templates_file, tmp_path, capsys):
    import pandas as pd

    events = tmp_path / "events.parquet"
    pd.DataFrame({"g": np.linspace(0.01, 0.99, 120)}).to_parquet(events)
    assert main(["limits", "compute", str(templates_file), "--events", str(events),
                 "--columns", "g", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["observed_mu"] > 0
    assert main(["limits", "compute", str(templates_file), "--events", str(events)]) == 2
    assert "--columns" in capsys.readouterr().err
    assert main(["limits", "compute", str(templates_file), "--events", str(tmp_path / "none.parquet"),
                 "--columns", "g"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["limits", "compute", str(templates_file), "--width", "0.1", "--widths", "{}"]) == 2
    assert "--widths" in capsys.readouterr().err
