"""Bad requests and damaged inputs end in one line and exit code 2 (issue 10, items 7, 10, 11)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.hardening.conftest import one_line_error, snapshot

TERA = "1000000000000"


# ----------------------------------------------------------------- item 7: size estimates
@pytest.mark.parametrize(("argv", "needle"), [
    (["simulate", "-s", "er", "--events", TERA, "--seed", "1", "-o", "{tmp}/e.parquet"], "disk"),
    (["simulate", "-s", "er", "--exposure-kg-days", "1e15", "--seed", "1",
      "-o", "{tmp}/e.parquet"], "one run simulates"),
    (["images", "--events-per-class", TERA, "--seed", "1", "-o", "{tmp}/img"], "disk"),
    (["bands", "--events", TERA, "-o", "{tmp}/b.png"], "memory"),
    (["rates", "--mc-events", TERA], "memory"),
    (["show", "--event", "1000000000", "-o", "{tmp}/s.png"], "memory"),
])
def test_impossible_requests_are_refused_before_starting(argv, needle, cli, tmp_path):
    rc, err = cli([a.replace("{tmp}", str(tmp_path)) for a in argv])
    one_line_error(rc, err, needle if " " in needle else f"of {needle}")
    assert snapshot(tmp_path) == {}


LIGHT_WIMP = [
    (["simulate", "-s", "wimp", "--mass-gev", "1", "--events", "100", "--seed", "1",
      "-o", "{tmp}/x.parquet"], "--mass-gev", "--signal-energy-min-kev"),
    (["rates", "--mass-gev", "1", "--mc-events", "100"], "--mass-gev", "signal_energy_min_kev"),
    (["bands", "--mass-gev", "1", "--events", "100", "-o", "{tmp}/b.png"], "--mass-gev",
     "signal_energy_min_kev"),
    (["templates", "--detector", "xenon1t_sr0", "--analysis", "cs1-cs2", "--mass-gev", "1",
      "--events-per-source", "50", "-o", "{tmp}/t.json", "er", "wimp"], "--mass-gev",
     "signal_energy_min_kev"),
    (["sensitivity", "--detector", "xenon1t_sr0", "--masses", "50", "1", "--analysis",
      "cs1-cs2", "--events-per-source", "50", "--no-progress", "-o", "{tmp}/sens"], "--masses",
     "signal_energy_min_kev"),
    (["images", "--signal", "wimp:1", "--events-per-class", "2", "--kinds", "hit", "--shape",
      "hit=8x16", "--seed", "1", "--no-progress", "-o", "{tmp}/img"], "--signal",
     "signal_energy_min_kev"),
    (["show", "--source", "wimp:1", "--kind", "hit", "-o", "{tmp}/s.png"], "--source",
     "signal_energy_min_kev"),
    (["nn", "train", "--masses", "50,1", "--n-signal", "50", "--n-background", "50",
      "--backgrounds", "er", "--cache-dir", "{tmp}/cache", "-o", "{tmp}/nn"], "--masses",
     "signal_energy_min_kev"),
    (["run", "--config", "{tmp}/../run.toml", "-o", "{tmp}/run"], "simulation.wimp_mass_gev",
     "signal_energy_min_kev"),
]


@pytest.mark.parametrize(("argv", "option", "hint"), LIGHT_WIMP, ids=[a[0] for a, _, _ in LIGHT_WIMP])
def test_a_wimp_too_light_for_its_energy_range_is_refused_before_starting(argv, option, hint,
                                                                         cli, tmp_path):
    """A 1 GeV/c^2 WIMP gives no recoils above 0.5 keVnr: one line naming the option that
    set the mass, with the mass, the energy range and the way out, and no output (it
    failed at the first draw, leaving .partial folders, event tables and caches)."""
    (tmp_path / "run.toml").write_text("[simulation]\nwimp_mass_gev = 1.0\nevents_per_source = 300\n"
                                       "[rates]\nenabled = false\n")
    out = tmp_path / "out"
    out.mkdir()
    rc, err = cli([a.replace("{tmp}", str(out)) for a in argv])
    one_line_error(rc, err, f"{option}: a 1 GeV/c^2 WIMP has zero rate", "(0.5-10 keVnr",
                   f"a lower {hint}")
    assert snapshot(out) == {}


@pytest.mark.parametrize("backgrounds", ["er", "all"])
def test_a_device_this_machine_lacks_is_refused_before_starting(backgrounds, cli, tmp_path):
    """One CUDA device more than torch sees here: refused before the images are built
    (it was a CUDA traceback from the first training, after minutes of images)."""
    import torch

    absent = f"cuda:{torch.cuda.device_count() if torch.cuda.is_available() else 0}"
    rc, err = cli(["reproduce", "cnn", "--no-progress", "--backgrounds", backgrounds,
                   "--device", absent, "-o", tmp_path / "cnn"])
    one_line_error(rc, err, f"device: got {absent!r}", "CUDA device(s) on this machine")
    assert snapshot(tmp_path) == {}


def test_size_estimates_are_lower_bounds_of_real_outputs(tmp_path):
    """A lower bound never refuses a request that fits: compare with real files."""
    from wimpsift.images.dataset import build_image_dataset, make_config
    from wimpsift.images.dataset_file import size_estimate
    from wimpsift.io.event_tables import simulate_to_parquet, table_bytes_per_event
    from wimpsift.simulation import validated_config

    n = 400
    path = simulate_to_parquet(validated_config(source="er", n_events=n, seed=1),
                               tmp_path / "e.parquet", progress=False)
    assert 0.5 * table_bytes_per_event() * n <= path.stat().st_size
    kwargs = dict(events_per_class=4, kinds=["hit"], seed=1, shapes={"hit": (8, 16)},
                  chunk_events=2)
    h5 = build_image_dataset(tmp_path / "i.h5", "xenon1t_sr0", progress=False, **kwargs)
    config = make_config("xenon1t_sr0", **kwargs)
    disk, memory = size_estimate(config, _n_pmts())
    assert 0 < disk <= h5.stat().st_size
    assert memory >= 2 * 2 * 8 * 16 * 4  # at least one chunk's images


def _n_pmts() -> int:
    from wimpsift.detectors import load_detector
    from wimpsift.detectors.pmt_arrays import pmt_arrays

    return pmt_arrays(load_detector("xenon1t_sr0")).n_pmts


def test_check_resources_compares_with_the_machine(tmp_path):
    import shutil

    from wimpsift.errors import ConfigError
    from wimpsift.provenance import check_resources

    free = shutil.disk_usage(tmp_path).free
    check_resources("n", disk_bytes=free / 100, memory_bytes=1e6, where=tmp_path / "new")
    with pytest.raises(ConfigError, match=r"^n: needs at least .* of disk"):
        check_resources("n", disk_bytes=free * 10, where=tmp_path)
    with pytest.raises(ConfigError, match=r"^n: needs at least .* of memory"):
        check_resources("n", memory_bytes=1e18)


# ----------------------------------------------------------- item 10: damaged input files
@pytest.fixture
def templates(tmp_path) -> Path:
    from wimpsift.stats.templates import TemplateSet

    edges = np.linspace(0.0, 1.0, 6)
    data = TemplateSet(signal=np.array([0.1, 0.2, 0.5, 1.0, 2.0]),
                       backgrounds={"er": np.array([20.0, 10, 5, 2, 1])},
                       bin_edges=[edges], sigma_ref_cm2=1e-46, mass_gev=50.0).to_dict()
    data["observed"] = [20, 10, 5, 2, 1]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("key", "value"), [
    ("bin_edges", "x"), ("backgrounds", {"er": "x"}), ("sigma_ref_cm2", "x"),
    ("backgrounds", [1]), ("mass_gev", -5), ("mass_gev", "50"), ("mass_gev", True),
])
def test_malformed_templates_are_one_line(key, value, templates, cli, tmp_path):
    data = json.loads(templates.read_text())
    data[key] = value
    templates.write_text(json.dumps(data))
    out = tmp_path / "limit.json"
    one_line_error(*cli(["limits", "compute", templates, "-o", out]))
    assert not out.exists()


def test_missing_event_columns_are_named_in_one_line(templates, cli, tmp_path):
    events = tmp_path / "ev.parquet"
    pd.DataFrame({f"col{i}": np.zeros(3) for i in range(30)}).to_parquet(events)
    one_line_error(*cli(["limits", "compute", templates, "--events", events, "--columns",
                         "score"]), "no column(s) 'score'")


def test_binary_observed_file_is_one_line(templates, cli, tmp_path):
    (tmp_path / "obs.json").write_bytes(bytes(range(256)))
    one_line_error(*cli(["limits", "compute", templates, "--observed", tmp_path / "obs.json"]),
                   "--observed")


def test_damaged_image_datasets_are_one_line(cli, tmp_path):
    from wimpsift.images.dataset import build_image_dataset

    good = build_image_dataset(tmp_path / "images.h5", "xenon1t_sr0", events_per_class=2,
                               kinds=["hit"], seed=1, shapes={"hit": (8, 16)}, progress=False)
    data = bytearray(good.read_bytes())
    overwritten = tmp_path / "over" / "images.h5"
    overwritten.parent.mkdir()
    overwritten.write_bytes(bytes(data[:64]) + b"\xff" * 256 + bytes(data[320:]))
    killed = tmp_path / "killed" / "images.h5"  # killed while the file was being created
    killed.parent.mkdir()
    killed.write_bytes(bytes(data[:800]))
    for path in (overwritten, killed):
        png = tmp_path / "row.png"
        one_line_error(*cli(["show", "--dataset", path, "--kind", "hit", "-o", png]), "dataset")
        assert not png.exists()
        before = path.read_bytes()
        one_line_error(*cli(["images", "--events-per-class", "2", "--kinds", "hit", "--shape",
                             "hit=8x16", "--seed", "1", "--no-progress", "-o", path.parent]),
                       "dataset", "delete it")
        assert path.read_bytes() == before


# --------------------------------------------- items 10, 11: trained model folders as input
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model set written by ``nn train -o DIR`` (tiny: one mass, one epoch)."""
    from wimpsift.cli.main import main

    out = tmp_path_factory.mktemp("nn") / "run"
    assert main(["nn", "train", "--masses", "50", "--n-signal", "150", "--n-background", "150",
                 "--backgrounds", "er", "--epochs-from-scratch", "1", "--max-retrains", "0",
                 "-o", str(out)]) == 0
    events = out.parent / "events.parquet"
    assert main(["simulate", "-s", "er", "--detector", "lux_2013", "--events", "40", "--seed", "5",
                 "--no-progress", "-o", str(events)]) == 0
    return out, events


