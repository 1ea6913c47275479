"""The checkpoint format: round trips, wrapper prefixes, and one-line refusals of files that
are not usable checkpoints (loading never runs code)."""

from __future__ import annotations

import os
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.checkpoints.format import (
    FORMAT,
    FORMAT_VERSION,
    Checkpoint,
    clean_state_dict,
    half_precision,
    load_checkpoint,
    save_checkpoint,
)
from engine.errors import CheckpointError, DiskFull
from engine.models import create_model


def _checkpoint(arch="tutorial_net", classes=("cat", "dog", "frog"), channels=3, size=(16, 16), **kw) -> Checkpoint:
    torch.manual_seed(0)
    model = create_model(arch, num_classes=len(classes), in_channels=channels)
    return Checkpoint(
        path=None,
        arch=arch,
        arch_args={},
        state_dict=model.state_dict(),
        classes=list(classes),
        mean=[0.5] * channels,
        std=[0.25] * channels,
        input_size=size,
        channels=channels,
        **kw,
    )


def _payload(**changes) -> dict:
    payload = _checkpoint().to_payload()
    payload.update(changes)
    return payload


def _refused(path: Path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path).build_model()
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert msg.startswith(f"{path.name}:"), msg
    return msg


# ---------------------------------------------------------------------------- round trip
def test_round_trip_gives_the_same_model_and_metadata(tmp_path):
    history = [{"epoch": 1, "train_loss": 1.0, "val_acc": 0.5}, {"epoch": 2, "train_loss": 0.5, "val_acc": 0.75}]
    config = {"model": "tutorial_net", "lr": 0.1, "augment": {"flip": True}}
    ck = _checkpoint(config=config, history=history, epoch=2, best_val_acc=0.75, val_acc=0.75)
    path = save_checkpoint(ck, tmp_path / "model.pt")
    back = load_checkpoint(path)
    assert back.path == path
    assert back.arch == "tutorial_net" and back.classes == ["cat", "dog", "frog"]
    assert back.mean == [0.5] * 3 and back.std == [0.25] * 3
    assert back.input_size == (16, 16) and back.channels == 3
    assert back.config == config and back.history == history
    assert back.epoch == 2 and back.best_val_acc == 0.75 and back.val_acc == 0.75
    assert back.train_state is None
    assert set(back.versions) >= {"cifar_studio", "torch"}
    assert all(type(v) is str for v in back.versions.values())  # plain data, loadable with weights_only
    x = torch.randn(4, 3, 16, 16)
    original = create_model("tutorial_net", num_classes=3)
    original.load_state_dict(ck.state_dict)
    original.eval()
    model = back.build_model()
    assert not model.training
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x))
    assert "tutorial_net" in back.summary() and "75.00%" in back.summary()


def test_half_precision_copy_is_half_the_size_and_predicts_the_same(tmp_path):
    ck = _checkpoint(arch="fastnet", size=(32, 32), train_state={"optimizer": {"step": torch.tensor(3)}})
    full = save_checkpoint(replace(ck, train_state=None), tmp_path / "full.pt")
    half = save_checkpoint(half_precision(ck), tmp_path / "half.pt")
    back = load_checkpoint(half)
    assert back.train_state is None
    floats = [v for v in back.state_dict.values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    assert all(v.dtype == ck.state_dict[k].dtype for k, v in back.state_dict.items() if not v.is_floating_point())
    assert half.stat().st_size < 0.55 * full.stat().st_size
    model = back.build_model()
    assert all(p.dtype == torch.float32 for p in model.parameters())  # loaded into the fp32 architecture
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x).softmax(1), ck.build_model()(x).softmax(1), atol=2e-3, rtol=0)
    assert ck.state_dict[next(iter(ck.state_dict))].dtype == torch.float32  # the original is untouched


