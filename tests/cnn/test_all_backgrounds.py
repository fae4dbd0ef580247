"""`reproduce cnn --backgrounds all` at a tiny scale: real waveform simulation of the WIMP
and every background of XENON1T SR0, four classifiers on the same test events."""

from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import pytest

from tests._scripts import ROOT, load_script
from tests.cnn.conftest import separable_images
from wimpsift.cache import Cache
from wimpsift.cli.main import main
from wimpsift.detectors import load_detector
from wimpsift.errors import ConfigError, DataError
from wimpsift.metrics.remaining import remaining_at_acceptance
from wimpsift.pipelines.reproduce_cnn import CACHE_FOLDER, make_config, run_reproduce_cnn
from wimpsift.seeding import seed_sequence
from wimpsift.sources import source_names
from wimpsift.training import mix_samples
from wimpsift.training.baselines import EventVariableMLP
from wimpsift.training.mix_samples import SOURCE_STAGE, simulate_mix, simulate_source
from wimpsift.training.weighted_cnn import (
    MEMBER_STAGE,
    WeightedCNN,
    WeightedCNNEnsemble,
    fit_ensembles,
    predict_ensembles,
)

CLASSIFIERS = {"standard_selection", "dense", "cnn_binary", "cnn_multiclass"}
# 3 epochs: the physical properties below keep wide margins (measured on seed 0: every
# classifier leaves at most 4 % of the background; the multi-class CNN's active-volume MI
# exceeds the standard selection's by 0.26 bits against 2σ = 0.09), 45 s less than 6 epochs
TINY = {"train_events_dominant": 150, "test_events_dominant": 300, "epochs": 3, "cnn_ensemble": 2,
        "train_events_signal": 100, "test_events_signal": 100, "tail_candidates_per_event": 20,
        "max_simulated_factor": 5,
        "position_train_events": 200, "position_test_events": 30, "position_epochs": 1}


def tiny_config():
    return make_config("quick", train_events_per_class=100, test_events_per_class=100,
                       progress=False, all_backgrounds=TINY)


@pytest.fixture(scope="module")
def all_backgrounds_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn_all")
    run_reproduce_cnn(tiny_config(), out)
    return out, json.loads((out / "metrics.json").read_text())


def _refuse(*args, **kwargs):
    raise AssertionError("computed again, not read from the run's cache")


def _without_times(value):
    """A metrics tree without what a rerun may change: provenance and wall times."""
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items()
                if k not in ("provenance", "timings_s") and not k.endswith("time_s")}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


@pytest.mark.slow
def test_a_rerun_resumes_from_the_cached_sources_and_members(all_backgrounds_run, tmp_path,
                                                             monkeypatch):
    """A run stopped after its simulations and CNN trainings: the rerun reads every
    source and ensemble member from the run's cache (neither simulated nor trained
    again) and writes the same metrics."""
    out, metrics = all_backgrounds_run
    cache = Cache(out / CACHE_FOLDER)
    stages = {s.stage: s.n_entries for s in cache.summary()}
    a = metrics["all_backgrounds"]
    # every source in the training and the test set, and each volume's dominant one (ER
    # in the fiducial volume, external gammas in the active one) again in training
    assert stages[SOURCE_STAGE] == 2 * len(a["n_simulated"]["test"]) + 2
    # three CNNs (binary per volume, multi-class) of TINY's two members
    assert stages[MEMBER_STAGE] == 3 * TINY["cnn_ensemble"]
    shutil.copytree(out / CACHE_FOLDER, tmp_path / CACHE_FOLDER)
    monkeypatch.setattr(mix_samples, "simulate_source", _refuse)
    monkeypatch.setattr(WeightedCNN, "fit", _refuse)
    again = run_reproduce_cnn(tiny_config(), tmp_path)
    assert _without_times(again) == _without_times(metrics)
    # the members' own training times come back with them
    assert again["all_backgrounds"]["training"]["cnn_binary"]["fit_time_s"] == a[
        "training"]["cnn_binary"]["fit_time_s"]


