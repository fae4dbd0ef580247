"""Typed, validated detector definitions.

A detector is a TOML file with the sections below; every quantity carries its unit
in its name. Definitions are validated on load: unknown keys, missing keys,
non-finite numbers (``inf``, ``nan``) and out-of-range values are errors that name
the offending key. Cross-checks: PMTs inside the TPC and not on top of each other,
the fiducial volume (a cylinder, or an (r, z) boundary table inside its bounding
cylinder) inside the TPC, and its mass (given or computed) equal to its volume × the
liquid density within 3 %.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from wimpsift.config import WimpsiftConfig
from wimpsift.detectors.backgrounds import BackgroundSpec, SourceKind
from wimpsift.detectors.layouts import hexagonal_layout, rings_layout

Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
__all__ = ["BackgroundSpec", "Detector", "SourceKind"]


class _Section(WimpsiftConfig):
    """A section of a detector definition, on the common configuration base."""


class Geometry(_Section):
    tpc_radius_cm: Positive
    tpc_length_cm: Positive
    liquid_density_g_cm3: Annotated[float, Field(gt=2.5, lt=3.2)]

    @field_validator("liquid_density_g_cm3")
    @classmethod
    def _nest_liquid(cls, density_g_cm3: float) -> float:
        from wimpsift.microphysics.liquid import density_range_problem

        problem = density_range_problem(density_g_cm3)
        if problem is not None:
            raise ValueError(problem)
        return density_g_cm3


FIDUCIAL_MASS_TOLERANCE = 0.03


class PmtArraySection(_Section):
    """One PMT array: explicit positions, or a generator (``hexagonal`` or ``rings``)."""

    layout: Literal["explicit", "hexagonal", "rings"]
    x_cm: list[float] | None = None
    y_cm: list[float] | None = None
    count: Annotated[int, Field(gt=0, le=10_000)] | None = None
    pitch_cm: Positive | None = None
    rotation_deg: float = 0.0
    positions_source: str = ""

    @model_validator(mode="after")
    def _complete(self) -> PmtArraySection:
        if self.layout == "explicit":
            if self.x_cm is None or self.y_cm is None or len(self.x_cm) != len(self.y_cm) or not self.x_cm:
                raise ValueError("an explicit layout needs x_cm and y_cm lists of equal, non-zero length")
        elif self.count is None or self.pitch_cm is None:
            raise ValueError(f"a {self.layout} layout needs count and pitch_cm")
        return self

    def positions_cm(self) -> tuple[np.ndarray, np.ndarray]:
        if self.layout == "explicit":
            return np.asarray(self.x_cm, dtype=float), np.asarray(self.y_cm, dtype=float)
        generate = hexagonal_layout if self.layout == "hexagonal" else rings_layout
        assert self.count is not None and self.pitch_cm is not None
        return generate(self.count, self.pitch_cm, self.rotation_deg)


class PmtArraysSection(_Section):
    """The top and bottom PMT arrays and the heights of the optical planes (gate at z = 0)."""

    photocathode_radius_cm: Positive
    pmt_radius_cm: Positive = Field(description="outer radius of a PMT window, for drawing")
    top_plane_z_cm: Positive = Field(description="height of the top photocathodes above the gate")
    bottom_plane_z_cm: float = Field(
        description="height of the bottom photocathodes (at or below the cathode, -geometry.tpc_length_cm)")
    el_plane_z_cm: Positive = Field(description="height of the electroluminescence region")
    top: PmtArraySection
    bottom: PmtArraySection

    @model_validator(mode="after")
    def _planes(self) -> PmtArraysSection:
        if not self.el_plane_z_cm < self.top_plane_z_cm:
            raise ValueError("el_plane_z_cm must lie below top_plane_z_cm")
        return self


class FiducialBoundary(_Section):
    """A fiducial volume that is not a cylinder: its largest radius at each depth.

    ``radius_cm[i]`` is the boundary radius at depth ``z_cm[i]``; between nodes the
    radius is linear in z, so each slice is a truncated cone. ``z_cm`` rises strictly
    from the fiducial section's ``z_min_cm`` to its ``z_max_cm``.
    """

    z_cm: Annotated[tuple[float, ...], Field(min_length=2)] = Field(
        description="depths of the nodes, rising (gate at 0)")
    radius_cm: Annotated[tuple[Positive, ...], Field(min_length=2)] = Field(
        description="fiducial radius at each node")
    source: Annotated[str, Field(min_length=1)] = Field(description="where the shape is published")

    @model_validator(mode="after")
    def _table(self) -> FiducialBoundary:
        if len(self.z_cm) != len(self.radius_cm):
            raise ValueError("fiducial.boundary: z_cm and radius_cm must have the same length")
        if not all(b > a for a, b in zip(self.z_cm, self.z_cm[1:], strict=False)):
            raise ValueError("fiducial.boundary.z_cm must rise strictly")
        return self


class Fiducial(_Section):
    """The fiducial volume: a cylinder (``radius_cm``, ``z_min_cm``, ``z_max_cm``), or, with a
    ``boundary`` table, the volume inside it; the three numbers are then its bounding cylinder."""

    radius_cm: Positive
    z_min_cm: float
    z_max_cm: float
    mass_kg: Positive | None = Field(
        None, description="published fiducial mass used for exposures (default: volume x density)"
    )
    boundary: FiducialBoundary | None = Field(
        None, description="(r, z) boundary table of a non-cylindrical fiducial volume")

    @model_validator(mode="after")
    def _order(self) -> Fiducial:
        if not self.z_min_cm < self.z_max_cm <= 0:
            raise ValueError("fiducial z range must satisfy z_min_cm < z_max_cm <= 0 (gate at 0)")
        b = self.boundary
        if b is not None:
            if not (math.isclose(b.z_cm[0], self.z_min_cm, abs_tol=1e-6)
                    and math.isclose(b.z_cm[-1], self.z_max_cm, abs_tol=1e-6)):
                raise ValueError(
                    f"fiducial.boundary.z_cm must run from z_min_cm ({self.z_min_cm:g}) to z_max_cm "
                    f"({self.z_max_cm:g}); got {b.z_cm[0]:g} to {b.z_cm[-1]:g}"
                )
            if not math.isclose(max(b.radius_cm), self.radius_cm, abs_tol=1e-6):
                raise ValueError(
                    f"fiducial.radius_cm: got {self.radius_cm:g}, expected the boundary's largest radius "
                    f"{max(b.radius_cm):g} (the bounding cylinder)"
                )
        return self

    def max_radius_cm(self, z_cm: np.ndarray) -> np.ndarray:
        """The fiducial radius at each depth (NaN-free; outside the z range: the end values)."""
        z = np.asarray(z_cm, dtype=float)
        if self.boundary is None:
            return np.full(z.shape, self.radius_cm)
        return np.interp(z, self.boundary.z_cm, self.boundary.radius_cm)

    def contains(self, r_cm: np.ndarray, z_cm: np.ndarray) -> np.ndarray:
        """Whether each (r, z) lies in the fiducial volume (its boundary included)."""
        z = np.asarray(z_cm)
        inside = (z >= self.z_min_cm) & (z <= self.z_max_cm)
        if self.boundary is None:
            return (np.asarray(r_cm) <= self.radius_cm) & inside
        return (np.asarray(r_cm) <= self.max_radius_cm(z)) & inside

    @property
    def volume_cm3(self) -> float:
        """Volume of the cylinder, or exactly of the boundary's stack of truncated cones."""
        if self.boundary is None:
            return math.pi * self.radius_cm**2 * (self.z_max_cm - self.z_min_cm)
        z, r = np.asarray(self.boundary.z_cm), np.asarray(self.boundary.radius_cm)
        r0, r1 = r[:-1], r[1:]
        return float(math.pi * np.sum(np.diff(z) * (r0**2 + r0 * r1 + r1**2) / 3.0))


