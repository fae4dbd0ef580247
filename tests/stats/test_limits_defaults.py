"""Limits right by default: the few-event regime switches to toys; bad event tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from wimpsift.cli.main import main
from wimpsift.stats.limits import LimitConfig, signal_region_events, upper_limit


@pytest.fixture
def one_bin_file(tmp_path):
    data = {"signal": [10.0], "backgrounds": {"b": [0.0]}, "allow_background_free_bins": True,
            "sigma_ref_cm2": 1e-45, "observed": [0]}
    path = tmp_path / "one_bin.json"
    path.write_text(json.dumps(data))
    return path


def test_default_limit_one_bin_no_background_none_observed_is_2_30_events(one_bin_file, tmp_path, capsys):
    out = tmp_path / "limit.json"
    assert main(["limits", "compute", str(one_bin_file), "--json", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    events = result["observed_mu"] * 10.0
    assert events / -np.log(0.1) == pytest.approx(1.0, abs=0.01)  # Poisson: exp(-s) = 0.1
    assert result["method"] == "toys"
    assert "asymptotic formulae do not hold" in captured.err
    saved = json.loads(out.read_text())["provenance"]["config"]["limits"]
    assert saved["method"] == "auto" and saved["refine_points"] == 16


def test_asymptotic_formulae_undershoot_there(one_bin_file, capsys):
    assert main(["limits", "compute", str(one_bin_file), "--method", "asymptotic", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["observed_mu"] * 10.0 < 1.0
    assert "the asymptotic limit is unreliable" in captured.err


def test_auto_keeps_asymptotics_with_many_events(make_model):
    lik = make_model(signal=50.0, er=2000.0, wall=200.0)
    counts = lik.expected(lik.nominal_parameters(0.0))
    result = upper_limit(lik, counts, config=LimitConfig.build())
    assert result.method == "asymptotic"
    assert result.extra["signal_region_events"] >= 10.0
    assert signal_region_events(lik, 0.0, 1.0) == pytest.approx(lik.design[1:].sum())


@pytest.fixture
def templates_file(make_model, tmp_path):
    lik = make_model()
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(lik.templates.to_dict()))
    return path


def test_events_with_non_finite_values_exit_2_naming_column_and_count(templates_file, tmp_path, capsys):
    table = pd.DataFrame({"d": [0.1, np.nan, 0.5, np.inf, 0.9], "other": [1.0] * 5})
    events = tmp_path / "events.parquet"
    table.to_parquet(events)
    out = tmp_path / "limit.json"
    rc = main(["limits", "compute", str(templates_file), "--events", str(events), "--columns", "d",
               "-o", str(out)])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'d'" in err[0] and "2 non-finite" in err[0]
    assert not out.exists()


@pytest.mark.parametrize(("extra", "parameter"), [  # named as the option typed
    (["--mu-grid-points", "2"], "error: --mu-grid-points: "),
    (["--refine-points", "-1"], "error: --refine-points: "),
    (["--asymptotic-min-events", "-3"], "error: --asymptotic-min-events: "),
])
def test_every_limit_setting_is_validated_from_the_command_line(templates_file, capsys, extra, parameter):
    assert main(["limits", "compute", str(templates_file), "--asimov-mu", "0", *extra]) == 2
    assert parameter in capsys.readouterr().err