def test_payload_is_plain_data_for_weights_only_loading(tmp_path):
    path = save_checkpoint(_checkpoint(), tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == FORMAT and payload["format_version"] == FORMAT_VERSION
    assert payload["arch"] == {"name": "tutorial_net", "args": {}}
    assert payload["input"] == {"height": 16, "width": 16, "channels": 3}
    assert type(payload["versions"]["torch"]) is str


def test_trained_checkpoint_loads(tiny_checkpoint):
    ck = load_checkpoint(tiny_checkpoint)
    assert ck.config["model"] == "tutorial_net" and ck.history
    assert all(type(v) is str for v in ck.versions.values())
    ck.build_model()


def test_wrapper_prefixes_are_stripped(tmp_path):
    ck = _checkpoint()
    plain = ck.state_dict
    ck.state_dict = {f"module._orig_mod.{k}": v for k, v in plain.items()}
    path = save_checkpoint(ck, tmp_path / "wrapped.pt")
    model = load_checkpoint(path).build_model()
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, plain[k])
    assert clean_state_dict({"_orig_mod.module.a": 1, "features._orig_mod.b": 2}) == {"a": 1, "features.b": 2}


def test_arch_args_are_used(tmp_path):
    model = create_model("tutorial_net_wide", num_classes=2, width=8)
    ck = Checkpoint(
        None, "tutorial_net_wide", {"width": 8}, model.state_dict(), ["a", "b"], [0.0] * 3, [1.0] * 3, (32, 32), 3
    )
    back = load_checkpoint(save_checkpoint(ck, tmp_path / "w.pt"))
    assert back.arch_args == {"width": 8}
    back.build_model()


def test_grayscale_checkpoint(tmp_path):
    path = save_checkpoint(_checkpoint("lenet5", channels=1, size=(28, 28)), tmp_path / "g.pt")
    model = load_checkpoint(path).build_model()
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 3)


