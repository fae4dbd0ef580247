"""No process-global side effects: file permissions without umask toggling, NEST's
stdout redirection restored for every (nested, concurrent) user."""

from __future__ import annotations

import os
import stat
import threading

import numpy as np

from wimpsift.detectors import load_detector
from wimpsift.microphysics.quanta import _stdout_to_stderr, nest_quanta
from wimpsift.provenance import atomic_path, write_json


def test_atomic_write_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o027)  # the test sets a known umask; the library never reads it
    try:
        path = write_json(tmp_path / "a.json", {"x": 1})
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        assert os.umask(0o027) == 0o027  # unchanged by the write
    finally:
        os.umask(umask)
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failed_atomic_write_leaves_nothing(tmp_path):
    try:
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert list(tmp_path.iterdir()) == []


def test_stdout_is_restored_after_nested_and_concurrent_nest_calls():
    stdout_fd = 1
    before = os.fstat(stdout_fd)
    detector = load_detector("xenon1t_sr0")
    results = []

    def work(seed):
        with _stdout_to_stderr():
            results.append(nest_quanta(np.full(50, 10.0), "nr", np.full(50, -50.0), detector, seed))

    with _stdout_to_stderr():
        threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2, 3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    after = os.fstat(stdout_fd)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    assert len(results) == 3 and all(r.n_photons.sum() > 0 for r in results)
