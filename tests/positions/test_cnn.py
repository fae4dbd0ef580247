"""The position CNN: accuracy properties, saved weights, determinism, processing, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch


def _d2(x, y, x_true, y_true):
    return (np.asarray(x) - x_true) ** 2 + (np.asarray(y) - y_true) ** 2


def test_cnn_beats_centre_of_gravity(tiny_model, true_response_patterns, xenon1t):
    from wimpsift.detectors.pmt_arrays import pmt_arrays
    from wimpsift.training.position import centre_of_gravity_xy

    top, x_true, y_true = true_response_patterns
    cnn = np.sqrt(_d2(*tiny_model.predict_xy(top), x_true, y_true).mean())
    cog = np.sqrt(_d2(*centre_of_gravity_xy(top, pmt_arrays(xenon1t)), x_true, y_true).mean())
    assert cnn < 0.6 * cog


def test_cnn_resolution_improves_with_s2_size(tiny_model, true_response_patterns, xenon1t):
    from wimpsift.sources import make_source
    from wimpsift.training.position import simulate_top_patterns

    top, x_true, y_true = true_response_patterns  # ER: large S2s
    wimp_top, wimp_x, wimp_y = simulate_top_patterns(
        xenon1t, make_source(xenon1t, "wimp", mass_gev=50.0), 1000, seed=29, mismatch=None)
    small = (wimp_top.sum(axis=1) > 50) & (wimp_top.sum(axis=1) < 200)
    large = top.sum(axis=1) > 4000
    assert small.sum() > 100 and large.sum() > 100
    rms_small = np.sqrt(_d2(*tiny_model.predict_xy(wimp_top[small]), wimp_x[small],
                            wimp_y[small]).mean())
    rms_large = np.sqrt(_d2(*tiny_model.predict_xy(top[large]), x_true[large],
                            y_true[large]).mean())
    assert rms_small > 1.3 * rms_large


def test_validation_rms_is_that_of_the_training_mix(tiny_model, tiny_config):
    """The recorded validation RMS describes patterns of both sources (ER and WIMP), as
    trained on; it was the last 10 % of the simulated patterns, all WIMP recoils (small
    S2s): 1.89 cm for this network, beside 1.67 cm on fresh patterns of the mix and
    1.96 cm on fresh WIMP ones (now 1.35 cm, beside 1.50 and 1.77 cm)."""
    from wimpsift.training.position import training_patterns

    fresh, xy, _ = training_patterns(tiny_config.model_copy(update={"seed": 12}))
    wimp = np.arange(len(xy)) >= 0.6 * len(xy)  # the second source (WIMP recoils), surely
    x, y = tiny_model.predict_xy(fresh, symmetrised=False)
    d2 = _d2(x, y, xy[:, 0], xy[:, 1])
    mix_cm, wimp_cm = np.sqrt(d2.mean()), np.sqrt(d2[wimp].mean())
    assert wimp_cm > 1.1 * mix_cm
    recorded_cm = tiny_model.meta["history"][-1]
    assert abs(recorded_cm - mix_cm) < abs(recorded_cm - wimp_cm)


def test_saved_weights_round_trip(tiny_model, true_response_patterns, tmp_path):
    from wimpsift.training.position import load_position_model

    path = tiny_model.save(tmp_path / "pos.pt")
    loaded = load_position_model(path)
    top = true_response_patterns[0][:50]
    np.testing.assert_array_equal(np.stack(loaded.predict_xy(top)),
                                  np.stack(tiny_model.predict_xy(top)))
    assert loaded.meta["history"] == tiny_model.meta["history"]
    assert loaded.meta["provenance"]["seed"] == 11
    assert [p.name for p in tmp_path.iterdir()] == ["pos.pt"]  # no temporary file left


def test_foreign_files_are_refused_without_running_them(tmp_path):
    from wimpsift.errors import DataError
    from wimpsift.training.position import load_position_model

    (tmp_path / "notes.pt").write_text("{not a network}")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    for name in ("notes.pt", "other.pt"):
        with pytest.raises(DataError, match="xy_model_path") as err:
            load_position_model(tmp_path / name)
        assert "\n" not in str(err.value)


def test_a_file_that_is_not_a_torch_archive_is_said_to_be_so(tmp_path):
    """torch's own error for a text file is a bare number (the legacy format's magic)."""
    from wimpsift.errors import DataError
    from wimpsift.training.position import load_position_model

    (tmp_path / "junk.pt").write_text("junk\n")
    with pytest.raises(DataError, match=r"^--model: '.*junk\.pt' is not a wimpsift-position-cnn-1 "
                                        r"file \(not a torch file\)$"):
        load_position_model(tmp_path / "junk.pt", "--model")


def test_training_is_deterministic(tmp_path):
    from wimpsift.training.position import PositionTrainingConfig, train_position_cnn

    config = PositionTrainingConfig(n_events=300, epochs=1, seed=5)
    before = torch.get_rng_state()
    a, b = train_position_cnn(config), train_position_cnn(config)
    assert torch.equal(torch.get_rng_state(), before)  # torch's global generator untouched
    for (name, wa), wb in zip(a.model.state_dict().items(), b.model.state_dict().values(),
                              strict=True):
        assert torch.equal(wa, wb), name
    assert (a.save(tmp_path / "a.pt").read_bytes() == b.save(tmp_path / "b.pt").read_bytes())
    c = train_position_cnn(config.model_copy(update={"seed": 6}))
    assert not torch.equal(a.model.head[0].weight, c.model.head[0].weight)


def test_processing_uses_the_cnn_when_selected(tiny_model, xenon1t, tmp_path):
    from wimpsift.processing.reconstruction import ProcessingSettings, process_events
    from wimpsift.sources import make_source
    from wimpsift.waveforms import simulate_waveform_events

    path = tiny_model.save(tmp_path / "pos.pt")
    raw = simulate_waveform_events(xenon1t, make_source(xenon1t, "er"), 40, seed=3,
                                   volume="active")
    cnn = process_events(raw, ProcessingSettings(xy_method="cnn", xy_model_path=path))
    likelihood = process_events(raw)
    top = cnn.s2_pmt_area_pe[:, cnn.arrays.top]
    x, y = tiny_model.predict_xy(top)
    np.testing.assert_allclose(cnn.table["x_cm"], x)
    np.testing.assert_allclose(cnn.table["r_cm"], np.hypot(x, y))
    assert not np.allclose(cnn.table["x_cm"], likelihood.table["x_cm"])
    np.testing.assert_array_equal(cnn.table["s2_area_pe"], likelihood.table["s2_area_pe"])


def test_evaluate_and_figure(tiny_model, tmp_path):
    from wimpsift.plots.position import plot_position_resolution
    from wimpsift.training.position import METHODS, evaluate_positions, resolution_frame

    result = evaluate_positions(tiny_model, 120, seed=9)
    json.dumps(result, allow_nan=False)  # plain JSON: no NaN or infinity
    assert set(result["methods"]) == set(METHODS)
    assert np.isfinite(result["cnn_rms_cm"]) and np.isfinite(result["likelihood_rms_cm"])
    assert result["methods"]["centre_of_gravity"]["wall_radial_bias_cm"] < -3  # pulled inwards
    frame = resolution_frame(result)
    ours = frame[frame["method"] != "anchor"]
    assert ours.groupby(["method", "binning"])["n"].sum().eq(result["n_test_events"]).all()
    assert set(frame[frame["method"] == "anchor"]["binning"]) == {"bulk", "wall"}
    path = plot_position_resolution(result, tmp_path / "res.png")
    assert path.stat().st_size > 10_000


def test_cli_rejects_bad_input_without_output(tmp_path, capsys):
    from wimpsift.cli.main import main

    assert main(["positions", "train", "--events", "5", "-o", str(tmp_path / "m.pt")]) == 2
    assert "--events" in capsys.readouterr().err
    assert main(["positions", "evaluate", "--model", str(tmp_path / "missing.pt"),
                 "-o", str(tmp_path / "out")]) == 2
    assert "--model" in capsys.readouterr().err
    assert main(["positions", "evaluate", "--model", "x.pt", "--events", "1",
                 "-o", str(tmp_path / "out")]) == 2
    assert not any(tmp_path.iterdir())


def test_position_reconstruction_metrics_for_reports(tiny_model):
    """The summary a report calls: CNN and likelihood RMS on the same waveform events."""
    from wimpsift.training.position import position_reconstruction_metrics

    out = position_reconstruction_metrics(test_events=120, test_seed=2, reconstructor=tiny_model)
    assert {"cnn_rms_cm", "likelihood_rms_cm", "cnn_wall_rms_cm"} <= set(out)
    json.dumps(out)  # plain JSON
    # both reconstruct within a few cm (the centre of gravity is ~8 cm off)
    assert 0 < out["likelihood_rms_cm"] < 1.5 and 0 < out["cnn_rms_cm"] < 4.0
    assert out["n_test_events"] > 80


def test_cli_evaluate_writes_the_same_record_into_metrics_and_figure(tiny_model, tmp_path, capsys):
    from PIL import Image

    from wimpsift.cli.main import main

    model = tiny_model.save(tmp_path / "pos.pt")
    out = tmp_path / "eval"
    assert main(["positions", "evaluate", "--model", str(model), "--events", "60", "--seed", "4",
                 "-o", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert printed["cnn_rms_cm"] == metrics["position_reconstruction"]["cnn_rms_cm"]
    record = metrics["provenance"]
    assert record["seed"] == 4 and record["config"]["model_provenance"]["seed"] == 11
    assert json.loads(Image.open(out / "position_resolution.png").info["wimpsift"]) == record


def test_evaluation_simulates_the_detector_the_network_was_trained_on(tmp_path, monkeypatch):
    """The file named its detector only: trained with ``--detector PATH``, evaluation loaded
    the TOML at that path again, a changed file (electron lifetime 100 µs) silently and a
    moved one as an error about ``detector``."""
    from importlib import resources

    from wimpsift.detectors import load_detector
    from wimpsift.training import position
    from wimpsift.training.position import (
        PositionTrainingConfig,
        load_position_model,
        train_position_cnn,
    )

    shipped = load_detector("xenon1t_sr0")
    toml = resources.files("wimpsift.detectors") / "data" / "xenon1t_sr0.toml"
    copy = tmp_path / "x1t_copy.toml"
    copy.write_text(toml.read_text())
    model = train_position_cnn(PositionTrainingConfig(detector=str(copy), n_events=200, epochs=1))
    path = model.save(tmp_path / "pos.pt")
    copy.write_text(toml.read_text().replace(
        f"electron_lifetime_us = {shipped.drift.electron_lifetime_us:g}", "electron_lifetime_us = 100"))
    assert load_detector(copy).drift.electron_lifetime_us == 100
    assert load_position_model(path).trained_detector() == shipped
    simulated = []

    def first_detector(detector, *args, **kwargs):  # the detector evaluation simulates, then stop
        simulated.append(detector)
        raise StopIteration

    with monkeypatch.context() as patch:
        patch.setattr(position, "simulate_waveform_events", first_detector)
        with pytest.raises(StopIteration):
            position.evaluate_positions(load_position_model(path), 20, seed=1)
    assert simulated == [shipped]
    copy.unlink()
    assert position.evaluate_positions(load_position_model(path), 20, seed=1)["n_test_events"] > 0


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda meta: meta.pop("arrays"), "no 'arrays' entry"),
    (lambda meta: meta.pop("radius_cm"), "no 'radius_cm' entry"),
    (lambda meta: meta.update(arrays={"bogus": 1}), "bogus"),
    (lambda meta: meta["detector_definition"]["drift"].update(electron_lifetime_us=-1),
     "electron_lifetime_us"),
])
def test_a_file_with_damaged_metadata_is_one_line(tiny_model, tmp_path, damage, reason):
    """The PMT layout and radius are read inside the file's checks, as the network is."""
    import json

    from wimpsift.errors import DataError
    from wimpsift.training.position import load_position_model

    payload = torch.load(tiny_model.save(tmp_path / "good.pt"), weights_only=True)
    meta = json.loads(payload["meta"])
    damage(meta)
    torch.save({**payload, "meta": json.dumps(meta)}, tmp_path / "damaged.pt")
    with pytest.raises(DataError, match=r"^--model: '.*damaged\.pt' is not a "
                                        r"wimpsift-position-cnn-1 file \(.*" + reason) as err:
        load_position_model(tmp_path / "damaged.pt", "--model")
    assert "\n" not in str(err.value)



