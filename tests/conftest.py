"""Shared fixtures. Reference files live in ../shared/reference beside the checkout;
tests that need them skip cleanly when that folder is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = REPO_ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not SHARED_REFERENCE.is_dir():
        pytest.skip("../shared/reference is absent")
    return SHARED_REFERENCE


@pytest.fixture(scope="session")
def xenon1t():
    from wimpsift.detectors import load_detector

    return load_detector("xenon1t_sr0")


@pytest.fixture(scope="session")
def lux():
    from wimpsift.detectors import load_detector

    return load_detector("lux_2013")
