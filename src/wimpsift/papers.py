"""Published numbers of the reproduced papers and experiments, each with its source.

The one place they live: ``wimpsift/data/papers.toml`` (tables of the papers) and
``wimpsift/data/published_limits/*.csv`` (limit curves; one file per curve). They are
shown beside ours in reports, tables and figures; no computation uses them. Plain
Python, no heavy imports, so any layer may read them.
"""

from __future__ import annotations

import math
import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def paper_numbers() -> dict[str, Any]:
    """Every published number we show, keyed by paper then table (each with ``source``)."""
    return tomllib.loads((resources.files("wimpsift") / "data" / "papers.toml").read_text())


#: curves the LUX reproduction draws beside its limits (file stem under data/published_limits)
LUX_PUBLISHED_LIMITS = ("lux_2013", "lux_2013_reanalysis")


def published_limit(name: str) -> dict[str, Any] | None:
    """A shipped published limit curve: ``name``, ``label``, ``source`` (the comment lines),
    ``masses_gev`` (ascending) and ``sigma_cm2``; None when no file of that name is shipped.
    A shipped detector's own published limit has the detector's name."""
    path = resources.files("wimpsift") / "data" / "published_limits" / f"{name}.csv"
    if not path.is_file():
        return None
    source, label, masses, sigmas = [], name, [], []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            source.append(line.lstrip("# ").rstrip())
        elif line.startswith("label,"):
            label = line.split(",", 1)[1]
        elif line and not line.startswith("mass_gev"):
            mass, sigma = line.split(",")
            masses.append(float(mass))
            sigmas.append(float(sigma))
    return {"name": name, "label": label, "source": source, "masses_gev": masses, "sigma_cm2": sigmas}


def limit_at(curve: dict[str, Any], mass_gev: float) -> float | None:
    """A published curve at ``mass_gev`` (straight in log-log between its points); None
    outside the curve's mass range (a one-point curve has a value at its own mass only)."""
    xs, ys = curve["masses_gev"], curve["sigma_cm2"]
    if len(xs) == 1:
        return ys[0] if mass_gev == xs[0] else None
    for x0, y0, x1, y1 in zip(xs, ys, xs[1:], ys[1:], strict=False):
        if x0 <= mass_gev <= x1:
            t = 0.0 if x1 == x0 else math.log(mass_gev / x0) / math.log(x1 / x0)
            return math.exp(math.log(y0) + t * math.log(y1 / y0))
    return None


def _without_source(table: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in table.items() if key != "source"}


def cnn_table_iv() -> dict[str, dict[str, float]]:
    """The CNN paper's Table IV: accuracy, recall and average precision per image kind."""
    return _without_source(paper_numbers()["cnn_paper"]["table_iv"])


def cnn_headline() -> dict[str, float]:
    """The CNN paper's HitPeak confusion-matrix rates and ER rejections at 50 % acceptance."""
    return _without_source(paper_numbers()["cnn_paper"]["headline"])
