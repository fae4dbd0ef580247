"""Shared fixtures. Validation data (published PMT positions, the published WIMP
spectrum) ship in tests/data with their sources (tests/data/README.md), so no test
skips in a fresh clone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"


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