def test_a_cached_member_is_read_back_to_the_same_bits(tmp_path, monkeypatch):
    X, y = separable_images(n=120)
    scalars = np.random.default_rng(1).normal(size=(len(y), 2))
    weights = np.linspace(1, 2, len(y))

    def fitted(w):
        ensemble = WeightedCNNEnsemble(2, 2, n_scalars=2, epochs=2, batch_size=40,
                                       random_state=3)
        fit_ensembles({"binary": (ensemble, X, y, w, scalars)}, cache_dir=tmp_path)
        return ensemble

    def entries():
        return list(Cache(tmp_path).entries(MEMBER_STAGE))

    first = fitted(weights)
    assert len(entries()) == 2
    outputs = first.predict_member_log_proba(X, scalars)
    with monkeypatch.context() as m:
        m.setattr(WeightedCNN, "fit", _refuse)
        again = fitted(weights)
    assert np.array_equal(again.predict_member_log_proba(X, scalars), outputs)
    assert again.fit_info() == first.fit_info()
    fitted(weights[::-1].copy())  # other events: other members, trained and kept
    assert len(entries()) == 4
    for entry in entries():  # damaged entries are trained again, to the same bits
        (entry.path / "arrays.npz").write_bytes(b"damaged")
    assert np.array_equal(fitted(weights).predict_member_log_proba(X, scalars), outputs)


