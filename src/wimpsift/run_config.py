"""Typed configuration of the main job (``wimpsift run``), read from TOML."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from wimpsift.config import WimpsiftConfig
from wimpsift.errors import ConfigError, validation_message


class _Stage(WimpsiftConfig):
    enabled: bool = Field(True, description="run this stage: true where the file has its table, "
                                            "false where it leaves the table out")


class SimulationStage(_Stage):
    detector: str = Field("xenon1t_sr0", description="shipped detector name or path to a detector TOML file")
    wimp_mass_gev: Annotated[float, Field(gt=0, description="WIMP mass")] = 500.0
    sigma_cm2: Annotated[float, Field(gt=0, description="SI WIMP-nucleon cross-section")] = 1e-45
    events_per_source: Annotated[int, Field(gt=0, description="events of ER and of the WIMP")] = 20_000
    seed: Annotated[int, Field(ge=0, description="random seed (each source: its own child stream)")] = 1


class RatesStage(_Stage):
    mc_events: Annotated[int, Field(gt=0, description="events per source for the efficiency")] = 50_000


class ReproduceStage(_Stage):
    scale: Literal["quick", "paper"] = Field("quick", description="quick: minutes; paper: the paper's sizes")
    seed: Annotated[int, Field(ge=0, description="random seed of the reproduction")] = 0
    #: settings of the reproduction that override its scale's (e.g. event counts for a
    #: tiny test run); checked against the reproduction's own configuration before the run
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="settings overriding the scale's (cnn and lux sections), "
                                                "but seed and scale (this table's own) and, for cnn, "
                                                "backgrounds (er) and all_backgrounds")


class RunConfig(WimpsiftConfig):
    """The stages of the main job: a file runs the stages whose tables it has (unless
    ``enabled = false``); the rates stage takes the simulation table's detector, WIMP and
    seed, or their defaults when that table is left out."""

    simulation: SimulationStage = Field(default_factory=lambda: SimulationStage(enabled=False))
    rates: RatesStage = Field(default_factory=lambda: RatesStage(enabled=False))
    cnn: ReproduceStage = Field(default_factory=lambda: ReproduceStage(enabled=False))
    lux: ReproduceStage = Field(default_factory=lambda: ReproduceStage(enabled=False))


#: the main job's stages, in the order they run
STAGES = ("simulation", "rates", "cnn", "lux")


def load_run_config(path: str | Path | None = None) -> RunConfig:
    """Load the shipped default configuration, or a user's TOML file."""
    if path is None:
        text = (resources.files("wimpsift") / "configs" / "default.toml").read_text()
        origin = "default.toml"
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config: {str(path)!r} is not a readable file")
        try:
            text, origin = p.read_text(), str(p)
        except UnicodeDecodeError:
            raise ConfigError(f"config: {str(path)!r} is not a text (TOML) file") from None
    try:
        config = RunConfig.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config: {origin!r} is not valid TOML: {err}") from err
    except ValidationError as err:
        raise ConfigError(f"config: {origin!r} is invalid: {validation_message(err)}") from err
    if not any(getattr(config, stage).enabled for stage in STAGES):
        raise ConfigError(f"config: {origin!r} runs no stage; expected at least one of the tables "
                          f"{', '.join(f'[{s}]' for s in STAGES)} without enabled = false")
    return config