class Drift(_Section):
    drift_field_v_cm: Annotated[float, Field(gt=1, lt=5000)]
    drift_velocity_mm_us: Annotated[float, Field(gt=0.1, lt=5)]
    electron_lifetime_us: Positive
    diffusion_longitudinal_cm2_s: Annotated[float, Field(ge=0)]


class Light(_Section):
    g1_pe_per_photon: Annotated[float, Field(gt=0, lt=1)]
    double_pe_probability: Annotated[float, Field(ge=0, lt=0.5)]
    spe_resolution: Annotated[float, Field(ge=0, lt=1.5)]
    s1_coincidence_pmts: Annotated[int, Field(ge=1)]
    spe_acceptance: Annotated[float, Field(gt=0, le=1)] = Field(
        description="probability that a PMT's hit finder finds one photoelectron (above its threshold)"
    )
    lce_z_slope: Annotated[float, Field(gt=-1, lt=1)] = Field(
        description="relative LCE change from the gate to the cathode (+: brighter at the bottom)"
    )
    lce_r2_coefficient: Annotated[float, Field(gt=-1, lt=1)]
    singlet_fraction_note: str = ""
    transit_time_spread_ns: Annotated[float, Field(ge=0)]
    optical_transport_time_ns: Annotated[float, Field(ge=0)]
    prompt_window_ns: Positive


