"""Figures for people (matplotlib); never in a hot path."""

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi: int = 120) -> Path:
    """Write ``fig`` atomically (format from the suffix, PNG by default), close it, and
    return the path: no half-written figure is left if saving fails."""
    from wimpsift.provenance import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    pyplot().close(fig)
    return path
