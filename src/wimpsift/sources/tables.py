"""Shipped numeric tables of ``wimpsift/sources/data``: CSV with ``#`` comment lines
(source and licence) and one row of column names."""

from __future__ import annotations

from importlib import resources

import numpy as np


def data_table(filename: str) -> np.ndarray:
    """The numeric rows of a shipped table, comments and the column-name row dropped."""
    text = (resources.files("wimpsift.sources") / "data" / filename).read_text()
    rows = [line.split(",") for line in text.splitlines()
            if line and not line.startswith("#")][1:]  # after the column-name row
    return np.asarray(rows, dtype=float)