@pytest.mark.slow
def test_metrics_structure(all_backgrounds_run):
    out, metrics = all_backgrounds_run
    detector = load_detector("xenon1t_sr0")
    a = metrics["all_backgrounds"]
    # each comparison counts the sources of its volume: wall events inside the fiducial
    # volume, external gammas and surface events as their own sources in the active one
    for comparison, volume in ((a, "fiducial"), (a["active_volume"], "active")):
        backgrounds = set(source_names(detector, volume)) - {"wimp"}
        remaining = comparison["remaining_at_50pct"]
        assert set(remaining) == CLASSIFIERS
        for name in CLASSIFIERS:
            assert set(remaining[name]) == backgrounds | {"total"}
            assert remaining[name]["total"] == pytest.approx(
                sum(remaining[name][b] for b in backgrounds))
            assert comparison["remaining_at_50pct_error"][name]["total"] > 0
        assert set(comparison["mi_bits"]) == CLASSIFIERS | {"event_variables", "cs1_cs2",
                                                            "event_variables_lower_bound"}
        assert comparison["ratio_to_best"][comparison["best_classifier"]] == 1.0
        # every cell and total sits inside its Feldman–Cousins interval, whose upper end
        # is positive even where no test event passes
        for name in CLASSIFIERS:
            for cell, (lo, hi) in comparison["remaining_at_50pct_interval"][name].items():
                assert lo <= comparison["remaining_at_50pct"][name][cell] <= hi and hi > 0
        for name, (lo, hi) in comparison["ratio_to_standard_selection_interval"].items():
            assert lo <= comparison["ratio_to_standard_selection"][name] <= hi
            assert comparison["target_ratio_met"][name] in ("met", "not met",
                                                            "undecided within errors")
        # the secondary comparison leaves CEvNS out of every total
        without = comparison["without_irreducible"]
        assert without["sources_left_out"] == ["cevns"]
        for name in CLASSIFIERS:
            value, lo, hi = without["total"][name]
            assert value == pytest.approx(remaining[name]["total"] - remaining[name]["cevns"])
            assert lo <= value <= hi
        floor = comparison["ideal_nr_floor"]
        # ranking the NR-like events by their cS1 spectrum can only help
        assert floor["sources"] == ["cevns", "neutrons"]
        assert floor["with_cs1_spectrum"] <= floor["energy_blind"] * 1.5
        assert floor["target_achievable"] in ("yes", "no", "undecided within errors")
    assert a["details"]["cnn_binary"]["signal_acceptance"] == pytest.approx(0.5, abs=0.02)
    # the active volume compares at the WIMP count of 50 % of the fiducial WIMPs
    assert 0.1 < a["active_volume"]["signal_acceptance_of_active_wimps"] < 0.5
    positions = metrics["position_reconstruction"]
    assert positions["cnn_rms_cm"] > 0 and positions["likelihood_rms_cm"] > 0
    assert a["cnn_event_scalars"] == ["cs1_pe", "log10_cs2", "r_cm", "z_cm"]
    assert a["training"]["cnn_binary"]["n_scalars"] == 4
    # each CNN an ensemble of TINY's two networks, each with its own seed; the dense
    # network too
    for name in ("cnn_binary", "cnn_multiclass"):
        assert len(set(a["training"][name]["seeds"])) == a["training"][name]["ensemble_size"] == 2
    assert a["training"]["dense"]["ensemble_size"] == 2
    # the members' spread is the ensembles' training noise: s / √n of the two members'
    # totals, added to the test events' interval of the ratio
    for comparison in (a, a["active_volume"]):
        for name, noise in comparison["training_noise"].items():
            t0, t1 = noise["member_totals"]
            assert noise["ensemble_error"] == pytest.approx(abs(t0 - t1) / 2)
            lo, hi = comparison["ratio_to_standard_selection_interval"][name]
            wide_lo, wide_hi = noise["ratio_interval_with_training_noise"]
            assert wide_lo <= lo and wide_hi >= hi
            assert noise["target_ratio_met"] in ("met", "not met", "undecided within errors")
        assert set(comparison["training_noise"]) == {"dense", "cnn_binary", "cnn_multiclass"}
        # every error: the threshold's (WIMP test events resampled) widens the interval
        # further, for every classifier
        threshold = comparison["threshold_error"]
        assert threshold["signal_test_events"] == comparison["n_test_events"]["wimp"]
        for name, (lo, hi) in comparison["ratio_interval_all_errors"].items():
            assert threshold["ratio_error"][name] > 0
            inner = comparison["training_noise"].get(name, {}).get(
                "ratio_interval_with_training_noise",
                comparison["ratio_to_standard_selection_interval"][name])
            assert lo <= inner[0] and hi >= inner[1]
            assert comparison["target_ratio_met_all_errors"][name] in (
                "met", "not met", "undecided within errors")
    # one binary CNN and one dense network per volume: the active volume's trained on its
    # own expected mix
    for name in ("cnn_binary_active_mix", "dense_active_mix"):
        assert a["training"][name]["compared_in"] == "active volume"
    # the test events' scores carry each member's; two classes: the ensemble's logit is
    # the members' mean
    import pyarrow.parquet as pq

    scores = pq.read_table(out / "data" / "test_scores.parquet").to_pandas()
    for name in ("cnn_binary", "cnn_binary_active_mix", "dense", "dense_active_mix"):
        members = scores[[f"score_{name}_member_0", f"score_{name}_member_1"]].mean(axis=1)
        assert np.allclose(scores[f"score_{name}"], members)
    for name in ("cnn_binary", "dense"):
        assert not np.allclose(scores[f"score_{name}"], scores[f"score_{name}_active_mix"])
    # the active comparison judges the active volume's binary CNN and dense network: their
    # totals from the scores
    active = a["active_volume"]
    rows = scores["source"].isin(source_names(detector, "active")).to_numpy()
    for name in ("cnn_binary", "dense"):
        recomputed = remaining_at_acceptance(
            scores[f"score_{name}_active_mix"].to_numpy()[rows],
            scores["source"].to_numpy(object)[rows], scores["weight"].to_numpy()[rows], "wimp",
            active["details"][name]["signal_acceptance"] - 1e-9)
        assert recomputed["total"] == pytest.approx(active["remaining_at_50pct"][name]["total"])
    # the tail-sampled sources record their strata: every candidate in one stratum, the
    # NR-like tail rendered far above its share of the candidates
    for part in ("train", "test"):
        strata = a["tail_sampling"][part]["er"]
        assert sum(s["candidates"] for s in strata) == a["n_simulated"][part]["er"]
        tail = strata[0]
        assert tail["rendered"] / sum(s["rendered"] for s in strata) > 5 * (
            tail["candidates"] / a["n_simulated"][part]["er"])
    assert "Importance sampling of the tails" in (out / "report.html").read_text()
    report = (out / "report.html").read_text()
    assert "CNN, multi-class" in report and "Published (events)" in report
    assert "Feldman–Cousins" in report and "ideal NR/ER separator" in report
    assert "ratio with training noise" in report and "ratio with every error" in report
    assert "The binary CNN here is the one trained on the active volume" in report
    assert "So is the dense network" in report
    assert "remaining_active.png" in report and (out / "figures" / "remaining_active.png").is_file()
    from PIL import Image  # the figures carry the record of the test scores they draw

    scores_record = json.loads(pq.read_schema(out / "data" / "test_scores.parquet")
                               .metadata[b"wimpsift"])
    for name in ("remaining_fiducial.png", "remaining_active.png"):
        assert json.loads(Image.open(out / "figures" / name).info["wimpsift"]) == scores_record


