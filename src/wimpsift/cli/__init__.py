"""Command line: thin wrappers that parse, call the library and write results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wimpsift.detectors import Detector


def seed(text: str) -> int:
    """argparse type of ``--seed``: a non-negative integer (NumPy's seeds are)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def options(*fields: str, **spelt: str) -> dict[str, str]:
    """Configuration fields as a command's options spell them, for error messages
    (:meth:`wimpsift.config.WimpsiftConfig.from_options`): ``--`` and dashes for
    underscores (``n_toys`` → ``--n-toys``), or as ``spelt`` gives (``n_events="--events"``)."""
    return {**{f: "--" + f.replace("_", "-") for f in fields}, **spelt}


def load_detector_option(name_or_path: str | Path) -> Detector:
    """The detector a command's ``--detector`` names (:func:`wimpsift.detectors.load_detector`),
    its errors naming ``--detector`` instead of the configuration field ``detector``."""
    from wimpsift.detectors import load_detector
    from wimpsift.errors import ConfigError, renamed

    try:
        return load_detector(name_or_path)
    except ConfigError as err:
        raise renamed(err, {"detector": "--detector"}) from None
