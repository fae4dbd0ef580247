"""Per-PMT light: S1 patterns, S2 light response, photon sharing and PE areas."""

import numpy as np
import pytest

from wimpsift.detectors.pmt_arrays import pmt_arrays
from wimpsift.response.pmt_light import (
    photoelectron_areas,
    s1_pattern,
    s2_pattern,
    s2_top_lrf,
    share_photons,
)


@pytest.fixture(scope="module")
def arrays(xenon1t):
    return pmt_arrays(xenon1t)


def test_s1_bottom_sees_most_light_and_top_share_falls_with_depth(arrays):
    z = np.linspace(-5, -90, 10)
    p = s1_pattern(np.zeros_like(z), np.zeros_like(z), z, arrays)
    assert np.allclose(p.sum(axis=1), 1.0)
    top = p[:, arrays.top].sum(axis=1)
    assert np.all(np.diff(top) < 0)
    assert top.mean() < 0.5


def test_s2_top_light_centred_on_the_electrons(arrays, xenon1t):
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-30, 30, 50), rng.uniform(-30, 30, 50)
    lrf = s2_top_lrf(x, y, arrays)
    brightest = np.argmax(lrf, axis=1)
    dist = np.hypot(arrays.x_cm[brightest] - x, arrays.y_cm[brightest] - y)
    assert np.all(dist < 8.0)  # the brightest PMT is one of the nearest
    p = s2_pattern(x, y, arrays, xenon1t)
    assert np.allclose(p[:, arrays.top].sum(axis=1), xenon1t.charge.s2_top_fraction)
    bottom = p[:, arrays.bottom] / p[:, arrays.bottom].sum(axis=1, keepdims=True)
    assert bottom.max() < 3 * bottom.mean() * 1.0 + 0.02  # broad


def test_sharing_and_pe_areas(arrays, xenon1t):
    rng = np.random.default_rng(2)
    p = s2_pattern([10.0], [0.0], arrays, xenon1t)[0]
    photons = share_photons(200_000, p, rng)
    assert photons.sum() == 200_000
    assert np.allclose(photons / 200_000, p, atol=3e-3)
    n_pe, area = photoelectron_areas(photons, xenon1t, rng)
    assert area.sum() / photons.sum() == pytest.approx(1 + xenon1t.light.double_pe_probability,
                                                      rel=0.01)
