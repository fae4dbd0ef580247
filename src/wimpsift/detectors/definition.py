"""Typed, validated detector definitions.

A detector is a TOML file with the sections below; every quantity carries its unit
in its name. Definitions are validated on load: unknown keys, missing keys and
out-of-range values are errors that name the offending key.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wimpsift.detectors.backgrounds import BackgroundSpec, SourceKind

Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
__all__ = ["BackgroundSpec", "Detector", "SourceKind"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Geometry(_Section):
    tpc_radius_cm: Positive
    tpc_length_cm: Positive
    liquid_density_g_cm3: Annotated[float, Field(gt=2.5, lt=3.2)]
    n_pmts_top: Annotated[int, Field(gt=0)]
    n_pmts_bottom: Annotated[int, Field(gt=0)]


class Fiducial(_Section):
    radius_cm: Positive
    z_min_cm: float
    z_max_cm: float
    mass_kg: Positive = Field(description="published fiducial mass used for exposures")

    @model_validator(mode="after")
    def _order(self) -> Fiducial:
        if not self.z_min_cm < self.z_max_cm <= 0:
            raise ValueError("fiducial z range must satisfy z_min_cm < z_max_cm <= 0 (gate at 0)")
        return self


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
    lce_z_slope: Annotated[float, Field(gt=-1, lt=1)] = Field(
        description="relative LCE change from the gate to the cathode (+: brighter at the bottom)"
    )
    lce_r2_coefficient: Annotated[float, Field(gt=-1, lt=1)]
    singlet_fraction_note: str = ""
    transit_time_spread_ns: Annotated[float, Field(ge=0)]
    optical_transport_time_ns: Annotated[float, Field(ge=0)]
    prompt_window_ns: Positive


class Charge(_Section):
    g2_bottom_pe_per_electron: Positive = Field(
        description="bottom-array S2 gain per electron reaching the liquid surface (published g2_b)"
    )
    extraction_efficiency: Annotated[float, Field(gt=0, le=1)]
    s2_top_fraction: Annotated[float, Field(gt=0, lt=1)]
    se_gain_resolution: Annotated[float, Field(ge=0, lt=1)]
    s2_threshold_pe: Annotated[float, Field(ge=0)]
    xy_resolution_cm_at_1000pe_top: Annotated[float, Field(ge=0)]


class Window(_Section):
    cs1_min_pe: Annotated[float, Field(ge=0)]
    cs1_max_pe: Positive
    s2_min_pe: Annotated[float, Field(ge=0)]

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.cs1_min_pe >= self.cs1_max_pe:
            raise ValueError("window: cs1_min_pe must be below cs1_max_pe")
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
    window: Window
    exposure: Exposure
    backgrounds: list[BackgroundSpec]

    @model_validator(mode="after")
    def _consistent(self) -> Detector:
        if self.fiducial.radius_cm > self.geometry.tpc_radius_cm:
            raise ValueError("fiducial.radius_cm exceeds geometry.tpc_radius_cm")
        if -self.fiducial.z_min_cm > self.geometry.tpc_length_cm:
            raise ValueError("fiducial.z_min_cm lies below the cathode (geometry.tpc_length_cm)")
        names = [b.name for b in self.backgrounds]
        if len(set(names)) != len(names) or "wimp" in names:
            raise ValueError("background names must be unique and must not be 'wimp'")
        return self

    # ---- derived quantities -------------------------------------------------
    @property
    def n_pmts(self) -> int:
        return self.geometry.n_pmts_top + self.geometry.n_pmts_bottom

    @property
    def se_gain_pe(self) -> float:
        """Mean total (top + bottom) S2 area of one extracted electron, PE."""
        bottom = self.charge.g2_bottom_pe_per_electron / self.charge.extraction_efficiency
        return bottom / (1.0 - self.charge.s2_top_fraction)

    @property
    def max_drift_time_us(self) -> float:
        return self.geometry.tpc_length_cm * 10.0 / self.drift.drift_velocity_mm_us

    @property
    def fiducial_volume_cm3(self) -> float:
        f = self.fiducial
        return math.pi * f.radius_cm**2 * (f.z_max_cm - f.z_min_cm)

    @property
    def exposure_kg_days(self) -> float:
        return self.fiducial.mass_kg * self.exposure.live_days

    def background(self, name: str) -> BackgroundSpec:
        for spec in self.backgrounds:
            if spec.name == name:
                return spec
        from wimpsift.errors import ConfigError

        known = ", ".join(["wimp", *[b.name for b in self.backgrounds]])
        raise ConfigError(
            f"source: unknown source {name!r} for detector {self.name}; expected one of {known}"
        )
