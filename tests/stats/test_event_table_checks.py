"""Event tables given to ``templates``, ``limits --events``, ``nn evaluate`` and
``instructions`` are checked, not trusted: the simulated count and detector definition
their provenance records, a boolean ``in_window`` column, finite analysis columns and a
readable provenance record. Each refusal is one line, exit code 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wimpsift.cli.main import main
from wimpsift.detectors import load_detector
from wimpsift.errors import DataError
from wimpsift.io.event_tables import read_events
from wimpsift.provenance import PROVENANCE_KEY

SHIPPED_LUX = Path(__file__).resolve().parents[2] / "src/wimpsift/detectors/data/lux_2013.toml"


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """A 50 GeV/c² WIMP and an ER table of LUX 2013, and an ER table of a copy of LUX 2013
    with another g1 (its name unchanged)."""
    folder = tmp_path_factory.mktemp("tables")
    modified = folder / "lux_mod.toml"
    text = SHIPPED_LUX.read_text()
    assert "g1_pe_per_photon = 0.1372" in text
    modified.write_text(text.replace("g1_pe_per_photon = 0.1372", "g1_pe_per_photon = 0.06"))
    files = {}
    for name, detector, extra in (("wimp", "lux_2013", ["-s", "wimp", "--mass-gev", "50"]),
                                  ("er", "lux_2013", ["-s", "er"]),
                                  ("er_mod", str(modified), ["-s", "er"])):
        files[name] = folder / f"{name}.parquet"
        assert main(["simulate", "-d", detector, *extra, "--events", "600", "--seed", "3",
                     "-o", str(files[name]), "--no-progress"]) == 0
    return files


def _rewrite(source: Path, target: Path, frame: pd.DataFrame | None = None,
             raw_record: bytes | None = None) -> Path:
    """``source``'s table with ``frame`` as its rows and/or ``raw_record`` as its provenance."""
    table = pq.read_table(source)
    meta = dict(table.schema.metadata)
    out = table if frame is None else pa.Table.from_pandas(frame, preserve_index=False)
    if raw_record is not None:
        meta[PROVENANCE_KEY.encode()] = raw_record
    pq.write_table(out.replace_schema_metadata(meta), target)
    return target


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0], err
    return err[0]


def _templates(wimp: Path, er: Path, out: Path, detector: str = "lux_2013") -> int:
    return main(["templates", str(wimp), str(er), "--detector", detector, "--analysis", "cs1-cs2",
                 "-o", str(out)])


@pytest.mark.parametrize("case", ["joined", "cut"])
def test_templates_refuse_a_table_whose_rows_are_not_its_simulated_count(tables, tmp_path, capsys,
                                                                        case):
    """The templates weight a table's in-window events by the count its provenance records:
    two tables of one source joined (the first's metadata kept) or a part of one were
    weighted as if it had been simulated whole (er 858.6 and 253.1 instead of 456.8)."""
    frame, _ = read_events(tables["er"])
    rows = pd.concat([frame, frame], ignore_index=True) if case == "joined" else frame.iloc[:300]
    bad = _rewrite(tables["er"], tmp_path / f"er_{case}.parquet", rows)
    out = tmp_path / "t.json"
    capsys.readouterr()
    assert _templates(tables["wimp"], bad, out) == 2
    err = _one_error(capsys)
    assert f"events: {str(bad)!r} has {len(rows)} rows, but its provenance records 600" in err, err
    assert not out.exists()
    assert _templates(tables["wimp"], tables["er"], out) == 0


def test_templates_refuse_a_table_of_a_modified_detector_of_the_same_name(tables, tmp_path, capsys):
    """A copy of lux_2013.toml with g1 = 0.06, its name unchanged: its table was taken for
    LUX 2013 (er 871.2 instead of 456.8). The definitions are compared, not the names."""
    out = tmp_path / "t.json"
    capsys.readouterr()
    assert _templates(tables["wimp"], tables["er_mod"], out) == 2
    err = _one_error(capsys)
    assert (f"events: {str(tables['er_mod'])!r} was simulated for a detector named 'lux_2013' whose "
            "definition differs from the one given (light.g1_pe_per_photon: 0.06 in the table, "
            "0.1372 given)") in err, err
    assert not out.exists()


