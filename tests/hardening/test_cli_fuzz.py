"""Property test at the command-line boundary (issue 10): every command, random option
values and types, small damaged input files.

For every example: no traceback (no exception escapes ``main``), the exit code is 0 or 2,
and an output that existed before a failed run is byte-identical after it.

Commands run in process through :func:`wimpsift.cli.main.main`. The light ones run for
real (a valid draw simulates at most a few events). The long pipelines (``run``,
``reproduce``, ``nn train|study``, the image loop of ``images``, ``reinterpret``,
``sensitivity``, the simulated sources of ``templates``, ``positions train|evaluate``) are cut at their entry
point, after the command's own validation: reaching it counts as an accepted request.
Nothing physical is replaced; only the minutes of work behind a valid request are
skipped. Examples are derandomised, so the suite runs the same cases every time; the
number of cases is ``MAX_EXAMPLES`` per command (``WIMPSIFT_FUZZ_EXAMPLES`` raises it
for a longer local hunt).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.hardening.conftest import snapshot
from wimpsift.cli.main import main

MAX_EXAMPLES = int(os.environ.get("WIMPSIFT_FUZZ_EXAMPLES", "12"))  # per command

# ------------------------------------------------------------------ value pools
INTS = st.sampled_from(["-1", "0", "1", "2", "3", "10", "99999999999999999999999", "1e3", "2.5",
                        "nan", "x", "", "-"])
SMALL = st.sampled_from(["1", "2", "3"])
FLOATS = st.sampled_from(["-1", "0", "1e-45", "1e-3", "0.5", "1", "50", "1e300", "inf", "-inf",
                          "nan", "x", "", "1,2"])
TEXT = st.text(max_size=6)
FLAG = st.just(None)  # a flag takes no value


class _Reached(Exception):
    """Raised at a long pipeline's entry: the request passed validation."""


