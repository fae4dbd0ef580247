"""The toy LUX model shared by the comparison and convergence tests and by
``benchmarks/bench_coverage.py``: NR or ER band events in the LUX fiducial volume, and a
fixed discriminant (distance below the ER band)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def band_source(name: str, n: int, nr: bool, label: int, expected: float,
                rng: np.random.Generator) -> pd.DataFrame:
    """``n`` events of one source: cS1 flat in 3–55 PE, log10 cS2 on the NR or ER band."""
    cs1 = rng.uniform(3.0, 55.0, n)
    log_cs2 = (2.45 if nr else 2.75) + 0.75 * np.log10(cs1) + 0.08 * rng.standard_normal(n)
    return pd.DataFrame({
        "r_cm": 19.5 * np.sqrt(rng.uniform(0, 1, n)), "z_cm": rng.uniform(-46, -7, n),
        "cs1_pe": cs1, "cs2_pe": 10**log_cs2, "source": name, "label": label,
        "weight": expected / n, "split": np.where(rng.uniform(size=n) < 0.5, "train", "test"),
    })


class BandScorer:
    """A fixed discriminant: distance below the ER band, squashed to [0, 1]."""

    def score(self, table: pd.DataFrame) -> np.ndarray:
        d = 2.75 + 0.75 * np.log10(table["cs1_pe"]) - np.log10(table["cs2_pe"])
        return 1.0 / (1.0 + np.exp(-(d - 0.15) / 0.05))
