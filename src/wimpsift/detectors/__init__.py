"""Detector definitions: shipped TOML files validated into :class:`Detector` objects."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from wimpsift.detectors.definition import BackgroundSpec, Detector
from wimpsift.errors import ConfigError, validation_message

__all__ = ["BackgroundSpec", "Detector", "load_detector", "shipped_detectors"]


def shipped_detectors() -> list[str]:
    """Names of the detector definitions shipped with the package."""
    folder = resources.files("wimpsift.detectors") / "data"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_detector(name_or_path: str | Path) -> Detector:
    """Load a shipped detector by name (``xenon1t_sr0``, ``lux_2013``) or a TOML file by path."""
    text: str
    origin = str(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in shipped_detectors():
        text = (resources.files("wimpsift.detectors") / "data" / f"{name_or_path}.toml").read_text()
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(
                f"detector: {origin!r} is neither a shipped detector "
                f"({', '.join(shipped_detectors())}) nor a readable TOML file"
            )
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            raise ConfigError(f"detector: {str(path)!r} is not a text (TOML) file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"detector: {origin!r} is not valid TOML: {err}") from err
    try:
        return Detector.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"detector: {origin!r} is malformed: {validation_message(err)}") from err
