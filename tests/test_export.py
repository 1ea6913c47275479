"""Export (engine/checkpoints/export.py, ``python -m engine export``): every format round-trips, ONNX runs
in onnxruntime with PyTorch's probabilities on real photos, the sidecar says how to feed it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.checkpoints.export import export_checkpoint, load_safetensors_checkpoint, sidecar_path
from engine.checkpoints.format import load_checkpoint
from engine.cli import program as cli
from engine.errors import EngineError
from engine.inference.predict import Predictor
from engine.paths import default_checkpoint_path, resources_dir

SAMPLES = sorted(p for p in (resources_dir() / "samples").iterdir() if p.suffix in (".jpg", ".png"))


@pytest.fixture(scope="module")
def bundled():
    path = default_checkpoint_path()
    if not path.exists():
        pytest.skip("bundled model not present")
    return path


def _inputs_from_sidecar(meta: dict, predictor: Predictor, paths) -> np.ndarray:
    """Float NCHW input built only from what the sidecar says (as another program would)."""
    pixels = np.stack([predictor.prepare(p) for p in paths]).astype(np.float32)  # N,H,W,C uint8 values
    assert pixels.shape[1:] == (meta["input"]["height"], meta["input"]["width"], meta["input"]["channels"])
    mean = np.array(meta["normalization"]["mean"], dtype=np.float32)
    std = np.array(meta["normalization"]["std"], dtype=np.float32)
    return ((pixels / 255 - mean) / std).transpose(0, 3, 1, 2).copy()


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_onnx_probabilities_match_pytorch_on_real_photos_with_any_batch_size(bundled, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    result = export_checkpoint(bundled, "onnx", out)
    assert result.max_prob_diff is not None and result.max_prob_diff < 1e-4
    meta = json.loads(sidecar_path(out).read_text())
    predictor = Predictor(bundled)
    assert meta["classes"] == predictor.classes and meta["output"]["name"] == "logits"
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert len(SAMPLES) >= 5
    for batch in (SAMPLES, SAMPLES[:2], SAMPLES[:1]):  # the export traced a batch of 2: dynamic batch dim
        x = _inputs_from_sidecar(meta, predictor, batch)
        (logits,) = session.run(["logits"], {meta["input"]["name"]: x})
        expected = predictor.predict_arrays(np.stack([predictor.prepare(p) for p in batch]))
        assert logits.shape == (len(batch), len(meta["classes"]))
        np.testing.assert_allclose(_softmax(logits), expected, atol=1e-4)


def test_torchscript_round_trip(bundled, tmp_path):
    out = tmp_path / "model.ts"
    result = export_checkpoint(bundled, "torchscript", out)
    assert result.max_prob_diff is not None and result.max_prob_diff < 1e-5
    meta = json.loads(sidecar_path(out).read_text())
    predictor = Predictor(bundled)
    x = _inputs_from_sidecar(meta, predictor, SAMPLES[:3])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(str(out))
    with torch.no_grad():
        probs = module(torch.from_numpy(x)).softmax(1).numpy()
    np.testing.assert_allclose(
        probs, predictor.predict_arrays(np.stack([predictor.prepare(p) for p in SAMPLES[:3]])), atol=1e-5
    )


def test_safetensors_round_trip_into_the_model(tiny_checkpoint, tmp_path):
    pytest.importorskip("safetensors")
    out = tmp_path / "weights.safetensors"
    export_checkpoint(tiny_checkpoint, "safetensors", out)
    original = load_checkpoint(tiny_checkpoint)
    loaded = load_safetensors_checkpoint(out)
    assert (loaded.arch, loaded.classes, loaded.input_size, loaded.mean) == (
        original.arch,
        original.classes,
        original.input_size,
        original.mean,
    )
    assert loaded.state_dict.keys() == original.state_dict.keys()
    for k, v in original.state_dict.items():
        assert torch.equal(loaded.state_dict[k], v), k
    x = torch.randn(4, original.channels, *original.input_size)
    with torch.no_grad():
        torch.testing.assert_close(loaded.build_model()(x), original.build_model()(x), rtol=0, atol=0)
    # The plain safetensors API reads it too (another program needs nothing from this app).
    from safetensors.torch import load_file

    assert load_file(str(out)).keys() == original.state_dict.keys()
    assert oct(out.stat().st_mode & 0o777) == oct(sidecar_path(out).stat().st_mode & 0o777)


def test_failed_export_leaves_the_previous_file_and_no_temporary(tiny_checkpoint, tmp_path, monkeypatch):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous export")

    def broken_export(model, args, f, **kwargs):
        Path(f).write_bytes(b"half a model")
        raise RuntimeError("exporter crashed\nwith details")

    monkeypatch.setattr(torch.onnx, "export", broken_export)
    pytest.importorskip("onnx")
    with pytest.raises(EngineError, match=r"^onnx export of tutorial_net failed: exporter crashed$"):
        export_checkpoint(tiny_checkpoint, "onnx", out)
    assert out.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_onnx_export_without_onnxruntime_is_written_but_not_checked(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnx")
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed: import raises
    out = tmp_path / "m.onnx"
    assert cli.main(["export", "--checkpoint", str(tiny_checkpoint), "--format", "onnx", "--out", str(out)]) == 0
    assert out.stat().st_size > 0 and sidecar_path(out).is_file()
    assert "not checked: install onnxruntime" in capsys.readouterr().out


def test_sidecar_describes_the_photo_view_predict_uses(tiny_checkpoint, tmp_path):
    from engine.imaging import photo

    assert set(photo.VIEW_DESCRIPTIONS) == set(photo.VIEWS) and all(photo.VIEW_DESCRIPTIONS.values())
    result = export_checkpoint(tiny_checkpoint, "torchscript", tmp_path / "m")
    meta = json.loads(Path(result.sidecar).read_text())
    assert meta["input"]["photo_view"] == photo.DEFAULT_VIEW
    assert meta["input"]["resize"].startswith(photo.VIEW_DESCRIPTIONS[photo.DEFAULT_VIEW] + ";")
    assert "mirror image" in meta["input"]["test_time_augmentation"] and photo.DEFAULT_PHOTO_TTA == 1


def test_bad_requests_are_one_line_errors(tiny_checkpoint, tmp_path):
    with pytest.raises(EngineError, match="unknown export format 'tflite'"):
        export_checkpoint(tiny_checkpoint, "tflite", tmp_path / "m")
    with pytest.raises(EngineError, match="is a folder"):
        export_checkpoint(tiny_checkpoint, "torchscript", tmp_path)


def test_cli_export_json_and_exit_codes(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert (
        cli.main(
            ["export", "--checkpoint", str(tiny_checkpoint), "--format", "torchscript", "--out", str(out), "--json"]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["path"] == str(out) and report["sidecar"] == str(out) + ".json" and report["max_prob_diff"] < 1e-5
    not_a_checkpoint = tmp_path / "x.pt"
    not_a_checkpoint.write_bytes(b"nope")
    assert (
        cli.main(["export", "--checkpoint", str(not_a_checkpoint), "--format", "onnx", "--out", str(tmp_path / "y")])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: x.pt:") and err.count("\n") == 1
    with pytest.raises(SystemExit) as exc:
        cli.main(["export", "--checkpoint", str(tiny_checkpoint), "--format", "tflite", "--out", "z"])
    assert exc.value.code == 2
