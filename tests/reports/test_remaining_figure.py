"""The remaining-background figure draws each classifier's total as
:func:`wimpsift.metrics.remaining.remaining_at_acceptance` counts it, and no value where
no background event passes: it used to draw that 0 as 1e-4 events, a count the weights
of tail-sampled sources reach (2e-4 events per CEvNS test event in a quick run)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import wimpsift.plots.remaining
from wimpsift.metrics.background_comparison import CLASSIFIERS
from wimpsift.metrics.remaining import remaining_at_acceptance
from wimpsift.plots.remaining import plot_remaining_curves


def test_curves_equal_the_remaining_totals_and_leave_zero_undrawn(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    n_signal = 400
    source = np.array(["wimp"] * n_signal + ["er"] * 300 + ["cevns"] * 300, dtype=object)
    weight = np.r_[np.full(n_signal, 0.01), np.full(300, 0.2), np.full(300, 2e-4)]
    table = pd.DataFrame({"source": source, "weight": weight})
    signal = source == "wimp"
    scores = {}
    for k, name in enumerate(CLASSIFIERS):  # WIMPs score higher, by more for later ones
        scores[name] = np.where(signal, 1.0 + 0.5 * k, 0.0) + rng.normal(size=source.size)
    rows = np.ones(source.size, bool)
    drawn = {}
    save = wimpsift.plots.remaining.save_figure

    def record(fig, path, **kwargs):
        for line in fig.axes[0].get_lines()[:len(CLASSIFIERS)]:
            drawn[line.get_label()] = tuple(np.asarray(v, float) for v in line.get_data())
        return save(fig, path, **kwargs)

    monkeypatch.setattr(wimpsift.plots.remaining, "save_figure", record)
    plot_remaining_curves(table, rows, scores, tmp_path / "r.png", "test")
    for name in CLASSIFIERS:
        acc, total = drawn[name.replace("_", " ")]
        # at the top-scored events no background passes yet: nothing drawn there
        order = np.argsort(-scores[name], kind="stable")
        leading = int(np.argmax(~signal[order]))
        assert leading > 0 and np.isnan(total[:leading]).all()
        assert np.all(np.isfinite(total[leading:]) & (total[leading:] > 0))
        # at 50 % acceptance the curve gives the metric's total
        expected = remaining_at_acceptance(scores[name], source, weight, "wimp", 0.5)
        at = int(np.searchsorted(acc, expected["signal_acceptance"] - 1e-12))
        assert total[at] == pytest.approx(expected["total"], rel=1e-9)