# ---------------------------------------------------------------------------- refusals
def test_random_bytes(tmp_path):
    path = tmp_path / "random.pt"
    path.write_bytes(os.urandom(4096))
    _refused(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    _refused(path)


def test_truncated_checkpoint(tmp_path):
    path = save_checkpoint(_checkpoint(), tmp_path / "cut.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in _refused(path)


def test_text_file(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("model weights are in the other folder\n")
    _refused(path)


def test_plain_state_dict_is_not_our_format(tmp_path):
    path = tmp_path / "state_dict.pth"
    torch.save(create_model("tutorial_net").state_dict(), path)
    assert "not a CIFAR Studio checkpoint" in _refused(path)


def test_missing_file_and_folder(tmp_path):
    assert "no such file" in _refused(tmp_path / "missing.pt")
    (tmp_path / "dir.pt").mkdir()
    _refused(tmp_path / "dir.pt")


class _Exploit:
    """Unpickling this would create a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["pickle-protocol-2", "pickle-default", "torch.save"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, writer):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    payload = _payload(extra=_Exploit(marker))
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f, protocol=2 if writer == "pickle-protocol-2" else pickle.DEFAULT_PROTOCOL)
    msg = _refused(path)
    assert "refused" in msg
    assert not marker.exists()
    if writer != "torch.save":  # sanity: the exploit does work when unpickled unsafely
        with open(path, "rb") as f:
            pickle.load(f)
        assert marker.exists(), "the test exploit is not effective"


def test_unknown_architecture(tmp_path):
    path = tmp_path / "arch.pt"
    torch.save(_payload(arch={"name": "resnet9000", "args": {}}), path)
    assert "resnet9000" in _refused(path)


def test_newer_format_version(tmp_path):
    path = tmp_path / "future.pt"
    torch.save(_payload(format_version=FORMAT_VERSION + 1), path)
    assert "newer" in _refused(path)


def test_weights_that_do_not_fit_the_architecture(tmp_path):
    path = tmp_path / "mismatch.pt"
    torch.save(_payload(arch={"name": "lenet5", "args": {}}), path)
    assert "lenet5" in _refused(path)
    wrong_classes = _checkpoint()
    wrong_classes.classes = ["a", "b"]  # 3 outputs in the weights, 2 class names
    path2 = save_checkpoint(wrong_classes, tmp_path / "classes.pt")
    _refused(path2)


def test_missing_required_keys(tmp_path):
    payload = _payload()
    del payload["classes"]
    path = tmp_path / "partial.pt"
    torch.save(payload, path)
    assert "classes" in _refused(path)


@pytest.mark.parametrize(
    "changes",
    [
        {"arch": "tutorial_net"},
        {"arch": {"args": {}}},
        {"arch": {"name": "tutorial_net", "args": ["x"]}},
        {"format_version": "2"},
        {"input": {"height": 16}},
        {"normalization": {"mean": [0.5] * 3}},
        {"classes": "cat"},
        {"state_dict": [1, 2, 3]},
        {"epoch": "three"},
    ],
)
def test_malformed_metadata(tmp_path, changes):
    path = tmp_path / "odd.pt"
    torch.save(_payload(**changes), path)
    _refused(path)


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_checkpoint(_checkpoint(), tmp_path / "keep.pt")
    before = path.read_bytes()

    def disk_full(obj, f, *args, **kwargs):
        f.write(b"PK partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(DiskFull, match=r"^disk full: cannot write keep\.pt"):
        save_checkpoint(_checkpoint(epoch=5), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pt"]


def test_saved_file_is_readable_by_others(tmp_path):
    """The temporary file is renamed into place: it must not keep mkstemp's private 0600 mode."""
    old = os.umask(0o022)
    try:
        path = save_checkpoint(_checkpoint(), tmp_path / "shared.pt")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_copy_keeps_working(tmp_path, tiny_checkpoint):
    copy = tmp_path / "renamed model.pt"
    shutil.copy(tiny_checkpoint, copy)
    assert load_checkpoint(copy).path == copy


# ---------------------------------------------------------------------------- everything declared is checked
def _save_payload(tmp_path: Path, name: str = "odd.pt", **changes) -> Path:
    path = tmp_path / name
    torch.save(_payload(**changes), path)
    return path


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    """Whatever the first byte (a pickle's PROTO opcode included), random bytes are "not a
    checkpoint", never "contains Python objects" (issue 9, item 12)."""
    rng = np.random.default_rng(12)  # seeded: a few random tails happen to parse as a short pickle
    for i, head in enumerate((b"", b"\x80\x02", b"\x80\x04", b"PK\x03\x04")):
        for _ in range(8):
            path = tmp_path / f"random{i}.pt"
            path.write_bytes(head + rng.bytes(4096))
            msg = _refused(path)
            # random bytes after a PROTO opcode can parse as a tiny pickle of plain data ("not a
            # CIFAR Studio checkpoint"); never as one that carries code
            assert any(w in msg for w in ("not a checkpoint", "not a CIFAR Studio checkpoint", "damaged")), msg
            assert "Python objects" not in msg, msg


def test_architecture_too_large_is_refused_before_building(tmp_path):
    # A few kilobytes asking for trillions of weights: refused without allocating them.
    path = _save_payload(tmp_path, arch={"name": "tutorial_net_wide", "args": {"width": 1_000_000}})
    msg = _refused(path)
    assert "tutorial_net_wide" in msg and "weights" in msg and "limit" in msg


def test_slow_architecture_build_is_refused(tmp_path, monkeypatch):
    from engine.checkpoints import checks as checkpoint_checks

    monkeypatch.setitem(checkpoint_checks.LIMITS, "build_seconds", 0.0)
    path = _save_payload(tmp_path)
    assert "takes longer than" in _refused(path)


def test_bad_architecture_arguments(tmp_path):
    msg = _refused(_save_payload(tmp_path, arch={"name": "tutorial_net", "args": {"nope": 1}}))
    assert "arch.args" in msg and "tutorial_net takes no argument 'nope'" in msg, msg
    msg = _refused(_save_payload(tmp_path, "a.pt", arch={"name": "tutorial_net", "args": {"width": [1, 2]}}))
    assert "arch.args.width" in msg


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"input": {"height": 16, "width": 16, "channels": 4}}, "input.channels"),
        ({"input": {"height": 0, "width": 16, "channels": 3}}, "input.height"),
        ({"input": {"height": 16, "width": 10**9, "channels": 3}}, "input.width"),
        ({"input": {"height": 16.5, "width": 16, "channels": 3}}, "input"),
        ({"normalization": {"mean": [0.5] * 3, "std": [0.25, 0.0, 0.25]}}, "normalization.std"),
        ({"normalization": {"mean": [0.5] * 3, "std": [0.25, -1.0, 0.25]}}, "normalization.std"),
        ({"normalization": {"mean": [0.5] * 2, "std": [0.25] * 3}}, "normalization.mean"),
        ({"normalization": {"mean": [0.5, float("nan"), 0.5], "std": [0.25] * 3}}, "normalization.mean"),
        ({"normalization": {"mean": [0.5] * 3, "std": [0.25, float("inf"), 0.25]}}, "normalization.std"),
        ({"classes": ["cat", "dog", "cat"]}, "'cat' appears twice"),
        ({"classes": ["cat", 2, "frog"]}, "classes"),
        ({"classes": []}, "classes"),
        ({"classes": ["cat", "dog"]}, "2 classes"),  # the head has 3 outputs
        ({"best_val_acc": "high"}, "best_val_acc"),
        ({"history": {"epoch": 1}}, "history"),
    ],
)
def test_declared_metadata_is_checked(tmp_path, changes, expected):
    path = _save_payload(tmp_path, **changes)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)  # refused at load, before anything is built
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("odd.pt:") and expected in msg, msg


