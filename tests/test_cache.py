"""The lineage cache: key, round trip without pickle, atomic entries, ``wimpsift cache``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wimpsift import cache as cache_module
from wimpsift.cache import Cache, array_digest, caches_in, lineage, lineage_key
from wimpsift.cli.main import main
from wimpsift.errors import ConfigError


def test_key_hashes_stage_version_config_and_package_versions(monkeypatch):
    base = lineage("stats.toy_chunk", 1, {"seed": 3, "n_toys": 10})
    # every package whose version a provenance record lists: a result cached with another
    # iminuit or SciPy would otherwise come back under today's versions
    assert set(base["versions"]) == {"wimpsift", "nestpy", "wimprates", "torch", "numpy", "scipy",
                                     "scikit-learn", "iminuit", "xe-likelihood"}
    key = lineage_key(base)
    assert key == lineage_key(lineage("stats.toy_chunk", 1, {"n_toys": 10, "seed": 3}))  # key order
    assert key != lineage_key(lineage("stats.toy_chunk", 2, {"seed": 3, "n_toys": 10}))
    assert key != lineage_key(lineage("cnn.grid_trial", 1, {"seed": 3, "n_toys": 10}))
    assert key != lineage_key(lineage("stats.toy_chunk", 1, {"seed": 4, "n_toys": 10}))
    real = cache_module.package_versions(cache_module.LINEAGE_PACKAGES)
    for package in ("nestpy", "iminuit", "scipy", "xe-likelihood"):
        monkeypatch.setattr(cache_module, "package_versions",
                            lambda names, package=package: {**real, package: "0.0.1"})
        assert key != lineage_key(lineage("stats.toy_chunk", 1, {"seed": 3, "n_toys": 10}))


def test_array_digest_follows_values_dtype_and_shape():
    a = np.arange(12, dtype=np.float32)
    assert array_digest(a, None) == array_digest(a.copy(), None)
    assert array_digest(a[::-1].copy()) == array_digest(np.arange(11, -1, -1, dtype=np.float32))
    others = [a + np.float32(1e-6) * (np.arange(12) == 5), a.astype(np.float64),
              a.reshape(3, 4), a.view(np.int32)]
    digests = {array_digest(a), *(array_digest(b) for b in others)}
    assert len(digests) == 1 + len(others)
    # where one array ends and the next begins is part of the digest
    assert array_digest(a[:6], a[6:]) != array_digest(a[:5], a[5:])


def test_round_trip_is_exact_and_pickle_free(tmp_path):
    cache = Cache(tmp_path)
    entry = cache.entry("stats.toy_chunk", 1, {"seed": 1})
    assert not entry.exists() and entry.load() is None
    q = np.random.default_rng(0).normal(size=(3, 5))
    entry.store({"q": q, "counts": np.arange(4), "times": {"cpu_s": {"fit": 0.1 + 0.2}}})
    back = entry.load()
    np.testing.assert_array_equal(back["q"], q)
    assert back["q"].dtype == q.dtype and back["counts"].dtype == np.arange(4).dtype
    assert back["times"] == {"cpu_s": {"fit": 0.1 + 0.2}}
    record = json.loads((entry.path / "lineage.json").read_text())
    assert record["stage"] == "stats.toy_chunk" and record["config"] == {"seed": 1}
    with pytest.raises(ValueError, match="Python objects"):
        cache.entry("x", 1, {}).store({"bad": np.array([{"a": 1}], dtype=object)})
    assert not list(tmp_path.glob("x/*"))  # no partial entry left behind


def test_damaged_entry_is_reported_missing(tmp_path):
    entry = Cache(tmp_path).entry("cnn.grid_trial", 1, {"fold": 0})
    entry.store({"scores": {"1": {"recall": 0.5}}, "q": np.ones(2)})
    (entry.path / "arrays.npz").unlink()
    assert entry.load() is None
    entry.store({"scores": {}})
    (entry.path / "result.json").write_text("{not json")
    assert entry.load() is None


def test_a_sample_entry_without_its_summary_is_simulated_again(tmp_path):
    """A damaged entry is recomputed, as documented: a sample whose result.json lost its
    summary ({"summry": {}}) was a KeyError traceback of every later ``nn train``."""
    import pandas as pd

    from wimpsift.training.samples import SAMPLE_STAGE, EventSamples, validated_sample_config

    cfg = validated_sample_config(detector="lux_2013", n_signal=40, n_background_per_source=40,
                                  max_simulated=20_000, chunk_size=10_000, seed=3,
                                  cache_dir=str(tmp_path))
    first = EventSamples(cfg)
    table = first.source_sample("er")
    (result,) = (tmp_path / SAMPLE_STAGE).glob("*/result.json")
    result.write_text('{"summry": {}}')
    again = EventSamples(cfg)
    pd.testing.assert_frame_equal(again.source_sample("er"), table)
    assert again.summary == first.summary
    assert json.loads(result.read_text())["summary"] == first.summary["er"]


def test_a_cached_task_result_without_the_keys_it_is_read_by_runs_again(tmp_path):
    """The executor's cached tasks (toy chunks, masses): a result that lost a key its
    reader takes is damaged, run again and stored anew, not a KeyError later."""
    from wimpsift.execution import ExecutionConfig, Executor, Task

    entry = Cache(tmp_path).entry("stats.toy_chunk", 1, {"chunk": 0})
    entry.store({"q_s": [1.0]})
    task = Task(dict, kwargs={"q_sb": [2.0]}, cache=entry, result_keys=("q_sb",))
    with Executor(ExecutionConfig.build(progress=False)) as executor:
        assert executor.map({0: task}) == {0: {"q_sb": [2.0]}}
        assert executor.n_run == 1 and not executor.from_cache
    assert entry.load(("q_sb",)) == {"q_sb": [2.0]}


def test_cli_lists_and_clears(tmp_path, capsys):
    cache = Cache(tmp_path)
    for seed in range(3):
        cache.entry("stats.toy_chunk", 1, {"seed": seed}).store({"q": np.zeros(seed + 1)})
    cache.entry("cnn.grid_trial", 1, {"fold": 0}).store({"scores": {}})
    assert main(["cache", "ls", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split("\t") == ["stage", "entries", "bytes"]
    assert [line.split("\t")[:2] for line in out[1:]] == [["cnn.grid_trial", "1"], ["stats.toy_chunk", "3"]]
    assert main(["cache", "clear", str(tmp_path), "--stage", "stats.toy_chunk"]) == 0
    assert [s.stage for s in cache.summary()] == ["cnn.grid_trial"]
    assert main(["cache", "clear", str(tmp_path)]) == 0
    assert cache.summary() == []
    assert main(["cache", "ls", str(tmp_path / "absent")]) == 2
    assert main(["cache", "clear", str(tmp_path), "--stage", "../etc"]) == 2
    assert "stage" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="stage"):
        lineage("", 1, {})


def test_clear_removes_only_what_the_cache_made(tmp_path):
    """``cache clear`` pointed at the wrong folder loses nothing: empty folders and folders
    holding only a hidden one stay; a stage folder with entries, a leftover temporary
    folder, a work folder and an empty folder goes."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "project" / ".git").mkdir(parents=True)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("keep")
    entry = Cache(tmp_path).entry("stats.toy_chunk", 1, {"seed": 0})
    entry.store({"q": np.zeros(2)})
    (entry.path.parent / f".{entry.key}.x1.tmp").mkdir()
    (entry.work).mkdir()
    (entry.work / "checkpoint.pt").write_bytes(b"partial")
    (entry.path.parent / "leftover").mkdir()
    assert main(["cache", "clear", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "notes", "project"]
    assert (tmp_path / "project" / ".git").is_dir()


def test_cli_names_the_stage_option_and_notes_an_absent_stage(tmp_path, capsys):
    Cache(tmp_path).entry("stats.toy_chunk", 1, {"seed": 0}).store({"q": np.zeros(2)})
    assert main(["cache", "ls", str(tmp_path), "--stage", "stats.toy_chunks"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (f"note: no entries of stage 'stats.toy_chunks' in "
                                    f"{str(tmp_path)!r} (stages there: stats.toy_chunk)")
    assert main(["cache", "clear", str(tmp_path), "--stage", "stats.toy_chunks"]) == 0
    assert [s.stage for s in Cache(tmp_path).summary()] == ["stats.toy_chunk"]
    capsys.readouterr()
    assert main(["cache", "ls", str(tmp_path), "--stage", ".hidden"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error: --stage: got '.hidden'" in err[0]


def test_failed_store_leaves_no_entry(tmp_path):
    entry = Cache(tmp_path).entry("cnn.grid_trial", 1, {"fold": 1})

    def broken(path):
        path.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        entry.store({"scores": {}}, files={"state.pt": broken})
    assert not entry.exists() and list((tmp_path / "cnn.grid_trial").iterdir()) == []


def test_simulation_is_cached_with_its_lineage(tmp_path, monkeypatch):
    import pandas as pd

    from wimpsift.io import event_tables
    from wimpsift.io.event_tables import cached_simulation, simulate_to_parquet
    from wimpsift.simulation import validated_config

    cfg = validated_config(detector="xenon1t_sr0", source="er", n_events=300, chunk_size=100,
                           seed=5)
    path = cached_simulation(tmp_path / "cache", cfg)
    direct = simulate_to_parquet(cfg, tmp_path / "direct.parquet", progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(direct))
    record = json.loads((path.parent / "lineage.json").read_text())
    assert record["stage"] == "simulation.events" and record["config"]["config"]["seed"] == 5
    assert record["config"]["detector"]["name"] == "xenon1t_sr0"

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated again")

    monkeypatch.setattr(event_tables, "simulate_to_parquet", no_simulation)
    assert cached_simulation(tmp_path / "cache", cfg) == path  # a hit
    with pytest.raises(AssertionError, match="simulated again"):  # another config: a miss
        cached_simulation(tmp_path / "cache", cfg.model_copy(update={"n_events": 301}))
    assert [(s.stage, s.n_entries) for s in Cache(tmp_path / "cache").summary()] == [
        ("simulation.events", 1)]


def test_cli_finds_the_caches_of_a_runs_output_folder(tmp_path, capsys):
    """A run keeps several caches (``cache/``, ``search/``, ``lux/cache/limits/network``):
    ``cache ls DIR`` and ``cache clear DIR`` take them all, down to four folders below DIR,
    each stage named by its folder there."""
    places = {"cache": 2, "search": 1, "lux/cache/limits/network": 3, "a/b/c/d/e": 1}
    for where, n in places.items():
        for seed in range(n):
            Cache(tmp_path / where).entry("stats.toy_chunk", 1, {"seed": seed}).store({"q": np.zeros(2)})
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("keep")
    assert main(["cache", "ls", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split("\t") == ["stage", "entries", "bytes"]
    assert [line.split("\t")[:2] for line in out[1:]] == [  # a/b/c/d/e is five folders down
        ["cache/stats.toy_chunk", "2"], ["lux/cache/limits/network/stats.toy_chunk", "3"],
        ["search/stats.toy_chunk", "1"]]
    assert main(["cache", "ls", str(tmp_path), "--stage", "stats.toy_chunk"]) == 0
    listed = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert listed.count("cache/stats.toy_chunk") == 2 and len(listed) == 6
    assert main(["cache", "clear", str(tmp_path)]) == 0
    assert "removed 6 entries" in capsys.readouterr().err
    assert [c.root for c in caches_in(tmp_path)] == [tmp_path]  # only DIR itself is left
    assert Cache(tmp_path / "a/b/c/d/e").summary()[0].n_entries == 1
    assert (tmp_path / "notes" / "a.txt").read_text() == "keep"


def test_a_faster_halos_samples_cached_before_its_spectrum_fix_are_not_reused(tmp_path):
    """The code changed a faster halo's WIMP spectrum (its fastest WIMPs were cut) under
    the same wimpsift version: a sample cached before came back with exit 0. A sample
    stored under the key the code gave before (no ``halo_spectrum``) is simulated again.
    Since revision 3 (speed distribution normalised to 1) the default halo's spectrum
    moved too, so its key carries the revision as well."""
    import pandas as pd

    from wimpsift.sources.wimp import SPECTRUM_REVISION, HaloModel
    from wimpsift.training.samples import (
        SAMPLE_FILE,
        SAMPLE_STAGE,
        SAMPLE_VERSION,
        EventSamples,
        validated_sample_config,
    )

    settings = dict(detector="lux_2013", n_signal=40, n_background_per_source=40,
                    max_simulated=20_000, chunk_size=10_000, seed=3)
    faster = HaloModel(v_0_km_s=300.0)
    default = EventSamples(validated_sample_config(**settings))
    assert default._settings("wimp", 10.0, 40)["halo_spectrum"] == SPECTRUM_REVISION
    assert "halo_spectrum" not in default._settings("er", None, 40)  # backgrounds: no halo
    stale = default.source_sample("wimp", 10.0)  # another spectrum's events, as a stale entry
    samples = EventSamples(validated_sample_config(**settings, halo=faster, cache_dir=str(tmp_path)))
    before = {k: v for k, v in samples._settings("wimp", 10.0, 40).items() if k != "halo_spectrum"}
    Cache(tmp_path).entry(SAMPLE_STAGE, SAMPLE_VERSION, before).store(
        {"summary": default.summary["wimp_10GeV"]},
        files={SAMPLE_FILE: lambda path: stale.to_parquet(path, index=False)})
    table = samples.source_sample("wimp", 10.0)
    fresh = EventSamples(validated_sample_config(**settings, halo=faster)).source_sample("wimp", 10.0)
    pd.testing.assert_frame_equal(table, fresh)
    assert not table["energy_kev"].equals(stale["energy_kev"])


def test_a_faster_halos_table_cached_before_its_spectrum_fix_is_not_reused(tmp_path):
    """As for samples: a table of a faster halo stored under the key the code gave before
    its spectrum changed is simulated again; the default halo's key carries the revision
    too (revision 3 moved every halo's spectrum)."""
    import shutil

    import pandas as pd

    from wimpsift.detectors import load_detector
    from wimpsift.io.event_tables import (
        CACHE_STAGE,
        CACHE_STAGE_VERSION,
        cached_simulation,
        simulate_to_parquet,
    )
    from wimpsift.simulation import validated_config
    from wimpsift.sources.wimp import HaloModel

    lux = load_detector("lux_2013").model_dump(mode="json")
    default = validated_config(detector="lux_2013", source="wimp", mass_gev=10.0, n_events=300,
                               seed=1)
    faster = default.model_copy(update={"halo": HaloModel(v_0_km_s=300.0)})
    stale = simulate_to_parquet(default, tmp_path / "default.parquet", progress=False)
    Cache(tmp_path / "cache").entry(CACHE_STAGE, CACHE_STAGE_VERSION,
                                    {"config": faster, "detector": lux}).store(
        {"file": "events.parquet", "size_bytes": stale.stat().st_size},
        files={"events.parquet": lambda path: shutil.copyfile(stale, path)})
    table = pd.read_parquet(cached_simulation(tmp_path / "cache", faster))
    fresh = pd.read_parquet(simulate_to_parquet(faster, tmp_path / "faster.parquet", progress=False))
    pd.testing.assert_frame_equal(table, fresh)
    assert table["energy_kev"].max() > pd.read_parquet(stale)["energy_kev"].max()
    # the default halo's spectrum moved too (revision 3): a default-halo table stored under
    # the key the code gave before (no revision) is not read back either
    other = tmp_path / "faster.parquet"
    Cache(tmp_path / "cache").entry(CACHE_STAGE, CACHE_STAGE_VERSION,
                                    {"config": default, "detector": lux}).store(
        {"file": "events.parquet", "size_bytes": other.stat().st_size},
        files={"events.parquet": lambda path: shutil.copyfile(other, path)})
    pd.testing.assert_frame_equal(pd.read_parquet(cached_simulation(tmp_path / "cache", default)),
                                  pd.read_parquet(stale))
