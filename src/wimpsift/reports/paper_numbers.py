"""Published numbers of the reproduced papers, read from ``data/papers.toml``.

The numbers are data with their sources, shown beside ours in reports; no computation
uses them.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def paper_numbers() -> dict[str, Any]:
    """Every published number we show, keyed by paper then table (each with ``source``)."""
    return tomllib.loads((resources.files("wimpsift.reports") / "data" / "papers.toml").read_text())
