""" "None of these": every answer says whether the image is likely none of the classes, with the
score behind it; the threshold comes from the checkpoint's calibration file and is ignored when
it belongs to another checkpoint; broken model outputs become errors, never NaN."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import engine
from engine.checkpoints.format import Checkpoint, load_checkpoint, save_checkpoint
from engine.errors import CheckpointError
from engine.inference.ood import FALLBACK_THRESHOLD, UnknownDetector, calibrate, compute_scores, sidecar_path
from engine.inference.predict import NON_FINITE, Prediction

SAMPLES = engine.resources_dir() / "samples"
FASTNET = engine.resources_dir() / "models" / "cifar10_fastnet.pt"  # the CIFAR-only bundled net


@pytest.fixture(scope="module")
def bundled() -> engine.Predictor:
    return engine.Predictor(FASTNET)


def test_the_bundled_model_has_a_calibrated_detector(bundled):
    det = bundled.detector
    assert det.calibrated and det.method == "feature_norm_mirror"
    assert det.info["checkpoint_sha256"] and det.info["validation_images"] == 5000
    assert sidecar_path(FASTNET).name == "cifar10_fastnet.ood.json"


def test_the_default_photo_model_flags_by_imagenet_mass_and_names_what_it_sees(tmp_path):
    default = engine.Predictor()
    assert sidecar_path(engine.default_checkpoint_path()).name == "cifar10_fusion.ood.json"
    det = default.detector
    assert det.calibrated and det.method == "imagenet_mass" and det.threshold == pytest.approx(0.8)
    grey = tmp_path / "grey.png"
    Image.new("RGB", (64, 64), (128, 128, 128)).save(grey)
    cat, cup, flat = default.predict_paths([SAMPLES / "cat-chelsea.jpg", SAMPLES / "coffee-cup.jpg", grey])
    assert cat.top == "cat" and cat.unknown is False and cat.unknown_score < 0.5
    assert cup.unknown and cup.looks_like == "espresso"
    assert flat.unknown and 0 <= flat.unknown_score <= 1


def test_noise_and_flat_colours_are_unknown_a_cat_is_not(bundled, tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        p = tmp_path / f"noise{i}.png"
        Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    flat = tmp_path / "grey.png"
    Image.new("RGB", (64, 64), (128, 128, 128)).save(flat)
    cat = SAMPLES / "cat-chelsea.jpg"
    *others, flat_r, cat_r = bundled.predict_paths([*paths, flat, cat])
    assert all(r.unknown for r in others) and flat_r.unknown
    assert cat_r.top == "cat" and cat_r.unknown is False
    assert cat_r.unknown_score < bundled.detector.threshold < others[0].unknown_score
    d = cat_r.to_dict()
    assert d["unknown"] is False and d["unknown_score"] == pytest.approx(cat_r.unknown_score)
    assert json.loads(json.dumps(d)) == d  # plain JSON types


def test_the_mirror_score_needs_the_mirror_features():
    det = UnknownDetector("feature_norm_mirror", -10.0)
    assert det.needs_mirror and det.needs_features
    with pytest.raises(CheckpointError, match="mirror"):
        det.scores(torch.zeros(1, 3), torch.ones(1, 4))
    assert det.scores(torch.zeros(1, 3), torch.ones(1, 4), torch.ones(1, 4) * 3)[0] == pytest.approx(-4.0)


def test_errors_carry_no_unknown_fields():
    assert Prediction("x.png", error="broken").to_dict() == {"path": "x.png", "error": "broken"}


def test_scores_order_confident_above_flat_logits():
    logits = torch.tensor([[10.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    feats = torch.tensor([[5.0, 0.0], [0.5, 0.0]])
    means = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    s = compute_scores(logits, feats, means, mirror_features=feats * 0.5)
    assert set(s) == {"max_softmax", "max_logit", "energy", "feature_norm", "feature", "feature_norm_mirror"}
    assert s["feature_norm_mirror"][0] == pytest.approx(-(5.0 + 2.5) / 2)  # the mean of both views' norms
    for name in ("max_softmax", "max_logit", "energy", "feature_norm", "feature_norm_mirror"):
        assert s[name][0] < s[name][1], name  # the confident image is less unknown
    assert s["feature"][0] == pytest.approx(0.0, abs=1e-6)


def test_calibration_flags_the_asked_share_of_correct_images():
    rng = np.random.default_rng(0)
    scores = {"energy": rng.normal(size=2000)}
    correct = rng.random(2000) < 0.9
    t = calibrate(scores, correct, "energy", 0.1)
    assert (scores["energy"][correct] > t).mean() == pytest.approx(0.1, abs=0.005)
    with pytest.raises(CheckpointError):
        calibrate(scores, np.zeros(2000, bool), "energy", 0.1)
    with pytest.raises(CheckpointError, match="last layer is linear"):
        calibrate(scores, correct, "feature_norm", 0.1)  # a model without features to measure


def _copy_bundled(tmp_path):
    dst = tmp_path / "model.pt"
    shutil.copy(engine.default_checkpoint_path(), dst)
    return dst


def test_a_calibration_for_another_checkpoint_is_ignored(tmp_path, caplog):
    model = _copy_bundled(tmp_path)
    shutil.copy(sidecar_path(engine.default_checkpoint_path()), sidecar_path(model))
    assert UnknownDetector.for_checkpoint(model).calibrated  # same bytes: same calibration
    with open(model, "ab") as f:
        f.write(b"\0")  # another file now
    det = UnknownDetector.for_checkpoint(model)
    assert not det.calibrated and det.method == "max_softmax" and det.threshold == FALLBACK_THRESHOLD
    assert "calibrated for another checkpoint" in caplog.text


def test_missing_or_corrupt_calibration_falls_back(tmp_path, caplog):
    model = _copy_bundled(tmp_path)
    assert not UnknownDetector.for_checkpoint(model).calibrated
    sidecar_path(model).write_text("{not json")
    assert not UnknownDetector.for_checkpoint(model).calibrated
    assert "unreadable" in caplog.text
    sidecar_path(model).write_text(json.dumps({"method": "telepathy", "threshold": 1.0}))
    assert not UnknownDetector.for_checkpoint(model).calibrated


def test_uncalibrated_fallback_is_the_low_confidence_rule(tiny_checkpoint, tmp_path):
    predictor = engine.Predictor(tiny_checkpoint)
    assert not predictor.detector.calibrated
    path = tmp_path / "x.png"
    Image.new("RGB", (16, 16), (210, 40, 40)).save(path)
    r = predictor.predict_paths([path])[0]
    assert r.unknown_score == pytest.approx(1 - r.confidence, abs=1e-6)
    assert r.unknown == (r.confidence < FALLBACK_THRESHOLD)


def test_calibrating_a_trained_checkpoint_writes_the_file_predict_uses(tiny_checkpoint, tmp_path):
    from conftest import write_image_folder

    from engine.inference.ood_calibration import calibrate_unknown

    ck = load_checkpoint(tiny_checkpoint)
    model = save_checkpoint(ck, tmp_path / "best.pt")
    data = write_image_folder(tmp_path / "data", per_class=20, size=16)
    det, _ = calibrate_unknown(model, str(data), "energy", 0.2)
    assert sidecar_path(model).exists() and det.calibrated
    assert engine.Predictor(model).detector.threshold == pytest.approx(det.threshold)
    assert 0 < det.info["val_correct_flagged"] <= 0.35


def _nan_checkpoint() -> Checkpoint:
    from engine.models import create_model

    model = create_model("tutorial_net", num_classes=3, in_channels=3)
    state = model.state_dict()
    key = next(k for k in state if k.endswith("weight"))
    state[key] = torch.full_like(state[key], float("nan"))
    return Checkpoint(None, "tutorial_net", {}, state, ["a", "b", "c"], [0.5] * 3, [0.25] * 3, (16, 16), 3)


def test_non_finite_model_outputs_become_errors_not_nan(tmp_path):
    predictor = engine.Predictor(_nan_checkpoint())
    path = tmp_path / "x.png"
    Image.new("RGB", (16, 16), (10, 20, 30)).save(path)
    (r,) = predictor.predict_paths([path])
    assert not r.ok and r.error == NON_FINITE and r.probabilities == {}
    assert r.to_dict() == {"path": str(path), "error": NON_FINITE}
    with pytest.raises(CheckpointError, match="not finite"):
        predictor.predict_arrays(np.zeros((2, 16, 16, 3), np.uint8))


def test_cli_predict_json_has_unknown(capsys):
    from engine.cli import main

    code = main(["predict", "--json", "--quiet", str(SAMPLES / "cat-chelsea.jpg")])
    out, err = capsys.readouterr()
    assert code == 0
    (row,) = json.loads(out)
    assert row["top"] == "cat" and row["unknown"] is False and isinstance(row["unknown_score"], float)
    assert "images/s" in err


PHOTOS_DEV = engine.resources_dir().parent.parent / "shared" / "datasets" / "photos-dev"


@pytest.mark.slow
@pytest.mark.skipif(not PHOTOS_DEV.is_dir(), reason="needs ../shared/datasets/photos-dev")
def test_the_model_cards_unknown_rates_hold(bundled):
    """The stored threshold flags most out-of-class images and few in-class photos it gets right
    (MODEL_CARD.md; the issue's targets: at least 85% and at most 10%)."""
    pytest.importorskip("skimage")
    import sys

    sys.path.insert(0, str(engine.resources_dir().parent / "scripts"))
    from calibrate_unknown import out_of_class_images

    from engine.imaging.photo import photo_view

    images = [im for group in out_of_class_images().values() for im in group]
    _, scores, _ = bundled.classify_arrays(np.stack([photo_view(im, (32, 32), 3) for im in images]))
    assert (scores > bundled.detector.threshold).mean() >= 0.85
    results = bundled.predict_paths([PHOTOS_DEV])
    right = [r for r in results if r.ok and r.top == engine.expand_inputs([r.path])[0].parent.name]
    assert len(right) >= 0.9 * len(results)
    assert sum(r.unknown for r in right) / len(right) <= 0.10
