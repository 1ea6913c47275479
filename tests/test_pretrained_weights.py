"""Issue 9 item 4: torchvision models fine-tune from a local weights file (offline), take the
weights' own preprocessing, and missing weights are said in the window, not only on stderr."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_config, tiny_dataset

import engine
from engine.models import create_model

ARCH = "mobilenet_v3_small"  # small enough to train a step on CPU in a test


@pytest.fixture
def no_hub_cache(tmp_path, monkeypatch):
    """An empty torch hub cache: no ImageNet weights are found there."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    return tmp_path


@pytest.fixture
def weights_file(tmp_path):
    """A torchvision state dict for ARCH (random values standing in for the ImageNet file)."""
    from torchvision.models import get_model

    path = tmp_path / f"{ARCH}-local.pth"
    torch.manual_seed(1)
    torch.save(get_model(ARCH, weights=None).state_dict(), path)
    return path


def _imagenet_stats():
    from torchvision.models import get_model_weights

    transform = get_model_weights(ARCH).DEFAULT.transforms()
    return list(transform.mean), list(transform.std), transform.crop_size[0]


def test_a_local_weights_file_is_loaded_with_its_preprocessing(weights_file, no_hub_cache):
    state = torch.load(weights_file, weights_only=True)
    model = create_model(f"tv:{ARCH}", num_classes=3, in_channels=3, weights_path=str(weights_file))
    first = next(k for k in state if k.endswith("weight"))
    assert torch.equal(model.net.state_dict()[first], state[first])  # the file's tensors, not random ones
    mean, std, crop = _imagenet_stats()
    assert model.input_normalization == (mean, std)
    assert model.size == crop
    plain = create_model(f"tv:{ARCH}", num_classes=3, in_channels=3, pretrained=False)
    assert plain.size == crop and not hasattr(plain, "input_normalization")  # same size, no weights


def test_a_missing_or_foreign_weights_file_is_a_one_line_error(weights_file, tmp_path):
    with pytest.raises(engine.EngineError, match=r"^pretrained weights file .*nope\.pth not found"):
        create_model(f"tv:{ARCH}", num_classes=3, in_channels=3, weights_path=str(tmp_path / "nope.pth"))
    other = tmp_path / "resnet.pth"
    from torchvision.models import get_model

    torch.save(get_model("resnet18", weights=None).state_dict(), other)
    with pytest.raises(engine.EngineError, match="do not fit mobilenet_v3_small"):
        create_model(f"tv:{ARCH}", num_classes=3, in_channels=3, weights_path=str(other))
    junk = tmp_path / "junk.pth"
    torch.save({"epoch": 3}, junk)
    with pytest.raises(engine.EngineError, match="not a torchvision state dict"):
        create_model(f"tv:{ARCH}", num_classes=3, in_channels=3, weights_path=str(junk))


def test_the_config_field_is_for_torchvision_models_only():
    cfg = engine.TrainConfig(model=f"tv:{ARCH}", pretrained_path="/x/w.pth").validate()
    assert engine.TrainConfig.from_json(cfg.to_json()).pretrained_path == "/x/w.pth"
    with pytest.raises(engine.ConfigError) as info:
        engine.TrainConfig(model="resnet20", pretrained_path="/x/w.pth").validate()
    assert info.value.field == "pretrained_path"


def test_training_from_a_local_file_uses_the_weights_normalisation(weights_file, no_hub_cache, tmp_path):
    cfg = tiny_config(model=f"tv:{ARCH}", model_args={"input_size": 32}, pretrained_path=str(weights_file), epochs=1)
    logs = []
    result = engine.train(cfg, tmp_path / "run", dataset=tiny_dataset(size=16), callback=logs.append)
    assert result.status == "completed", result.message
    ckpt = engine.load_checkpoint(result.best_checkpoint)
    mean, std, _crop = _imagenet_stats()
    assert ckpt.mean == pytest.approx(mean) and ckpt.std == pytest.approx(std)
    assert "pretrained_path" not in ckpt.arch_args and "weights_path" not in ckpt.arch_args
    # the checkpoint rebuilds without the file (another machine, the file moved)
    weights_file.unlink()
    probs = engine.Predictor(result.best_checkpoint).classify_arrays(
        torch.zeros(2, 16, 16, 3, dtype=torch.uint8).numpy()
    )[0]
    assert probs.shape == (2, 3)


def test_missing_imagenet_weights_are_said_in_the_window(qtbot, engine_info, gui_settings, no_hub_cache, tmp_path):
    from conftest import write_image_folder

    from gui.train.tab import TrainTab

    data = write_image_folder(tmp_path / "colours", per_class=4, size=16)
    tab = TrainTab(gui_settings)
    qtbot.addWidget(tab)
    tab.engine_ready(engine_info)
    tab.form.set_config(tiny_config(data=str(data), model=f"tv:{ARCH}", model_args={"input_size": 32}, epochs=1))
    tab.output.setText(str(tmp_path / "run"))
    assert tab.start()
    qtbot.waitUntil(lambda: not tab.running and tab.last_outcome is not None, timeout=240_000)
    assert tab.last_outcome.status == "completed", tab.last_outcome.message
    assert tab.message.kind == "warning"
    assert "No cached ImageNet weights" in tab.message.text() and "random initialisation" in tab.message.text()


def test_the_form_offers_a_weights_file_for_torchvision_models(qtbot, engine_info, gui_settings, weights_file):
    from gui.train.tab import TrainTab

    tab = TrainTab(gui_settings)
    qtbot.addWidget(tab)
    tab.show()
    tab.engine_ready(engine_info)
    form = tab.form
    form.set_config(tiny_config(model="resnet20"))
    assert not form.model.weights.isVisible()
    form.set_config(tiny_config(model=f"tv:{ARCH}", pretrained_path=str(weights_file)))
    assert form.model.weights.isVisible()
    assert form.config().pretrained_path == str(weights_file)
    form.model.weights.setText(str(weights_file) + ".missing")
    assert form.check() is None and "no such file" in form.error
    assert form.model.weights.edit.property("invalid")