def test_limits_refuse_events_of_a_modified_detector_of_the_same_name(tables, tmp_path, capsys):
    """The templates' provenance holds their detector's definition; ``limits --events``
    compares a table's with it."""
    out = tmp_path / "t.json"
    assert _templates(tables["wimp"], tables["er"], out) == 0
    assert json.loads(out.read_text())["provenance"]["detector"] == \
        load_detector("lux_2013").model_dump(mode="json")
    capsys.readouterr()
    limit = tmp_path / "limit.json"
    assert main(["limits", "compute", str(out), "--events", str(tables["er_mod"]),
                 "-o", str(limit)]) == 2
    err = _one_error(capsys)
    assert (f"--events: {str(tables['er_mod'])!r} was simulated for a detector named 'lux_2013' "
            "whose definition differs from the templates' (light.g1_pe_per_photon: 0.06 in the "
            "table, 0.1372 given)") in err, err
    assert not limit.exists()
    assert main(["limits", "compute", str(out), "--events", str(tables["er"]), "-o", str(limit)]) == 0


def test_a_recorded_definition_is_compared_in_its_canonical_form(tables):
    """A setting added to the definition since a table was simulated, at its default, is
    no difference; a changed value is."""
    from wimpsift.io.event_tables import check_simulated_for

    lux = load_detector("lux_2013")
    _, record = read_events(tables["er"])
    check_simulated_for(record, lux, "events")
    assert lux.light.singlet_fraction_note == type(lux.light).model_fields["singlet_fraction_note"].default
    del record["detector"]["light"]["singlet_fraction_note"]  # a setting at its default
    check_simulated_for(record, lux, "events")
    record["detector"]["drift"]["electron_lifetime_us"] = 500.0
    with pytest.raises(DataError, match=r"drift\.electron_lifetime_us: 500\.0 in the table, 800\.0 given"):
        check_simulated_for(record, lux, "events")


def _run(command: str, tables, events: Path, tmp_path: Path, model_set: Path, capsys
         ) -> tuple[int, Path]:
    """Run ``command`` (templates, limits, nn, nn --in-window, instructions) on ``events``;
    the exit code and the output it was asked to write (what was printed before is dropped)."""
    out = tmp_path / ("i.csv" if command == "instructions" else "out.json")
    if command == "limits":
        templates = tmp_path / "templates.json"
        assert _templates(tables["wimp"], tables["er"], templates) == 0
    capsys.readouterr()
    if command == "templates":
        return _templates(tables["wimp"], events, out), out
    if command == "limits":
        return main(["limits", "compute", str(templates), "--events", str(events), "-o", str(out)]), out
    if command == "instructions":
        return main(["instructions", str(events), "-o", str(out)]), out
    out = tmp_path / "scored.parquet"
    window = ["--in-window"] if command.endswith("--in-window") else []
    return main(["nn", "evaluate", *window, "--models", str(model_set), str(events), "-o", str(out)]), out


@pytest.mark.parametrize("command", ["templates", "limits", "nn", "nn --in-window"])
@pytest.mark.parametrize("case", ["text", "nulls"])
def test_in_window_must_be_true_or_false(tables, tmp_path, capsys, model_set, case, command):
    """Cast to bool, the text "false" counted as in the window and a null as outside."""
    frame, _ = read_events(tables["er"])
    frame["in_window"] = (frame["in_window"].map({True: "true", False: "false"}) if case == "text"
                          else frame["in_window"].astype(object).where(frame.index % 7 != 0, None))
    bad = _rewrite(tables["er"], tmp_path / f"er_{case}.parquet", frame)
    problem = "holds str values" if case == "text" else f"has {int(frame['in_window'].isna().sum())} null"
    rc, out = _run(command, tables, bad, tmp_path, model_set, capsys)
    assert rc == 2
    err = _one_error(capsys)
    assert f"events: {str(bad)!r}: column 'in_window' {problem}" in err, err
    assert err.endswith("expected true or false (or 0 and 1) in every row"), err
    assert not out.exists()
    assert _run(command, tables, tables["er"], tmp_path, model_set, capsys)[0] == 0


