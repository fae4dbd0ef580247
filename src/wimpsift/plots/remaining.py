"""Expected background remaining against WIMP acceptance, per classifier.

The curves behind :func:`wimpsift.metrics.background_comparison.comparison`'s numbers:
each classifier's test events ranked by score, the WIMPs' weighted share above a
threshold against the backgrounds' expected events above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wimpsift.metrics.background_comparison import CLASSIFIERS
from wimpsift.plots import pyplot, save_figure
from wimpsift.processing.background_mix import SIGNAL


def plot_remaining_curves(table: pd.DataFrame, rows: np.ndarray,
                          scores: dict[str, np.ndarray], path: Path, title: str,
                          acceptance: float = 0.5, provenance: Mapping[str, Any] | None = None) -> Path:
    """Total remaining background against WIMP acceptance (of the WIMPs in ``rows``), per
    classifier; a dotted line at the compared ``acceptance``. Where no background event
    passes, the total is 0 and the curve is not drawn (log axis)."""
    plt = pyplot()
    sub = table[rows]
    source = sub["source"].to_numpy(object)
    weight = sub["weight"].to_numpy(float)
    is_signal = source == SIGNAL
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name in CLASSIFIERS:
        score = scores[name][rows]
        order = np.argsort(-score, kind="stable")
        finite = np.isfinite(score[order])
        acc = np.cumsum(np.where(is_signal[order], weight[order], 0.0)) / weight[is_signal].sum()
        bkg = np.cumsum(np.where(~is_signal[order], weight[order], 0.0))
        # no background event passes yet: 0, which a log axis cannot show (not a floor
        # value that reads as a real count; the weights go down to ~1e-4 events)
        ax.plot(acc[finite], np.where(bkg[finite] > 0, bkg[finite], np.nan),
                label=name.replace("_", " "))
    ax.axvline(acceptance, color="grey", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("WIMP acceptance")
    ax.set_ylabel("Expected background events remaining (exposure; 0: not drawn)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, path, dpi=110, provenance=provenance)