@pytest.mark.slow
def test_physical_properties(all_backgrounds_run):
    _, metrics = all_backgrounds_run
    a = metrics["all_backgrounds"]
    for comparison in (a, a["active_volume"]):
        before = comparison["no_discrimination"]["total"]
        # ER (fiducial) or external gammas (active) dominate the mix; at half the WIMPs
        # every classifier removes most of it, even trained on 100 events per class
        for name in CLASSIFIERS:
            assert comparison["remaining_at_50pct"][name]["total"] < 0.5 * before, name
        mi = comparison["mi_bits"]
        assert all(0.05 < v < 1.0 for v in mi.values())  # balanced classes: H = 1 bit
    # outside the fiducial volume the standard selection's score says nothing; a network
    # that sees the whole active volume carries more information about the class
    mi, err = a["active_volume"]["mi_bits"], a["active_volume"]["mi_bits_error"]
    assert mi["cnn_multiclass"] > mi["standard_selection"] + 2 * np.hypot(
        err["cnn_multiclass"], err["standard_selection"])
    cuts = a["standard_selection_cuts"]
    # neutrons scatter several times: the single-scatter cut removes far more of them
    # than of WIMPs (the window's cS1 range keeps mostly neutrons that scattered once)
    assert cuts["wimp"]["single_scatter"] > 0.9
    assert cuts["neutrons"]["single_scatter"] < cuts["wimp"]["single_scatter"] - 0.15
    # accidental pairs: the S2 width does not match the drift time
    assert cuts["accidental"]["s2_width"] < cuts["wimp"]["s2_width"] - 0.2


@pytest.mark.slow
def test_report_counts_every_sources_test_events_in_the_window(all_backgrounds_run):
    # the wall source is in the fiducial list only; the report's counts table read the
    # active volume's test counts and showed 0 wall test events in the window, beside a
    # fiducial table drawn from them
    import html
    import re

    import pyarrow.parquet as pq

    out, metrics = all_backgrounds_run
    scores = pq.read_table(out / "data" / "test_scores.parquet").to_pandas()
    in_window = scores["source"].value_counts()
    assert in_window["wall"] > 0 and metrics["all_backgrounds"]["n_test_events"]["wall"] > 0
    page = html.unescape((out / "report.html").read_text(encoding="utf-8"))
    counts = page[page.index("Simulated events (training / test)"):]
    counts = counts[:counts.index("</table>")]
    for source, n in in_window.items():
        (row,) = re.findall(rf"<tr><td>{source}</td><td>[^<]*</td><td>([^<]*)</td>", counts)
        assert row.replace("\u202f", "") == str(n), source


