"""The instruction CSV: exact round trip, grouping into events, and every bad input
refused with one line naming the row and column (issue 15 item 4, issue 10 item 8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wimpsift.cli.main import main
from wimpsift.errors import DataError
from wimpsift.io.instructions import (
    event_labels,
    events_to_instructions,
    instructions_to_interactions,
    read_instructions,
    write_instructions,
)

HEADER = "instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t"


def _csv(tmp_path, *rows, header=HEADER, name="in.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _events(n=4):
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "recoil_type": ["nr"] * n,
        "x_true_cm": rng.uniform(-20, 20, n), "y_true_cm": rng.uniform(-20, 20, n),
        "z_true_cm": rng.uniform(-90, -5, n),
        "n_photons": rng.integers(10, 500, n), "n_electrons": rng.integers(10, 500, n),
    })


def test_write_read_is_exact_and_groups_rows_by_instruction(tmp_path, xenon1t):
    events = _events()
    back = read_instructions(write_instructions(events_to_instructions(events),
                                                tmp_path / "e.csv"), xenon1t)
    np.testing.assert_array_equal(back["x"], events["x_true_cm"])  # shortest exact floats
    np.testing.assert_array_equal(back["depth"], -events["z_true_cm"])
    np.testing.assert_array_equal(back["s2_electrons"], events["n_electrons"])

    path = _csv(tmp_path, "7,NR,1,2,10,100,50,0,1", "3,er,0,0,20,300,200,0,0",
                "7,nr,-5,4,40,80,60,10,1", header=HEADER + ",label")
    table = read_instructions(path, xenon1t)
    interactions, numbers = instructions_to_interactions(table)
    np.testing.assert_array_equal(numbers, [3, 7])
    np.testing.assert_array_equal(interactions.event, [0, 1, 1])
    np.testing.assert_array_equal(interactions.z_cm, [-20.0, -10.0, -40.0])
    np.testing.assert_array_equal(interactions.t_ns, [0.0, 0.0, 10.0])
    assert list(interactions.recoil_type) == ["er", "nr", "nr"]
    np.testing.assert_array_equal(event_labels(table), [0, 1])


@pytest.mark.parametrize(("row", "where"), [
    ("0,XR,0,0,10,100,50,0", "row 2, column 'recoil_type'"),
    ("0,ER,0,0,10,-1,50,0", "row 2, column 's1_photons'"),
    ("0,ER,0,0,10,100,-5,0", "row 2, column 's2_electrons'"),
    ("0,ER,0,0,10,100.5,50,0", "row 2, column 's1_photons'"),
    ("0,ER,0,0,10,100,1e9,0", "row 2, column 's2_electrons'"),
    ("1e30,ER,0,0,10,100,50,0", "row 2, column 'instruction'"),
    ("0,ER,abc,0,10,100,50,0", "row 2, column 'x'"),
    ("0,ER,0,,10,100,50,0", "row 2, column 'y'"),
    ("0,ER,0,0,nan,100,50,0", "row 2, column 'depth'"),
    ("0,ER,0,0,10,100,50,inf", "row 2, column 't'"),
    ("x,ER,0,0,10,100,50,0", "row 2, column 'instruction'"),
    ("0,ER,0,0,-3,100,50,0", "row 2, column 'depth'"),
    ("0,ER,60,0,10,100,50,0", "row 2, column 'x, y'"),
    ("0,ER,0,0,500,100,50,0", "row 2, column 'depth'"),
    ("0,ER,0,0,10,100,50,1e12", "row 2, column 't'"),
])
def test_bad_cells_name_row_and_column(tmp_path, xenon1t, row, where, capsys):
    path = _csv(tmp_path, "0,ER,1,1,5,10,10,0", row)
    with pytest.raises(DataError) as err:
        read_instructions(path, xenon1t)
    message = str(err.value)
    assert where in message and "\n" not in message
    for command, out in ((["images", "--label", "1"], tmp_path / "images"),
                         (["show", "--event", "0"], tmp_path / "event.png")):
        assert main([*command, "--instructions", str(path), "--seed", "1", "-o",
                     str(out)]) == 2
        err_lines = capsys.readouterr().err.strip().splitlines()
        assert len(err_lines) == 1 and where in err_lines[0]
        assert not out.exists()


def test_bad_files(tmp_path, xenon1t):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_instructions(empty)
    with pytest.raises(DataError, match="no rows"):
        read_instructions(_csv(tmp_path))
    with pytest.raises(DataError, match=r"lacks columns \['s2_electrons', 't'\]"):
        read_instructions(_csv(tmp_path, "0,ER,0,0,1,1",
                               header="instruction,recoil_type,x,y,depth,s1_photons"))
    with pytest.raises(DataError, match="row 2, column 'label': instruction 0 has rows with"):
        read_instructions(_csv(tmp_path, "0,ER,0,0,1,1,1,0,1", "0,ER,0,0,2,1,1,0,0",
                               header=HEADER + ",label"))
    with pytest.raises(DataError, match="row 1, column 'label'"):
        read_instructions(_csv(tmp_path, "0,ER,0,0,1,1,1,0,2", header=HEADER + ",label"))


@pytest.mark.parametrize("header", [HEADER + ",Label", HEADER + ",labels", HEADER + ",e_dep"])
def test_a_column_the_format_lacks_is_refused(tmp_path, capsys, header):
    """A misspelt label column was ignored, so --label 0 labelled every event 0; any
    column but the eight of the format and the optional label is refused in one line."""
    path = _csv(tmp_path, "0,NR,1,1,5,10,10,0,1", "1,NR,2,2,6,10,10,0,1", header=header)
    column = header.rsplit(",", 1)[1]
    with pytest.raises(DataError, match=f"unknown column '{column}', expected only instruction, "
                                        "recoil_type, .* and optionally label"):
        read_instructions(path)
    out = tmp_path / "images"
    assert main(["images", "--instructions", str(path), "--label", "0", "--kinds", "hit",
                 "--seed", "1", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"unknown column '{column}'" in err[0]
    assert not out.exists()
    # the documented label column (spaces around names allowed) is still read
    table = read_instructions(_csv(tmp_path, "0,NR,1,1,5,10,10,0,1", header=HEADER + ", label "))
    np.testing.assert_array_equal(table["label"], [1])


# ---- issue 10 item 8: `instructions` never writes NaN as an integer or nulls as blanks ----

@pytest.mark.parametrize(("column", "value", "where"), [
    ("n_photons", np.nan, "row 2, column 'n_photons'"),
    ("x_true_cm", np.nan, "row 2, column 'x_true_cm'"),
    ("z_true_cm", np.inf, "row 2, column 'z_true_cm'"),
    ("n_electrons", -4, "row 2, column 'n_electrons'"),
    ("recoil_type", None, "row 2, column 'recoil_type'"),
])
def test_event_tables_with_bad_cells_are_refused(column, value, where):
    events = _events()
    events[column] = events[column].astype(object if value is None else float)
    events.loc[2, column] = value
    with pytest.raises(DataError, match=where):
        events_to_instructions(events)
    with pytest.raises(DataError, match=r"lacks columns \['n_electrons'\]"):
        events_to_instructions(events.drop(columns="n_electrons"))


def test_cli_instructions_refuses_bad_tables_without_output(tmp_path, capsys):
    events = _events()
    events["n_photons"] = events["n_photons"].astype(float)
    events.loc[1, "n_photons"] = np.nan
    bad = tmp_path / "bad.parquet"
    events.to_parquet(bad)
    out = tmp_path / "i.csv"
    assert main(["instructions", str(bad), "-o", str(out)]) == 2
    _events().drop(columns="y_true_cm").to_parquet(bad)
    assert main(["instructions", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "row 1, column 'n_photons'" in err[0] and "y_true_cm" in err[1]
    assert not out.exists()


def test_cli_instructions_says_a_missing_table_is_missing(tmp_path, capsys):
    out = tmp_path / "i.csv"
    assert main(["instructions", str(tmp_path / "absent.parquet"), "-o", str(out)]) == 2
    assert main(["instructions", str(tmp_path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert err[0].endswith(f"events: {str(tmp_path / 'absent.parquet')!r} does not exist, "
                           "expected a Parquet event table (written by 'wimpsift simulate')")
    assert f"events: {str(tmp_path)!r} is a folder" in err[1]
    assert not out.exists()
