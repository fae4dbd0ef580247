"""Shared fixtures of the neural-discriminant tests: a small two-class event table.

The toy table has the event-table columns the networks read (r_cm, z_cm, cs1_pe,
cs2_pe, s1_area_pe, s2_area_pe) with a signal class whose log10 cS2 sits below the
background's at fixed cS1, and a ``wall``-like background at large radius; it
exercises the training machinery quickly, while the physics samples come from
:func:`wimpsift.response.event_level.simulate_events` in the end-to-end test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def toy_table(mass_gev: float, n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng([seed, int(mass_gev * 10)])
    rows = []
    for label, source, count in ((1, "wimp", n), (0, "er", n), (0, "wall", n // 3)):
        r = np.sqrt(rng.uniform(0, 400, count)) if source != "wall" else rng.uniform(17, 20, count)
        z = rng.uniform(-46, -6, count)
        cs1 = rng.uniform(3, 50, count)
        shift = -0.35 - 0.002 * mass_gev if label == 1 else 0.0
        if source == "wall":
            shift = -0.5
        log_cs2 = 2.4 + 0.9 * np.log10(cs1) + shift + rng.normal(0, 0.12, count)
        rows.append(pd.DataFrame({
            "source": source, "r_cm": r, "z_cm": z, "cs1_pe": cs1, "cs2_pe": 10**log_cs2,
            "s1_area_pe": cs1 * (1 + 0.01 * z / 46), "s2_area_pe": 10**log_cs2 * np.exp(z / 80),
            "label": label, "weight": 1.0 if source != "wall" else 0.2,
        }))
    table = pd.concat(rows, ignore_index=True)
    table["split"] = np.where(rng.random(len(table)) < 0.5, "test", "train")
    return table


@pytest.fixture
def toy():
    return toy_table
