"""Faults lose nothing (issue 10, items 3, 4, 5): full disk, damaged chunks, stamps, caches.

A full disk is simulated by making the writer raise ``OSError(ENOSPC)`` (the error the
kernel gives) at the point of the write; the physics runs for real.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.hardening.conftest import one_line_error, snapshot
from wimpsift.errors import DataError
from wimpsift.images import dataset as dataset_module
from wimpsift.images import dataset_file
from wimpsift.images.dataset import load_images

IMAGES = ["images", "--events-per-class", "4", "--chunk-events", "2", "--kinds", "hit",
          "--shape", "hit=8x16", "--seed", "3", "--no-progress", "-o"]


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(scope="module")
def reference_images(tmp_path_factory):
    """The dataset of an uninterrupted build."""
    from wimpsift.cli.main import main

    out = tmp_path_factory.mktemp("reference")
    assert main([*IMAGES, str(out)]) == 0
    return load_images(out / "images.h5", "hit")


def _same(a, b) -> None:
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2].equals(b[2])


def test_full_disk_during_images_is_one_line_and_resumes(cli, tmp_path, monkeypatch,
                                                         reference_images):
    real = dataset_file.write_columns
    calls = []

    def second_write_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            _enospc()
        return real(*args, **kwargs)

    monkeypatch.setattr(dataset_file, "write_columns", second_write_fails)
    rc, err = cli([*IMAGES, tmp_path])
    one_line_error(rc, err, "no space left on device")
    with h5py.File(tmp_path / "images.h5", "r") as f:
        assert int(f.attrs["chunks_done"]) == 1  # the failed chunk is not marked done
    monkeypatch.setattr(dataset_file, "write_columns", real)
    rc, err = cli([*IMAGES, tmp_path])
    assert rc == 0, err
    _same(load_images(tmp_path / "images.h5", "hit"), reference_images)


def test_chunk_marked_done_but_lost_is_rebuilt_on_resume(cli, tmp_path, reference_images):
    assert cli([*IMAGES, tmp_path])[0] == 0
    with h5py.File(tmp_path / "images.h5", "r+") as f:  # data lost, marks kept
        assert int(f.attrs["chunks_done"]) == 2
        f["images/hit"][4:8] = 0.0
        f["label"][0:2] = 0
    assert cli([*IMAGES, tmp_path])[0] == 0
    _same(load_images(tmp_path / "images.h5", "hit"), reference_images)


def test_too_little_space_for_the_next_chunk_stops_before_writing(cli, tmp_path, monkeypatch):
    real = dataset_module._build_chunks

    def one_chunk(path, config, det, sources, done, n_chunks, *rest):
        return real(path, config, det, sources, done, 1, *rest)

    monkeypatch.setattr(dataset_module, "_build_chunks", one_chunk)
    assert cli([*IMAGES, tmp_path])[0] == 0
    monkeypatch.setattr(dataset_module, "_build_chunks", real)
    before = (tmp_path / "images.h5").read_bytes()
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=1000))
    rc, err = cli([*IMAGES, tmp_path])
    one_line_error(rc, err, "no space left on device", "images.h5")
    assert (tmp_path / "images.h5").read_bytes() == before


def test_failure_before_the_first_chunk_leaves_nothing(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_file, "write_columns", _enospc)
    out = tmp_path / "new"
    rc, err = cli([*IMAGES, out])
    one_line_error(rc, err, "no space left on device")
    assert not out.exists(), list(tmp_path.rglob("*"))


def test_dataset_killed_before_its_first_chunk_is_one_line_and_resumes(cli, tmp_path, monkeypatch,
                                                                       reference_images):
    """A build killed before its first chunk (no cleanup ran) leaves a file with
    chunks_done 0 and no event table: readers say so in one line, and the same command
    finishes it (it was a KeyError traceback)."""

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset_file, "_remove_if_unfinished", lambda path: None)  # SIGKILL
    monkeypatch.setattr(dataset_module, "_simulate_chunk", killed)
    assert cli([*IMAGES, tmp_path])[0] == 130
    path = tmp_path / "images.h5"
    with h5py.File(path, "r") as f:
        assert int(f.attrs["chunks_done"]) == 0 and "events" not in f
    png = tmp_path / "row.png"
    rc, err = cli(["show", "--dataset", path, "--event", "0", "--kind", "hit", "-o", png])
    one_line_error(rc, err, "--dataset", "no finished chunk", "interrupted",
                   "again with the same settings")
    assert not png.exists()
    for read in (lambda: load_images(path, "hit"), lambda: dataset_module.ImageDataset(path, "hit")):
        with pytest.raises(DataError, match="no finished chunk"):
            read()
    monkeypatch.undo()
    assert cli([*IMAGES, tmp_path])[0] == 0
    _same(load_images(path, "hit"), reference_images)


SIMULATE = ["simulate", "-s", "er", "--events", "30", "--chunk-size", "10", "--seed", "4",
            "--no-progress", "-o"]


def test_full_disk_while_writing_the_resume_stamp(cli, tmp_path, monkeypatch):
    out = tmp_path / "ev.parquet"
    real = Path.write_text

    def full_disk_for_stamps(self, *args, **kwargs):
        if "config.json" in self.name:
            self.touch()  # the kernel leaves an empty file behind
            _enospc()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk_for_stamps)
    rc, err = cli([*SIMULATE, out])
    one_line_error(rc, err, "no space left on device")
    assert snapshot(tmp_path) == {}, "a stamp-less .partial folder was left"
    monkeypatch.setattr(Path, "write_text", real)
    rc, err = cli([*SIMULATE, out])
    assert rc == 0, err
    assert out.is_file()


def test_partial_folder_with_a_damaged_stamp_is_a_clear_error(cli, tmp_path):
    out = tmp_path / "ev.parquet"
    partial = tmp_path / "ev.parquet.partial"
    partial.mkdir()
    (partial / "config.json").write_text("")  # what a full disk left before the fix
    rc, err = cli([*SIMULATE, out])
    one_line_error(rc, err, "resume stamp", "ev.parquet.partial")
    assert not out.exists()


def test_damaged_simulation_chunk_is_simulated_again(cli, tmp_path, monkeypatch):
    import pandas as pd

    from wimpsift.io import event_tables

    ref = tmp_path / "ref.parquet"
    assert cli([*SIMULATE, ref])[0] == 0
    real = event_tables.simulate_events

    def third_chunk_fails(*args, chunk_index=0, **kwargs):
        if chunk_index == 2:
            _enospc()
        return real(*args, chunk_index=chunk_index, **kwargs)

    monkeypatch.setattr(event_tables, "simulate_events", third_chunk_fails)
    out = tmp_path / "ev.parquet"
    one_line_error(*cli([*SIMULATE, out]), "no space left on device")
    monkeypatch.setattr(event_tables, "simulate_events", real)
    chunk = tmp_path / "ev.parquet.partial" / "chunk_000001.parquet"
    chunk.write_bytes(chunk.read_bytes()[:40])  # damaged after it was written
    rc, err = cli([*SIMULATE, out])
    assert rc == 0, err
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(ref))


def test_damaged_sample_cache_entry_is_rebuilt(tmp_path):
    from wimpsift.training.samples import EventSamples, validated_sample_config

    config = validated_sample_config(detector="lux_2013", n_signal=20, n_background_per_source=20,
                                     backgrounds=["er"], seed=2, cache_dir=str(tmp_path))
    first = EventSamples(config).source_sample("er")
    (entry,) = tmp_path.rglob("*.parquet")  # the cache entry's sample file
    good = entry.read_bytes()
    entry.write_bytes(good[: len(good) // 2])  # truncated, as by a full disk or a kill
    again = EventSamples(config).source_sample("er")
    assert again.equals(first)
    assert entry.read_bytes() == good  # the entry was rebuilt, identically
    entry.write_bytes(b"")
    assert EventSamples(config).source_sample("er").equals(first)
