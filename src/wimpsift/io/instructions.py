"""Interaction lists in the XENON waveform-simulator instruction CSV format.

Columns: ``instruction, recoil_type, x, y, depth, s1_photons, s2_electrons, t`` with
x, y, depth in cm (depth positive below the gate), t in ns since the start of the
event, recoil_type ``ER`` or ``NR``. This is the format of FaX (pax) and of its
successors, so interaction lists can be exchanged with those simulators.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wimpsift.errors import DataError
from wimpsift.provenance import atomic_path

INSTRUCTION_COLUMNS = ["instruction", "recoil_type", "x", "y", "depth", "s1_photons", "s2_electrons", "t"]


def events_to_instructions(events: pd.DataFrame, t_ns: float = 0.0) -> pd.DataFrame:
    """One instruction per event from a wimpsift event table (true positions and quanta)."""
    return pd.DataFrame(
        {
            "instruction": np.arange(len(events), dtype=np.int64),
            "recoil_type": events["recoil_type"].str.upper().to_numpy(),
            "x": events["x_true_cm"].to_numpy(),
            "y": events["y_true_cm"].to_numpy(),
            "depth": -events["z_true_cm"].to_numpy(),
            "s1_photons": events["n_photons"].to_numpy(dtype=np.int64),
            "s2_electrons": events["n_electrons"].to_numpy(dtype=np.int64),
            "t": np.full(len(events), float(t_ns)),
        }
    )


def write_instructions(instructions: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        instructions[INSTRUCTION_COLUMNS].to_csv(tmp, index=False, float_format="%.6g")
    return path


def read_instructions(path: str | Path) -> pd.DataFrame:
    """Read and validate an instruction CSV."""
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"instructions: cannot read {str(path)!r}: {err}") from err
    missing = [c for c in INSTRUCTION_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"instructions: {str(path)!r} lacks columns {missing}")
    bad = set(table["recoil_type"].astype(str).str.upper()) - {"ER", "NR"}
    if bad:
        raise DataError(f"instructions: recoil_type must be ER or NR, found {sorted(bad)}")
    if (table["depth"] < 0).any() or (table[["s1_photons", "s2_electrons"]] < 0).any().any():
        raise DataError("instructions: depth, s1_photons and s2_electrons must be non-negative")
    return table[INSTRUCTION_COLUMNS]
