"""The event table: one row per event, units in the column names.

Both the event-level simulation (``wimpsift.response.event_level``) and the waveform-level
processing produce tables with these columns, so later stages take either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wimpsift.errors import DataError

#: column name -> (numpy dtype, description)
EVENT_COLUMNS: dict[str, tuple[str, str]] = {
    "event_id": ("int64", "event number within the file"),
    "source": ("str", "source name (wimp, er, neutrons, ...)"),
    "recoil_type": ("str", "'er' or 'nr'"),
    "energy_kev": ("float64", "true recoil energy, keVnr for NR and keVee for ER"),
    "x_true_cm": ("float64", "true x"),
    "y_true_cm": ("float64", "true y"),
    "z_true_cm": ("float64", "true z, gate at 0, negative downwards"),
    "n_photons": ("int64", "scintillation photons produced (NEST)"),
    "n_electrons": ("int64", "ionisation electrons produced (NEST)"),
    "drift_time_us": ("float64", "measured drift time"),
    "x_cm": ("float64", "reconstructed x"),
    "y_cm": ("float64", "reconstructed y"),
    "z_cm": ("float64", "z from drift time"),
    "r_cm": ("float64", "reconstructed radius"),
    "s1_area_pe": ("float64", "raw S1 area"),
    "s2_area_pe": ("float64", "raw S2 area, both arrays"),
    "s2_top_area_pe": ("float64", "raw S2 area on the top array"),
    "s2_bottom_area_pe": ("float64", "raw S2 area on the bottom array"),
    "s1_n_pmts": ("int64", "PMTs contributing to the S1 (coincidence)"),
    "s1_prompt_fraction": ("float64", "S1 prompt fraction (NaN when not simulated)"),
    "cs1_pe": ("float64", "S1 corrected for light collection"),
    "cs2_pe": ("float64", "S2 corrected for electron lifetime"),
    "cs2_bottom_pe": ("float64", "bottom-array S2 corrected for electron lifetime"),
    "passes_threshold": ("bool", "S1 coincidence and S2 threshold met"),
    "in_fiducial": ("bool", "reconstructed position inside the fiducial volume"),
    "in_window": ("bool", "threshold, fiducial volume and analysis window all met"),
}


def check_event_table(table: pd.DataFrame, required: list[str] | None = None, name: str = "events") -> None:
    """Raise DataError when ``table`` lacks required columns or is empty."""
    required = list(EVENT_COLUMNS) if required is None else required
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(f"{name}: missing columns {missing}")
    if len(table) == 0:
        raise DataError(f"{name}: the table has no events")
    for column in required:
        kind = EVENT_COLUMNS.get(column, ("float64", ""))[0]
        if kind == "float64" and column != "s1_prompt_fraction":
            if not np.all(np.isfinite(table[column].to_numpy(dtype=float))):
                raise DataError(f"{name}: column {column!r} has non-finite values")


def window_mask(table: pd.DataFrame, name: str = "events") -> np.ndarray:
    """The ``in_window`` column as booleans (true/false, or integers 0/1); DataError when
    the table lacks it or it holds nulls or other values (text "false" would count as true)."""
    if "in_window" not in table.columns:
        raise DataError(f"{name}: missing column 'in_window'")
    column = table["in_window"]
    nulls = int(column.isna().sum())
    if nulls:
        problem = f"has {nulls} null value(s)"
    elif pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool)
    elif pd.api.types.is_integer_dtype(column) and column.isin([0, 1]).all():
        return column.to_numpy() == 1
    else:
        problem = f"holds {column.dtype} values" + (
            " other than 0 and 1" if pd.api.types.is_integer_dtype(column) else "")
    raise DataError(f"{name}: column 'in_window' {problem}, expected true or false (or 0 and 1) "
                    "in every row")
