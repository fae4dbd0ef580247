"""The LUX report's network and study tables head every column with a label from
``COLUMNS`` (a unit where it has one), never with a metrics key: the study tables showed
the MI test's bookkeeping keys ("mi relative error", "n mi test") as headers."""

import json
from pathlib import Path

from wimpsift.reports.lux import COLUMNS, lux_context

METRICS = Path(__file__).parents[1] / "data" / "lux_metrics.json"


def test_network_and_study_tables_have_labelled_columns():
    metrics = json.loads(METRICS.read_text())
    assert metrics["studies"], "the stored metrics must hold studies for this test to mean anything"
    context = lux_context(metrics, [])
    labels = {label for label, _ in COLUMNS.values()}
    checked = 0
    for section in context["sections"]:
        if section["anchor"] != "networks" and not section["anchor"].startswith("study-"):
            continue
        for t in section["tables"]:
            assert set(t["columns"]) <= labels, (section["anchor"], set(t["columns"]) - labels)
            checked += 1
    assert checked == 2 + len(metrics["studies"])
