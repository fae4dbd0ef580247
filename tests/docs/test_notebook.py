"""The example notebook runs from top to bottom (nbclient, the ipykernel of this Python)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "detector_to_limit.ipynb"


@pytest.mark.skipif(not NOTEBOOK.is_file(), reason="examples/ not in this checkout")
def test_example_notebook_executes(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    shutil.copy(NOTEBOOK, tmp_path)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    src = str(Path(__file__).resolve().parents[2] / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "median expected 90% CL limit at 500 GeV/c2" in text
    limit = float(text.split("limit at 500 GeV/c2: ")[1].split(" cm2")[0])
    assert 1e-48 < limit < 1e-42  # a physical order of magnitude for a tonne-scale xenon exposure
