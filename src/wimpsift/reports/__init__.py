"""HTML reports rendered from jinja2 templates shipped with the package.

Renderers take plain data (metrics dictionaries as written to ``metrics.json``, figure
paths and captions) and never a pipeline's configuration object, so ``reports`` does
not import ``pipelines``. Templates are autoescaped; numbers are formatted here
(:mod:`wimpsift.reports.format`), so a template prints strings only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wimpsift.provenance import atomic_path


def environment():
    """The jinja2 environment over ``wimpsift/reports/templates`` (autoescape on)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("wimpsift.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, context: dict[str, Any]) -> str:
    """Render one template with ``context``."""
    return environment().get_template(template).render(**context)


def write_page(path: str | Path, template: str, context: dict[str, Any]) -> Path:
    """Render ``template`` and write it atomically to ``path`` (nothing partial on error)."""
    path = Path(path)
    text = render(template, context)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
