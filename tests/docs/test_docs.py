"""Documentation that stays true: generated reference pages are current, every example of
the command pages runs, and LICENSE matches the licence pyproject declares."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted((DOCS / "commands").glob("*.md")) if DOCS.is_dir() else []
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)
SLOW = os.environ.get("WIMPSIFT_DOCS_SLOW") == "1"

pytestmark = pytest.mark.skipif(not DOCS.is_dir(), reason="docs/ not in this checkout")


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["columns.md", "configuration.md"])
def test_reference_pages_are_current(name):
    generate = _generator()
    expected = generate.PAGES[name]()
    assert (DOCS / "reference" / name).read_text(encoding="utf-8") == expected, (
        f"docs/reference/{name} is out of date: run python docs/generate.py")


def test_column_reference_names_every_column_with_energy_scale():
    from wimpsift.events import EVENT_COLUMNS

    text = (DOCS / "reference" / "columns.md").read_text(encoding="utf-8")
    for name in EVENT_COLUMNS:
        assert f"| `{name}` |" in text
    assert "keVnr (NR) / keVee (ER)" in text and "| `drift_time_us` | float64 | µs |" in text


def test_configuration_reference_units_of_compound_suffixes():
    """A rate per area and time, or a diffusion constant, is not stated in seconds: the unit
    is that of the whole suffix (``_cm2_s`` is cm² / s), not of its last part."""
    generate = _generator()
    assert generate.unit_of("diffusion_longitudinal_cm2_s") == "cm² / s"
    assert generate.unit_of("flux_per_cm2_s") == "1 / (cm² · s)"
    text = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    assert "| `diffusion_longitudinal_cm2_s` | float | cm² / s |" in text
    assert "| `flux_per_cm2_s` | float | 1 / (cm² · s) |" in text


def test_configuration_reference_states_reproduce_cnn_quick_sizes_of_each_backgrounds():
    """``reproduce cnn``'s quick scale takes other event counts with its default
    ``backgrounds="all"`` (500 + 600) than with "er" (1000 + 1000); the reference gave
    only the latter as the quick default."""
    from wimpsift.pipelines.reproduce_cnn import make_config

    text = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    cnn = text.split("\n## cnn\n", 1)[1].split("\n## lux\n", 1)[0]
    for key in ("train_events_per_class", "test_events_per_class"):
        row = next(line for line in cnn.splitlines() if line.startswith(f"| `{key}` |"))
        for backgrounds in ("er", "all"):
            value = getattr(make_config("quick", backgrounds=backgrounds), key)
            assert f"quick (backgrounds {backgrounds}) `{value}`" in row, (row, backgrounds)


def test_configuration_reference_has_every_run_key():
    from wimpsift.run_config import RunConfig

    text = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    for stage, field in RunConfig.model_fields.items():
        assert f"### run.{stage}" in text
        for key in field.annotation.model_fields:
            assert f"| `{key}` |" in text


def _examples(page: Path) -> list[tuple[str, str, str]]:
    text = page.read_text(encoding="utf-8")
    return [(kind, info.strip(), body) for kind, info, body in BLOCK.findall(text)]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_command_page_examples_run(page, tmp_path, monkeypatch, capsys):
    """Each documented command runs through the command line's `main`, in this process (a
    process per command cost ~4 s of imports each, about 2 minutes of the suite; the
    `python -m wimpsift` entry point itself runs in the tiny main job fixture)."""
    from wimpsift.cli.main import main

    monkeypatch.chdir(tmp_path)
    ran = 0
    for kind, info, body in _examples(page):
        if kind == "toml" and info:
            (tmp_path / info).write_text(body, encoding="utf-8")
        elif kind == "python":
            result = _run([sys.executable, "-c", body], tmp_path)
            assert result.returncode == 0, result.stderr[-2000:]
        elif kind == "bash":
            if body.startswith("# slow") and not SLOW:
                continue
            for line in body.splitlines():
                if not line.startswith("wimpsift "):
                    continue
                args = shlex.split(line)
                code = main(args[1:])
                assert code == 0, f"{line}\n{capsys.readouterr().err[-2000:]}"
                if "-o" in args:
                    assert (tmp_path / args[args.index("-o") + 1]).exists(), line
                ran += 1
    assert ran, f"{page.name}: no example ran"


def test_license_is_the_declared_mit_licence():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert declared == "MIT" and text.startswith("MIT License")
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text