class Charge(_Section):
    g2_bottom_pe_per_electron: Positive | None = Field(
        None, description="bottom-array S2 gain per electron reaching the liquid surface (published g2_b)"
    )
    g2_total_pe_per_electron: Positive | None = Field(
        None, description="total (top + bottom) S2 gain per electron reaching the liquid surface (g2)"
    )
    extraction_efficiency: Annotated[float, Field(gt=0, le=1)]
    s2_top_fraction: Annotated[float, Field(gt=0, lt=1)]
    se_gain_resolution: Annotated[float, Field(ge=0, lt=1)]
    s2_threshold_pe: Annotated[float, Field(ge=0)]
    xy_resolution_cm_at_1000pe_top: Annotated[float, Field(ge=0)]

    @model_validator(mode="after")
    def _one_g2(self) -> Charge:
        if (self.g2_bottom_pe_per_electron is None) == (self.g2_total_pe_per_electron is None):
            raise ValueError("give exactly one of g2_bottom_pe_per_electron and g2_total_pe_per_electron")
        return self


class Window(_Section):
    cs1_min_pe: Annotated[float, Field(ge=0)]
    cs1_max_pe: Positive
    s2_min_pe: Annotated[float, Field(ge=0)]
    cs2_bottom_min_pe: Annotated[float, Field(ge=0)] | None = None
    cs2_bottom_max_pe: Positive | None = None

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.cs1_min_pe >= self.cs1_max_pe:
            raise ValueError("window: cs1_min_pe must be below cs1_max_pe")
        if (self.cs2_bottom_min_pe or 0.0) >= (self.cs2_bottom_max_pe or math.inf):
            raise ValueError("window: cs2_bottom_min_pe must be below cs2_bottom_max_pe")
        return self


class Exposure(_Section):
    live_days: Positive


