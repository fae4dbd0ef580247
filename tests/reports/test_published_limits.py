"""The LUX report and ``limits_published.png`` draw each published LUX curve whose data
file is shipped, labelled as its file says, and say plainly which are not shipped."""

from __future__ import annotations

import html
import json
import types
from importlib import resources
from pathlib import Path

import matplotlib
import pytest

import wimpsift.papers
from wimpsift.papers import LUX_PUBLISHED_LIMITS
from wimpsift.pipelines.reproduce_lux import _write_report
from wimpsift.plots.limits import plot_limits_beside_published
from wimpsift.reports.format import sci
from wimpsift.reports.lux import lux_published_curves

METRICS = Path(__file__).resolve().parents[1] / "data" / "lux_metrics.json"
LABEL = "LUX 2013 reanalysis (test curve)"
REANALYSIS = f"""# test file: three points, not a published curve
# paper: D.S. Akerib et al. (LUX), PRL 116, 161301 (2016), arXiv:1512.03506
# obtained: written by the test
label,{LABEL}
mass_gev,sigma_cm2
10.0,3.0e-45
33.0,6.0e-46
100.0,1.1e-45
"""


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A package data folder with the real LUX 2013 file, and the reanalysis file only
    when the test writes it."""
    root = tmp_path / "package"
    folder = root / "data" / "published_limits"
    folder.mkdir(parents=True)
    data = resources.files("wimpsift") / "data"
    (folder / "lux_2013.csv").write_text((data / "published_limits" / "lux_2013.csv").read_text())
    (root / "data" / "papers.toml").write_text((data / "papers.toml").read_text())
    monkeypatch.setattr(wimpsift.papers, "resources", types.SimpleNamespace(files=lambda _: root))
    return folder


def _report(out: Path) -> str:
    out.mkdir()
    _write_report(out, json.loads(METRICS.read_text()))
    assert (out / "limits_published.png").stat().st_size > 0
    return (out / "report.html").read_text(encoding="utf-8")


def test_reanalysis_missing_is_said_plainly(shipped, tmp_path):
    drawn, missing = lux_published_curves()
    assert [c["name"] for c in drawn] == ["lux_2013"] and missing == ["lux_2013_reanalysis"]
    page = _report(tmp_path / "out")
    assert "LUX 2013 reanalysis (arXiv:1512.03506): not drawn, no data file" in page
    assert "Not drawn, no data file shipped: LUX 2013 reanalysis (arXiv:1512.03506)." in page  # caption
    assert LABEL not in page


def test_reanalysis_present_is_drawn_with_its_label(shipped, tmp_path):
    (shipped / "lux_2013_reanalysis.csv").write_text(REANALYSIS)
    drawn, missing = lux_published_curves()
    assert [c["name"] for c in drawn] == list(LUX_PUBLISHED_LIMITS) and missing == []
    page = _report(tmp_path / "out")
    assert "not drawn" not in page.lower()
    assert f"{LABEL} (cm²)" in page  # a column of the published-limits table
    assert "wimpsift/data/published_limits/lux_2013_reanalysis.csv" in page
    assert html.escape(sci(3.0e-45)) in page  # its value at our 10 GeV/c² mass
    # the figure's legend names the curve as its file does (SVG with text kept as text)
    per_mass = json.loads(METRICS.read_text())["per_mass"]
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        svg = plot_limits_beside_published(per_mass, drawn, tmp_path / "limits.svg").read_text()
    assert f"published: {LABEL}" in svg and "published: LUX 2013" in svg


def test_shipped_files_are_read_when_not_redirected():
    # the real package data: every shipped curve has a label and points
    drawn, missing = lux_published_curves()
    assert set(c["name"] for c in drawn) | set(missing) == set(LUX_PUBLISHED_LIMITS)
    assert all(c["label"] != c["name"] and c["masses_gev"] for c in drawn)