def test_evaluate_accepts_the_folder_nn_train_writes(trained, cli, tmp_path):
    out, events = trained
    scored = {}
    for models in (out, out / "models"):
        path = tmp_path / f"{models.name}.parquet"
        rc, err = cli(["nn", "evaluate", "--models", models, events, "-o", path])
        assert rc == 0, err
        scored[models.name] = pd.read_parquet(path)
    assert scored["run"].equals(scored["models"])
    assert "nn_score_50GeV" in scored["run"].columns
    record = json.loads(pq.read_schema(tmp_path / "run.parquet").metadata[b"wimpsift"])
    assert record["stage"] == "nn.evaluate" and record["config"]["masses_gev"] == [50.0]
    assert record["config"]["events_provenance"]["detector"]["name"] == "lux_2013"


def test_evaluate_refuses_events_of_another_detector(trained, cli, tmp_path):
    """Networks trained on LUX say nothing about XENON1T events: one line, nothing written."""
    out, _ = trained
    events = tmp_path / "xenon1t.parquet"
    assert cli(["simulate", "-s", "er", "--detector", "xenon1t_sr0", "--events", "20", "--seed", "5",
                "--no-progress", "-o", events])[0] == 0
    scored = tmp_path / "scored.parquet"
    one_line_error(*cli(["nn", "evaluate", "--models", out, events, "-o", scored]),
                   "--models", "'lux_2013'", "'xenon1t_sr0'")
    assert not scored.exists()