@pytest.mark.slow
def test_runs_combine_over_seeds(all_backgrounds_run, tmp_path, capsys):
    # scripts/cnn_backgrounds_seeds.py on real metrics: a second "seed" whose binary CNN
    # ratio is 0.2 higher; two values d apart have mean +d/2, standard error d/2, and the
    # mean's 68 % interval is ±t(0.84, 1 d.o.f.) = ±1.819 standard errors
    script = load_script("cnn_backgrounds_seeds")
    out, metrics = all_backgrounds_run
    other = copy.deepcopy(metrics)
    other["provenance"]["seed"] = other["provenance"]["config"]["seed"] = 7
    other["provenance"]["config"]["progress"] = True  # execution settings may differ
    ratio = metrics["all_backgrounds"]["ratio_to_standard_selection"]["cnn_binary"]
    other["all_backgrounds"]["ratio_to_standard_selection"]["cnn_binary"] = ratio + 0.2
    summary = script.summarise([("a", metrics), ("b", other)])
    c = summary["volumes"]["fiducial"]["classifiers"]["cnn_binary"]
    assert c["ratios"] == [ratio, ratio + 0.2]
    assert c["mean"] == pytest.approx(ratio + 0.1)
    assert c["standard_error"] == pytest.approx(0.1)
    assert c["interval_68"][1] == pytest.approx(ratio + 0.1 + 0.1819, abs=1e-3)
    same = summary["volumes"]["active_volume"]["classifiers"]["dense"]
    assert same["standard_error"] == 0 and same["verdict"] in ("met", "not met")
    assert summary["seeds"] == [metrics["provenance"]["seed"], 7]
    block = script.render(summary)
    assert block.startswith(script.START) and block.endswith(script.END)
    assert "| CNN, binary |" in block and "seed 7" in block
    assert f"source digest `{metrics['provenance']['source_sha256']}`" in block
    # the command: writes the summary and the README block; runs that differ in anything
    # but the seed, or share a seed, are refused with exit code 2 and nothing written
    paths = []
    for name, m in (("a", metrics), ("b", other)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(m))
    readme = tmp_path / "README.md"
    readme.write_text(f"x\n{script.START}\nPLACEHOLDER\n{script.END}\ny\n")
    assert script.main([*map(str, paths), "--summary", str(tmp_path / "s.json"),
                        "--write", str(readme)]) == 0
    assert block in readme.read_text() and "PLACEHOLDER" not in readme.read_text()
    assert script.render(json.loads((tmp_path / "s.json").read_text())) == block
    other["provenance"]["config"]["train_events_per_class"] += 1
    paths[1].write_text(json.dumps(other))
    capsys.readouterr()
    assert script.main([*map(str, paths), "--summary", str(tmp_path / "t.json")]) == 2
    assert "train_events_per_class" in capsys.readouterr().err
    assert not (tmp_path / "t.json").exists()
    assert script.main([str(paths[0]), str(paths[0])]) == 2
    # runs of other code, or on another nestpy, are refused too
    other["provenance"]["config"]["train_events_per_class"] -= 1
    for field, value in (("source_sha256", "0" * 16),
                         ("versions", {**metrics["provenance"]["versions"], "nestpy": "0.0.1"})):
        changed = copy.deepcopy(other)
        changed["provenance"][field] = value
        paths[1].write_text(json.dumps(changed))
        capsys.readouterr()
        assert script.main([*map(str, paths), "--summary", str(tmp_path / "t.json")]) == 2
        assert field in capsys.readouterr().err and not (tmp_path / "t.json").exists()
    assert summary["provenance"]["source_sha256"] == metrics["provenance"]["source_sha256"]
    assert script.main([str(paths[0]), "--write", str(tmp_path / "none.md")]) == 2


@pytest.mark.slow
def test_truth_recoil_type_and_the_estimates_reweighting(all_backgrounds_run, tmp_path,
                                                         capsys):
    # the test scores carry the truth's recoil type: WIMPs are nuclear recoils, ER events
    # electron recoils, surface events both (206Pb recoils and betas)
    import shutil

    import pandas as pd

    out, metrics = all_backgrounds_run
    scores = pd.read_parquet(out / "data" / "test_scores.parquet")
    truth = scores.groupby("source")["true_recoil_type"].agg(set)
    assert truth["wimp"] == {"nr"} and truth["er"] == {"er"}
    assert truth["surface"] == {"nr", "er"}
    assert (scores["true_energy_kev"] > 0).all()
    # benchmarks/bench_estimate_sensitivity.py: the stored active totals recomputed exactly;
    # at the shipped estimates the weights are unchanged; the gamma factor scales the
    # external gammas only; any recoil share keeps the surface events' count in the
    # fiducial window (the published normalisation) and moves the rest, the recoils'
    # share of the surface weight rising with it
    bench = load_script("bench_estimate_sensitivity", "benchmarks")
    run = bench.load_run(out)
    assert bench.check_stored(run) < 1e-12
    weight = scores["weight"].to_numpy()
    source = scores["source"].to_numpy(object)
    assert np.array_equal(bench.reweighted(run), weight)
    assert np.allclose(bench.reweighted(run, recoil_share=0.6), weight)  # the file's 0.6
    tripled = bench.reweighted(run, gamma_factor=3.0)
    gamma = source == "external_gamma"
    assert np.allclose(tripled[gamma], 3 * weight[gamma])
    assert np.array_equal(tripled[~gamma], weight[~gamma])
    surface = source == "surface"
    window = surface & scores["in_window"].to_numpy(bool)
    nr = surface & (scores["true_recoil_type"] == "nr").to_numpy()
    shares = []
    for share in (0.2, 0.9):
        w = bench.reweighted(run, recoil_share=share)
        assert w[window].sum() == pytest.approx(weight[window].sum())
        assert np.array_equal(w[~surface], weight[~surface])
        shares.append(w[nr].sum() / w[surface].sum())
    assert shares[0] < weight[nr].sum() / weight[surface].sum() < shares[1]
    # a run written before the column: the surface truth re-simulated with the run's own
    # configuration and seed is the stored one, event by event
    old = tmp_path / "old"
    shutil.copytree(out, old)
    scores.drop(columns=["true_recoil_type", "true_energy_kev"]).to_parquet(
        old / "data" / "test_scores.parquet")
    again = bench.load_run(old)
    assert np.array_equal(again["recoil"][surface], scores["true_recoil_type"][surface])
    # bad input: one line naming the folder, exit code 2, nothing written
    capsys.readouterr()
    assert bench.main([str(out), str(tmp_path / "missing"), "--output",
                       str(tmp_path / "s.json")]) == 2
    assert "missing" in capsys.readouterr().err and not (tmp_path / "s.json").exists()


