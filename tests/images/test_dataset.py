"""Image datasets in HDF5: contents, determinism, resume, and every validator."""

import hashlib
import json
import shutil

import h5py
import numpy as np
import pytest

from wimpsift.errors import ConfigError, DataError
from wimpsift.images import dataset as ds
from wimpsift.images.dataset import (
    ImageDataset,
    build_image_dataset,
    dataset_provenance,
    load_images,
)
from wimpsift.provenance import PROVENANCE_KEY

SMALL = dict(events_per_class=6, kinds=("hit", "hitpeak"), seed=3, chunk_events=4,
             progress=False)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory, xenon1t):
    path = tmp_path_factory.mktemp("ds") / "images.h5"
    return build_image_dataset(path, xenon1t, **SMALL)


def test_contents(built, xenon1t):
    images, labels, table = load_images(built, "hitpeak")
    assert images.shape == (12, 75, 75) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.sum() == 6
    assert set(table.source) == {"wimp", "er"}
    assert np.array_equal(labels == 1, (table.source == "wimp").to_numpy())
    assert table.in_window.all()
    assert table.event_id.tolist() == list(range(12))
    hit, _, _ = load_images(built, "hit")
    assert hit.shape == (12, 50, 100)
    record = dataset_provenance(built)
    assert record["stage"] == "images" and record["seed"] == 3
    assert record["config"]["events_per_class"] == 6
    assert record["detector"]["name"] == "xenon1t_sr0"


def test_same_seed_same_images_and_resume_is_identical(built, tmp_path, xenon1t, monkeypatch):
    again = build_image_dataset(tmp_path / "again.h5", "xenon1t_sr0", **SMALL)
    a, _, _ = load_images(built, "hitpeak")
    b, _, _ = load_images(again, "hitpeak")
    assert np.array_equal(a, b)

    # interrupt after the first chunk, then resume
    calls = {"n": 0}
    original = ds.simulate_selected

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # chunk 1, first class
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(ds, "simulate_selected", flaky)
    path = tmp_path / "resumed.h5"
    with pytest.raises(KeyboardInterrupt):
        build_image_dataset(path, xenon1t, **SMALL)
    partial, labels, _ = load_images(path, "hitpeak")
    assert len(partial) == 8  # the completed first chunk is readable
    monkeypatch.setattr(ds, "simulate_selected", original)
    build_image_dataset(path, xenon1t, **SMALL)
    c, _, _ = load_images(path, "hitpeak")
    assert np.array_equal(a, c)


@pytest.mark.slow
def test_chunks_built_on_two_workers_give_the_same_file_contents(built, tmp_path, xenon1t):
    """Chunks simulated in parallel (a local Dask cluster, WIMP sources built in this
    process and sent to the workers, BLAS on one thread there) are written in order:
    the same images, PMT patterns, event table and chunk digests, bit for bit, as the
    in-process build, whose BLAS may use every core."""
    from wimpsift.cli.main import main

    # two chunks (4 and 2 events per class), one on each worker, through the command line
    (tmp_path / "local.toml").write_text('backend = "local"\nn_workers = 2\nprogress = false\n')
    assert main(["images", "--events-per-class", "6", "--kinds", "hit,hitpeak", "--seed", "3",
                 "--chunk-events", "4", "--no-progress", "--execution",
                 str(tmp_path / "local.toml"), "-o", str(tmp_path / "parallel")]) == 0
    parallel = tmp_path / "parallel" / "images.h5"
    with h5py.File(built, "r") as a, h5py.File(parallel, "r") as b:
        assert int(b.attrs["chunks_done"]) == int(a.attrs["chunks_done"]) == 2
        keys = ["images/hit", "images/hitpeak", "label", "pmt/s1_area_pe", "pmt/s2_area_pe",
                "chunk_digest"] + [f"events/{column}" for column in a["events"]]
        assert set(b["events"]) == set(a["events"])
        for key in keys:
            assert np.array_equal(a[key][()], b[key][()]), key


def test_other_seed_gives_other_images(built, tmp_path, xenon1t):
    other = build_image_dataset(tmp_path / "other.h5", xenon1t, **{**SMALL, "seed": 4})
    assert not np.array_equal(load_images(built, "hit")[0], load_images(other, "hit")[0])


def test_resume_against_another_configuration_leaves_file_untouched(built, xenon1t):
    before = _digest(built)
    with pytest.raises(ConfigError, match="another configuration"):
        build_image_dataset(built, xenon1t, **{**SMALL, "seed": 5})
    with pytest.raises(ConfigError, match="another configuration"):
        build_image_dataset(built, xenon1t, **{**SMALL, "shapes": {"hit": (20, 40)}})
    with pytest.raises(ConfigError, match="another configuration"):
        build_image_dataset(built, xenon1t, **{**SMALL, "scaling": {"hit_s2_max_pe": 10.0}})
    assert _digest(built) == before


@pytest.mark.parametrize("field, value", [("source_sha256", "0123456789abcdef"),
                                          ("versions", {"nestpy": "0.0.1"})])