def test_the_figure_says_which_light_response_the_network_was_trained_on(tiny_model, tmp_path,
                                                                          monkeypatch):
    """A network trained with ``positions train --no-mismatch`` learnt the simulation's
    true LRF: the resolution figure's legend said 'trained on the assumed LRF' for it too."""
    import wimpsift.plots.position as position_plot
    from wimpsift.training.position import PositionReconstructor, evaluate_positions, training_lrf

    legends: list[list[str]] = []
    save = position_plot.save_figure

    def record(fig, path, **kwargs):
        legends.append([t.get_text() for t in fig.axes[0].get_legend().get_texts()])
        return save(fig, path, **kwargs)

    monkeypatch.setattr(position_plot, "save_figure", record)
    meta = json.loads(json.dumps(tiny_model.meta))
    meta["provenance"]["config"]["lrf_mismatch"] = None  # as `positions train --no-mismatch`
    true_lrf = PositionReconstructor(tiny_model.model, tiny_model.arrays, tiny_model.radius_cm, meta)
    assert (training_lrf(tiny_model.meta), training_lrf(meta), training_lrf({})) == (
        "assumed", "true", "unknown")
    for model, said in ((tiny_model, "assumed LRF"), (true_lrf, "simulation's true LRF")):
        result = evaluate_positions(model, 40, seed=9)
        position_plot.plot_position_resolution(result, tmp_path / "res.png")
        assert f"CNN (trained on the {said}), averaged over the array's symmetries" in legends[-1]


