"""The top arrays' symmetry group used to augment the position CNN's training."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("name", ["xenon1t_sr0", "xenonnt_sr0", "lux_2013"])
def test_shipped_hexagonal_layouts_have_the_twelve_symmetries_of_a_hexagon(name):
    from wimpsift.detectors import load_detector
    from wimpsift.detectors.pmt_arrays import pmt_arrays
    from wimpsift.training.position import array_symmetries

    arrays = pmt_arrays(load_detector(name))
    group = array_symmetries(arrays)
    assert len(group) == 12
    perm0, matrix0 = group[0]
    np.testing.assert_array_equal(perm0, np.arange(arrays.n_top))
    np.testing.assert_allclose(matrix0, np.eye(2), atol=1e-12)
    top = arrays.top
    xy = np.stack([arrays.x_cm[top], arrays.y_cm[top]], axis=1)
    determinants = []
    for perm, matrix in group:
        assert sorted(perm) == list(range(arrays.n_top))  # a permutation of the PMTs
        np.testing.assert_allclose(xy @ matrix.T, xy[perm], atol=0.2)
        determinants.append(round(float(np.linalg.det(matrix))))
    assert determinants.count(1) == 6 and determinants.count(-1) == 6  # C6 and 6 mirrors


def test_moved_patterns_are_the_light_response_at_the_moved_positions(xenon1t):
    """A symmetry moves the simulation's own light response onto itself: the pattern of
    a point, permuted, is the pattern of the moved point."""
    from wimpsift.detectors.pmt_arrays import pmt_arrays
    from wimpsift.response.pmt_light import DEFAULT_OPTICS, s2_top_lrf
    from wimpsift.training.position import apply_symmetries, array_symmetries

    arrays = pmt_arrays(xenon1t)
    group = array_symmetries(arrays)
    rng = np.random.default_rng(3)
    n = 240
    r = xenon1t.geometry.tpc_radius_cm * np.sqrt(rng.random(n))
    phi = rng.uniform(0, 2 * np.pi, n)
    xy = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
    lrf = s2_top_lrf(xy[:, 0], xy[:, 1], arrays, DEFAULT_OPTICS)
    element = np.arange(n) % len(group)
    moved_lrf, moved_xy = apply_symmetries(lrf, xy, element, group)
    np.testing.assert_allclose(np.hypot(*moved_xy.T), r)
    expected = s2_top_lrf(moved_xy[:, 0], moved_xy[:, 1], arrays, DEFAULT_OPTICS)
    np.testing.assert_allclose(moved_lrf, expected, rtol=2e-3, atol=1e-7)
    # a non-trivial move changes the pattern
    assert not np.allclose(moved_lrf[element > 0], lrf[element > 0])


def test_symmetrised_prediction_is_exactly_equivariant(tiny_model, true_response_patterns):
    """Averaged over the group, the CNN's answer for a moved pattern is its answer for
    the pattern, moved; one evaluation of the network is only close to that."""
    from wimpsift.training.position import apply_symmetries, array_symmetries

    top, x, y = true_response_patterns
    top, xy = top[:300], np.stack([x[:300], y[:300]], axis=1)
    group = array_symmetries(tiny_model.arrays)
    element = 1 + np.arange(len(top)) % (len(group) - 1)  # never the identity
    moved_top, _ = apply_symmetries(top, xy, element, group)
    answer = np.stack(tiny_model.predict_xy(top), axis=1)
    _, answer_moved = apply_symmetries(top, answer, element, group)
    np.testing.assert_allclose(np.stack(tiny_model.predict_xy(moved_top), axis=1),
                               answer_moved, atol=1e-3)
    single = np.stack(tiny_model.predict_xy(top, symmetrised=False), axis=1)
    _, single_moved = apply_symmetries(top, single, element, group)
    single_of_moved = np.stack(tiny_model.predict_xy(moved_top, symmetrised=False), axis=1)
    assert np.abs(single_of_moved - single_moved).max() > 0.05