@pytest.mark.slow
def test_the_band_benchmark_recomputes_a_run_and_summarises_over_seeds(all_backgrounds_run,
                                                                       tmp_path):
    """benchmarks/bench_standard_selection_band.py: each run's stored totals recomputed
    exactly; over two runs with equal scores, each ratio's mean is the runs' ratio and its
    standard error 0; a seed given twice is refused (one line, exit code 2)."""
    import os
    import subprocess
    import sys

    out, metrics = all_backgrounds_run
    twin = tmp_path / "twin"
    (twin / "data").mkdir(parents=True)
    shutil.copy(out / "data" / "test_scores.parquet", twin / "data")
    other = copy.deepcopy(metrics)
    other["provenance"]["seed"] += 1
    (twin / "metrics.json").write_text(json.dumps(other))
    script = ROOT / "benchmarks" / "bench_standard_selection_band.py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}

    def bench(*dirs):
        return subprocess.run([sys.executable, str(script), *map(str, dirs), "--bins", "2"],
                              capture_output=True, text=True, env=env, timeout=300)

    done = bench(out, twin)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert [run["seed"] for run in result["runs"]] == [metrics["provenance"]["seed"],
                                                      other["provenance"]["seed"]]
    for volume in ("fiducial", "active"):
        first = result["runs"][0][volume]
        assert first["stored_minus_recomputed_max"] < 1e-12
        summary = result["over_runs"][volume]
        for selection in ("ratio_to_standard", "ratio_to_standard_with_lower_edge"):
            for name, ratio in first[selection].items():
                assert summary[selection][name]["mean"] == pytest.approx(ratio)
                assert summary[selection][name]["standard_error"] == pytest.approx(0, abs=1e-12)
    refused = bench(out, out)
    err = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode == 2 and len(err) == 1 and "run_dir" in err[0], refused.stderr
    assert refused.stdout == ""


@pytest.mark.slow
def test_the_pulse_shape_benchmark_reads_a_run(all_backgrounds_run):
    """benchmarks/bench_s1_pulse_shape.py on a finished run: the test scores carry the S1
    pulse shape; each leakage is a share, and a cut at the WIMPs' own median keeps half of
    them (the leakage of WIMPs against themselves is 0.5 up to ties)."""
    import os
    import subprocess
    import sys

    import pandas as pd

    out, _ = all_backgrounds_run
    bench = load_script("bench_s1_pulse_shape", "benchmarks")
    scores = pd.read_parquet(out / "data" / "test_scores.parquet")
    wimp = scores[(scores["source"] == "wimp") & scores["in_window"]]
    for name, side in bench.VARIABLES.items():
        values, weight = wimp[name].to_numpy(float), wimp["weight"].to_numpy(float)
        share, error = bench.leakage(values, weight, values, weight, side)
        assert share == pytest.approx(0.5, abs=2 / len(values) + 1e-9) and error > 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_s1_pulse_shape.py"),
                           str(out), "--cs1-edges", "1", "1000"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads(done.stdout.splitlines()[-1])["bins"]
    for name in bench.VARIABLES:
        assert 0 <= row[name]["er_leakage_at_half_wimp"] <= 1


@pytest.mark.slow
def test_neutron_multiple_scatters_fail_the_single_scatter_cut():
    detector = load_detector("xenon1t_sr0")
    table, images, n_simulated, weight, _ = simulate_source(
        detector, "neutrons", 120, seed_sequence(5, "neutrons"), "hitpeak", 10, 500.0, None)
    assert len(images) == len(table) >= 120 and n_simulated > len(table) and weight > 0
    multiple = table["n_interactions"].to_numpy() > 1
    single = table["s2_second_area_pe"].to_numpy() < detector.charge.s2_threshold_pe
    assert multiple.sum() >= 20
    assert single[multiple].mean() < 0.4  # most multiple scatters show a second S2
    assert single[~multiple].mean() > 0.95