def test_deep_nesting_is_refused(tmp_path):
    deep: list = []
    for _ in range(200):
        deep = [deep]
    msg = _refused(_save_payload(tmp_path, config={"x": deep}))
    assert "nested deeper" in msg


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path, value):
    ck = _checkpoint()
    key = next(k for k, v in ck.state_dict.items() if v.is_floating_point())
    ck.state_dict = {k: v.clone() for k, v in ck.state_dict.items()}
    ck.state_dict[key].view(-1)[0] = value
    msg = _refused(save_checkpoint(ck, tmp_path / "nan.pt"))
    assert "NaN or infinite" in msg and key in msg


def _rewrite_zip(src: Path, dst: Path, change) -> Path:
    """Copy a torch.save zip member by member; ``change(info, data)`` returns (info, data, compress_type)."""
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            info, data, kind = change(info, data)
            zout.writestr(info.filename, data, compress_type=kind)
    return dst


def test_compressed_record_is_refused(tmp_path):
    """A small file whose record inflates to far more than the file: refused from the zip
    directory, before anything is inflated."""
    import zipfile

    src = save_checkpoint(_checkpoint(), tmp_path / "src.pt")
    path = _rewrite_zip(src, tmp_path / "bomb.pt", lambda i, d: (i, d, zipfile.ZIP_DEFLATED))
    assert "compressed" in _refused(path)


def test_record_sizes_beyond_the_file_are_refused(tmp_path, monkeypatch):
    from engine.checkpoints import checks as checkpoint_checks

    path = save_checkpoint(_checkpoint(), tmp_path / "big.pt")
    monkeypatch.setitem(checkpoint_checks.LIMITS, "pickle_bytes", 16)
    assert "metadata record" in _refused(path)


def test_bit_flip_in_weights_is_caught_by_the_crc(tmp_path):
    """torch.load does not check CRCs: a flipped bit in a weight would load silently."""
    import zipfile

    path = save_checkpoint(_checkpoint(), tmp_path / "flip.pt")
    with zipfile.ZipFile(path) as zf:
        info = max(zf.infolist(), key=lambda i: i.file_size)  # the largest tensor record
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.file_size // 2] ^= 0x10
    path.write_bytes(bytes(data))
    assert "checksum" in _refused(path)


def test_a_zip_that_is_not_a_pytorch_file(tmp_path):
    import zipfile

    path = tmp_path / "photos.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("cat/1.png", b"x" * 100)
    assert "not a PyTorch file" in _refused(path)


def test_plain_pickle_without_code_is_not_our_format(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}, protocol=4))
    assert "not a CIFAR Studio checkpoint" in _refused(path)


def test_checkpoint_loads_and_meta_builds_on_many_threads_at_once(tiny_checkpoint):
    """The app loads checkpoints on several threads (Predict and Evaluate pickers, compare): a
    meta-device build changes torch's process-wide default device while it runs, which once
    crashed a parallel torch.load. Both now hold one lock (engine.models.factory.META_LOCK)."""
    from concurrent.futures import ThreadPoolExecutor

    from engine.models import parameter_count

    expected = load_checkpoint(tiny_checkpoint).classes

    def work(i: int):
        if i % 2:
            return parameter_count("resnet20") > 0
        return load_checkpoint(tiny_checkpoint).classes == expected

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert all(pool.map(work, range(60)))


