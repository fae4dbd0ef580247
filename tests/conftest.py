"""Shared fixtures. Validation data (published PMT positions, the published WIMP
spectrum) ship in tests/data with their sources (tests/data/README.md), so no test
skips in a fresh clone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def model_set(tmp_path) -> Path:
    """A 50 GeV/c^2 'nn train' models folder without training: a real untrained dense
    network on (r, z, cS1, cS2) and a fitted uniform transform."""
    import numpy as np

    from wimpsift.models.dense import DenseDiscriminantNet
    from wimpsift.models.uniform_transform import UniformTransform
    from wimpsift.training.discriminant import TrainedDiscriminant, save_discriminants

    inputs = ("r_cm", "z_cm", "cs1_pe", "cs2_pe")
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(300, int), np.ones(300, int)]
    transform = UniformTransform(max_knots=50).fit(rng.normal(y, 1.0), y)
    model = TrainedDiscriminant(50.0, inputs, DenseDiscriminantNet(len(inputs), (3,)), transform)
    return save_discriminants({50.0: model}, tmp_path / "models").parent


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The shipped validation data (tests/data)."""
    return TEST_DATA


@pytest.fixture(scope="session")
def xenon1t():
    from wimpsift.detectors import load_detector

    return load_detector("xenon1t_sr0")


@pytest.fixture(scope="session")
def lux():
    from wimpsift.detectors import load_detector

    return load_detector("lux_2013")


TINY_RUN = """
[simulation]
detector = "xenon1t_sr0"
wimp_mass_gev = 500.0
events_per_source = 1500
seed = 3

[rates]
mc_events = 1500

[cnn]
enabled = true
options = { images = "synthetic", train_events_per_class = 60, test_events_per_class = 60, \
executor = "serial", grid = { n_conv_layers = [1], batch_size = [50], epochs = [1, 2], \
leaky_alpha = [0.05], learning_rate = [0.005] } }

[lux]
enabled = true
options = { masses_gev = [10.0, 50.0], n_signal = 300, n_background = 300, n_toys = 30, \
n_background_toys = 30, grid_points = 4, n_pseudo_experiments = 0, epochs = 3, studies = false, \
pf_events = 150, pf_traditional_bins = [2, 2, 4, 4, 2], pf_n_toys = 20, pf_grid_points = 4, \
pf_pseudo_experiments = 0 }
"""


SRC = str(REPO_ROOT / "src")


# The modules whose tests read the tiny main job (`tiny_run`): with pytest-xdist's
# ``--dist loadfile`` (the README's test command) they go to one worker as if they were one
# file, so the job runs once, not once per worker. Collection refuses a test elsewhere that
# asks for `tiny_run`, so the list cannot fall behind.
TINY_RUN_MODULES = ("tests/pipelines/test_reproduce_lux.py", "tests/reports/test_browser.py",
                    "tests/reports/test_progress.py")


def _module(nodeid: str) -> str:
    """The test file of a node id, as pytest-xdist's ``loadfile`` splits it."""
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = _module(item.nodeid)
        if "tiny_run" in getattr(item, "fixturenames", ()) and module not in TINY_RUN_MODULES:
            raise pytest.UsageError(f"{item.nodeid} reads tiny_run: add {module} to "
                                    "TINY_RUN_MODULES in tests/conftest.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with the `TINY_RUN_MODULES` as one file; every other mode as
    pytest-xdist has it. (pytest-xdist 3.8's ``loadgroup`` marks do not take under pytest
    9.2, whose node ids can no longer be rewritten.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class TinyRunAsOneFile(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = _module(nodeid)
            return "tiny_run" if module in TINY_RUN_MODULES else module

    return TinyRunAsOneFile(config, log)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """Output folder of ``wimpsift run`` on a tiny configuration, shared by the report
    tests and the LUX pipeline's end-to-end test (about 1.7 min on 2 cores; the LUX
    stage's 5-D comparison on 150 photon-timed events per source), run as a user runs it;
    ``stderr_lines.tsv`` beside it holds every stderr line with the seconds since the
    start at which it arrived (a bar's redraw is a line)."""
    folder = tmp_path_factory.mktemp("tiny_run")
    config = folder / "tiny.toml"
    config.write_text(TINY_RUN)
    out = folder / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    started = time.monotonic()
    command = [sys.executable, "-m", "wimpsift", "run", "--config", str(config), "-o", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    lines = []
    while chunk := os.read(proc.stderr.fileno(), 65536):
        now = time.monotonic() - started
        text = chunk.decode(errors="replace").replace("\r", "\n")
        lines += [f"{now:.2f}\t{line}" for line in text.splitlines() if line.strip()]
    assert proc.wait() == 0, "\n".join(lines[-20:])
    (folder / "stderr_lines.tsv").write_text("\n".join(lines) + "\n")
    return out