@pytest.mark.slow
def test_sources_and_ensemble_members_on_workers_give_the_in_process_results():
    """The mix's sources and the CNN ensembles' members (fitted and predicted) as tasks
    on a local Dask cluster (the WIMP source built in the worker, one BLAS and one torch
    thread there) give the in-process mix, networks and outputs bit for bit."""
    import pandas as pd

    from wimpsift.execution import Executor, execution_config

    detector = load_detector("xenon1t_sr0")
    sizes = {"wimp": 20, "er": 20, "neutrons": 10}
    args = (detector, sizes, 7, "hitpeak", 10, 500.0, None)
    X, y = separable_images(n=120)
    scalars = np.random.default_rng(1).normal(size=(len(y), 2))
    three = (np.arange(len(y)) % 3).astype(int)
    settings = {"epochs": 2, "batch_size": 40, "random_state": 3}

    def ensembles():
        binary = WeightedCNNEnsemble(2, 2, **settings)
        multi = WeightedCNNEnsemble(2, 3, n_scalars=2, **settings)
        return {"binary": (binary, X, y, np.linspace(1, 2, len(y)), None),
                "multi": (multi, X, three, np.ones(len(y)), scalars)}

    here_mix, here_nets = simulate_mix(*args), ensembles()
    fit_ensembles(here_nets)
    there_nets = ensembles()
    inputs = {"binary": None, "multi": scalars}
    with Executor(execution_config(parallel=True, n_workers=2, progress=False)) as executor:
        there_mix = simulate_mix(*args, executor=executor)
        fit_ensembles(there_nets, executor)
        there_outputs = predict_ensembles(
            {name: (there_nets[name][0], X, extra) for name, extra in inputs.items()},
            executor)
    pd.testing.assert_frame_equal(here_mix.table, there_mix.table, check_exact=True)
    assert np.array_equal(here_mix.images, there_mix.images)
    assert here_mix.n_simulated == there_mix.n_simulated
    assert here_mix.weight_per_event == there_mix.weight_per_event
    for name, extra in inputs.items():
        a, b = here_nets[name][0], there_nets[name][0]
        here_outputs = a.predict_member_log_proba(X, extra)
        assert here_outputs.shape == (2, len(y), 2 if name == "binary" else 3)
        # fitted on workers, predicted here and there; fitted here, predicted here
        assert np.array_equal(here_outputs, b.predict_member_log_proba(X, extra)), name
        assert np.array_equal(here_outputs, there_outputs[name]), name
        assert [m.best_epoch_ for m in a.members] == [m.best_epoch_ for m in b.members]


def test_weighted_cnn_follows_the_weights():
    X, y = separable_images(n=200)
    flipped = 1 - y
    # the same images with both labels: the weights alone decide the posterior
    Xd, yd = np.concatenate([X, X]), np.concatenate([y, flipped])
    w = np.where(yd == 1, 3.0, 1.0)
    model = WeightedCNN(2, epochs=3, batch_size=50, learning_rate=0.005).fit(Xd, yd, w)
    p1 = model.predict_proba(X)[:, 1]
    assert np.allclose(model.predict_proba(X).sum(axis=1), 1.0)
    assert p1.mean() > 0.6  # 3:1 weights → P(1) → 0.75
    again = WeightedCNN(2, epochs=3, batch_size=50, learning_rate=0.005).fit(Xd, yd, w)
    assert np.array_equal(again.predict_log_proba(X), model.predict_log_proba(X))
    with pytest.raises(DataError, match="labels"):
        WeightedCNN(2, epochs=1).fit(X, y + 1, np.ones(len(y)))
    with pytest.raises(DataError, match="sample_weight"):
        EventVariableMLP(columns=("a",)).fit(_frame(), [0, 1, 0, 1], [1, -1, 1, 1])


