"""Helpers of the hardening tests: run the command line in process, snapshot folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from wimpsift.cli.main import main


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def cli(capsys):
    """Run ``wimpsift ARGV`` in process: (exit code, stderr lines)."""

    def run(argv: list[str]) -> tuple[int, list[str]]:
        capsys.readouterr()
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exit_:  # argparse usage errors
            rc = exit_.code
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        return rc, err

    return run


def one_line_error(rc: int, err: list[str], *needles: str) -> None:
    """Exit code 2 and a single ``wimpsift ...: error:`` line holding every needle."""
    errors = [line for line in err if ": error: " in line]
    assert rc == 2, (rc, err)
    assert len(errors) == 1, err
    assert not any(line.startswith("Traceback") for line in err), err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
