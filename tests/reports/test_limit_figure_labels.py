"""``limits.png`` of ``reinterpret`` and ``sensitivity`` says the confidence level its
limits were computed at, and the published curves drawn beside (90 % CL) say theirs when
it differs. Before, the axis read "90 % CL" whatever ``--cl`` was."""

from __future__ import annotations

import json

import pytest

import wimpsift.plots.limits
from wimpsift.cli.main import main


@pytest.fixture
def drawn(monkeypatch):
    """The y label and legend entries of every limit figure saved while the test runs."""
    seen: list[dict[str, object]] = []
    save = wimpsift.plots.limits.save_figure

    def record(fig, path, **kwargs):
        ax = fig.axes[0]
        seen.append({"ylabel": ax.get_ylabel(),
                     "legend": [t.get_text() for t in ax.get_legend().get_texts()]})
        return save(fig, path, **kwargs)

    monkeypatch.setattr(wimpsift.plots.limits, "save_figure", record)
    return seen


def _check(seen, saved_cl: float, cl_text: str) -> None:
    (figure,) = seen
    assert saved_cl == pytest.approx(float(cl_text) / 100)
    assert figure["ylabel"].endswith(f"{cl_text} % CL") and "90 % CL" not in figure["ylabel"]
    published = [t for t in figure["legend"] if t.startswith("published:")]
    assert published and all(t.endswith("(90 % CL)") for t in published)


def test_reinterpret_figure_states_its_confidence_level(tmp_path, drawn):
    out = tmp_path / "r"
    assert main(["reinterpret", "--experiment", "xenon1t_1ty", "--masses", "30", "100", "--cl", "0.95",
                 "--no-progress", "-o", str(out)]) == 0
    saved = json.loads((out / "limits.json").read_text())
    _check(drawn, saved["provenance"]["config"]["reinterpret"]["confidence_level"], "95")


def test_sensitivity_figure_states_its_confidence_level(tmp_path, drawn):
    out = tmp_path / "s"
    assert main(["sensitivity", "--detector", "lux_2013", "--masses", "33", "100", "--analysis",
                 "cs1-cs2", "--events-per-source", "300", "--method", "asymptotic", "--cl", "0.95",
                 "--no-progress", "-o", str(out)]) == 0
    saved = json.loads((out / "limits.json").read_text())
    _check(drawn, saved["provenance"]["config"]["sensitivity"]["limits"]["confidence_level"], "95")


def test_default_confidence_level_keeps_the_published_labels_plain(tmp_path, drawn):
    out = tmp_path / "r"
    assert main(["reinterpret", "--experiment", "xenon1t_1ty", "--masses", "30", "--no-progress",
                 "-o", str(out)]) == 0
    (figure,) = drawn
    assert figure["ylabel"].endswith(", 90 % CL")
    assert "published: xe-likelihood limit" in figure["legend"]