def _reach(*args, **kwargs):
    raise _Reached


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    """Small valid and damaged input files, by name."""
    d = tmp_path_factory.mktemp("inputs")
    assert main(["simulate", "-s", "er", "--events", "20", "--seed", "1", "--no-progress",
                 "-o", str(d / "events.parquet")]) == 0
    good = (d / "events.parquet").read_bytes()
    rng = np.random.default_rng(0)
    files = {
        "events": good, "events_truncated": good[: len(good) // 2], "empty": b"",
        "garbage": rng.integers(0, 256, 300, dtype=np.uint8).tobytes(),
        "h5_header_only": b"\x89HDF\r\n\x1a\n" + bytes(200),
        "toml_broken": b"[simulation\nevents_per_source = ",
        "toml_types": b'[simulation]\nevents_per_source = "many"\n',
        "json_truncated": b'{"signal": [1, 2',
        "json_wrong": b'{"signal": "x", "backgrounds": {"er": [1, "y"]}, "bin_edges": "x"}',
        "json_list": b"[1, 2, 3]",
    }
    templates = {"signal": [0.1, 0.5, 2.0], "backgrounds": {"er": [20.0, 5.0, 1.0]},
                 "bin_edges": [[0.0, 0.3, 0.6, 1.0]], "sigma_ref_cm2": 1e-46, "mass_gev": 50.0,
                 "observed": [20, 5, 2]}
    files["templates"] = json.dumps(templates).encode()
    files["observed"] = b"[21, 4, 1]"
    buffer = io.BytesIO()
    torch.save({"format": "something else", "state_dict": {}}, buffer)
    files["pt_foreign"] = buffer.getvalue()
    paths = {}
    for name, data in files.items():
        suffix = {"events": ".parquet", "events_truncated": ".parquet", "h5_header_only": ".h5",
                  "pt_foreign": ".pt",
                  "toml_broken": ".toml", "toml_types": ".toml"}.get(name, ".json")
        path = d / f"{name}{suffix}"
        path.write_bytes(data)
        paths[name] = str(path)
    models = d / "models_bad_index"
    (models / "models").mkdir(parents=True)
    (models / "models" / "index.json").write_text('{"files": {"50": "missing.json"}}')
    paths["models_bad_index"] = str(models)
    paths["missing"] = str(d / "does_not_exist.parquet")
    paths["folder"] = str(d)
    return paths


def files(*names: str) -> st.SearchStrategy:
    return st.sampled_from(names)


DETECTORS = st.one_of(st.sampled_from(["xenon1t_sr0", "lux_2013", "nowhere"]),
                      files("garbage", "toml_broken", "empty", "folder"), TEXT)

#: command -> (fixed argv, {option: strategy}, output suffix or "/" for a folder, or None)
COMMANDS: dict[str, tuple[list[str], dict[str, st.SearchStrategy], str | None]] = {
    "simulate": (["simulate", "--no-progress"], {
        "--detector": DETECTORS, "--source": st.sampled_from(["er", "wimp", "neutrons", "x"]),
        "--mass-gev": FLOATS, "--sigma-cm2": FLOATS, "--events": st.one_of(SMALL, INTS),
        "--volume": st.sampled_from(["fiducial", "active", "x"]), "--chunk-size": INTS,
        "--seed": st.one_of(SMALL, INTS)}, ".parquet"),
    "rates": (["rates", "--mc-events=2"], {
        "--detector": DETECTORS, "--mass-gev": FLOATS, "--sigma-cm2": FLOATS,
        "--exposure-kg-days": FLOATS, "--mc-events": st.one_of(SMALL, INTS), "--seed": INTS,
        "--json": FLAG}, None),
    "bands": (["bands", "--events=3"], {
        "--detector": DETECTORS, "--mass-gev": FLOATS, "--events": st.one_of(SMALL, INTS),
        "--seed": INTS}, ".png"),
    "instructions": (["instructions"], {
        "": files("events", "events_truncated", "empty", "garbage", "missing", "folder")},
        ".csv"),
    "show": (["show"], {
        "--detector": DETECTORS, "--source": st.sampled_from(["wimp:500", "er", "wimp:x", "x"]),
        "--seed": INTS, "--event": st.one_of(st.sampled_from(["0", "1"]), INTS),
        "--kind": st.sampled_from(["figure", "hit", "peak", "hitpeak", "x"]),
        "--dataset": files("h5_header_only", "garbage", "empty", "missing", "events"),
        "--scale": INTS}, ".png"),
    "images": (["images", "--no-progress"], {
        "--detector": DETECTORS, "--signal": st.sampled_from(["wimp:500", "wimp:-1", "x", ""]),
        "--background": st.sampled_from(["er", "wall", "x"]),
        "--events-per-class": st.one_of(SMALL, INTS),
        "--kinds": st.sampled_from(["hit", "hit,peak", "x", "", ","]),
        "--shape": st.sampled_from(["hit=8x16", "hit=0x0", "x", "hit=100000x100000", "peak=a"]),
        "--selection": st.sampled_from(["window", "none", "x"]), "--chunk-events": INTS,
        "--examples": INTS, "--seed": st.one_of(SMALL, INTS),
        "--execution": files("toml_broken", "garbage", "empty", "missing", "folder")}, "/"),
    "run": (["run"], {"--config": files("toml_broken", "toml_types", "garbage", "missing",
                                        "folder")}, "/"),
    "nn train": (["nn", "train"], {
        "--detector": DETECTORS, "--backgrounds": st.sampled_from(["er", "er,wall", "x", ""]),
        "--n-signal": INTS, "--n-background": INTS, "--max-simulated": INTS,
        "--test-fraction": FLOATS, "--masses": st.sampled_from(["50", "50,x", "", "-1", "nan"]),
        "--inputs": st.sampled_from(["corrected", "raw_pf", "bogus", "cs1_pe,x"]),
        "--hidden": st.sampled_from(["10,3", "0", "x", ""]), "--epochs-from-scratch": INTS,
        "--batch-size": INTS, "--learning-rate": FLOATS, "--mi-epsilon": FLOATS,
        "--seed": INTS, "--mode": st.sampled_from(["sequential", "both", "x"]),
        "--cache-dir": files("garbage", "folder")}, "/"),
    "nn evaluate": (["nn", "evaluate"], {
        "--models": files("models_bad_index", "folder", "garbage", "missing"),
        "": files("events", "events_truncated", "garbage", "empty", "missing"),
        "--in-window": FLAG, "--json": FLAG}, ".parquet"),
    "nn study": (["nn", "study"], {
        "": st.sampled_from(["pca", "projections", "raw_vs_corrected", "x"]),
        "--models": files("models_bad_index", "garbage", "missing"),
        "--projection-mass": FLOATS, "--n-signal": INTS, "--hidden": st.sampled_from(["1", "x"]),
        }, "/"),
    "limits compute": (["limits", "compute"], {
        "": files("templates", "json_truncated", "json_wrong", "json_list", "garbage", "missing"),
        "--observed": files("observed", "json_list", "garbage", "events"),
        "--asimov-mu": FLOATS, "--width": FLOATS,
        "--widths": st.sampled_from(['{"er": 0.1}', '{"er": "x"}', "[1]", "{", '{"zz": 1}']),
        "--combine-backgrounds": FLAG, "--cl": FLOATS,
        "--method": st.sampled_from(["asymptotic", "toys", "x"]), "--n-toys": INTS,
        "--n-background-toys": INTS, "--power-constraint": FLOATS, "--seed": INTS,
        "--json": FLAG}, ".json"),
    "limits discovery": (["limits", "discovery"], {
        "": files("templates", "json_wrong", "garbage"),
        "--events": files("events", "events_truncated", "garbage"),
        "--columns": st.sampled_from(["cs1_pe", "x", "energy_kev"]), "--asimov-mu": FLOATS,
        "--json": FLAG}, None),
    "limits export-pyhf": (["limits", "export-pyhf"], {
        "": files("templates", "json_truncated", "json_list", "garbage"),
        "--asimov-mu": FLOATS, "--width": FLOATS}, ".json"),
    "reproduce cnn": (["reproduce", "cnn", "--no-progress"], {
        "--scale": st.sampled_from(["quick", "paper", "x"]), "--seed": INTS, "--workers": INTS,
        "--threads": INTS, "--train-events-per-class": INTS, "--halving-factor": INTS,
        "--pool-stride": INTS, "--device": st.sampled_from(["cpu", "x"]),
        "--scoring": st.sampled_from(["recall", "x"]),
        "--backgrounds": st.sampled_from(["er", "all", "x"]), "--detector": DETECTORS}, "/"),
    "reproduce lux": (["reproduce", "lux"], {
        "--scale": st.sampled_from(["quick", "x"]), "--seed": INTS, "--workers": INTS,
        "--no-studies": FLAG}, "/"),
    "reinterpret": (["reinterpret", "--no-progress"], {
        "--experiment": st.sampled_from(["xenon1t_1ty", "xenonnt_20ty", "x", ""]),
        "--masses": st.one_of(st.sampled_from(["30", "1e4"]), FLOATS),
        "--interaction": st.sampled_from(["si", "sd_n", "sd_p", "x"]),
        "--halo": st.sampled_from(["2021", "xenon1t_2018", "x"]), "--halo-v0-km-s": FLOATS,
        "--threshold": st.sampled_from(["asymptotic", "neyman", "x"]), "--cl": FLOATS,
        "--toys": INTS, "--points-per-bin": INTS, "--workers": INTS, "--json": FLAG}, "/"),
    "sensitivity": (["sensitivity", "--no-progress"], {
        "--detector": DETECTORS, "--masses": st.one_of(st.sampled_from(["50"]), FLOATS),
        "--analysis": st.sampled_from(["cs1-cs2", "rz-cs1-cs2", "network", "x"]),
        "--events-per-source": INTS, "--method": st.sampled_from(["auto", "asymptotic", "toys", "x"]),
        "--n-toys": INTS, "--power-constraint": st.sampled_from(["0.159", "none", "1.5", "x"]),
        "--cl": FLOATS, "--background-width": FLOATS, "--seed": INTS,
        "--halo": st.sampled_from(["2021", "xenon1t_2018", "x"]), "--halo-v0-km-s": FLOATS,
        "--workers": INTS, "--json": FLAG}, "/"),
    "templates": (["templates"], {
        "": st.one_of(files("events", "events_truncated", "garbage", "empty", "missing"),
                      st.sampled_from(["wimp", "er", "x"])),
        "--detector": DETECTORS,
        "--analysis": st.sampled_from(["cs1-cs2", "rz-cs1-cs2", "network", "x"]),
        "--models": files("models_bad_index", "garbage", "missing"), "--mass-gev": FLOATS,
        "--sigma-cm2": FLOATS, "--events-per-source": INTS, "--seed": INTS}, ".json"),
    "detectors": (["detectors"], {"--json": FLAG}, None),
    "cache ls": (["cache", "ls"], {
        "": files("folder", "missing", "garbage", "empty"),
        "--stage": st.sampled_from(["stats.toy_chunk", "x", "../up", ""])}, None),
    "cache clear": (["cache", "clear"], {
        "": files("folder", "missing", "garbage", "empty"),
        "--stage": st.sampled_from(["stats.toy_chunk", "x", "../up", ""])}, None),
    "positions train": (["positions", "train"], {
        "--detector": DETECTORS, "--events": INTS, "--epochs": INTS, "--batch-size": INTS,
        "--learning-rate": FLOATS, "--no-mismatch": FLAG, "--seed": INTS}, ".pt"),
    "positions evaluate": (["positions", "evaluate"], {
        "--model": files("pt_foreign", "garbage", "empty", "missing", "folder", "events"),
        "--events": INTS, "--seed": INTS}, "/"),
}

#: long pipelines cut at their entry (module, attribute)
ENTRY_POINTS = [
    ("wimpsift.pipelines.main_job", "run_main_job"),
    ("wimpsift.pipelines.reproduce_cnn", "run_reproduce_cnn"),
    ("wimpsift.pipelines.reproduce_lux", "run_reproduce_lux"),
    ("wimpsift.training.discriminant", "train_masses"),
    ("wimpsift.training.studies", "study_inputs"),
    ("wimpsift.images.dataset", "_build_chunks"),
    ("wimpsift.pipelines.reinterpret", "run_reinterpret"),
    ("wimpsift.pipelines.sensitivity", "run_sensitivity"),
    ("wimpsift.training.samples", "EventSamples"),
    ("wimpsift.training.position", "train_position_cnn"),
    ("wimpsift.training.position", "evaluate_positions"),
]

OUTPUT_KINDS = ["new", "existing", "wrong_suffix", "parent_is_file", "proc", "slash"]


def _output(kind: str, suffix: str, work: Path) -> tuple[str, Path | None]:
    """An output path of the given kind; the path whose bytes must survive a failure."""
    folder = suffix == "/"
    name = "out" if folder else f"out{suffix}"
    if kind == "existing":
        path = work / name
        if folder:
            path.mkdir()
            (path / "keep.txt").write_text("precious")
        else:
            path.write_bytes(b"precious bytes")
        return str(path), path
    if kind == "wrong_suffix":
        return str(work / ("out.txt" if not folder else "out.json")), None
    if kind == "parent_is_file":
        (work / "afile").write_text("x")
        return str(work / "afile" / name), work / "afile"
    if kind == "proc":
        return f"/proc/wimpsift_fuzz/{name}", None
    if kind == "slash":
        return str(work / name) + "/", None
    return str(work / name), None


def _draw(data, name: str, inputs: dict[str, str], work: Path) -> tuple[list[str], Path | None]:
    fixed, options, suffix = COMMANDS[name]
    argv = list(fixed)
    for option, strategy in options.items():
        value = data.draw(strategy, label=option or "positional")
        if option and not data.draw(st.booleans(), label=f"use {option}"):
            continue
        if value in inputs:
            value = inputs[value]
        if not option:
            argv.append(value)
        else:  # --option=value: a value starting with "-" stays a value
            argv.append(option if value is None else f"{option}={value}")
    guarded = None
    if suffix is not None:
        kind = data.draw(st.sampled_from(OUTPUT_KINDS + (["none"] if name in (
            "nn evaluate", "limits compute") else [])), label="output")
        if kind != "none":
            out, guarded = _output(kind, suffix, work)
            argv += ["-o", out]
    return argv, guarded


def test_each_command_has_a_fuzz_spec():
    from wimpsift.cli.main import build_parser

    parser = build_parser()
    top = next(a for a in parser._actions if a.dest == "command")
    names = set()
    for command, sub in top.choices.items():
        nested = [a for a in sub._actions if getattr(a, "choices", None) and a.dest != "help"
                  and isinstance(a.choices, dict)]
        if nested:
            names |= {f"{command} {s}" for s in nested[0].choices}
        else:
            names.add(command)
    assert names == set(COMMANDS), names ^ set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_command_line_never_crashes_and_keeps_existing_outputs(name, data, inputs, tmp_path,
                                                               monkeypatch, capsys):
    import importlib

    for module, attribute in ENTRY_POINTS:
        monkeypatch.setattr(importlib.import_module(module), attribute, _reach)
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    argv, guarded = _draw(data, name, inputs, work)
    before = snapshot(work)
    try:
        rc = main(argv)
    except SystemExit as exit_:  # argparse: usage errors exit with 2
        rc = exit_.code
    except _Reached:
        rc = 0
    err = capsys.readouterr().err
    assert rc in (0, 2), (argv, rc, err)
    assert "Traceback" not in err, (argv, err)
    if rc == 2:
        assert snapshot(work) == before, (argv, err)
        assert guarded is None or guarded.exists()
