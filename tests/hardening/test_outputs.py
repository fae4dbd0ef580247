"""Output locations are checked before any work (issue 10, items 6, 12, 13 and the lock).

Every command with ``-o`` refuses a location that cannot be written (parent is a file,
``/proc``), a file name whose extension is not the format written, and a trailing
slash where a file is expected: one line, exit code 2, nothing created.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening.conftest import one_line_error, snapshot

#: every command with an output; {out} is replaced by the output path (suffix given)
COMMANDS: dict[str, tuple[list[str], str]] = {
    "simulate": (["simulate", "-s", "er", "--events", "10", "--seed", "1", "-o", "{out}"],
                 ".parquet"),
    "bands": (["bands", "--events", "10", "-o", "{out}"], ".png"),
    "instructions": (["instructions", "{inp}/events.parquet", "-o", "{out}"], ".csv"),
    "images": (["images", "--events-per-class", "2", "--seed", "1", "-o", "{out}"], ""),
    "show": (["show", "-o", "{out}"], ".png"),
    "run": (["run", "-o", "{out}"], ""),
    "nn train": (["nn", "train", "--masses", "50", "-o", "{out}"], ""),
    "nn evaluate": (["nn", "evaluate", "--models", "{inp}", "{inp}/events.parquet",
                     "-o", "{out}"], ".parquet"),
    "nn study": (["nn", "study", "pca", "-o", "{out}"], ""),
    "limits compute": (["limits", "compute", "{inp}/t.json", "-o", "{out}"], ".json"),
    "limits export-pyhf": (["limits", "export-pyhf", "{inp}/t.json", "-o", "{out}"], ".json"),
    "reproduce lux": (["reproduce", "lux", "-o", "{out}"], ""),
    "reproduce cnn": (["reproduce", "cnn", "-o", "{out}"], ""),
}


def _argv(name: str, out: str, inp: Path) -> list[str]:
    argv, _ = COMMANDS[name]
    return [a.replace("{out}", out).replace("{inp}", str(inp)) for a in argv]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_parent_is_a_file_is_refused_before_any_work(name, cli, tmp_path):
    (tmp_path / "afile").write_text("x")
    before = snapshot(tmp_path)
    rc, err = cli(_argv(name, f"{tmp_path}/afile/x{COMMANDS[name][1]}", tmp_path))
    one_line_error(rc, err, "--output", "is a file")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_proc_is_refused_before_any_work(name, cli, tmp_path):
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc")
    rc, err = cli(_argv(name, f"/proc/wimpsift_x{COMMANDS[name][1]}", tmp_path))
    one_line_error(rc, err, "--output", "/proc")


@pytest.mark.parametrize(("name", "bad"), [
    ("simulate", "x.csv"), ("simulate", "x"), ("bands", "x.parquet"),
    ("instructions", "x.parquet"), ("show", "x.pdf"), ("nn evaluate", "x.csv"),
    ("limits compute", "x.txt"), ("limits export-pyhf", "x.parquet"),
])
def test_extension_must_match_the_format_written(name, bad, cli, tmp_path):
    before = snapshot(tmp_path)
    rc, err = cli(_argv(name, str(tmp_path / bad), tmp_path))
    one_line_error(rc, err, "--output", "does not end in")
    assert snapshot(tmp_path) == before


def test_trailing_slash_is_a_folder_not_a_file_name(cli, tmp_path):
    rc, err = cli(_argv("simulate", f"{tmp_path}/somedir/", tmp_path))
    one_line_error(rc, err, "--output", "is a folder")
    assert not (tmp_path / "somedir").exists()
    (tmp_path / "adir.parquet").mkdir()
    rc, err = cli(_argv("simulate", str(tmp_path / "adir.parquet"), tmp_path))
    one_line_error(rc, err, "is a folder")


def test_folder_output_that_is_a_file_is_refused(cli, tmp_path):
    (tmp_path / "run").write_text("keep me")
    rc, err = cli(_argv("run", str(tmp_path / "run"), tmp_path))
    one_line_error(rc, err, "--output", "expected a folder")
    assert (tmp_path / "run").read_text() == "keep me"


@pytest.mark.parametrize(("argv", "needle"), [
    (["nn", "train", "--inputs", "bogus", "-o", "{out}"], "bogus"),
    (["nn", "study", "pca", "--hidden", "1,x", "-o", "{out}"], "--hidden"),
    (["run", "--config", "{inp}/missing.toml", "-o", "{out}"], "missing.toml"),
    (["images", "--events-per-class", "2", "--seed", "1", "--kinds", "hit",
      "--shape", "hit=100000x100000", "-o", "{out}"], "memory"),
    (["images", "--events-per-class", "2", "--seed", "1", "--kinds", "movie", "-o", "{out}"],
     "movie"),
])
def test_refused_request_leaves_no_output_folder(argv, needle, cli, tmp_path):
    out = tmp_path / "new" / "deeper"
    rc, err = cli([a.replace("{out}", str(out)).replace("{inp}", str(tmp_path)) for a in argv])
    one_line_error(rc, err, needle)
    assert not (tmp_path / "new").exists(), list(tmp_path.rglob("*"))


def test_second_run_on_a_locked_output_is_refused(cli, tmp_path):
    from wimpsift.provenance import output_lock

    out = tmp_path / "events.parquet"
    with output_lock(out) as lock:
        assert lock.is_file()
        rc, err = cli(_argv("simulate", str(out), tmp_path))
        one_line_error(rc, err, "another wimpsift run is writing", str(lock))
        assert not out.exists()
    assert not lock.exists()  # released and removed with the run
    with output_lock(out):  # and can be taken again
        pass


def test_check_writable_creates_nothing_and_accepts_a_new_folder(tmp_path):
    from wimpsift.provenance import check_writable

    before = snapshot(tmp_path)
    assert check_writable(tmp_path / "a" / "b", folder=True) == tmp_path / "a" / "b"
    assert check_writable(tmp_path / "x.json", suffixes=(".json",)) == tmp_path / "x.json"
    assert snapshot(tmp_path) == before


def test_lock_folder_planted_as_a_symlink_is_refused(tmp_path, monkeypatch):
    import os
    import tempfile

    from wimpsift.errors import ConfigError
    from wimpsift.provenance import output_lock

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / f"wimpsift-locks-{os.getuid()}").symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="not a folder owned by this user"), \
            output_lock(tmp_path / "out.parquet"):
        pass
    assert list(elsewhere.iterdir()) == []