def test_templates_refuse_non_finite_analysis_values_in_the_window(tables, tmp_path, capsys):
    """In-window events with NaN or inf in the analysis's columns were dropped from the
    templates (er 412.6 instead of 456.8); outside the window they are not used."""
    frame, _ = read_events(tables["er"])
    inside = np.flatnonzero(frame["in_window"].to_numpy())
    outside = np.flatnonzero(~frame["in_window"].to_numpy())
    out = tmp_path / "t.json"
    frame.loc[outside[:5], "cs2_pe"] = np.nan
    fine = _rewrite(tables["er"], tmp_path / "er_nan_outside.parquet", frame)
    capsys.readouterr()
    assert _templates(tables["wimp"], fine, out) == 0
    frame.loc[inside[:5], "cs1_pe"] = [np.nan, np.inf, -np.inf, np.nan, np.nan]
    bad = _rewrite(tables["er"], tmp_path / "er_nan.parquet", frame)
    out.unlink()
    capsys.readouterr()
    assert _templates(tables["wimp"], bad, out) == 2
    err = _one_error(capsys)
    assert f"events: {str(bad)!r}" in err and "column 'cs1_pe' has non-finite values" in err, err
    assert not out.exists()


@pytest.mark.parametrize("command", ["templates", "limits", "nn", "instructions"])
def test_an_unreadable_provenance_record_is_one_line(tables, tmp_path, capsys, model_set, command):
    """Provenance metadata that is not JSON raised a JSONDecodeError traceback (exit 1);
    ``limits --events`` compared nothing (it returned silently)."""
    bad = _rewrite(tables["er"], tmp_path / "er_badmeta.parquet", raw_record=b"{not json")
    rc, out = _run(command, tables, bad, tmp_path, model_set, capsys)
    assert rc == 2
    assert (f"events: {str(bad)!r}: the provenance record in its Parquet metadata is not valid "
            "JSON") in _one_error(capsys)
    assert not out.exists()
    listed = _rewrite(tables["er"], tmp_path / "er_list.parquet", raw_record=b"[1, 2]")
    assert _run(command, tables, listed, tmp_path, model_set, capsys)[0] == 2
    assert "is a list, expected a JSON object" in _one_error(capsys)
    # a record whose detector is not a definition: nn evaluate raised AttributeError
    named = _rewrite(tables["er"], tmp_path / "er_named.parquet", raw_record=b'{"detector": "lux_2013"}')
    if command != "instructions":  # instructions takes the positions from the table alone
        assert _run(command, tables, named, tmp_path, model_set, capsys)[0] == 2
        assert "the provenance record's 'detector' is a str" in _one_error(capsys)


def test_in_window_may_be_integers_0_and_1_but_no_others(tables, tmp_path, capsys, model_set):
    """A table written by other tools (real data) may say 0 and 1; 2 is neither."""
    frame, _ = read_events(tables["er"])
    frame["in_window"] = frame["in_window"].astype("int64")
    ints = _rewrite(tables["er"], tmp_path / "er_int.parquet", frame)
    assert _run("nn --in-window", tables, ints, tmp_path, model_set, capsys)[0] == 0
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert len(scored) == int(frame["in_window"].sum()) > 0
    frame.loc[0, "in_window"] = 2
    two = _rewrite(tables["er"], tmp_path / "er_two.parquet", frame)
    assert _run("nn --in-window", tables, two, tmp_path, model_set, capsys)[0] == 2
    assert "column 'in_window' holds int64 values other than 0 and 1" in _one_error(capsys)


def test_a_changed_pmt_position_is_named_by_its_index():
    # lists were shown by their length only ('a list of 127 in the table, a list of 127 given')
    from wimpsift.io.event_tables import detector_differences

    xenon1t = load_detector("xenon1t_sr0").model_dump(mode="json")
    moved = json.loads(json.dumps(xenon1t))
    moved["pmt_arrays"]["top"]["x_cm"][5] += 0.5
    (difference,) = detector_differences(moved, xenon1t)
    assert difference.startswith("pmt_arrays.top.x_cm[5]: ") and " in the table, " in difference


