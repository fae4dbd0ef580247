"""Load a repository script (``scripts/NAME.py``, or ``benchmarks/NAME.py``) as a module,
for the tests of its output."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str, folder: str = "scripts") -> ModuleType:
    """The script as a module; its folder on ``sys.path`` (benchmarks import
    ``_bench_cli`` from theirs)."""
    if str(ROOT / folder) not in sys.path:
        sys.path.append(str(ROOT / folder))
    spec = importlib.util.spec_from_file_location(name, ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