def test_a_tpc_narrower_than_the_bulk_margin_is_evaluated(tmp_path):
    """A 9 cm TPC (19 two-inch PMTs per array) has no bulk (r < R − 10 cm): its radius
    table has the wall band and the rest, not a traceback about non-monotonic bins."""
    from wimpsift.detectors import Detector, load_detector
    from wimpsift.detectors.pmt_arrays import pmt_arrays
    from wimpsift.models.position_cnn import PositionCNN
    from wimpsift.plots.position import plot_position_resolution
    from wimpsift.training.position import PositionReconstructor, evaluate_positions

    definition = load_detector("lux_2013").model_dump(mode="json")
    definition["geometry"]["tpc_radius_cm"] = 9.0
    definition["fiducial"].update(radius_cm=6.0, mass_kg=13.0)
    for array in ("top", "bottom"):
        definition["pmt_arrays"][array].update(count=19, pitch_cm=4.2)
    detector = Detector.model_validate(definition)
    network = PositionReconstructor(PositionCNN(), pmt_arrays(detector), 9.0,
                                    {"detector_definition": definition})
    result = evaluate_positions(network, 40, seed=1)
    rows = result["methods"]["likelihood"]["vs_radius_cm"]
    assert [(row["lo"], round(row["hi"], 6)) for row in rows] == [(0.0, 4.0), (4.0, 9.0)]
    assert sum(row["n"] for row in rows) == result["n_test_events"] > 0
    assert result["methods"]["likelihood"]["bulk_rms_cm"] is None
    json.dumps(result, allow_nan=False)
    assert plot_position_resolution(result, tmp_path / "res.png").stat().st_size > 10_000
