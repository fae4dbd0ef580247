"""Images and event displays work for any detector file with PMT arrays: a shipped
XENONnT definition and a user file with generated hexagonal arrays."""

from __future__ import annotations

from importlib import resources

import h5py
import numpy as np

from wimpsift.cli.main import main


def test_images_for_xenonnt_sr0(tmp_path):
    out = tmp_path / "nt"
    assert main(["images", "--detector", "xenonnt_sr0", "--events-per-class", "2", "--kinds", "hitpeak",
                 "--seed", "2", "-o", str(out), "--no-progress"]) == 0
    with h5py.File(out / "images.h5") as f:
        images = f["images/hitpeak"][:]
        s1_pattern = f["pmt/s1_area_pe"][:]
    assert images.shape == (4, 75, 75)
    assert s1_pattern.shape == (4, 253 + 241)
    assert np.all(images.reshape(4, -1).max(axis=1) > 0)


def test_hexagonal_user_file_works_for_images_and_show(tmp_path):
    text = (resources.files("wimpsift.detectors") / "data" / "xenon1t_sr0.toml").read_text()
    arrays = ('[pmt_arrays.top]\nlayout = "hexagonal"\ncount = 127\npitch_cm = 7.6\n\n'
              '[pmt_arrays.bottom]\nlayout = "rings"\ncount = 121\npitch_cm = 7.6\nrotation_deg = 15.0\n\n')
    text = text[:text.index("[pmt_arrays.top]")] + arrays + text[text.index("[window]"):]
    path = tmp_path / "hexagonal_tpc.toml"
    path.write_text(text.replace('name = "xenon1t_sr0"', 'name = "hexagonal_tpc"'))
    out = tmp_path / "run"
    assert main(["images", "--detector", str(path), "--events-per-class", "2", "--kinds", "hit,hitpeak",
                 "--seed", "3", "-o", str(out), "--no-progress"]) == 0
    with h5py.File(out / "images.h5") as f:
        assert f["images/hitpeak"].shape == (4, 75, 75)
        assert f["pmt/s2_area_pe"].shape == (4, 248)
    figure = tmp_path / "event.png"
    assert main(["show", "--detector", str(path), "--source", "er", "--seed", "1", "-o", str(figure)]) == 0
    assert figure.stat().st_size > 0
