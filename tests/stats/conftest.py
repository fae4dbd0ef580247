"""Shared small models for the statistics tests."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig  # noqa: E402
from wimpsift.stats.templates import TemplateSet  # noqa: E402


def gaussian_model(
    n_bins: int = 10, signal: float = 10.0, er: float = 100.0, wall: float = 10.0,
    widths: dict[str, float] | None = None, mc_events: int | None = None, tilt: float | None = None,
) -> BinnedLikelihood:
    """Signal peaked at high discriminant values, falling ER and flat wall backgrounds.

    ``mc_events``: each background template as if filled by that many equal-weight
    simulated events (Σw² = b_i * total / mc_events), so the likelihood has per-bin
    MC-statistics parameters. ``tilt``: one shape parameter ``er_tilt`` whose ±1σ
    templates tilt the ER background by ``±tilt * (x - 0.5)``."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    s = np.exp(-0.5 * ((centres - 0.85) / 0.12) ** 2)
    b_er = np.exp(-3.0 * centres)
    b_wall = np.ones(n_bins)
    backgrounds = {"er": b_er * er / b_er.sum(), "wall": b_wall * wall / b_wall.sum()}
    variances = None if mc_events is None else {
        k: b * b.sum() / mc_events for k, b in backgrounds.items()}
    shapes = None
    if tilt is not None:
        total = backgrounds["er"] + backgrounds["wall"]
        change = backgrounds["er"] * tilt * (centres - 0.5)
        shapes = {"er_tilt": (total - change, total + change)}
    templates = TemplateSet(
        signal=s * signal / s.sum(), backgrounds=backgrounds, background_variances=variances,
        shape_variations=shapes,
        bin_edges=[edges], sigma_ref_cm2=1e-46, mass_gev=50.0,
    )
    config = LikelihoodConfig.build(background_rel_uncertainty=widths or {"er": 0.1, "wall": 0.3})
    return BinnedLikelihood(templates, config)


@pytest.fixture
def small_model() -> BinnedLikelihood:
    return gaussian_model()


@pytest.fixture(scope="session")
def make_model():
    """Factory of :func:`gaussian_model` (tests directories are not packages)."""
    return gaussian_model


def _finite_differences(lik: BinnedLikelihood, x: np.ndarray, counts: np.ndarray, aux: np.ndarray,
                        eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of ``lik``'s objective (the gradient) and of its analytic
    gradient (the Hessian) at ``x``."""
    eye = np.eye(x.size)
    grad = np.array([(lik.nll(x + eps * e, counts, aux) - lik.nll(x - eps * e, counts, aux)) / (2 * eps)
                     for e in eye])
    hess = np.array([(lik.grad(x + eps * e, counts, aux) - lik.grad(x - eps * e, counts, aux)) / (2 * eps)
                     for e in eye])
    return grad, hess


@pytest.fixture(scope="session")
def finite_differences():
    """:func:`_finite_differences` (tests directories are not packages)."""
    return _finite_differences
