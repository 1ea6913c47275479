"""Prediction on the images users actually have: EXIF-rotated photos, 16-bit and palette
PNGs, transparency, WebP/BMP/TIFF/GIF/CMYK, bombs and broken files, folders; TTA; Grad-CAM."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, features

from engine.checkpoints.format import Checkpoint, save_checkpoint
from engine.errors import CheckpointError, ConfigError, ImageError
from engine.imaging.decode import load_image_array
from engine.imaging.photo import DEFAULT_PHOTO_TTA
from engine.inference.ood import UnknownDetector
from engine.inference.predict import LOW_CONFIDENCE, Predictor, expand_inputs
from engine.inference.prediction import Prediction
from engine.models import create_model

CLASSES = ["cat", "dog", "frog"]
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def _ck(channels: int = 3, size: int = 16) -> Checkpoint:
    torch.manual_seed(0)
    model = create_model("tutorial_net", num_classes=3, in_channels=channels)
    return Checkpoint(
        None,
        "tutorial_net",
        {},
        model.state_dict(),
        CLASSES,
        [0.5] * channels,
        [0.25] * channels,
        (size, size),
        channels,
    )


@pytest.fixture(scope="module")
def rgb() -> Predictor:
    return Predictor(_ck(3))


@pytest.fixture(scope="module")
def gray() -> Predictor:
    return Predictor(_ck(1))


def _close(pixel, colour, tol=40) -> bool:
    return bool(np.all(np.abs(np.asarray(pixel, int) - np.asarray(colour, int)) <= tol))


def _halves(top, bottom, size=(20, 40)) -> Image.Image:
    """An RGB image (width, height) = size with a ``top`` colour over a ``bottom`` one."""
    w, h = size
    arr = np.zeros((h, w, 3), np.uint8)
    arr[: h // 2] = top
    arr[h // 2 :] = bottom
    return Image.fromarray(arr)


def _assert_valid(p: Prediction):
    assert p.ok, p.error
    assert list(p.probabilities) == CLASSES
    assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert all(0 <= v <= 1 for v in p.probabilities.values())
    assert p.top == max(p.probabilities, key=p.probabilities.get)


# ---------------------------------------------------------------------------- odd images
def test_exif_orientation_is_applied(rgb, tmp_path):
    # Stored landscape (40x20) red left / blue right; orientation 6 says "rotate 90 degrees
    # clockwise to display", which puts red on top of a portrait image.
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = RED
    stored[:, 20:] = BLUE
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    arr = rgb.prepare(path)
    assert arr.shape == (16, 16, 3)
    assert _close(arr[2, 8], RED) and _close(arr[13, 8], BLUE)  # top red, bottom blue
    assert _close(arr[2, 2], arr[2, 13]) and _close(arr[13, 2], arr[13, 13])  # rows, not columns, differ


def test_png_16_bit_is_scaled_not_clipped(gray, rgb, tmp_path):
    arr = np.full((16, 16), 40000, np.uint16)
    arr[:8] = 10000
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    with Image.open(path) as im:
        assert im.mode.startswith("I")
    out = gray.prepare(path)[:, :, 0]
    assert out[0, 0] == pytest.approx(10000 / 65535 * 255, abs=2)  # ~39, not 255
    assert out[-1, 0] == pytest.approx(40000 / 65535 * 255, abs=2)  # ~156, not 255
    colour = rgb.prepare(path)
    assert colour.shape == (16, 16, 3) and colour[-1, 0, 0] == pytest.approx(156, abs=2)


def test_palette_png_with_transparency_is_composited_over_white(rgb, tmp_path):
    img = Image.new("P", (16, 16), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.paste(1, (8, 0, 16, 16))  # right half: red; left half: index 0, transparent black
    path = tmp_path / "pal.png"
    img.save(path, transparency=0)
    arr = rgb.prepare(path)
    assert _close(arr[8, 2], WHITE, tol=10)  # transparent shows white, not black
    assert _close(arr[8, 13], RED, tol=10)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_over_white(rgb, gray, tmp_path, mode):
    if mode == "RGBA":
        arr = np.zeros((16, 16, 4), np.uint8)
        arr[..., 0] = 255  # red ...
        arr[:, 8:, 3] = 255  # ... opaque on the right only
    else:
        arr = np.zeros((16, 16, 2), np.uint8)
        arr[:, 8:, 1] = 255  # black, opaque on the right only
    path = tmp_path / f"alpha_{mode}.png"
    Image.fromarray(arr, mode).save(path)
    out = rgb.prepare(path)
    assert _close(out[8, 2], WHITE, tol=10)
    assert _close(out[8, 13], RED if mode == "RGBA" else (0, 0, 0), tol=10)
    one = gray.prepare(path)
    assert one.shape == (16, 16, 1) and one[8, 2, 0] >= 245


FORMATS = [("webp", {"lossless": True}), ("bmp", {}), ("tiff", {}), ("ppm", {}), ("jpeg", {"quality": 95})]


@pytest.mark.parametrize(("fmt", "options"), FORMATS, ids=[f for f, _ in FORMATS])
def test_common_formats(rgb, tmp_path, fmt, options):
    if fmt == "webp" and not features.check("webp"):
        pytest.skip("Pillow built without WebP")
    path = tmp_path / f"img.{fmt}"
    _halves(RED, BLUE, (16, 16)).save(path, format=fmt.upper(), **options)
    arr = rgb.prepare(path)
    assert _close(arr[1, 8], RED) and _close(arr[14, 8], BLUE)
    _assert_valid(rgb.predict_paths([path])[0])


def test_animated_gif_uses_the_first_frame(rgb, tmp_path):
    frames = [Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as im:
        assert im.n_frames == 2
    arr = rgb.prepare(path)
    assert _close(arr[8, 8], RED, tol=10)


def test_cmyk_jpeg(rgb, tmp_path):
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)  # red in CMYK
    arr = rgb.prepare(path)
    assert arr.shape == (16, 16, 3) and _close(arr[8, 8], RED, tol=50)


def test_grayscale_image_to_rgb_model_and_rgb_to_grayscale_model(rgb, gray, tmp_path):
    g = tmp_path / "g.png"
    Image.fromarray(np.full((16, 16), 100, np.uint8), "L").save(g)
    arr = rgb.prepare(g)
    assert arr.shape == (16, 16, 3) and (arr == 100).all()
    c = tmp_path / "c.png"
    Image.new("RGB", (16, 16), (200, 200, 200)).save(c)
    one = gray.prepare(c)
    assert one.shape == (16, 16, 1) and (one == 200).all()
    for predictor, path in ((rgb, g), (gray, c)):
        _assert_valid(predictor.predict_paths([path])[0])


def test_photo_views_crop_squash_or_pad_the_frame(tmp_path):
    wide = np.zeros((100, 300, 3), np.uint8)
    wide[:, :100] = BLUE
    wide[:, 100:200] = RED  # the centre square
    wide[:, 200:] = BLUE
    path = tmp_path / "wide.png"
    Image.fromarray(wide).save(path)
    crop = Predictor(_ck(3), view="crop").prepare(path)
    assert crop.shape == (16, 16, 3)
    assert _close(crop[8, 1], RED) and _close(crop[8, 14], RED)  # undistorted: only the centre is kept
    full = Predictor(_ck(3), view="full").prepare(path)
    assert _close(full[8, 1], BLUE) and _close(full[8, 8], RED) and _close(full[8, 14], BLUE)  # whole frame
    boxed = Predictor(_ck(3), view="letterbox").prepare(path)
    assert _close(boxed[8, 8], RED) and _close(boxed[8, 1], BLUE)
    assert not _close(boxed[1, 8], RED) and _close(boxed[1, 8], boxed[14, 8], tol=2)  # padded top and bottom
    assert Predictor(_ck(3)).view == "full"  # the default measured best on real photos
    with pytest.raises(ConfigError, match="unknown photo view"):
        Predictor(_ck(3), view="zoom")


# ---------------------------------------------------------------------------- refusals
# 64x64 = 4096 pixels: over a 3000 limit (Pillow warns) or over twice a 1000 limit (Pillow raises)
@pytest.mark.parametrize("limit", [3000, 1000])
def test_decompression_bomb_is_refused(rgb, tmp_path, monkeypatch, limit):
    path = tmp_path / "bomb.png"
    Image.new("RGB", (64, 64), RED).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(ImageError) as info:
        rgb.prepare(path)
    msg = str(info.value)
    assert msg.startswith("bomb.png:") and "\n" not in msg and "too large" in msg
    (result,) = rgb.predict_paths([path])
    assert not result.ok and "too large" in result.error


def test_bad_files_get_errors_and_the_others_still_run(rgb, tmp_path):
    good = tmp_path / "a_good.png"
    _halves(RED, BLUE, (16, 16)).save(good)
    cut = tmp_path / "b_cut.jpg"
    _halves(RED, BLUE, (64, 64)).save(cut, quality=95)
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    text = tmp_path / "c_notes.txt"
    text.write_text("not an image")
    missing = tmp_path / "d_missing.png"
    also_good = tmp_path / "e_good.bmp"
    _halves(BLUE, RED, (16, 16)).save(also_good)
    results = rgb.predict_paths([good, cut, text, missing, also_good])
    assert [r.path for r in results] == [str(p) for p in (good, cut, text, missing, also_good)]
    _assert_valid(results[0])
    _assert_valid(results[4])
    for r, words in zip(results[1:4], ("truncated", "not an image", "not found"), strict=True):
        assert not r.ok and r.probabilities == {} and r.top is None
        assert words in r.error and "\n" not in r.error
        assert r.to_dict() == {"path": r.path, "error": r.error}


def test_folder_expansion_is_recursive_sorted_and_skips_hidden(tmp_path):
    for rel in (
        "b.png",
        "a.JPG",
        "sub/c.webp",
        "sub/deeper/d.bmp",
        ".hidden.png",
        ".cache/e.png",
        "sub/.f.png",
        "notes.txt",
        "sub/readme.md",
    ):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    files = expand_inputs([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["a.JPG", "b.png", "sub/c.webp", "sub/deeper/d.bmp"]
    # files named explicitly are kept whatever their extension (they get an error if unreadable)
    assert expand_inputs([tmp_path / "notes.txt", tmp_path / "b.png"]) == [tmp_path / "notes.txt", tmp_path / "b.png"]


def test_special_files_in_a_folder_get_their_own_error_instead_of_vanishing(tmp_path, rgb):
    """A FIFO or a dangling link named like an image, inside a dropped folder, is listed and gets
    its one-line error; it neither hangs the run nor silently disappears from the results."""
    import os

    from PIL import Image

    Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / "good.png")
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "gone.png").symlink_to(tmp_path / "missing.png")
    files = expand_inputs([tmp_path])
    assert sorted(p.name for p in files) == ["gone.png", "good.png", "pipe.jpg"]
    results = {Path(r.path).name: r for r in rgb.predict_paths(files)}
    assert results["good.png"].ok
    assert "not a regular file" in results["pipe.jpg"].error
    assert not results["gone.png"].ok and "\n" not in results["gone.png"].error


def test_folder_prediction_in_several_batches(rgb, tmp_path):
    for i in range(5):
        Image.new("RGB", (16, 16), (i * 50, 0, 0)).save(tmp_path / f"{i}.png")
    progress = []
    results = rgb.predict_paths(
        [tmp_path], batch_size=2, keep_inputs=True, progress=lambda done, total: progress.append((done, total))
    )
    assert len(results) == 5 and progress[-1] == (5, 5)
    for r in results:
        _assert_valid(r)
        assert r.input_image.shape == (16, 16, 3)
    # batching does not change the answers
    single = [rgb.predict_paths([r.path])[0] for r in results]
    for a, b in zip(results, single, strict=True):
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)


# ---------------------------------------------------------------------------- probabilities, TTA, Grad-CAM
@pytest.mark.parametrize("tta", [0, 1, 2])
def test_tta_levels_give_valid_probabilities(rgb, tta):
    images = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    probs = rgb.predict_arrays(images, tta=tta)
    assert probs.shape == (4, 3) and np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


def test_tta_level_1_is_the_mean_over_the_mirror_image(rgb):
    images = np.random.default_rng(1).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = (x - 0.5 * 255) / (0.25 * 255)
    with torch.no_grad():
        expected = ((rgb.model(x) + rgb.model(x.flip(3))) / 2).softmax(1).numpy()
    np.testing.assert_allclose(rgb.predict_arrays(images, tta=1), expected, atol=1e-5)


def test_level_1_reuses_the_unknown_scores_mirror_pass_with_the_same_answer(rgb):
    images = np.random.default_rng(2).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    expected = rgb.predict_arrays(images, tta=1)  # tta_logits' own mirror pass
    shared = copy.copy(rgb)
    shared.detector = UnknownDetector(method="feature_norm_mirror", threshold=0.0)
    probs, scores, finite = shared.classify_arrays(images, tta=1)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    assert finite.all() and np.isfinite(scores).all()


def test_photos_default_to_the_mirror_average_and_say_so(rgb, tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path)
    (default,) = rgb.predict_paths([path])
    (level_1,) = rgb.predict_paths([path], tta=1)
    assert DEFAULT_PHOTO_TTA == 1 and default.tta == 1 and default.probabilities == level_1.probabilities
    (plain,) = rgb.predict_paths([path], tta=0)
    assert plain.probabilities != default.probabilities
    assert rgb.source == "(in memory)"  # this fixture's checkpoint was never saved
    row = default.to_dict()
    assert (row["checkpoint"], row["view"], row["tta"]) == (rgb.source, "full", 1)


def test_trained_model_predicts_the_colour(tiny_checkpoint, tmp_path):
    predictor = Predictor(tiny_checkpoint)
    assert predictor.classes == ["blue", "green", "red"]
    paths = []
    for name, colour in (("r.png", (210, 40, 40)), ("g.png", (40, 210, 40)), ("b.png", (40, 40, 210))):
        Image.new("RGB", (64, 64), colour).save(tmp_path / name)
        paths.append(tmp_path / name)
    tops = [r.top for r in predictor.predict_paths(paths, tta=2)]
    assert tops == ["red", "green", "blue"]


def test_uncertain_flag():
    p = Prediction("x.png", {"a": 0.4, "b": 0.35, "c": 0.25})
    assert p.uncertain and p.confidence == 0.4 and LOW_CONFIDENCE > 0.4
    assert not Prediction("x.png", {"a": 0.9, "b": 0.1}).uncertain
    assert not Prediction("x.png", error="broken").uncertain


def test_explain_returns_a_normalised_map(rgb, tmp_path):
    path = tmp_path / "e.png"
    _halves(RED, BLUE, (16, 16)).save(path)
    heat, cls = rgb.explain(rgb.prepare(path))
    assert heat.shape == (16, 16) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() <= 1 and np.isfinite(heat).all()
    assert 0 <= cls < 3
    heat2, cls2 = rgb.explain(rgb.prepare(path), class_index=2)
    assert cls2 == 2 and heat2.shape == (16, 16)
    # explaining leaves the model usable for plain prediction
    _assert_valid(rgb.predict_paths([path])[0])


def test_predictor_from_a_path_and_missing_default(tmp_path, monkeypatch):
    path = save_checkpoint(_ck(), tmp_path / "m.pt")
    assert Predictor(path).classes == CLASSES
    import engine.paths

    monkeypatch.setattr(engine.paths, "resources_dir", lambda: tmp_path / "no-resources")
    with pytest.raises(CheckpointError) as info:
        Predictor(None)
    assert "no bundled default model" in str(info.value)


def test_load_image_array_from_bytes():
    import io

    buf = io.BytesIO()
    _halves(RED, BLUE, (16, 16)).save(buf, format="PNG")
    arr = load_image_array(buf.getvalue(), (8, 8), 3, name="upload.png")
    assert arr.shape == (8, 8, 3) and _close(arr[0, 4], RED)
    with pytest.raises(ImageError) as info:
        load_image_array(b"garbage", (8, 8), 3, name="upload.png")
    assert str(info.value).startswith("upload.png:")


def test_evaluation_reports_progress_and_can_be_cancelled(tiny_checkpoint, tmp_path):
    from conftest import write_image_folder

    from engine.errors import Cancelled
    from engine.evaluation.run import evaluate_checkpoint

    data = write_image_folder(tmp_path / "data", per_class=6)
    stages = []
    report = evaluate_checkpoint(
        tiny_checkpoint,
        str(data),
        device="cpu",
        batch_size=4,
        progress=lambda done, total, stage: stages.append((stage, done, total)),
    )
    evaluating = [s for s in stages if s[0] == "evaluating"]
    assert evaluating and evaluating[-1][1] == evaluating[-1][2] == -(-len(report.result.labels) // 4)
    with pytest.raises(Cancelled):
        evaluate_checkpoint(tiny_checkpoint, str(data), device="cpu", should_stop=lambda: True)


def test_cli_progress_bar_draws_on_a_terminal_only():
    import io

    from engine.cli.stage_progress import StageProgress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Terminal(), io.StringIO()
    for out in (tty, pipe):
        bar = StageProgress(file=out)
        for i in range(1, 5):
            bar(i, 4, "evaluating")
        assert bar.bar.disable == (out is pipe)
        if out is tty:
            assert bar.bar.n == 4 and bar.bar.total == 4
        bar.close()
    assert "evaluating" in tty.getvalue() and "/4" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_small_cpu_batches_run_in_nchw_large_ones_channels_last():
    """The layout follows the batch (measured: channels-last halves a single photo's speed on the
    CPU, and speeds up batches of 16 and more); the logits do not depend on it."""
    import torch

    from engine.evaluation.metrics import CHANNELS_LAST_MIN_CPU_BATCH, batch_layout

    small = batch_layout(torch.randn(2, 3, 8, 8).contiguous(memory_format=torch.channels_last))
    big = batch_layout(torch.randn(CHANNELS_LAST_MIN_CPU_BATCH, 3, 8, 8))
    assert small.is_contiguous() and not small.is_contiguous(memory_format=torch.channels_last)
    assert big.is_contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(3, 4, 3)
    x = torch.randn(CHANNELS_LAST_MIN_CPU_BATCH, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(conv(batch_layout(x)), conv(x.contiguous()), rtol=1e-4, atol=1e-5)


def test_one_verdict_and_one_line_for_every_view_of_an_answer():
    """The Predict and Teach lists, the table, the detail view and the CLI read this judgement
    (engine.inference.prediction) instead of deciding "unknown" or "low confidence" each."""
    sure = Prediction("a.jpg", {"cat": 0.93, "dog": 0.07})
    unsure = Prediction("b.jpg", {"cat": 0.41, "dog": 0.35, "frog": 0.24}, unknown=False)
    flagged = Prediction("c.jpg", {"cat": 0.41, "dog": 0.59}, unknown=True, looks_like="tabby cat")
    older = Prediction("d.jpg", {"cat": 0.41, "dog": 0.59}, unknown=True)  # no looks-like label
    broken = Prediction("x.jpg", error="x.jpg: truncated")
    assert [p.verdict for p in (sure, unsure, flagged, older, broken)] == [
        "confident", "uncertain", "unknown", "unknown", "error"
    ]  # fmt: skip
    assert sure.answer() == "cat 93%"
    assert unsure.answer() == "cat 41% (low confidence)"
    assert flagged.answer() == "Probably none of these: looks like a tabby cat"
    # flagged as none of the classes: no percentage beside a class the model does not believe in
    assert older.answer() == "Probably none of these (closest: dog)"
    assert broken.answer() == "⚠ x.jpg: truncated"
