"""Configuration of the ``simulate`` stage: detector, source, how many events, seed, options.

The stage itself: interaction sampling in :mod:`wimpsift.response.interaction_level`, the
event-level response in :mod:`wimpsift.response.event_level`, exposure → counts in
:mod:`wimpsift.rates`, and the chunked Parquet runner in :mod:`wimpsift.io.event_tables`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from wimpsift.config import WimpsiftConfig, only_with
from wimpsift.errors import ConfigError, validation_message
from wimpsift.sources import HaloModel
from wimpsift.sources.positions import Volume
from wimpsift.sources.wimp import SIGNAL_ENERGY_MIN_KEV


class SimulationConfig(WimpsiftConfig):
    """What to simulate: detector, source, how many events, seed and options."""

    detector: str = "xenon1t_sr0"
    source: str = "er"
    mass_gev: Annotated[float, Field(gt=0)] | None = None
    sigma_cm2: Annotated[float, Field(gt=0)] = 1e-45
    halo: HaloModel = Field(default_factory=HaloModel)
    signal_energy_min_kev: Annotated[float, Field(gt=0, lt=10)] = SIGNAL_ENERGY_MIN_KEV
    """lowest WIMP recoil energy simulated, keVnr (NEST decides what lower recoils produce)"""
    n_events: Annotated[int, Field(gt=0)] | None = None
    exposure_kg_days: Annotated[float, Field(gt=0)] | None = None
    seed: Annotated[int, Field(ge=0)] = 0
    volume: Volume = "fiducial"
    prompt_fraction: bool = False
    chunk_size: Annotated[int, Field(gt=0, le=2_000_000)] = 100_000

    @field_validator("mass_gev", "sigma_cm2", "halo", "signal_energy_min_kev")
    @classmethod
    def _wimp_only(cls, value: Any, info: ValidationInfo) -> Any:
        """A background's spectrum is its own: a WIMP mass, cross-section, halo or recoil
        threshold other than the default given with it would be ignored (the same table,
        its provenance recording the value). The default is accepted, so a background's
        configuration dumped and read again stays valid."""
        source = info.data.get("source")
        default = cls.model_fields[info.field_name].get_default(call_default_factory=True)
        if value is not None and value != default and source is not None and source != "wimp":
            raise only_with("source", "wimp", f", not {source!r}")
        return value

    @model_validator(mode="after")
    def _one_count(self) -> SimulationConfig:
        if (self.n_events is None) == (self.exposure_kg_days is None):
            raise ValueError("give exactly one of n_events and exposure_kg_days")
        if self.source == "wimp" and self.mass_gev is None:
            raise ValueError("source 'wimp' needs mass_gev")
        return self


def validated_config(**settings) -> SimulationConfig:
    """Build a SimulationConfig, turning validation errors into a ConfigError."""
    try:
        return SimulationConfig(**settings)
    except ValidationError as err:
        raise ConfigError(validation_message(err)) from err
