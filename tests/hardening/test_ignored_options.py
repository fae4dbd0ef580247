"""Options that a command took and did nothing with in some combination, the result
written and exit code 0 as if they had been honoured: refused in one line naming the
option, exit code 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.hardening.conftest import one_line_error, snapshot


def _templates(tmp_path: Path) -> Path:
    from wimpsift.stats.templates import TemplateSet

    data = TemplateSet(signal=np.array([0.1, 0.2, 0.5, 1.0, 2.0]),
                       backgrounds={"er": np.array([20.0, 10, 5, 2, 1])},
                       bin_edges=[np.linspace(0.0, 1.0, 6)], sigma_ref_cm2=1e-46,
                       mass_gev=50.0).to_dict()
    data["observed"] = [20, 10, 5, 2, 1]
    path = tmp_path / "in" / "templates.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    return path


def test_limits_columns_without_events_is_refused(cli, tmp_path: Path) -> None:
    """--columns names the columns of --events; with the templates' own counts, --observed
    or --asimov-mu it was ignored (the same limit, exit 0)."""
    templates = _templates(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for argv in (["compute", "--method", "asymptotic", "-o", out / "l.json"],
                 ["discovery", "--asimov-mu", "2", "-o", out / "d.json"],
                 ["export-pyhf", "-o", out / "w.json"]):
        rc, err = cli(["limits", argv[0], templates, "--columns", "cs1_pe", *argv[1:]])
        one_line_error(rc, err, "--columns: only with --events")
        assert snapshot(out) == {}


def test_templates_models_without_the_network_analysis_is_refused(cli, tmp_path: Path) -> None:
    """--models scores events for --analysis network only; with cs1-cs2 or rz-cs1-cs2 it was
    not even read (a folder that does not exist gave the same templates, exit 0)."""
    for analysis in ("cs1-cs2", "rz-cs1-cs2"):
        rc, err = cli(["templates", "wimp", "er", "--detector", "lux_2013", "--analysis", analysis,
                       "--mass-gev", "50", "--events-per-source", "50",
                       "--models", tmp_path / "no-models", "-o", tmp_path / "t.json"])
        one_line_error(rc, err, "--models: only with --analysis network")
        assert snapshot(tmp_path) == {}


def test_reinterpret_toys_of_an_observed_limit_are_refused(cli, tmp_path: Path) -> None:
    """--toys picks the XENONnT projection's toy-MC sets; XENON1T's limit is on its observed
    data, and any --toys gave the same limit, exit 0."""
    rc, err = cli(["reinterpret", "--experiment", "xenon1t_1ty", "--masses", "50", "--toys", "7",
                   "--no-progress", "-o", tmp_path / "out"])
    one_line_error(rc, err, "--toys: only with --experiment xenonnt_20ty")
    assert snapshot(tmp_path) == {}


def test_images_peak_secondary_s2_without_peak_images_is_refused(cli, tmp_path: Path) -> None:
    """--peak-secondary-s2 adds a panel to peak and hitpeak images; with --kinds hit the
    dataset came out the same as without it, exit 0 (as --shape of a kind not made is
    refused)."""
    rc, err = cli(["images", "--events-per-class", "2", "--kinds", "hit,event",
                   "--peak-secondary-s2", "--seed", "1", "--no-progress", "-o", tmp_path / "img"])
    one_line_error(rc, err, "--peak-secondary-s2: only for peak and hitpeak images (--kinds hit,event)")
    assert snapshot(tmp_path) == {}


def test_nn_study_masses_are_honoured_or_refused(cli, tmp_path: Path) -> None:
    """--masses of nn study: the projections study shows one network, at --projection-mass,
    and took any --masses without a word; pca with --models reported every trained mass
    whatever --masses asked for. Now projections refuses it, pca keeps the masses asked."""
    samples = ["--n-signal", "150", "--n-background", "150", "--backgrounds", "er",
               "--cache-dir", tmp_path / "cache"]
    rc, err = cli(["nn", "study", "projections", "--masses", "10,50", *samples,
                   "-o", tmp_path / "projections"])
    one_line_error(rc, err, "--masses: not for the projections study")
    assert not (tmp_path / "projections").exists()

    models = tmp_path / "run"
    assert cli(["nn", "train", "--masses", "10,50", *samples, "--epochs-from-scratch", "1",
                "--epochs-transfer", "1", "--max-retrains", "0", "-o", models])[0] == 0
    rc, err = cli(["nn", "study", "pca", "--models", models, "--masses", "50", *samples,
                   "-o", tmp_path / "pca"])
    assert rc == 0, err
    table = (tmp_path / "pca" / "pca.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in table[1:]] == ["50"], table
    rc, err = cli(["nn", "study", "pca", "--models", models, "--masses", "30", *samples,
                   "-o", tmp_path / "pca30"])
    one_line_error(rc, err, "--masses: 30 GeV is not among the trained masses")
    assert not (tmp_path / "pca30").exists()


def test_simulate_wimp_options_of_a_background_are_refused(cli, tmp_path: Path) -> None:
    """--mass-gev, --signal-energy-min-kev and --sigma-cm2 set the wimp source; for a
    background the table came out the same, exit 0, its provenance recording a mass or
    cross-section it was not drawn with."""
    for option, value in (("--mass-gev", "50"), ("--signal-energy-min-kev", "3"),
                          ("--sigma-cm2", "1e-46")):
        rc, err = cli(["simulate", "-d", "lux_2013", "-s", "er", option, value, "--events", "50",
                       "--seed", "3", "--no-progress", "-o", tmp_path / "er.parquet"])
        one_line_error(rc, err, f"{option}: only with --source wimp")
        assert snapshot(tmp_path) == {}
