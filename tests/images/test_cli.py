"""``wimpsift images`` and ``wimpsift show``: tiny end-to-end runs and exit codes."""

import hashlib
import json

import numpy as np

from wimpsift.cli.main import main


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_images_and_show(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["images", "--signal", "wimp:500", "--background", "er", "--events-per-class", "3",
               "--kinds", "hit,peak,hitpeak", "--seed", "2", "-o", str(out), "--no-progress",
               "--examples", "1"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    dataset = out / "images.h5"
    assert report["dataset"] == str(dataset) and len(report["examples"]) == 3
    from PIL import Image

    from wimpsift.images.dataset import dataset_provenance

    for example in report["examples"]:  # each example image carries the dataset's record
        assert json.loads(Image.open(example).info["wimpsift"]) == dataset_provenance(dataset)
    assert dataset_provenance(dataset)["seed"] == 2
    before = _digest(dataset)

    # a rerun with another configuration fails with exit 2 and leaves the dataset alone
    assert main(["images", "--events-per-class", "3", "--seed", "9", "-o", str(out),
                 "--no-progress"]) == 2
    assert main(["images", "--events-per-class", "3", "--kinds", "hit,wave", "--seed", "2",
                 "-o", str(out)]) == 2
    assert main(["images", "--events-per-class", "3", "--shape", "hit=0x5", "--seed", "2",
                 "-o", str(out)]) == 2
    assert main(["images", "--events-per-class", "3", "--shape", "hit:5", "--seed", "2",
                 "-o", str(out)]) == 2
    assert main(["images", "--events-per-class", "-1", "--seed", "2", "-o", str(out)]) == 2
    assert _digest(dataset) == before
    err = capsys.readouterr().err
    assert "another configuration" in err and "--kinds" in err and "--events-per-class" in err

    png = tmp_path / "row.png"
    assert main(["show", "--dataset", str(dataset), "--kind", "hitpeak", "--event", "1",
                 "-o", str(png)]) == 0
    import matplotlib.image as mpimg

    assert mpimg.imread(png).shape[:2] == (300, 300)
    from PIL import Image

    record = json.loads(Image.open(png).info["wimpsift"])
    assert (record["stage"], record["config"]["dataset"], record["config"]["event"]) == (
        "show", str(dataset), 1)
    assert main(["show", "--dataset", str(dataset), "--kind", "hit", "--event", "99",
                 "-o", str(png)]) == 2
    assert main(["show", "--dataset", str(dataset), "--kind", "movie", "-o", str(png)]) == 2
    junk = tmp_path / "junk.h5"
    junk.write_text("junk")
    assert main(["show", "--dataset", str(junk), "--kind", "hit", "-o", str(png)]) == 2


def test_show_simulated_event(tmp_path):
    figure = tmp_path / "event.png"
    assert main(["show", "--source", "wimp:500", "--seed", "1", "--event", "0",
                 "-o", str(figure)]) == 0
    import matplotlib.image as mpimg

    image = mpimg.imread(figure)
    assert image.shape[0] >= 800 and np.ptp(image) > 0
    from PIL import Image

    record = json.loads(Image.open(figure).info["wimpsift"])
    assert (record["stage"], record["seed"], record["config"]["source"]) == ("show", 1, "wimp:500")
    again = tmp_path / "again.png"
    assert main(["show", "--source", "wimp:500", "--seed", "1", "--event", "0", "-o", str(again)]) == 0
    assert again.read_bytes() == figure.read_bytes()
    small = tmp_path / "peak.png"
    assert main(["show", "--source", "er", "--kind", "peak", "--scale", "2", "-o", str(small)]) == 0
    assert mpimg.imread(small).shape[:2] == (100, 200)
    assert main(["show", "--source", "er", "--scale", "0", "--kind", "hit", "-o", str(small)]) == 2
    assert main(["show", "--source", "xenon", "-o", str(small)]) == 2