def test_resume_of_a_dataset_made_by_other_code_is_refused_untouched(built, tmp_path, xenon1t,
                                                                     field, value):
    path = tmp_path / "other_code.h5"
    shutil.copyfile(built, path)
    with h5py.File(path, "r+") as f:
        record = json.loads(f.attrs[PROVENANCE_KEY])
        record[field] = value if field == "source_sha256" else {**record[field], **value}
        f.attrs[PROVENANCE_KEY] = json.dumps(record)
    before = _digest(path)
    with pytest.raises(ConfigError, match=f"other code \\({field} differs"):
        build_image_dataset(path, xenon1t, **SMALL)
    assert _digest(path) == before
    # the same configuration by this code resumes (here: nothing left to build)
    assert build_image_dataset(built, xenon1t, **SMALL) == built


def test_foreign_files_are_rejected_untouched(tmp_path, xenon1t):
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    for path in (text, other):
        before = _digest(path)
        with pytest.raises(DataError):
            build_image_dataset(path, xenon1t, **SMALL)
        with pytest.raises(DataError):
            load_images(path, "hit")
        assert _digest(path) == before
    with pytest.raises(DataError, match="does not exist"):
        load_images(tmp_path / "missing.h5", "hit")


def test_load_validators(built):
    with pytest.raises(ConfigError, match="kind"):
        load_images(built, "waveform")
    with pytest.raises(DataError, match="no 'peak' images"):
        load_images(built, "peak")
    with pytest.raises(ConfigError, match="indices"):
        ImageDataset(built, "hit", indices=np.array([0, 99]))


@pytest.mark.parametrize("bad", [
    {"events_per_class": 0}, {"events_per_class": -3}, {"events_per_class": 2.5},
    {"seed": -1}, {"chunk_events": 0}, {"selection": "all"}, {"kinds": ("hit", "blob")},
    {"shapes": {"hit": (0, 10)}}, {"signal": "wimp:abc"}, {"signal": "wimp:-5"},
    {"background": "unicorns"}, {"signal": "wimp"}, {"scaling": {"hit_s2_max_pe": -1.0}},
    {"scaling": {"colour": "red"}},
])
def test_build_validators(tmp_path, xenon1t, bad):
    path = tmp_path / "never.h5"
    with pytest.raises(ConfigError):
        build_image_dataset(path, xenon1t, **{**SMALL, **bad})
    assert not path.exists()


def test_unwritable_output(tmp_path, xenon1t):
    with pytest.raises(ConfigError, match="output"):
        build_image_dataset(tmp_path / "missing_dir" / "x.h5", xenon1t, **SMALL)


def test_torch_dataset_streams(built):
    import torch
    from torch.utils.data import DataLoader

    data = ImageDataset(built, "hitpeak")
    assert isinstance(data, torch.utils.data.Dataset)
    assert len(data) == 12
    image, label = data[0]
    assert image.shape == (1, 75, 75) and image.dtype == torch.float32
    batch, labels = next(iter(DataLoader(data, batch_size=5)))
    assert batch.shape == (5, 1, 75, 75) and labels.shape == (5,)
    X, y, _ = load_images(built, "hitpeak")
    assert torch.equal(batch[:, 0], torch.from_numpy(X[:5]))
    sub = ImageDataset(built, "hit", indices=np.array([3, 1]))
    assert len(sub) == 2 and sub[1][1].item() == float(y[1])
    np.testing.assert_array_equal(sub.labels, y[[3, 1]])  # one read, no images loaded
    np.testing.assert_array_equal(data.labels, [data[i][1].item() for i in range(len(data))])


def test_cached_dataset_is_built_once_and_keyed_by_its_config(built, tmp_path, xenon1t,
                                                               monkeypatch, capsys):
    from wimpsift.cli.main import main

    path = ds.cached_image_dataset(tmp_path, xenon1t, **SMALL)
    assert path.parent.parent.name == "images.dataset"
    # the cached file holds what a direct build writes
    for kind in SMALL["kinds"]:
        assert np.array_equal(load_images(path, kind)[0], load_images(built, kind)[0])

    def no_build(*args, **kwargs):
        raise AssertionError("built again")

    monkeypatch.setattr(ds, "build_image_dataset", no_build)
    assert ds.cached_image_dataset(tmp_path, "xenon1t_sr0", **SMALL) == path  # a hit
    with pytest.raises(AssertionError, match="built again"):  # another seed: a miss
        ds.cached_image_dataset(tmp_path, xenon1t, **{**SMALL, "seed": 4})
    assert main(["cache", "ls", str(tmp_path)]) == 0
    rows = [line.split("\t")[:2] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [["images.dataset", "1"]]


def test_cache_key_holds_the_s2_merge_gap_only_where_fragments_merge(xenon1t):
    """XENONnT's S2 fragments merge now (processing.peaks), so its cached images of before
    are not reused; XENON1T SR0's images are unchanged and keep their key."""
    from wimpsift.detectors import load_detector

    nt = load_detector("xenonnt_sr0")
    small = {k: v for k, v in SMALL.items() if k != "progress"}
    assert "s2_merge_gap_ns" not in ds.image_lineage(xenon1t, ds.make_config(xenon1t, **small))
    lineage = ds.image_lineage(nt, ds.make_config(nt, **small))
    assert 5000.0 < lineage["s2_merge_gap_ns"] < 6000.0
