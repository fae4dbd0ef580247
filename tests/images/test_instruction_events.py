"""Events from instruction CSVs: the same waveform path as simulated sources, several
interactions per event, and the ``images`` / ``show`` options (issue 15)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from wimpsift.cli.main import main
from wimpsift.images.dataset import load_images
from wimpsift.io.instructions import (
    events_to_instructions,
    instructions_to_interactions,
    read_instructions,
    write_instructions,
)
from wimpsift.processing.peaks import S2, find_peaks
from wimpsift.processing.reconstruction import process_events
from wimpsift.response.charge import drift_time_us, electron_survival
from wimpsift.response.light import photon_detection_probability
from wimpsift.sources import make_source
from wimpsift.waveforms.event import interaction_waveforms, simulate_waveform_events

HEADER = "instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t"


@pytest.mark.parametrize("source", ["er", "wimp"])
def test_source_and_instruction_routes_give_identical_events(tmp_path, xenon1t, source):
    """Same interactions, same seed: the same random stream, so identical S1 and S2.
    (Single-interaction sources; multi-scatter neutrons: tests/topology.)"""
    raw = simulate_waveform_events(xenon1t, make_source(xenon1t, source, mass_gev=50.0), 60,
                                   seed=11)
    csv = write_instructions(events_to_instructions(raw.truth), tmp_path / "i.csv")
    interactions, numbers = instructions_to_interactions(read_instructions(csv, xenon1t))
    again = interaction_waveforms(xenon1t, interactions, "instructions", seed=11)
    np.testing.assert_array_equal(numbers, np.arange(60))
    for column in ("s1_true_area_pe", "s2_true_area_pe", "n_s1_detected", "n_extracted"):
        np.testing.assert_array_equal(again.truth[column], raw.truth[column])
    a, b = process_events(raw).table, process_events(again).table
    assert (a["s2_area_pe"] > 0).mean() > 0.9
    for column in ("s1_area_pe", "s2_area_pe", "drift_time_us", "x_cm"):
        np.testing.assert_array_equal(b[column], a[column])
    other = interaction_waveforms(xenon1t, interactions, "instructions", seed=12)
    assert not np.array_equal(other.truth["s2_true_area_pe"], raw.truth["s2_true_area_pe"])


def test_several_interactions_make_one_event(tmp_path, xenon1t):
    path = tmp_path / "multi.csv"
    path.write_text("\n".join([
        HEADER,
        "0,NR,5,3,10,400,300,0",      # two scatters: one merged S1, two S2s
        "0,NR,-8,2,40,300,250,0",
        "1,ER,0,0,30,500,400,0",      # two interactions 20 µs apart at one depth
        "1,ER,10,0,30,500,400,20000",
    ]) + "\n")
    interactions, _ = instructions_to_interactions(read_instructions(path, xenon1t))
    raw = interaction_waveforms(xenon1t, interactions, "instructions", seed=3)
    assert list(raw.truth["n_interactions"]) == [2, 2]
    np.testing.assert_array_equal(raw.truth["n_photons"], [700, 1000])
    dt_ns = drift_time_us(np.array([-10.0, -40.0]), xenon1t) * 1000

    def s2_centres_ns(event):
        peaks = find_peaks(event, raw.arrays.n_pmts, xenon1t.light.s1_coincidence_pmts)
        big = (peaks.peak_type == S2) & (peaks.area_pe > 1000)
        return np.sort(peaks.center_ns[big])

    first = s2_centres_ns(raw.events[0])
    assert first.size == 2
    assert abs((first[1] - first[0]) - (dt_ns[1] - dt_ns[0])) < 500  # ~208 µs apart
    s1_pulses = [p for p in raw.events[0].pulses if p.kind == "s1"]
    assert len(s1_pulses) == 1  # simultaneous S1s merge
    second = s2_centres_ns(raw.events[1])
    assert second.size == 2 and abs((second[1] - second[0]) - 20_000) < 500
    assert len([p for p in raw.events[1].pulses if p.kind == "s1"]) == 2  # 20 µs apart


def test_simulate_instructions_images_chain_matches_event_level_areas(tmp_path, xenon1t):
    """``simulate`` → ``instructions`` → ``images --instructions``: each event's S1 and S2
    light agrees with the event-level simulation of the same interaction within the
    detection spread (the random streams differ: event-level vs waveform response), so
    the pulls (difference / √(2 variance)) are standard normal."""
    events = tmp_path / "ev.parquet"
    assert main(["simulate", "--source", "neutrons", "--events", "150", "--seed", "7",
                 "--no-progress", "-o", str(events)]) == 0
    assert main(["instructions", str(events), "-o", str(tmp_path / "ev.csv")]) == 0
    assert main(["images", "--instructions", str(tmp_path / "ev.csv"), "--label", "0",
                 "--kinds", "hit", "--seed", "7", "--no-progress", "-o", str(tmp_path / "img")
                 ]) == 0
    import pandas as pd

    ev = pd.read_parquet(events)
    _, labels, table = load_images(tmp_path / "img" / "images.h5", "hit")
    np.testing.assert_array_equal(table["instruction"], np.arange(150))
    assert not labels.any()
    dpe, spe = xenon1t.light.double_pe_probability, xenon1t.light.spe_resolution
    q = photon_detection_probability(ev["x_true_cm"], ev["y_true_cm"], ev["z_true_cm"], xenon1t)
    n_det = ev["n_photons"] * q
    var_s1 = n_det * (1 - q) * (1 + dpe) ** 2 + n_det * (dpe * (1 - dpe) + (1 + dpe) * spe**2)
    p = electron_survival(drift_time_us(ev["z_true_cm"], xenon1t), xenon1t) * \
        xenon1t.charge.extraction_efficiency
    n_ext = ev["n_electrons"] * p
    var_s2 = xenon1t.se_gain_pe**2 * n_ext * (1 - p + xenon1t.charge.se_gain_resolution**2)
    for name, var in (("s1", var_s1), ("s2", var_s2)):
        ok = var > 0
        pull = ((table[f"{name}_true_area_pe"] - ev[f"{name}_area_pe"]) / np.sqrt(2 * var))[ok]
        assert abs(pull.mean()) < 0.3 and 0.8 < pull.std() < 1.25, (name, pull.mean(), pull.std())


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_images_and_show_from_instructions(tmp_path, capsys):
    csv = tmp_path / "in.csv"
    csv.write_text("\n".join([
        HEADER + ",label",
        "0,NR,5,3,10,400,300,0,1", "0,NR,-8,2,40,300,250,0,1", "4,ER,0,0,50,800,600,0,0",
    ]) + "\n")
    out = tmp_path / "run"
    args = ["images", "--instructions", str(csv), "--kinds", "hit,hitpeak", "--seed", "1",
            "--no-progress", "-o", str(out)]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["events"] == 2
    _, labels, table = load_images(out / "images.h5", "hitpeak")
    np.testing.assert_array_equal(labels, [1, 0])
    np.testing.assert_array_equal(table["instruction"], [0, 4])
    np.testing.assert_array_equal(table["n_interactions"], [2, 1])
    before = _digest(out / "images.h5")
    assert main(args) == 0 and _digest(out / "images.h5") == before  # rerun: complete, same
    again = tmp_path / "again"
    assert main([*args[:-1], str(again)]) == 0
    assert _digest(again / "images.h5") == before  # same seed, same bytes

    # refused up front, one line each, nothing created
    unlabeled = tmp_path / "u.csv"
    unlabeled.write_text(HEADER + "\n0,ER,0,0,50,800,600,0\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\n0,ER,0,0,50,800,600,0\n1,XX,0,0,50,800,600,0\n")
    capsys.readouterr()
    for argv, message in (
        (["--instructions", str(unlabeled)], "no label column; give --label"),
        (["--instructions", str(csv), "--label", "1"], "has a label column; drop --label"),
        (["--instructions", str(unlabeled), "--label", "1", "--events-per-class", "3"],
         "--events-per-class: not with --instructions"),
        (["--instructions", str(bad), "--label", "1"], "row 2, column 'recoil_type'"),
        (["--instructions", str(tmp_path / "missing.csv"), "--label", "1"],
         f"error: --instructions: {str(tmp_path / 'missing.csv')!r} does not exist, expected an "
         "instruction CSV"),
        (["--instructions", str(tmp_path), "--label", "1"],
         f"error: --instructions: {str(tmp_path)!r} is a folder"),
        (["--label", "1", "--events-per-class", "3"], "--label: only with --instructions"),
    ):
        target = tmp_path / "never"
        assert main(["images", *argv, "--seed", "1", "-o", str(target)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
        assert not target.exists()

    import matplotlib.image as mpimg

    figure = tmp_path / "event.png"
    assert main(["show", "--instructions", str(csv), "--event", "0", "-o", str(figure)]) == 0
    assert mpimg.imread(figure).shape[0] > 500
    image = tmp_path / "hitpeak.png"
    assert main(["show", "--instructions", str(csv), "--event", "4", "--kind", "hitpeak",
                 "--seed", "1", "--scale", "1", "-o", str(image)]) == 0
    X, _, _ = load_images(out / "images.h5", "hitpeak")
    shown = mpimg.imread(image)[..., 0]  # grey: R = G = B
    assert X[1].max() > 0.1
    # the dataset's row, up to the grey colormap's 256 levels and the 8-bit PNG
    np.testing.assert_allclose(shown, X[1], atol=2 / 255)
    assert main(["show", "--instructions", str(csv), "--event", "2", "-o", str(figure)]) == 2
    assert "an instruction number" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--signal", "wimp:50"], ["--background", "neutrons"],
                                    ["--signal", "wimp:500", "--background", "er"]])
def test_images_from_instructions_refuse_signal_and_background(option, tmp_path, capsys):
    """The events come from the file: --signal and --background are refused like
    --events-per-class and --selection (they were ignored without a word)."""
    csv = tmp_path / "in.csv"
    csv.write_text(HEADER + ",label\n0,NR,5,3,10,400,300,0,1\n4,ER,0,0,50,800,600,0,0\n")
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["images", "--instructions", str(csv), *option, "--kinds", "hit", "--seed", "1",
                 "--no-progress", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"error: {option[0]}: not with --instructions" in err[0], err
    assert not out.exists()


def _interrupt_second_chunk(ds, monkeypatch):
    """Make the instruction builder stop with KeyboardInterrupt at its second chunk;
    returns the real ``instruction_chunk`` to put back."""
    original, calls = ds.instruction_chunk, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(ds, "instruction_chunk", interrupted)
    return original


def test_interrupted_instruction_dataset_resumes_to_the_same_file(tmp_path, xenon1t, monkeypatch):
    import wimpsift.images.instruction_dataset as ds

    csv = tmp_path / "in.csv"
    csv.write_text("\n".join([HEADER, *(f"{i},ER,{i},0,{10 + 5 * i},400,300,0" for i in range(3))])
                   + "\n")
    settings = dict(label=1, kinds=("hit",), seed=5, chunk_events=1, progress=False)
    whole = ds.build_instruction_dataset(tmp_path / "whole.h5", xenon1t, csv, **settings)
    original = _interrupt_second_chunk(ds, monkeypatch)
    path = tmp_path / "resumed.h5"
    with pytest.raises(KeyboardInterrupt):
        ds.build_instruction_dataset(path, xenon1t, csv, **settings)
    assert len(load_images(path, "hit")[1]) == 1  # the finished chunk is readable
    monkeypatch.setattr(ds, "instruction_chunk", original)
    ds.build_instruction_dataset(path, xenon1t, csv, **settings)
    assert _digest(path) == _digest(whole)
    csv.write_text(csv.read_text().replace("400,300", "401,300"))
    with pytest.raises(ds.ConfigError, match="another configuration"):
        ds.build_instruction_dataset(path, xenon1t, csv, **settings)


def test_nest_photon_times_from_quanta(xenon1t):
    import nestpy

    from wimpsift.sources.interactions import _energies_and_excitons, nest_photon_times

    density, field = xenon1t.geometry.liquid_density_g_cm3, xenon1t.drift.drift_field_v_cm
    quanta = np.array([30.0, 300.0, 3000.0])
    energy, excitons = _energies_and_excitons("nr", quanta, density, field, 13.7)
    calc = nestpy.NESTcalc(nestpy.detectors.VDetector())
    for e, q in zip(energy, quanta, strict=True):  # NEST's mean yields at the energy found
        y = calc.GetYields(nestpy.interactions.NR, float(e), density, field)
        assert y.PhotonYield + y.ElectronYield == pytest.approx(q, rel=0.02)
    assert np.all(np.diff(energy) > 0) and np.all((excitons > 0) & (excitons < quanta))

    kinds = np.array(["er", "nr", "er"], dtype=object)
    photons, electrons = np.array([2000, 2000, 0]), np.array([1000, 400, 50])
    a = nest_photon_times(kinds, photons, electrons, xenon1t, seed=9)
    b = nest_photon_times(kinds, photons, electrons, xenon1t, seed=9)
    assert [t.size for t in a] == [2000, 2000, 0]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # recombination and triplet light make ER pulses slower than NR pulses
    assert np.median(a[0]) > np.median(a[1]) > 0


def test_instruction_dataset_checks_space_and_leaves_no_empty_file(tmp_path, xenon1t,
                                                                   monkeypatch):
    """The guarantees of a source build hold for an instruction build: a request that
    cannot fit is refused before the file exists, a build that fails before its first
    chunk leaves no file, and a chunk that would meet a full disk is not written."""
    import errno
    import shutil

    import wimpsift.images.instruction_dataset as ds
    from wimpsift.images import dataset_file

    csv = tmp_path / "in.csv"
    csv.write_text("\n".join([HEADER, *(f"{i},ER,{i},0,{10 + 5 * i},400,300,0" for i in range(2))])
                   + "\n")
    settings = dict(label=0, kinds=("hit",), seed=2, chunk_events=1, progress=False)
    path = tmp_path / "i.h5"
    usage = shutil.disk_usage(tmp_path)
    real_usage, real_columns = shutil.disk_usage, dataset_file.write_columns

    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=0))
    with pytest.raises(ds.ConfigError, match=r"^instructions \(2 events\): needs at least"):
        ds.build_instruction_dataset(path, xenon1t, csv, **settings)
    assert not path.exists()
    monkeypatch.setattr(shutil, "disk_usage", real_usage)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dataset_file, "write_columns", full_disk)
    with pytest.raises(OSError, match="No space left"):
        ds.build_instruction_dataset(path, xenon1t, csv, **settings)
    assert not path.exists()
    monkeypatch.setattr(dataset_file, "write_columns", real_columns)

    original = _interrupt_second_chunk(ds, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        ds.build_instruction_dataset(path, xenon1t, csv, **settings)
    monkeypatch.setattr(ds, "instruction_chunk", original)
    before = path.read_bytes()  # one finished chunk, kept after the interruption
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=1000))
    with pytest.raises(OSError, match="No space left on device") as error:
        ds.build_instruction_dataset(path, xenon1t, csv, **settings)
    assert error.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