@pytest.mark.parametrize("index", ["{not json", "[]", '{"files": 3}', '{"files": {"x": "y"}}'])
def test_malformed_model_index_is_one_line(index, trained, cli, tmp_path):
    import shutil

    out, events = trained
    copy = tmp_path / "run"
    shutil.copytree(out / "models", copy / "models")
    (copy / "models" / "index.json").write_text(index)
    one_line_error(*cli(["nn", "evaluate", "--models", copy / "models", events]), "models")


@pytest.mark.parametrize("argv", [
    ["simulate", "-s", "er", "--events", "abc", "--seed", "1", "-o", "{tmp}/e.parquet"],
    ["simulate", "-s", "er", "--events", "10"],
    ["limits", "compute", "--cl", "0.9"],
    ["reproduce", "cnn", "--scale", "huge", "-o", "{tmp}/cnn"],
    ["no-such-command"],
])
def test_usage_errors_are_one_line_without_the_usage_block(argv, cli, tmp_path):
    """A mistyped or missing option is said in one line that points to --help (argparse
    printed its whole usage block first)."""
    rc, err = cli([a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith("wimpsift") and ": error: " in err[0] and err[0].endswith("--help)")
    assert snapshot(tmp_path) == {}


def test_an_image_output_that_is_not_a_dataset_is_kept_and_named(cli, tmp_path):
    """An empty (or foreign) images.h5 in the output folder is not overwritten: one line
    says what it is and the way out."""
    (tmp_path / "images.h5").write_bytes(b"")
    before = snapshot(tmp_path)
    rc, err = cli(["images", "--events-per-class", "2", "--kinds", "hit", "--shape", "hit=8x16",
                   "--seed", "1", "--no-progress", "-o", tmp_path])
    one_line_error(rc, err, "output: ", "is not an HDF5 file; delete it or choose another output")
    assert snapshot(tmp_path) == before


# ------------------------------------------- review of the forty-seventh round (2026-12-07)
@pytest.mark.parametrize(("argv", "start"), [
    (["simulate", "-s", "er", "--events", TERA, "--seed", "1", "-o", "{tmp}/e.parquet"],
     "--events ("),
    (["images", "--events-per-class", "5", "--kinds", "hit", "--shape", "hit=20000x40000",
      "--seed", "1", "--no-progress", "-o", "{tmp}/img"], "--shape: needs at least"),
    (["positions", "evaluate", "--model", "{tmp}/absent.pt", "--events", TERA,
      "-o", "{tmp}/ev"], "--events: got"),
])
def test_a_refused_size_names_the_option_that_set_it(argv, start, cli, tmp_path):
    rc, err = cli([a.replace("{tmp}", str(tmp_path)) for a in argv])
    one_line_error(rc, err)
    assert err[-1].partition(": error: ")[2].startswith(start), err
    assert snapshot(tmp_path) == {}


def test_an_execution_file_that_is_not_text_is_one_line(cli, tmp_path):
    (tmp_path / "x.toml").write_bytes(b"PAR1\xff\xfe\x00\x80")
    one_line_error(*cli(["simulate", "-s", "er", "--events", "10", "--seed", "1", "--execution",
                         tmp_path / "x.toml", "-o", tmp_path / "e.parquet"]),
                   "--execution: cannot read")
    assert not (tmp_path / "e.parquet").exists()


def test_an_images_folder_given_as_dataset_names_the_file_inside(cli, tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "images.h5").write_bytes(b"")
    one_line_error(*cli(["show", "--dataset", tmp_path / "imgs", "--kind", "hit", "-o",
                         tmp_path / "s.png"]), "is a folder", "images.h5")
    assert not (tmp_path / "s.png").exists()


def test_instructions_without_labels_name_the_label_option(cli, tmp_path):
    (tmp_path / "i.csv").write_text("instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t\n"
                                    "0,ER,0,0,10,100,100,0\n")
    rc, err = cli(["images", "--instructions", tmp_path / "i.csv", "--seed", "1", "-o",
                   tmp_path / "img"])
    one_line_error(rc, err, "--label 0 or 1")
    assert err[-1].partition(": error: ")[2].startswith("--label: "), err


def test_a_reader_that_stops_reading_ends_the_command_quietly(tmp_path):
    """``wimpsift detectors --json | true``: no error line, the status of a tool stopped
    by SIGPIPE (128 + 13), as with any command-line tool whose reader goes away."""
    import os
    import subprocess
    import sys

    # buffered, as in any shell: the small output's only write comes at the end
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen([sys.executable, "-m", "wimpsift", "detectors", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env)
    proc.stdout.close()  # before the interpreter has started: every write finds no reader
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""


def test_a_run_whose_event_tables_cannot_fit_is_refused_before_its_folder_exists(cli, tmp_path):
    (tmp_path / "run.toml").write_text(f"[simulation]\nevents_per_source = {TERA}000\n"
                                       "[rates]\nenabled = false\n")
    rc, err = cli(["run", "--config", tmp_path / "run.toml", "-o", tmp_path / "out"])
    one_line_error(rc, err, "of disk")
    assert err[-1].partition(": error: ")[2].startswith("simulation.events_per_source ("), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("analysis", ["cnn", "lux"])
def test_a_scheduler_address_that_is_no_scheduler_is_one_line_before_any_output(analysis, cli,
                                                                               tmp_path):
    """A server that answers with something else (here HTTP): Dask reads its reply as a
    message of exabytes and raised MemoryError from deep inside; the run had already
    written its folder."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        with server:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)

    threading.Thread(target=answer, daemon=True).start()
    try:
        rc, err = cli(["reproduce", analysis, "--scale", "quick", "--scheduler-address",
                       f"tcp://127.0.0.1:{port}", "-o", tmp_path / "out"])
    finally:
        server.close()
    one_line_error(rc, err, "--scheduler-address: cannot reach", "not a Dask scheduler's")
    assert not (tmp_path / "out").exists()