def test_the_summary_says_how_its_validation_accuracy_was_measured():
    import engine

    ck = engine.load_checkpoint(engine.resources_dir() / "models" / "cifar10_fastnet.pt")
    assert ck.config["tta"] == 2
    assert ck.summary().endswith(f"validation accuracy {ck.val_acc:.2%} (TTA: flips and shifts)")
    photo = engine.load_checkpoint(engine.default_checkpoint_path())  # measured with flips (bundle_fusion.py)
    assert photo.config["tta"] == 1
    assert photo.val_acc is None or photo.summary().endswith(f"validation accuracy {photo.val_acc:.2%} (TTA: flips)")


# ---------------------------------------------------------------------------- issue 21: what metadata may ask for
def _with_metadata_call(tmp_path: Path, call: bytes) -> Path:
    """A real checkpoint whose data.pkl builds ``call`` (pickle opcodes pushing one object) where
    its history held a marker string: the rest of the file is as torch.save wrote it."""
    import zipfile

    marker = "MARKER-" + "x" * 9
    source = _save_payload(tmp_path, "source.pt", history=[marker])
    path = tmp_path / "crafted.pt"
    text = marker.encode()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("/data.pkl"):
                old = b"X" + len(text).to_bytes(4, "little") + text
                assert data.count(old) == 1
                data = data.replace(old, call)
            zout.writestr(info, data)
    return path


def test_metadata_cannot_allocate_before_it_is_checked(tmp_path, monkeypatch):
    """``bytearray(3000000000)`` is 20 bytes of pickle that torch's weights-only loader allows:
    it took 3.6 GB before the file was refused. Now it is refused before unpickling."""
    import struct

    size = 300_000_000  # smaller than the report's 3 GB, still far over anything a checkpoint holds
    call = b"cbuiltins\nbytearray\nJ" + struct.pack("<i", size) + b"\x85R"
    path = _with_metadata_call(tmp_path, call)
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    msg = _refused(path)
    assert "bytearray" in msg and "refused before loading" in msg, msg
    assert loads == []  # never unpickled: nothing was allocated
    others = (("builtins", "set"), ("collections", "Counter"), ("_codecs", "encode"), ("__builtin__", "bytearray"))
    for module, attr in others:
        path = _with_metadata_call(tmp_path, f"c{module}\n{attr}\n)R".encode())
        assert f"{module}.{attr}" in _refused(path)
    assert loads == []
    path = _with_metadata_call(tmp_path, b"X\x10\x00\x00\x00" + b"y" * 16)  # plain data: loads as before
    assert load_checkpoint(path).history == ["y" * 16]


@pytest.mark.parametrize(
    ("arch", "args", "expected"),
    [
        ("tv:resnet18", {"input_size": 100_000, "pretrained": False}, "input_size must be between 16 and 1024"),
        ("tv:resnet18", {"input_size": "224", "pretrained": False}, "input_size must be a whole number"),
        ("tv:resnet18", {"weights_path": "/etc/passwd", "pretrained": False}, "takes no argument 'weights_path'"),
        ("tutorial_net_wide", {"widht": 32}, "takes no argument 'widht'"),
        ("tutorial_net_wide", {"width": 32.5}, "width must be a whole number"),
        ("lenet5", {"activation": True}, "activation must be text"),
    ],
)
def test_every_declared_model_argument_is_checked(tmp_path, arch, args, expected):
    """A tv:resnet18 checkpoint with matching weights and input_size=100000 made predict allocate
    120 GB: each argument must be one the architecture takes, of its type, in a sane range."""
    model = create_model(arch, num_classes=3, in_channels=3, **{k: v for k, v in args.items() if k == "pretrained"})
    ck = replace(_checkpoint(), arch=arch, arch_args=args, state_dict=model.state_dict())
    path = save_checkpoint(ck, tmp_path / "model.pt")
    msg = _refused(path)
    assert "arch.args" in msg and expected in msg, msg
