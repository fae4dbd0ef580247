"""PMT arrays built from the detector definitions (explicit XENON1T positions, LUX generator)."""

import numpy as np
import pytest

from wimpsift.detectors.pmt_arrays import pmt_arrays
from wimpsift.errors import ConfigError


def test_xenon1t_counts_and_radii(xenon1t):
    arrays = pmt_arrays(xenon1t)
    assert (arrays.n_top, arrays.n_bottom) == (127, 121)
    r = np.hypot(arrays.x_cm, arrays.y_cm)
    assert r[arrays.top].max() == pytest.approx(47.7, abs=0.1)
    assert r[arrays.bottom].max() == pytest.approx(44.5, abs=0.2)
    assert r.max() < xenon1t.geometry.tpc_radius_cm


def test_lux_hexagonal_arrays(lux):
    arrays = pmt_arrays(lux)
    assert (arrays.n_top, arrays.n_bottom) == (61, 61)
    assert np.hypot(arrays.x_cm, arrays.y_cm).max() < lux.geometry.tpc_radius_cm
    # nearest-neighbour distance is the lattice pitch everywhere
    d = np.hypot(arrays.x_cm[:61, None] - arrays.x_cm[:61], arrays.y_cm[:61, None] - arrays.y_cm[:61])
    d[d == 0] = np.inf
    assert np.allclose(d.min(axis=1), 5.6)


@pytest.mark.parametrize("array", ["top", "bottom"])
def test_layout_matches_published_positions(xenon1t, reference_dir, array):
    import pandas as pd

    ref = pd.read_csv(reference_dir / "xenon1t_pmt_positions.csv")
    ref = ref[ref["array"] == array][["x_cm", "y_cm"]].to_numpy()
    arrays = pmt_arrays(xenon1t)
    sl = arrays.top if array == "top" else arrays.bottom
    x, y = arrays.x_cm[sl], arrays.y_cm[sl]
    assert x.size == len(ref)
    best = np.inf
    for theta in np.radians(np.arange(0.0, 360.0, 0.5)):
        c, s = np.cos(theta), np.sin(theta)
        xr, yr = x * c - y * s, x * s + y * c
        dist = np.hypot(xr[:, None] - ref[:, 0], yr[:, None] - ref[:, 1]).min(axis=1)
        best = min(best, float(np.median(dist)))
    assert best < 1.0


def test_arrays_come_from_a_definition_not_a_name():
    with pytest.raises(ConfigError, match="detector"):
        pmt_arrays("xenon1t_sr0")
