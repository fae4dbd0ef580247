"""Detector definitions: shipped TOML files validated into :class:`Detector` objects."""

from __future__ import annotations

import csv
import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
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
    folder: Traversable
    if isinstance(name_or_path, str) and name_or_path in shipped_detectors():
        folder = resources.files("wimpsift.detectors") / "data"
        text = (folder / f"{name_or_path}.toml").read_text()
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(
                f"detector: {origin!r} is neither a shipped detector "
                f"({', '.join(shipped_detectors())}) nor a readable TOML file"
            )
        folder = path.resolve().parent
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"detector: cannot read {origin!r}: {err}") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"detector: {origin!r} is not valid TOML: {err}") from err
    if "pmt_arrays" not in data:
        raise ConfigError(
            f"detector: {origin!r} has no [pmt_arrays] section (top and bottom PMT positions "
            "or a hexagonal/rings generator); waveforms, images and the S1 response need it"
        )
    for name in ("top", "bottom"):
        array = data["pmt_arrays"].get(name) if isinstance(data["pmt_arrays"], dict) else None
        if isinstance(array, dict) and "positions_csv" in array:
            _read_positions(array, name, folder, origin)
    try:
        return Detector.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"detector: {origin!r} is malformed: {validation_message(err)}") from err


def _read_positions(array: dict, name: str, folder: Traversable | Path, origin: str) -> None:
    """Replace ``positions_csv`` (columns channel, array, x_cm, y_cm; next to the TOML
    file, or else one shipped with wimpsift, so a copied shipped file keeps working) by
    the explicit ``x_cm`` and ``y_cm`` lists of the rows of this array. Every row's
    ``array`` must be ``top`` or ``bottom``; ``x_cm``, ``y_cm`` or a generator layout beside
    ``positions_csv`` are refused, not overwritten or ignored."""
    key = f"pmt_arrays.{name}.positions_csv"
    relative = array.pop("positions_csv")
    if not isinstance(relative, str) or Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise ConfigError(f"{key}: got {relative!r}, expected a CSV file name next to the detector file")
    given = [k for k in ("x_cm", "y_cm") if k in array]
    if given or array.get("layout", "explicit") != "explicit":  # replaced, or itself ignored
        other = given[0] if given else f"layout = {array['layout']!r}"
        raise ConfigError(f"{key} and pmt_arrays.{name}.{other}: both given, expected one of them "
                          "(positions_csv gives explicit positions, without x_cm, y_cm or a generator)")
    if not (folder / relative).is_file():
        folder = resources.files("wimpsift.detectors") / "data"
    try:
        rows = [(r["array"], int(r["channel"]), float(r["x_cm"]), float(r["y_cm"]))
                for r in csv.DictReader((folder / relative).read_text().splitlines())]
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise ConfigError(
            f"{key}: cannot read {relative!r} for {origin!r} as channel,array,x_cm,y_cm rows: {err}"
        ) from err
    for row, (which, *_) in enumerate(rows, 1):  # "Top" or " bottom" would drop a PMT unseen
        if which not in ("top", "bottom"):
            raise ConfigError(f"{key}: {relative!r} row {row}, column 'array': got {which!r}, "
                              "expected 'top' or 'bottom'")
    chosen = sorted((channel, x, y) for which, channel, x, y in rows if which == name)
    if not chosen:
        raise ConfigError(f"{key}: {relative!r} has no rows with array = {name!r}")
    array["layout"] = array.get("layout", "explicit")
    array["x_cm"] = [x for _, x, _ in chosen]
    array["y_cm"] = [y for _, _, y in chosen]
