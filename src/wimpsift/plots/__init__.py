"""Figures for people (matplotlib); never in a hot path."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: where each format keeps the provenance: PNG a text chunk of its own, PDF and SVG the
#: fields their metadata standards have (matplotlib accepts only those)
PROVENANCE_FIELD = {"png": "wimpsift", "pdf": "Subject", "svg": "Description"}


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def figure_metadata(fmt: str, provenance: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """matplotlib ``metadata`` for a figure in ``fmt`` that is the same bytes every time
    (PDF and SVG otherwise carry the time they were written) and holds ``provenance``."""
    metadata: dict[str, Any] = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(fmt, {})
    if provenance is not None and fmt in PROVENANCE_FIELD:
        metadata[PROVENANCE_FIELD[fmt]] = json.dumps(provenance, sort_keys=True)
    return metadata


def save_figure(fig, path, dpi: int = 120, provenance: Mapping[str, Any] | None = None) -> Path:
    """Write ``fig`` atomically (format from the suffix, PNG by default), close it, and
    return the path: no half-written figure is left if saving fails. The same figure
    gives the same bytes (SVG element ids from a fixed salt, no dates); ``provenance``
    goes into the file's metadata (:data:`PROVENANCE_FIELD`)."""
    import matplotlib

    from wimpsift.provenance import atomic_path

    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    with matplotlib.rc_context({"svg.hashsalt": "wimpsift"}), atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=figure_metadata(fmt, provenance))
    pyplot().close(fig)
    return path
