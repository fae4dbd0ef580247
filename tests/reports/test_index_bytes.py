"""``index.html`` is the same, byte for byte, for the same results: the run's wall times
live in ``timing.json`` beside it, not on the page."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from wimpsift.provenance import provenance
from wimpsift.reports.index import run_timing, write_index

DATA = Path(__file__).resolve().parents[1] / "data"


def _run(stage_seconds: dict[str, float], wall: float) -> dict:
    cnn = json.loads((DATA / "main_job_cnn_metrics.json").read_text())
    lux = json.loads((DATA / "lux_metrics.json").read_text())
    cnn["timings_s"] = {"images_s": wall / 3, "search_s": wall / 2}
    lux["wall_seconds"] = wall
    return {"provenance": provenance({"seed": 3}, 3, "run"),
            "rates": json.loads((DATA / "main_job_rates.json").read_text()),
            "cnn": cnn, "lux": lux, "stage_seconds": stage_seconds, "timing": "timing.json"}


def test_same_results_give_the_same_bytes_whatever_the_wall_times(tmp_path):
    fast = _run({"simulation": 12.5, "cnn": 300.0, "lux": 700.0, "report": 2.0}, 700.0)
    slow = _run({"simulation": 31.0, "cnn": 812.4, "lux": 2400.7, "report": 4.2}, 2400.7)
    first = write_index(tmp_path / "a.html", fast).read_bytes()
    again = write_index(tmp_path / "b.html", copy.deepcopy(fast)).read_bytes()
    other = write_index(tmp_path / "c.html", slow).read_bytes()
    assert first == again == other
    text = first.decode()
    assert 'href="timing.json"' in text and "812" not in text and "2400" not in text
    # the information is not lost: it is in timing.json
    timing = run_timing(slow)
    assert timing["stage_seconds"]["lux"] == 2400.7
    assert timing["total_seconds"] == sum(slow["stage_seconds"].values())
    assert timing["parts"] == {"cnn": slow["cnn"]["timings_s"], "lux": 2400.7}


def test_different_results_give_different_bytes(tmp_path):
    run = _run({"report": 1.0}, 10.0)
    changed = copy.deepcopy(run)
    changed["cnn"]["hitpeak"]["accuracy"] = run["cnn"]["hitpeak"]["accuracy"] - 0.1
    assert (write_index(tmp_path / "a.html", run).read_bytes()
            != write_index(tmp_path / "b.html", changed).read_bytes())
