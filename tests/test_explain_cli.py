"""Grad-CAM overlays as files (engine/inference/explain.py ``explain_files``, ``python -m engine explain``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engine.cli import program as cli
from engine.errors import EngineError
from engine.inference.explain import colorize, explain_files, overlay_heatmap
from engine.paths import default_checkpoint_path, resources_dir

SAMPLES = resources_dir() / "samples"


@pytest.fixture(scope="module")
def bundled():
    path = default_checkpoint_path()
    if not path.exists():
        pytest.skip("bundled model not present")
    return path


def test_colour_palette_and_blend():
    ramp = colorize(np.array([[0.0, 0.5, 1.0]]))[0]
    assert ramp[0].argmax() == 2 and ramp[0][0] == 0  # cold: blue
    assert ramp[1].argmax() == 1  # middle: green
    assert ramp[2].argmax() == 0 and ramp[2][2] == 0  # hot: red
    image = np.full((8, 8, 3), 100, np.uint8)
    out = overlay_heatmap(image, np.zeros((4, 4), np.float32), alpha=0.0)
    assert out.shape == (8, 8, 3) and (out == 100).all()  # resized to the image; alpha 0 keeps it


def test_writes_an_overlay_per_image_for_the_top_class(bundled, tmp_path):
    results = explain_files(bundled, [SAMPLES / "cat-chelsea.jpg", SAMPLES / "horse-silhouette.png"], tmp_path)
    assert [r.class_name for r in results] == ["cat", "horse"]  # the bundled model's top classes
    for r in results:
        assert r.error is None and r.class_name == r.top and 0 < r.probability <= 1
        with Image.open(r.out) as img:
            assert img.format == "PNG" and img.mode == "RGB" and min(img.size) >= 256
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cat-chelsea_gradcam_cat.png",
        "horse-silhouette_gradcam_horse.png",
    ]


def test_any_class_changes_the_heatmap(bundled, tmp_path):
    cat = explain_files(bundled, [SAMPLES / "cat-chelsea.jpg"], tmp_path, class_name="cat")[0]
    ship = explain_files(bundled, [SAMPLES / "cat-chelsea.jpg"], tmp_path, class_name="SHIP")[0]
    assert (cat.class_name, ship.class_name) == ("cat", "ship")  # names match case-insensitively
    assert ship.top == "cat" and ship.probability < cat.probability
    a, b = (np.asarray(Image.open(r.out), dtype=np.int16) for r in (cat, ship))
    assert np.abs(a - b).mean() > 2  # a different class lights up different places


def test_bad_image_gets_its_own_error_and_the_rest_go_on(tiny_checkpoint, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    out = tmp_path / "out"
    results = explain_files(tiny_checkpoint, [bad, SAMPLES / "coffee-cup.jpg"], out)
    assert results[0].error and "broken.jpg" in results[0].error and results[0].out is None
    assert results[1].error is None and (out / f"coffee-cup_gradcam_{results[1].class_name}.png").is_file()


def test_same_file_names_from_two_folders_keep_both(tiny_checkpoint, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (20, 20), (200, 30, 30)).save(tmp_path / folder / "photo.png")
    results = explain_files(tiny_checkpoint, [tmp_path / "a", tmp_path / "b"], tmp_path / "out", class_name="red")
    assert [r.out.rsplit("/", 1)[-1] for r in results] == ["photo_gradcam_red.png", "photo_gradcam_red_2.png"]


def test_unknown_class_fails_before_writing(tiny_checkpoint, tmp_path):
    with pytest.raises(EngineError, match="unknown class 'zebra'; this model's classes: blue, green, red"):
        explain_files(tiny_checkpoint, [SAMPLES / "cat-chelsea.jpg"], tmp_path / "out", class_name="zebra")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_cli_explain(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "cams"
    argv = ["explain", "--checkpoint", str(tiny_checkpoint), "--out", str(out)]
    assert cli.main([*argv, str(SAMPLES / "rocket-launch.jpg"), str(tmp_path / "missing.png"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["out"].endswith(".png") and rows[0]["class"] in ("blue", "green", "red")
    assert set(rows[1]) == {"path", "error"}
    assert cli.main([*argv, str(SAMPLES / "rocket-launch.jpg"), "--class", "zebra"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown class 'zebra'")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main([*argv, str(empty)]) == 2
    assert "no image files found" in capsys.readouterr().err


def test_explain_gives_predicts_probability_with_the_same_tta_and_says_so(bundled, tmp_path, capsys):
    """The same photo was 62.7% in predict and 75.3% in explain: explain ran without TTA and
    did not say so. Now both default to the photo TTA and both name it."""
    from engine.imaging.photo import DEFAULT_PHOTO_TTA
    from engine.inference.predict import Predictor

    photo = SAMPLES / "cat-chelsea.jpg"
    (predicted,) = Predictor(bundled).predict_paths([photo])
    (explained,) = explain_files(bundled, [photo], tmp_path)
    assert explained.tta == predicted.tta == DEFAULT_PHOTO_TTA and explained.view == predicted.view
    assert explained.probability == pytest.approx(predicted.probabilities[explained.class_name], abs=1e-5)
    (plain,) = explain_files(bundled, [photo], tmp_path, tta=0)
    assert plain.tta == 0 and plain.to_dict()["tta"] == 0
    assert cli.main(["explain", "--checkpoint", str(bundled), str(photo), "--out", str(tmp_path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)[0]["tta"] == DEFAULT_PHOTO_TTA and "TTA: flips" in err
