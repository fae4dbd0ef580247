"""Interaction lists in the XENON waveform-simulator instruction CSV format.

Columns: ``instruction, recoil_type, x, y, depth, s1_photons, s2_electrons, t`` with
x, y, depth in cm (depth positive below the gate), t in ns since the start of the
event, recoil_type ``ER`` or ``NR``, and the photons and electrons the interaction
produced. This is the format of FaX (pax) and of its successors, so interaction lists
can be exchanged with those simulators. Rows with the same ``instruction`` number are
one event with several interactions (a neutron's multiple scatters, for example). An
optional ``label`` column (1 signal, 0 background, the same for all rows of an
instruction) is carried into image datasets; other columns are refused.

Every cell is checked on reading; a bad one is a one-line :class:`DataError` naming
its data row (1 = the first row after the header) and column.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wimpsift.detectors import Detector
from wimpsift.errors import DataError
from wimpsift.provenance import atomic_path, atomic_path_with_provenance
from wimpsift.sources.interactions import InteractionList

INSTRUCTION_COLUMNS = ["instruction", "recoil_type", "x", "y", "depth", "s1_photons", "s2_electrons", "t"]
OPTIONAL_COLUMNS = ["label"]
EVENT_TABLE_COLUMNS = ["recoil_type", "x_true_cm", "y_true_cm", "z_true_cm", "n_photons",
                       "n_electrons"]
_INTEGER_COLUMNS = ("instruction", "s1_photons", "s2_electrons")
_FLOAT_COLUMNS = ("x", "y", "depth", "t")
_RADIUS_TOLERANCE = 1e-6  # relative: files from other writers may round
MAX_COUNT = 10**7
"""largest photon or electron count of one interaction (a few hundred MeV deposited)"""
_MAX_INSTRUCTION = 2**53  # integers beyond are not exact in a float


def _finite_column(table: pd.DataFrame, column: str, where: str, integer: bool = False,
                   row_offset: int = 1) -> np.ndarray:
    """A column as finite numbers (non-negative integers when ``integer``), or DataError."""
    raw = table[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    expected = "a finite number"
    if integer:
        limit = _MAX_INSTRUCTION if column in ("instruction", "label") else MAX_COUNT
        bad |= np.isfinite(values) & ((values < 0) | (values != np.round(values))
                                      | (values > limit))
        expected = f"an integer from 0 to {limit:.3g}"
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where}: row {row + row_offset}, column {column!r}: got "
                        f"{raw.iloc[row]!r}, expected {expected}")
    return values.astype(np.int64) if integer else values


def events_to_instructions(events: pd.DataFrame, t_ns: float = 0.0) -> pd.DataFrame:
    """One instruction per event from a wimpsift event table (true positions and quanta).

    The table is checked first: missing columns, empty, null or non-finite cells and
    negative counts are a one-line DataError naming the row (0-based, as in the table)
    and column; nothing is converted silently.
    """
    where = "instructions: event table"
    missing = [c for c in EVENT_TABLE_COLUMNS if c not in events.columns]
    if missing:
        raise DataError(f"{where} lacks columns {missing}")
    if len(events) == 0:
        raise DataError(f"{where} has no events")
    columns = {c: _finite_column(events, c, where, integer=c.startswith("n_"), row_offset=0)
               for c in EVENT_TABLE_COLUMNS[1:]}
    recoil = events["recoil_type"].astype(str).str.strip().str.upper()
    bad = ~recoil.isin(["ER", "NR"]).to_numpy() | events["recoil_type"].isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where}: row {row}, column 'recoil_type': got "
                        f"{events['recoil_type'].iloc[row]!r}, expected 'er' or 'nr'")
    return pd.DataFrame(
        {
            "instruction": np.arange(len(events), dtype=np.int64),
            "recoil_type": recoil.to_numpy(),
            "x": columns["x_true_cm"],
            "y": columns["y_true_cm"],
            "depth": -columns["z_true_cm"],
            "s1_photons": columns["n_photons"],
            "s2_electrons": columns["n_electrons"],
            "t": np.full(len(events), float(t_ns)),
        }
    )


def write_instructions(instructions: pd.DataFrame, path: str | Path,
                       record: Mapping[str, Any] | None = None) -> Path:
    """Write the CSV at ``path``, and the provenance ``record`` beside it
    (:func:`wimpsift.provenance.provenance_path`) when given; both or neither appear."""
    path = Path(path)
    with (atomic_path(path) if record is None
          else atomic_path_with_provenance(path, record)) as tmp:
        instructions[INSTRUCTION_COLUMNS].to_csv(tmp, index=False)  # shortest exact floats
    return path


def read_instructions(path: str | Path, detector: Detector | None = None) -> pd.DataFrame:
    """Read and validate an instruction CSV (one typed row per interaction).

    With ``detector``, positions must lie inside its TPC and times within its maximum
    drift time. Returns the instruction columns, plus ``label`` when the file has one; any
    other column is refused.
    """
    where = f"instructions: {str(path)!r}"
    if not Path(path).is_file():
        raise DataError(f"{where} {'is a folder' if Path(path).is_dir() else 'does not exist'}, "
                        "expected an instruction CSV (written by 'wimpsift instructions')")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{where} is empty (expected a header {','.join(INSTRUCTION_COLUMNS)} "
                        "and one row per interaction)") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"{where}: cannot read: {' '.join(str(err).split())}") from err
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in INSTRUCTION_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{where} lacks columns {missing}")
    unknown = [c for c in table.columns if c not in (*INSTRUCTION_COLUMNS, *OPTIONAL_COLUMNS)]
    if unknown:  # a misspelt "Label" would leave every event labelled by --label
        raise DataError(f"{where}: unknown column {unknown[0]!r}, expected only "
                        f"{', '.join(INSTRUCTION_COLUMNS)} and optionally {', '.join(OPTIONAL_COLUMNS)}")
    if len(table) == 0:
        raise DataError(f"{where} has a header but no rows")
    out = {c: _finite_column(table, c, where, integer=c in _INTEGER_COLUMNS)
           for c in INSTRUCTION_COLUMNS if c != "recoil_type"}
    recoil = table["recoil_type"].str.strip().str.upper()
    bad = ~recoil.isin(["ER", "NR"]).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where}: row {row + 1}, column 'recoil_type': got "
                        f"{table['recoil_type'].iloc[row]!r}, expected ER or NR")
    out["recoil_type"] = recoil.to_numpy(dtype=object)
    for column in ("depth", "t"):
        if (out[column] < 0).any():
            row = int(np.flatnonzero(out[column] < 0)[0])
            raise DataError(f"{where}: row {row + 1}, column {column!r}: got "
                            f"{table[column].iloc[row]!r}, expected a non-negative number")
    if detector is not None:
        _check_inside(out, table, detector, where)
    result = pd.DataFrame({c: out[c] for c in INSTRUCTION_COLUMNS})
    if "label" in table.columns:
        result["label"] = _labels(table, result["instruction"].to_numpy(), where)
    return result


def _check_inside(out: dict, table: pd.DataFrame, detector: Detector, where: str) -> None:
    g = detector.geometry
    radius = np.hypot(out["x"], out["y"])
    checks = [
        ("x, y", radius > g.tpc_radius_cm * (1 + _RADIUS_TOLERANCE),
         lambda r: f"radius {radius[r]:.6g} cm, expected at most the TPC radius "
                   f"{g.tpc_radius_cm:g} cm"),
        ("depth", out["depth"] > g.tpc_length_cm * (1 + _RADIUS_TOLERANCE),
         lambda r: f"{table['depth'].iloc[r]!r}, expected at most the TPC length "
                   f"{g.tpc_length_cm:g} cm"),
        ("t", out["t"] > detector.max_drift_time_us * 1000.0,
         lambda r: f"{table['t'].iloc[r]!r} ns, expected at most the maximum drift time "
                   f"{detector.max_drift_time_us * 1000.0:g} ns"),
    ]
    for column, bad, message in checks:
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{where}: row {row + 1}, column {column!r}: outside the TPC of "
                            f"{detector.name}: got {message(row)}")


def _labels(table: pd.DataFrame, instruction: np.ndarray, where: str) -> np.ndarray:
    labels = _finite_column(table, "label", where, integer=True)
    bad = labels > 1
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where}: row {row + 1}, column 'label': got "
                        f"{table['label'].iloc[row]!r}, expected 0 (background) or 1 (signal)")
    first = pd.Series(labels).groupby(instruction).transform("first").to_numpy()
    if (first != labels).any():
        row = int(np.flatnonzero(first != labels)[0])
        raise DataError(f"{where}: row {row + 1}, column 'label': instruction "
                        f"{instruction[row]} has rows with different labels")
    return labels


def instructions_to_interactions(table: pd.DataFrame) -> tuple[InteractionList, np.ndarray]:
    """Interaction list of a read instruction table, and each event's instruction number.

    Events are ordered by instruction number; the rows of one instruction keep their
    order in the file.
    """
    order = np.argsort(table["instruction"].to_numpy(), kind="stable")
    t = table.iloc[order]
    numbers, event = np.unique(t["instruction"].to_numpy(), return_inverse=True)
    n = len(t)
    interactions = InteractionList(
        event=event.astype(np.int64),
        recoil_type=t["recoil_type"].str.lower().to_numpy(dtype=object),
        x_cm=t["x"].to_numpy(dtype=float), y_cm=t["y"].to_numpy(dtype=float),
        z_cm=-t["depth"].to_numpy(dtype=float), t_ns=t["t"].to_numpy(dtype=float),
        n_photons=t["s1_photons"].to_numpy(dtype=np.int64),
        n_electrons=t["s2_electrons"].to_numpy(dtype=np.int64),
        energy_kev=np.full(n, np.nan),
    )
    return interactions, numbers.astype(np.int64)


def event_labels(table: pd.DataFrame) -> np.ndarray | None:
    """Each event's label (events ordered by instruction number), or None without labels."""
    if "label" not in table.columns:
        return None
    return table.groupby("instruction", sort=True)["label"].first().to_numpy(dtype=np.int8)
