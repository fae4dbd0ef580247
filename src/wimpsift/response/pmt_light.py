"""Per-PMT light: S1 light-collection patterns, S2 light response functions, and the
sharing of detected photons among PMTs (multinomial), with double-PE emission and
single-PE gain spread.

The *total* light of an event comes from the event-level response
(:func:`wimpsift.response.light.photon_detection_probability` for S1,
``detector.se_gain_pe`` per extracted electron for S2), so the waveform-level and
event-level simulations agree on average. This module only decides *which* PMT sees
each photon.

S1 pattern, for a point source at (x, y, z) in the liquid (z < 0):

- bottom array: direct light, the solid angle of each photocathode disc
  a² h / (4 d³) (fraction of 4π; h the height difference, d the distance), plus the light
  totally reflected at the liquid surface (mirror source at -z, only rays beyond the
  critical angle arcsin(1/n_LXe));
- top array: light refracted out of the liquid (only rays inside the critical angle,
  Fresnel transmission ``surface_transmission``), seen from the apparent source
  depth |z| / n_LXe;
- diffuse part: light after reflections on the PTFE walls, ``diffuse_weight`` times the
  total direct light, shared evenly over PMTs, ``diffuse_top_share`` of it on the top.

The bottom array thus sees most of the S1 light and the top share falls with depth.

S2 pattern, for electroluminescence at (x, y) just above the liquid surface: the top
array follows a light response function (LRF) a² h / (4 d³) from the EL plane to the
top photocathodes plus a flat floor (``s2_top_floor`` of the mean), the bottom array the
same law across the whole drift length (broad) plus a flat floor. The split between the
arrays is the detector's ``s2_top_fraction``.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from wimpsift.config import WimpsiftConfig
from wimpsift.detectors import Detector
from wimpsift.detectors.pmt_arrays import PmtArrays


class OpticalSettings(WimpsiftConfig):
    """Settings of the per-PMT light model (documented defaults, XENON1T-like)."""

    refractive_index_liquid: float = Field(1.69, ge=1.0)
    surface_transmission: float = Field(0.9, ge=0.0, le=1.0)
    diffuse_weight: float = Field(0.6, ge=0.0)
    diffuse_top_share: float = Field(0.3, ge=0.0, le=1.0)
    s2_top_floor: float = Field(0.15, ge=0.0)
    s2_bottom_floor: float = Field(0.5, ge=0.0)


DEFAULT_OPTICS = OpticalSettings()


def _disc_solid_angle(dx, dy, h, radius_cm):
    """Fraction of 4π subtended by a disc of ``radius_cm`` seen at offset (dx, dy, h)."""
    d2 = dx * dx + dy * dy + h * h
    return radius_cm**2 * np.abs(h) / (4.0 * d2 * np.sqrt(d2))


def s1_pattern(x_cm, y_cm, z_cm, arrays: PmtArrays, optics: OpticalSettings = DEFAULT_OPTICS
               ) -> np.ndarray:
    """Probability (N, n_pmts) that a detected S1 photon lands on each PMT (rows sum to 1)."""
    x = np.atleast_1d(np.asarray(x_cm, dtype=float))[:, None]
    y = np.atleast_1d(np.asarray(y_cm, dtype=float))[:, None]
    z = np.atleast_1d(np.asarray(z_cm, dtype=float))[:, None]
    depth = np.maximum(-z, 0.0)
    n = optics.refractive_index_liquid
    a = arrays.photocathode_radius_cm
    top, bottom = arrays.top, arrays.bottom
    dx = arrays.x_cm[None, :] - x
    dy = arrays.y_cm[None, :] - y

    # bottom: direct + total internal reflection at the surface (mirror image at +depth)
    h_direct = z - arrays.bottom_plane_z_cm
    direct_b = _disc_solid_angle(dx[:, bottom], dy[:, bottom], h_direct, a)
    h_mirror = depth - arrays.bottom_plane_z_cm
    rho2 = dx[:, bottom] ** 2 + dy[:, bottom] ** 2
    cos_mirror = h_mirror / np.sqrt(rho2 + h_mirror**2)
    beyond_critical = cos_mirror < np.sqrt(1 - 1 / n**2)
    mirror_b = _disc_solid_angle(dx[:, bottom], dy[:, bottom], h_mirror, a) * beyond_critical

    # top: refracted light from the apparent depth; the fraction of 4π inside the
    # critical cone, (1 - cos θc) / 2, is spread over the upper hemisphere (2π)
    h_top = arrays.top_plane_z_cm + depth / n
    cone = (1 - np.sqrt(1 - 1 / n**2))
    direct_t = optics.surface_transmission * cone * _disc_solid_angle(
        dx[:, top], dy[:, top], h_top, a)

    pattern = np.empty((x.shape[0], arrays.n_pmts))
    pattern[:, bottom] = direct_b + mirror_b
    pattern[:, top] = direct_t
    direct_total = pattern.sum(axis=1, keepdims=True)
    diffuse = optics.diffuse_weight * direct_total
    pattern[:, top] += diffuse * optics.diffuse_top_share / arrays.n_top
    pattern[:, bottom] += diffuse * (1 - optics.diffuse_top_share) / arrays.n_bottom
    return pattern / pattern.sum(axis=1, keepdims=True)


def s2_top_lrf(x_cm, y_cm, arrays: PmtArrays, optics: OpticalSettings = DEFAULT_OPTICS
               ) -> np.ndarray:
    """Top-array light response (N, n_top) to S2 light at (x, y); rows sum to 1."""
    x = np.atleast_1d(np.asarray(x_cm, dtype=float))[:, None]
    y = np.atleast_1d(np.asarray(y_cm, dtype=float))[:, None]
    h = arrays.top_plane_z_cm - arrays.el_plane_z_cm
    lrf = _disc_solid_angle(arrays.x_cm[None, arrays.top] - x, arrays.y_cm[None, arrays.top] - y,
                            h, arrays.photocathode_radius_cm)
    lrf = lrf / lrf.sum(axis=1, keepdims=True)
    lrf = (1 - optics.s2_top_floor) * lrf + optics.s2_top_floor / arrays.n_top
    return lrf


def s2_bottom_pattern(x_cm, y_cm, arrays: PmtArrays, optics: OpticalSettings = DEFAULT_OPTICS
                      ) -> np.ndarray:
    """Bottom-array response (N, n_bottom) to S2 light at (x, y): broad; rows sum to 1."""
    x = np.atleast_1d(np.asarray(x_cm, dtype=float))[:, None]
    y = np.atleast_1d(np.asarray(y_cm, dtype=float))[:, None]
    h = arrays.el_plane_z_cm - arrays.bottom_plane_z_cm
    lrf = _disc_solid_angle(arrays.x_cm[None, arrays.bottom] - x,
                            arrays.y_cm[None, arrays.bottom] - y, h, arrays.photocathode_radius_cm)
    lrf = lrf / lrf.sum(axis=1, keepdims=True)
    return (1 - optics.s2_bottom_floor) * lrf + optics.s2_bottom_floor / arrays.n_bottom


def s2_pattern(x_cm, y_cm, arrays: PmtArrays, detector: Detector,
               optics: OpticalSettings = DEFAULT_OPTICS) -> np.ndarray:
    """Probability (N, n_pmts) that a detected S2 photon lands on each PMT (rows sum to 1)."""
    f_top = detector.charge.s2_top_fraction
    top = s2_top_lrf(x_cm, y_cm, arrays, optics)
    bottom = s2_bottom_pattern(x_cm, y_cm, arrays, optics)
    return np.concatenate([f_top * top, (1 - f_top) * bottom], axis=1)


def share_photons(n_photons: int, probabilities: np.ndarray, rng: np.random.Generator
                  ) -> np.ndarray:
    """Multinomial sharing of ``n_photons`` detected photons among PMTs."""
    p = np.asarray(probabilities, dtype=float)
    return rng.multinomial(int(n_photons), p / p.sum())


def photoelectron_areas(photons_per_pmt: np.ndarray, detector: Detector,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-PMT PE counts (double-PE emission) and areas (single-PE gain spread), in PE.

    Each detected photon frees one photoelectron and a second one with probability
    ``double_pe_probability``; each PE has a gain drawn from N(1, spe_resolution)
    (a sum of k gains is drawn as N(k, spe_resolution √k)).
    """
    counts = np.asarray(photons_per_pmt, dtype=np.int64)
    n_pe = counts + rng.binomial(counts, detector.light.double_pe_probability)
    spread = detector.light.spe_resolution * np.sqrt(n_pe)
    area = np.maximum(n_pe + spread * rng.standard_normal(n_pe.shape), 0.0)
    return n_pe, area
