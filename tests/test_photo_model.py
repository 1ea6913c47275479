"""The bundled photo model (photo-fusion): a CIFAR net times an ImageNet head, each answering for
what it knows. Checks that matter to a user: small images are answered exactly as the CIFAR net
answers them, photos get the ImageNet expert's vote, nothing of the ImageNet network is stored
in the file, it is never offered for training, and it exports."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import engine
from engine.checkpoints.format import load_checkpoint
from engine.errors import EngineError
from engine.imaging.photo import load_photo
from engine.models import create_model, get_model_info, list_models
from engine.models.fusion import CIFAR10_CLASSES, CIFAR_FROM_IMAGENET, detail_gate, imagenet_to_cifar

MODELS = engine.resources_dir() / "models"
FUSION, FASTNET = MODELS / "cifar10_fusion.pt", MODELS / "cifar10_fastnet.pt"
SAMPLES = engine.resources_dir() / "samples"
pytestmark = pytest.mark.skipif(not FUSION.exists(), reason="no bundled photo model")


@pytest.fixture(scope="module")
def fusion():
    return load_checkpoint(FUSION)


def _normalised(images: np.ndarray, ck) -> torch.Tensor:
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    return (x - torch.tensor(ck.mean).view(1, -1, 1, 1) * 255) / (torch.tensor(ck.std).view(1, -1, 1, 1) * 255)


def test_it_is_the_default_and_the_cifar_net_stays_listed():
    assert engine.default_checkpoint_path() == FUSION
    assert engine.bundled_checkpoint_paths() == [FUSION, FASTNET]


def test_the_file_holds_the_cifar_net_only_and_loads_the_imagenet_weights_from_the_package(fusion):
    assert fusion.arch == "photo-fusion" and fusion.input_size == (224, 224)
    assert not [k for k in fusion.state_dict if k.startswith("imagenet.")]
    net = load_checkpoint(FASTNET)
    for key, value in net.state_dict.items():
        assert torch.equal(fusion.state_dict[f"cifar.{key}"], value), key
    model = fusion.build_model()
    stem = model.imagenet.backbone.state_dict()
    assert stem and all(torch.isfinite(v).all() for v in stem.values() if v.is_floating_point())


def test_small_images_are_answered_exactly_as_the_cifar_net_answers_them(fusion):
    net = load_checkpoint(FASTNET)
    images = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    with torch.no_grad():
        fused = fusion.build_model()(_normalised(images, fusion)).log_softmax(1)
        alone = net.build_model()(_normalised(images, net)).log_softmax(1)
    torch.testing.assert_close(fused, alone, atol=1e-5, rtol=0)


def test_the_detail_gate_tells_an_enlarged_small_image_from_a_photo():
    photo = load_photo(SAMPLES / "cat-chelsea.jpg", (224, 224), 3, "full")
    small = Image.fromarray(load_photo(SAMPLES / "cat-chelsea.jpg", (32, 32), 3, "full"))
    enlarged = np.asarray(small.resize((224, 224), Image.Resampling.BILINEAR))
    x = torch.from_numpy(np.stack([photo, enlarged])).permute(0, 3, 1, 2).float() / 255
    gate = detail_gate(x)
    assert gate[0] == 1.0 and gate[1] == 0.0
    flat = torch.full((1, 3, 224, 224), 0.5)
    assert detail_gate(flat).tolist() == [1.0]  # nothing says it was small: the ImageNet expert judges


def test_photos_get_the_imagenet_vote_and_its_mass_is_the_unknown_score():
    predictor = engine.Predictor(FUSION)
    cat, cup = predictor.predict_paths([SAMPLES / "cat-chelsea.jpg", SAMPLES / "coffee-cup.jpg"])
    assert cat.top == "cat" and cat.probabilities["cat"] > 0.9 and not cat.unknown
    assert cup.unknown and cup.looks_like == "espresso"
    assert 0 <= cat.unknown_score < predictor.detector.threshold < cup.unknown_score <= 1


def test_the_mapping_names_real_imagenet_categories_and_every_class():
    from engine.inference.looks_like import imagenet_categories

    names = imagenet_categories()
    assert set(CIFAR_FROM_IMAGENET) == set(CIFAR10_CLASSES)
    assert "sorrel" in [names[i] for i in CIFAR_FROM_IMAGENET["horse"]]
    assert "tabby" in [names[i] for i in CIFAR_FROM_IMAGENET["cat"]]
    m = imagenet_to_cifar()
    assert m.shape == (1000, 10) and m.sum(1).max() == 1  # no category counted twice


def test_it_is_built_not_trained(tmp_path):
    assert "photo-fusion" not in [m.name for m in list_models()]  # never offered in menus
    assert not get_model_info("photo-fusion").trainable
    with pytest.raises(EngineError, match="not trained but built"):
        engine.train(engine.TrainConfig(model="photo-fusion", epochs=1), tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(EngineError, match="ten classes"):
        create_model("photo-fusion", num_classes=3)


# ---------------------------------------------------------------------------- ONNX Runtime on the CPU
def test_onnx_runtime_gives_the_pytorch_answers_and_is_exported_once(monkeypatch, caplog):
    pytest.importorskip("onnxruntime")
    from engine.inference.onnx_runner import OnnxRunner

    files = [SAMPLES / "cat-chelsea.jpg", SAMPLES / "coffee-cup.jpg", SAMPLES / "horse-silhouette.png"]
    fast = engine.Predictor(FUSION, looks_like=False)
    assert isinstance(fast.runner, OnnxRunner)
    (exported,) = (engine.paths.cache_dir() / "onnx").glob("*.onnx")
    stamp = exported.stat().st_mtime_ns
    monkeypatch.setenv("CIFAR_STUDIO_ONNX", "0")
    plain = engine.Predictor(FUSION, looks_like=False)
    assert plain.runner is plain.model  # turned off: PyTorch
    for a, b in zip(fast.predict_paths(files), plain.predict_paths(files)):
        assert a.top == b.top and a.unknown == b.unknown
        np.testing.assert_allclose(list(a.probabilities.values()), list(b.probabilities.values()), atol=1e-4)
        assert a.unknown_score == pytest.approx(b.unknown_score, abs=1e-4)
    monkeypatch.delenv("CIFAR_STUDIO_ONNX")
    engine.Predictor(FUSION, looks_like=False)
    assert exported.stat().st_mtime_ns == stamp  # the cached export is reused


def test_without_onnx_runtime_or_with_a_damaged_export_it_runs_in_pytorch(monkeypatch, caplog):
    import sys

    pytest.importorskip("onnxruntime")
    folder = engine.paths.cache_dir() / "onnx"
    engine.Predictor(FUSION, looks_like=False)
    (exported,) = folder.glob("*.onnx")
    exported.write_bytes(b"not a model")
    damaged = engine.Predictor(FUSION, looks_like=False)
    assert damaged.runner is damaged.model and "running in PyTorch" in caplog.text
    assert not exported.exists()  # exported again next time
    (cat,) = damaged.predict_paths([SAMPLES / "cat-chelsea.jpg"])
    assert cat.top == "cat"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # not installed
    missing = engine.Predictor(FUSION, looks_like=False)
    assert missing.runner is missing.model
    net = engine.Predictor(FASTNET, looks_like=False)
    assert net.runner is net.model  # the CIFAR net does not opt in: PyTorch is fast there