class Detector(_Section):
    """A complete detector definition (geometry, drift, light, charge, window, backgrounds)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+$")]
    description: str
    sources_note: str = ""
    geometry: Geometry
    fiducial: Fiducial
    drift: Drift
    light: Light
    charge: Charge
    pmt_arrays: PmtArraysSection
    window: Window
    exposure: Exposure
    backgrounds: list[BackgroundSpec]

    @model_validator(mode="after")
    def _consistent(self) -> Detector:
        if self.fiducial.radius_cm > self.geometry.tpc_radius_cm:
            raise ValueError("fiducial.radius_cm exceeds geometry.tpc_radius_cm")
        if -self.fiducial.z_min_cm > self.geometry.tpc_length_cm:
            raise ValueError("fiducial.z_min_cm lies below the cathode (geometry.tpc_length_cm)")
        bottom_z, cathode_z = self.pmt_arrays.bottom_plane_z_cm, -self.geometry.tpc_length_cm
        if bottom_z > cathode_z:  # the bottom array would sit inside the TPC or above the top one
            raise ValueError(f"pmt_arrays.bottom_plane_z_cm: got {bottom_z:g}, expected at most "
                             f"{cathode_z:g} (at or below the cathode, -geometry.tpc_length_cm; gate at 0)")
        self._check_pmts()
        if self.light.s1_coincidence_pmts > self.n_pmts:
            raise ValueError(f"light.s1_coincidence_pmts: {self.light.s1_coincidence_pmts} PMTs, more "
                             f"than the detector's {self.n_pmts} (pmt_arrays): no S1 could pass")
        f, g = self.fiducial, self.geometry
        volume_kg = self.fiducial_volume_cm3 * g.liquid_density_g_cm3 / 1000.0
        if f.mass_kg is not None and abs(f.mass_kg / volume_kg - 1) > FIDUCIAL_MASS_TOLERANCE:
            shape = ("boundary table" if f.boundary is not None
                     else "cylinder (radius_cm, z_min_cm, z_max_cm)")
            raise ValueError(
                f"fiducial.mass_kg: {f.mass_kg:g} kg differs by more than "
                f"{FIDUCIAL_MASS_TOLERANCE:.0%} from the fiducial {shape}'s {volume_kg:.0f} kg "
                "(its volume x geometry.liquid_density_g_cm3)"
            )
        names = [b.name for b in self.backgrounds]
        if len(set(names)) != len(names) or "wimp" in names:
            raise ValueError("background names must be unique and must not be 'wimp'")
        return self

    def _check_pmts(self) -> None:
        radius = self.geometry.tpc_radius_cm
        min_gap = self.pmt_arrays.pmt_radius_cm
        for name in ("top", "bottom"):
            x, y = getattr(self.pmt_arrays, name).positions_cm()
            r = np.hypot(x, y)
            if r.max() > radius:
                raise ValueError(
                    f"pmt_arrays.{name}: PMT {int(r.argmax())} at r = {r.max():.2f} cm lies outside "
                    f"the TPC radius {radius:g} cm"
                )
            d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
            d[np.diag_indices_from(d)] = np.inf
            if d.min() < min_gap:
                i, j = np.unravel_index(int(d.argmin()), d.shape)
                raise ValueError(
                    f"pmt_arrays.{name}: PMTs {min(i, j)} and {max(i, j)} are {d.min():.2f} cm apart "
                    f"(duplicate positions; expected at least pmt_radius_cm = {min_gap:g} cm)"
                )

    # ---- derived quantities -------------------------------------------------
    @property
    def n_pmts_top(self) -> int:
        return int(self.pmt_arrays.top.positions_cm()[0].size)

    @property
    def n_pmts_bottom(self) -> int:
        return int(self.pmt_arrays.bottom.positions_cm()[0].size)

    @property
    def n_pmts(self) -> int:
        return self.n_pmts_top + self.n_pmts_bottom

    @property
    def fiducial_mass_kg(self) -> float:
        """Published fiducial mass, or the fiducial volume × density when none is given."""
        if self.fiducial.mass_kg is not None:
            return self.fiducial.mass_kg
        return self.fiducial_volume_cm3 * self.geometry.liquid_density_g_cm3 / 1000.0

    @property
    def g2_total_pe_per_electron(self) -> float:
        """Total (top + bottom) S2 area per electron reaching the liquid surface, PE."""
        c = self.charge
        if c.g2_total_pe_per_electron is not None:
            return c.g2_total_pe_per_electron
        assert c.g2_bottom_pe_per_electron is not None
        return c.g2_bottom_pe_per_electron / (1.0 - c.s2_top_fraction)

    @property
    def se_gain_pe(self) -> float:
        """Mean total (top + bottom) S2 area of one extracted electron, PE."""
        return self.g2_total_pe_per_electron / self.charge.extraction_efficiency

    @property
    def max_drift_time_us(self) -> float:
        return self.geometry.tpc_length_cm * 10.0 / self.drift.drift_velocity_mm_us

    @property
    def fiducial_volume_cm3(self) -> float:
        return self.fiducial.volume_cm3

    @property
    def exposure_kg_days(self) -> float:
        return self.fiducial_mass_kg * self.exposure.live_days

    def background(self, name: str) -> BackgroundSpec:
        for spec in self.backgrounds:
            if spec.name == name:
                return spec
        from wimpsift.errors import ConfigError

        known = ", ".join(["wimp", *[b.name for b in self.backgrounds]])
        raise ConfigError(
            f"source: unknown source {name!r} for detector {self.name}; expected one of {known}"
        )
