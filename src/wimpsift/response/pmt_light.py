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

from dataclasses import dataclass

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


#: nodes of the tabulated S1 pattern: ``PATTERN_Z_LAYERS`` depths × a square (x, y) grid
#: with about ``PATTERN_XY_NODES`` nodes inside the TPC radius
PATTERN_Z_LAYERS = 12
PATTERN_XY_NODES = 250


@dataclass(frozen=True, eq=False)
class S1PatternTable:
    """:func:`s1_pattern` tabulated on a grid of nodes, as cumulative sums per node.

    The event-level simulation draws, for each detected photon, its PMT from the
    pattern of the node nearest the interaction; the S1 pattern varies over tens of
    centimetres (the arrays sit tens of centimetres from most of the volume), so a
    grid of ~0.11 TPC radii and ~1/12 of the drift length keeps the per-PMT photon
    statistics while costing one table per detector instead of one pattern per event.
    """

    xy_step_cm: float
    z_step_cm: float
    n_xy: int
    n_z: int
    radius_cm: float
    cdf: np.ndarray
    """(n_nodes, n_pmts) cumulative pattern, each row ending at exactly 1"""

    def node_index(self, x_cm, y_cm, z_cm) -> np.ndarray:
        ix = np.clip(np.rint((np.asarray(x_cm) + self.radius_cm) / self.xy_step_cm), 0, self.n_xy - 1)
        iy = np.clip(np.rint((np.asarray(y_cm) + self.radius_cm) / self.xy_step_cm), 0, self.n_xy - 1)
        iz = np.clip(np.rint(-np.asarray(z_cm) / self.z_step_cm - 0.5), 0, self.n_z - 1)
        return ((iz * self.n_xy + iy) * self.n_xy + ix).astype(np.int64)


_TABLES: dict[tuple[int, float, float, OpticalSettings], S1PatternTable] = {}


def s1_pattern_table(arrays: PmtArrays, tpc_radius_cm: float, tpc_length_cm: float,
                     optics: OpticalSettings = DEFAULT_OPTICS) -> S1PatternTable:
    """The tabulated S1 pattern of these arrays (built once per process and detector)."""
    key = (id(arrays), tpc_radius_cm, tpc_length_cm, optics)
    if key in _TABLES:
        return _TABLES[key]
    step = tpc_radius_cm * np.sqrt(np.pi / PATTERN_XY_NODES)
    n_xy = int(np.floor(2 * tpc_radius_cm / step)) + 1
    z_step = tpc_length_cm / PATTERN_Z_LAYERS
    grid = np.arange(n_xy) * step - tpc_radius_cm
    iz, iy, ix = np.meshgrid(np.arange(PATTERN_Z_LAYERS), np.arange(n_xy), np.arange(n_xy), indexing="ij")
    x, y = grid[ix.ravel()], grid[iy.ravel()]
    z = -(iz.ravel() + 0.5) * z_step
    scale = np.minimum(1.0, tpc_radius_cm / np.maximum(np.hypot(x, y), 1e-9))  # nodes outside: at the wall
    cdf = np.empty((x.size, arrays.n_pmts))
    for start in range(0, x.size, 512):
        sl = slice(start, start + 512)
        cdf[sl] = np.cumsum(s1_pattern(x[sl] * scale[sl], y[sl] * scale[sl], z[sl], arrays, optics), axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    table = S1PatternTable(step, z_step, n_xy, PATTERN_Z_LAYERS, tpc_radius_cm, cdf)
    _TABLES[key] = table
    return table


GUIDE_BINS_PER_PMT = 2


COUNT_BLOCK_BINS = 2**16  # (event, PMT) bins counted at once: bounded memory, cache-sized


def photons_to_pmts(n_photons: np.ndarray, nodes: np.ndarray, table: S1PatternTable,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Share each event's photons among PMTs by its node's pattern.

    Returns the (event × n_pmts + channel) keys of the PMTs that received photons, in
    increasing order, and the number of photons of each. Each photon's PMT inverts its
    node's cumulative pattern, starting from a guide table (the first channel of each
    1/M quantile) and stepping forward; photons are then counted per (event, PMT) with
    ``bincount`` over blocks of events. The cost grows with the number of photons and of
    events × PMTs, never with their product.
    """
    n = np.asarray(n_photons, dtype=np.int64)
    n_pmts = table.cdf.shape[1]
    index = np.int32 if n.size * n_pmts < 2**31 else np.int64
    nodes = np.asarray(nodes, dtype=index)
    u = rng.random(int(n.sum()), dtype=np.float32)
    guide = _guide_table(table)
    m = guide.shape[1]
    quantile = np.minimum((u * np.float32(m)).astype(index), m - 1)  # float32 rounding can give m
    channel = guide.ravel()[np.repeat(nodes * m, n) + quantile]
    row = np.repeat(nodes * n_pmts, n)
    flat = _cdf32(table)
    todo = np.flatnonzero(flat[row + channel] <= u)
    while todo.size:
        channel[todo] += 1
        todo = todo[flat[row[todo] + channel[todo]] <= u[todo]]
    del row
    events_per_block = max(1, COUNT_BLOCK_BINS // n_pmts)
    photon_start = np.concatenate([[0], np.cumsum(n)])
    keys, counts = [], []
    for first in range(0, n.size, events_per_block):
        last = min(first + events_per_block, n.size)
        a, b = photon_start[first], photon_start[last]
        local = np.repeat(np.arange(last - first, dtype=index) * n_pmts, n[first:last])
        local += channel[a:b]
        binned = np.bincount(local, minlength=(last - first) * n_pmts)
        hit = np.flatnonzero(binned)
        keys.append((hit + first * n_pmts).astype(index))
        counts.append(binned[hit].astype(np.int32))
    if not keys:
        return np.zeros(0, dtype=index), np.zeros(0, dtype=np.int32)
    return np.concatenate(keys), np.concatenate(counts)


_CDF32: dict[int, np.ndarray] = {}


def _cdf32(table: S1PatternTable) -> np.ndarray:
    """The cumulative pattern as one float32 vector (half the memory traffic)."""
    if id(table) not in _CDF32:
        _CDF32[id(table)] = table.cdf.astype(np.float32).ravel()
    return _CDF32[id(table)]


_GUIDES: dict[int, np.ndarray] = {}


def _guide_table(table: S1PatternTable) -> np.ndarray:
    """First channel whose cumulative pattern exceeds j / M, per node and j."""
    if id(table) not in _GUIDES:
        n_nodes, n_pmts = table.cdf.shape
        m = GUIDE_BINS_PER_PMT * n_pmts
        shifted = (table.cdf + np.arange(n_nodes)[:, None]).ravel()
        queries = (np.arange(n_nodes)[:, None] + np.arange(m)[None, :] / m).ravel()
        position = np.searchsorted(shifted, queries, side="right").reshape(n_nodes, m)
        guide = np.minimum(position - np.arange(n_nodes)[:, None] * n_pmts, n_pmts - 1)
        _GUIDES[id(table)] = guide.astype(np.int32)
    return _GUIDES[id(table)]