def test_templates_refuse_a_table_without_in_window(tables, tmp_path, capsys):
    """A KeyError traceback (exit 1) before."""
    frame, _ = read_events(tables["er"])
    bad = _rewrite(tables["er"], tmp_path / "er_noiw.parquet", frame.drop(columns=["in_window"]))
    out = tmp_path / "t.json"
    capsys.readouterr()
    assert _templates(tables["wimp"], bad, out) == 2
    assert f"events: {str(bad)!r}: missing columns ['in_window']" in _one_error(capsys)
    assert not out.exists()


def _record_detector(model_set: Path, detector: object) -> None:
    """Write ``detector`` (a definition, or a name or path as older model sets kept it in
    their samples' settings) into the provenance of every model of ``model_set``."""
    folder = model_set if (model_set / "index.json").is_file() else model_set / "models"
    index = json.loads((folder / "index.json").read_text())
    for name in index["files"].values():
        path = folder / name
        data = json.loads(path.read_text())
        if isinstance(detector, dict):
            data["provenance"]["detector"] = detector
        else:
            data["provenance"]["config"] = {"samples": {"detector": detector}}
        path.write_text(json.dumps(data))


def test_models_are_applied_only_to_events_of_the_definition_they_were_trained_on(
        tables, tmp_path, capsys, model_set):
    """Models were compared with the events by detector name only: a network trained on
    LUX 2013 scored the events of a copy with another g1 under the same name (exit 0),
    while one trained with ``--detector PATH.toml`` was refused for the very detector it
    was trained on ("trained on detector 'lux_copy.toml', not 'lux_2013'"; the slow test
    below trains one)."""
    _record_detector(model_set, load_detector("lux_2013").model_dump(mode="json"))
    rc, out = _run("nn", tables, tables["er"], tmp_path, model_set, capsys)
    assert rc == 0
    out.unlink()
    rc, out = _run("nn", tables, tables["er_mod"], tmp_path, model_set, capsys)
    assert rc == 2 and not out.exists()
    err = _one_error(capsys)
    assert "--models: the 50 GeV model was trained on a detector named 'lux_2013' whose definition" \
        in err and "light.g1_pe_per_photon: 0.1372 in the model, 0.06 in the events" in err, err


@pytest.mark.parametrize("given", ["lux_2013", "xenon1t_sr0", "copy of lux_2013", "copy of xenon1t_sr0",
                                   "gone.toml"])
def test_a_model_set_that_recorded_no_definition_is_compared_by_the_name_it_was_given(
        tables, tmp_path, capsys, model_set, given):
    """By a shipped name, or by the name in the TOML file it was trained with, read again
    (a TOML path was not compared at all: a LUX network scored XENON1T events)."""
    if given.startswith("copy of "):
        shipped = given.removeprefix("copy of ")
        copy = tmp_path / "dets" / "custom"  # a file name without the .toml suffix
        copy.parent.mkdir()
        copy.write_text((SHIPPED_LUX.parent / f"{shipped}.toml").read_text())
        _record_detector(model_set, str(copy))
    else:
        _record_detector(model_set, str(tmp_path / given) if given.endswith(".toml") else given)
    rc, _ = _run("nn", tables, tables["er"], tmp_path, model_set, capsys)
    assert rc == (2 if given.endswith("xenon1t_sr0") else 0)
    err = capsys.readouterr().err
    if rc:
        assert "trained on detector 'xenon1t_sr0', not 'lux_2013'" in err, err
    assert ("cannot be read now: its detector is not checked" in err) == (given == "gone.toml"), err