def test_ensemble_averages_its_members_logits():
    X, y = separable_images(n=120)
    w = np.ones(len(y))
    settings = {"epochs": 2, "batch_size": 40, "learning_rate": 0.005, "random_state": 3}
    single = WeightedCNN(2, **settings).fit(X, y, w)
    one = WeightedCNNEnsemble(1, 2, **settings).fit(X, y, w)
    # size 1 is the single network: same seed, same weights (renormalised to rounding)
    assert np.allclose(one.predict_log_proba(X), single.predict_log_proba(X), rtol=0,
                       atol=1e-12)
    three = WeightedCNNEnsemble(3, 2, **settings).fit(X, y, w)
    assert three.fit_info()["seeds"][0] == 3 and len(set(three.fit_info()["seeds"])) == 3
    logits = [m.predict_log_proba(X) @ [-1.0, 1.0] for m in three.members]
    log_p = three.predict_log_proba(X)
    assert np.allclose(np.exp(log_p).sum(axis=1), 1.0)
    # two classes: the ensemble's logit is the members' mean logit
    assert np.allclose(log_p @ [-1.0, 1.0], np.mean(logits, axis=0))
    assert not np.allclose(logits[0], logits[1])
    with pytest.raises(ConfigError, match="size"):
        WeightedCNNEnsemble(0, 2)


def _frame():
    import pandas as pd

    return pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})


def test_bad_input():
    with pytest.raises(ConfigError, match="detector"):
        make_config("quick", detector="nope")
    with pytest.raises(ConfigError, match="backgrounds"):
        make_config("quick", images="synthetic", backgrounds="all")
    assert make_config("quick", images="synthetic").backgrounds == "er"
    cfg = make_config("quick")
    assert cfg.backgrounds == "all" and cfg.train_events_per_class == 500
    assert make_config("quick", backgrounds="er").train_events_per_class == 1000
    # the CNNs' scalars: any of the dense network's event variables, nothing else
    wall = make_config("quick", all_backgrounds={"cnn_event_scalars": ["s2_width_ratio",
                                                                       "nr_band_distance"]})
    assert wall.all_backgrounds.cnn_event_scalars == ("s2_width_ratio", "nr_band_distance")
    with pytest.raises(ConfigError, match="cnn_event_scalars"):
        make_config("quick", all_backgrounds={"cnn_event_scalars": ["drift_time_us"]})


def test_cli_bad_backgrounds_and_detector(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(["reproduce", "cnn", "--backgrounds", "gamma", "-o", str(tmp_path / "a")])
    assert err.value.code == 2
    code = main(["reproduce", "cnn", "--detector", "nope", "-o", str(tmp_path / "b")])
    assert code == 2
    assert "detector" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("option, value", [("--pool-stride", "1"), ("--scoring", "f1"),
                                           ("--halving-factor", "3")])
def test_cli_refuses_er_only_options_with_all_backgrounds(tmp_path, capsys, option, value):
    # the all-backgrounds CNNs have no grid search and pool with stride 2: an option of
    # the WIMP-against-ER analysis would be recorded in config.json and not used
    with pytest.raises(ConfigError, match="pool_stride"):
        make_config("quick", backgrounds="all", pool_stride=1)
    assert make_config("quick", backgrounds="er", pool_stride=1).pool_stride == 1
    out = tmp_path / "run"
    assert main(["reproduce", "cnn", option, value, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert option in err and "backgrounds 'er'" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow
def test_another_detector_brings_its_own_backgrounds(tmp_path):
    # LZ's definition has no wall or anomalous events: the tables follow the detector.
    # Only the tables' names are checked, so the run is smaller than TINY (a third of the time)
    smallest = {**TINY, "train_events_dominant": 60, "test_events_dominant": 60, "epochs": 1,
                "cnn_ensemble": 1, "train_events_signal": 40, "test_events_signal": 40,
                "tail_candidates_per_event": 5, "max_simulated_factor": 3, "min_class_events": 5,
                "position_train_events": 100, "position_test_events": 10}
    cfg = make_config("quick", detector="lz_ws2024", train_events_per_class=40,
                      test_events_per_class=40, progress=False, all_backgrounds=smallest)
    metrics = run_reproduce_cnn(cfg, tmp_path)
    backgrounds = set(source_names(load_detector("lz_ws2024"))) - {"wimp"}
    remaining = metrics["all_backgrounds"]["active_volume"]["remaining_at_50pct"]
    assert {name for name in remaining["cnn_multiclass"] if name != "total"} == backgrounds
    assert "wall" not in backgrounds and metrics["all_backgrounds"]["detector"] == "lz_ws2024"
