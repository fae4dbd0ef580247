"""The reconstruction's light response differs from the simulation's (default on)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError


def _rms(x, y, x_true, y_true):
    return float(np.sqrt(np.mean((x - x_true) ** 2 + (y - y_true) ** 2)))


def test_mismatch_is_on_by_default_and_documented_size():
    from wimpsift.processing.reconstruction import LrfMismatch, ProcessingSettings, pmt_efficiencies

    settings = ProcessingSettings()
    assert settings.lrf_mismatch == LrfMismatch()
    eff = pmt_efficiencies(127, settings.lrf_mismatch)
    # 127 draws of N(1, 0.05): the sample RMS is within ±30 % of 0.05 with overwhelming odds
    assert 0.035 < eff.std() < 0.065 and abs(eff.mean() - 1) < 0.02
    np.testing.assert_array_equal(eff, pmt_efficiencies(127, LrfMismatch()))  # fixed, seeded


def test_reconstruction_lrf_without_mismatch_is_the_simulation_lrf(xenon1t):
    from wimpsift.detectors.pmt_arrays import pmt_arrays
    from wimpsift.processing.reconstruction import LrfMismatch, reconstruction_lrf
    from wimpsift.response.pmt_light import s2_top_lrf

    arrays = pmt_arrays(xenon1t)
    x, y = np.array([0.0, 20.0, -40.0]), np.array([0.0, -10.0, 5.0])
    np.testing.assert_allclose(reconstruction_lrf(x, y, arrays), s2_top_lrf(x, y, arrays))
    assumed = reconstruction_lrf(x, y, arrays, mismatch=LrfMismatch())
    np.testing.assert_allclose(assumed.sum(axis=1), 1.0, rtol=1e-12)
    assert np.abs(assumed / s2_top_lrf(x, y, arrays) - 1).max() > 0.05


def test_mismatch_makes_the_likelihood_resolution_worse(xenon1t, true_response_patterns):
    from wimpsift.detectors.pmt_arrays import pmt_arrays
    from wimpsift.processing.reconstruction import LrfMismatch, reconstruct_xy_likelihood
    from wimpsift.response.pmt_light import DEFAULT_OPTICS

    top, x_true, y_true = true_response_patterns
    arrays, radius = pmt_arrays(xenon1t), xenon1t.geometry.tpc_radius_cm
    ideal = _rms(*reconstruct_xy_likelihood(top, arrays, radius, DEFAULT_OPTICS, 1.0, None),
                 x_true, y_true)
    real = _rms(*reconstruct_xy_likelihood(top, arrays, radius, DEFAULT_OPTICS, 1.0,
                                           LrfMismatch()), x_true, y_true)
    assert real > 1.15 * ideal
    doubled = LrfMismatch(pmt_efficiency_rms=0.10, lrf_height_scale=1.2)
    worse = _rms(*reconstruct_xy_likelihood(top, arrays, radius, DEFAULT_OPTICS, 1.0, doubled),
                 x_true, y_true)
    assert worse > real


def test_a_model_path_without_the_cnn_method_is_refused(tmp_path):
    """xy_model_path with the default likelihood fit was ignored: the same positions
    (even for a file that does not exist) and a dataset cache of its own."""
    from wimpsift.errors import ConfigError
    from wimpsift.processing.reconstruction import ProcessingSettings

    for field in ("xy_model_path", "xy_model_sha256"):
        with pytest.raises(ConfigError, match=rf"^ProcessingSettings: {field}: only with xy_method cnn"):
            ProcessingSettings.build(**{field: str(tmp_path / "net.pt")})
    with pytest.raises(ValidationError, match="xy_model_path"):  # as constructed in a notebook
        ProcessingSettings(xy_method="likelihood", xy_model_path=tmp_path / "net.pt")


def test_cnn_method_needs_a_model_path():
    from wimpsift.processing.reconstruction import LrfMismatch, ProcessingSettings

    with pytest.raises(ValidationError, match="xy_model_path"):
        ProcessingSettings(xy_method="cnn")
    with pytest.raises(ValidationError):
        ProcessingSettings(xy_method="neural")
    with pytest.raises(ValidationError):
        LrfMismatch(pmt_efficiency_rms=-0.1)