def test_settings_a_network_does_not_depend_on_are_not_compared():
    """The live time scales every source alike (training balances the classes) and free
    text changes nothing: a model of LUX 2013 applies to a copy with ten times its live
    days and another description, not to one with another g1."""
    from types import SimpleNamespace

    from wimpsift.pipelines.sensitivity import check_trained_for

    lux = load_detector("lux_2013").model_dump(mode="json")
    model = SimpleNamespace(provenance={"detector": lux})
    longer = json.loads(json.dumps(lux))
    longer["exposure"]["live_days"] *= 10
    longer["description"] = "LUX 2013, ten times longer"
    longer["backgrounds"][0]["note"] = "another note"
    check_trained_for({50.0: model}, longer)
    longer["light"]["g1_pe_per_photon"] = 0.06
    with pytest.raises(DataError, match=r"^--models: the 50 GeV model was trained on a detector named "
                                        r"'lux_2013' whose definition differs from --detector's "
                                        r"\(light\.g1_pe_per_photon: 0\.1372 in the model, 0\.06 given "
                                        r"by --detector\)$"):
        check_trained_for({50.0: model}, longer, ("--detector's", "given by --detector"))


@pytest.mark.slow
def test_nn_train_from_a_toml_path_records_the_definition(tables, tmp_path, capsys):
    # ~10 s: one tiny network trained with --detector PATH (a copy of LUX 2013)
    copy = tmp_path / "lux_copy.toml"
    copy.write_text(SHIPPED_LUX.read_text())
    run = tmp_path / "nn"
    assert main(["nn", "train", "-d", str(copy), "--masses", "50", "--n-signal", "150",
                 "--n-background", "150", "--backgrounds", "er", "--epochs-from-scratch", "1",
                 "--max-retrains", "0", "-o", str(run)]) == 0
    model = json.loads((run / "models" / "nn_50GeV.json").read_text())
    assert model["provenance"]["detector"] == load_detector(copy).model_dump(mode="json")
    assert _run("nn", tables, tables["er"], tmp_path, run, capsys)[0] == 0
    assert _run("nn", tables, tables["er_mod"], tmp_path, run, capsys)[0] == 2
    assert "light.g1_pe_per_photon" in _one_error(capsys)


def test_nn_evaluate_measures_the_output_mi_with_the_models_k(tables, tmp_path, capsys, model_set):
    """``nn evaluate`` used k = 5 whatever ``nn train --mi-k`` checked the networks with."""
    from wimpsift.cli.nn import load_models
    from wimpsift.metrics.mutual_information import mutual_information
    from wimpsift.training.discriminant import balanced_weights

    folder = model_set if (model_set / "index.json").is_file() else model_set / "models"
    path = folder / json.loads((folder / "index.json").read_text())["files"]["50"]
    data = json.loads(path.read_text())
    data["provenance"]["config"] = {"discriminant": {"mi_k": 12}}
    path.write_text(json.dumps(data))
    frame, _ = read_events(tables["er"])
    frame = frame[frame["in_window"]].reset_index(drop=True)
    # inputs of order one, where the untrained network's output varies, and labels it
    # partly follows (the signal's inputs shifted)
    frame["label"] = (frame.index % 3 == 0).astype(int)
    rng = np.random.default_rng(5)
    for column in ("r_cm", "z_cm", "cs1_pe", "cs2_pe"):
        frame[column] = rng.normal(size=len(frame)) + frame["label"]
    labelled = _rewrite(tables["er"], tmp_path / "labelled.parquet", frame)
    capsys.readouterr()
    assert main(["nn", "evaluate", "--models", str(model_set), str(labelled), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["metrics"]["50"]
    model = load_models(str(model_set))[50.0]
    y = frame["label"].to_numpy()
    wb = balanced_weights(y, np.ones(len(y)))
    logit = model.logit(frame)
    mi = {k: mutual_information(logit, y, wb, k=k, n_subsets=1).mi_bits for k in (5, 12)}
    assert mi[5] != mi[12]
    assert printed["output_mi_bits"] == mi[12] and printed["output_mi_k"] == 12
    # ten signal events: fewer neighbours than the models' k, not a refusal
    few = frame[(frame["label"] == 0) | (frame.index < 30)].reset_index(drop=True)
    assert int(few["label"].sum()) == 10
    small = _rewrite(tables["er"], tmp_path / "few.parquet", few)
    capsys.readouterr()
    assert main(["nn", "evaluate", "--models", str(model_set), str(small), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["50"]["output_mi_k"] == 9
