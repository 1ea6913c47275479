"""Dataset folders and zips against hostile content (issue 8 "Datasets", issue 9 items 2 and 3).

Each bad entry is skipped and counted with its reason in the summary; nothing blocks, raises
a traceback, writes outside the output folder or becomes a class named after a path
fragment. Data a model cannot learn from is refused before training with one line.
"""

from __future__ import annotations

import io
import os
import re
import socket
import struct
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import CLASSES, write_image_folder, zip_folder
from PIL import Image

from engine.data import listing
from engine.data.dataset import plural
from engine.data.folder import load_image_folder
from engine.data.sources import load_dataset
from engine.errors import DataError


def _png(colour=(200, 30, 30), size=16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


def _load(path: Path, seconds: float = 60, **kwargs):
    """load_image_folder in a thread, so a blocking read fails the test instead of hanging it."""
    box: dict = {}

    def run():
        try:
            box["ds"] = load_image_folder(path, use_cache=False, **kwargs)
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "loading blocked"
    if "error" in box:
        raise box["error"]
    return box["ds"]


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg
    return msg


# ---------------------------------------------------------------------------- folders
def test_links_loops_fifos_and_devices_are_skipped_with_reasons(tmp_path):
    root = write_image_folder(tmp_path / "data", per_class=3)
    (root / "red" / "loop").symlink_to(root)  # a folder containing itself
    (root / "red" / "self.png").symlink_to(root / "red" / "self.png")  # a link to itself
    (root / "green" / "gone.png").symlink_to(tmp_path / "deleted.png")  # dangling
    os.mkfifo(root / "green" / "pipe.png")
    (root / "blue" / "zero.png").symlink_to("/dev/zero")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(root / "blue" / "sock.png"))
    elsewhere = write_image_folder(tmp_path / "elsewhere", classes=["yellow"], per_class=2)
    (root / "yellow").symlink_to(elsewhere / "yellow")  # a linked class folder is followed
    try:
        ds = _load(root)
    finally:
        sock.close()
    assert ds.classes == sorted([*CLASSES, "yellow"])
    np.testing.assert_array_equal(ds.train.class_counts(4), [3, 3, 3, 2])
    s = ds.summary.skipped
    assert s["red/loop"].startswith("symbolic link loop")
    assert s["red/self.png"] == "symbolic link loop"
    assert s["green/gone.png"].startswith("broken symbolic link")
    assert s["green/pipe.png"] == "not a regular file (a FIFO), not opened"
    assert s["blue/zero.png"] == "not a regular file (a character device), not opened"
    assert s["blue/sock.png"] == "not a regular file (a socket), not opened"
    (line,) = ds.summary.lines()
    assert line.startswith("skipped 6 files (") and "2 symbolic link loop" in line and "3 not a regular file" in line


def test_unreadable_folder_is_skipped_with_its_reason(tmp_path, monkeypatch):
    root = write_image_folder(tmp_path / "data", per_class=2)
    (root / "red" / "private").mkdir()
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("private"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(listing.os, "scandir", scandir)
    ds = _load(root)
    assert ds.summary.skipped == {"red/private": "folder not readable (permission denied)"}
    assert len(ds.train) == 6


# ---------------------------------------------------------------------------- zips
def _zip_of(tmp_path: Path, members: dict[str, bytes], name="data.zip", method=zipfile.ZIP_STORED) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", method) as zf:
        for arc, data in members.items():
            zf.writestr(arc, data)
    return path


def _good_members(per_class=3) -> dict[str, bytes]:
    colours = {"blue": (20, 20, 220), "green": (20, 220, 20), "red": (220, 20, 20)}
    return {f"{c}/{i}.png": _png(rgb) for c, rgb in colours.items() for i in range(per_class)}


def _patch_member(path: Path, name: str, local_at: int, central_at: int, fmt: str, value: int) -> None:
    """Overwrite a field of ``name``'s local header (offset ``local_at``) and central record."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        start = zf.getinfo(name).header_offset
    struct.pack_into(fmt, data, start + local_at, value)
    for m in re.finditer(rb"PK\x01\x02", bytes(data)):
        n = struct.unpack_from("<H", data, m.start() + 28)[0]
        if data[m.start() + 46 : m.start() + 46 + n] == name.encode():
            struct.pack_into(fmt, data, m.start() + central_at, value)
    path.write_bytes(bytes(data))


def test_traversal_names_never_become_classes_and_nothing_is_written(tmp_path):
    members = _good_members()
    evil = {
        "../evil/x.png": _png(),
        "/etc/abs/x.png": _png(),
        "..\\..\\win\\x.png": _png(),
        "red/../../up/x.png": _png(),
        "C:/drive/x.png": _png(),
    }
    (tmp_path / "in").mkdir()
    path = _zip_of(tmp_path / "in", {**members, **evil})
    before = sorted(p.name for p in tmp_path.rglob("*"))
    ds = _load(path)
    assert ds.classes == CLASSES and len(ds.train) == 9
    assert set(ds.summary.skipped) == set(evil)
    assert all(r.startswith("unsafe path in the archive") for r in ds.summary.skipped.values())
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing extracted anywhere
    assert not (tmp_path / "evil").exists() and not Path("/etc/abs").exists()


def test_bad_crc_encrypted_and_unknown_compression_are_skipped(tmp_path):
    members = {**_good_members(), "red/crc.png": _png(), "red/locked.png": _png(), "red/odd.png": _png()}
    path = _zip_of(tmp_path, members)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("red/crc.png")
    at = info.header_offset + 30 + len(info.filename) + 60  # inside the stored PNG bytes
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    _patch_member(path, "red/locked.png", 6, 8, "<H", 0x1)  # general-purpose flag: encrypted
    _patch_member(path, "red/odd.png", 8, 10, "<H", 99)  # compression method 99 (AE-x / unknown)
    ds = _load(path)
    assert len(ds.train) == 9
    s = ds.summary.skipped
    assert s["red/crc.png"] == "damaged zip member (bad CRC)"
    assert s["red/locked.png"].startswith("encrypted zip member")
    assert s["red/odd.png"] == "unsupported zip compression method 99, not read"


def test_zip_bomb_is_capped_by_declared_and_by_actual_size(tmp_path, monkeypatch):
    monkeypatch.setattr(listing, "MAX_MEMBER_BYTES", 50_000)
    big = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)  # ~120 kB PNG
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "PNG")
    members = {
        **_good_members(),
        "red/declared.png": buf.getvalue(),
        "red/bomb.png": bytes(2_000_000),  # deflates to ~2 kB
        "red/liar.png": bytes(20_000),
    }
    path = _zip_of(tmp_path, members, method=zipfile.ZIP_DEFLATED)
    _patch_member(path, "red/bomb.png", 22, 24, "<I", 1000)  # claims 1 kB, inflates to 2 MB
    _patch_member(path, "red/liar.png", 22, 24, "<I", 1000)  # claims 1 kB, inflates to 20 kB
    ds = _load(path)
    s = ds.summary.skipped
    assert s["red/declared.png"].startswith("zip member declares 0.1 MB, over the 0.1 MB limit")
    assert s["red/bomb.png"] == "zip member inflates past 0.1 MB (zip bomb?)"  # stopped while inflating
    assert s["red/liar.png"].startswith("damaged zip member")  # more than it declared: refused
    assert len(ds.train) == 9


def test_actual_inflated_size_is_capped_while_reading(tmp_path, monkeypatch):
    path = _zip_of(tmp_path, {**_good_members(), "red/big.png": bytes(10_000)}, method=zipfile.ZIP_DEFLATED)
    src = listing.Listing(path)  # listed under the normal limit ...
    monkeypatch.setattr(listing, "MAX_MEMBER_BYTES", 5_000)  # ... read under a smaller one
    with pytest.raises(Exception, match="inflates past"):
        src.source("red/big.png")


def test_not_a_zip_or_a_mangled_directory_is_one_line(tmp_path):
    path = _zip_of(tmp_path, _good_members())
    data = bytearray(path.read_bytes())
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 20 : cd + 46] = b"\xff" * 26  # garbage sizes and name lengths in the central directory
    path.write_bytes(bytes(data))
    try:
        ds = _load(path)
    except DataError as exc:
        assert _one_line(exc).startswith(str(path))
    else:
        assert len(ds.train) >= 8  # or that one member is skipped


# ---------------------------------------------------------------------------- splits (issue 9 item 2)
@pytest.mark.parametrize("as_zip", [False, True])
@pytest.mark.parametrize("held", ["test", "val"])
def test_a_lone_test_or_val_folder_is_a_split_not_a_class(tmp_path, as_zip, held):
    folder = write_image_folder(tmp_path / "cifar-test" / held, per_class=4)
    src = zip_folder(tmp_path / "cifar-test", tmp_path / "t.zip") if as_zip else tmp_path / "cifar-test"
    ds = load_image_folder(src, use_cache=False)
    assert ds.classes == CLASSES  # not ["test"]
    assert len(ds.train) == 0
    got = ds.test if held == "test" else ds.val
    assert len(got) == 12 and folder.exists()
    np.testing.assert_array_equal(got.class_counts(3), [4, 4, 4])
    # evaluation reads it (for_training=False); training refuses it with one line
    evaluable = load_dataset(str(src), for_training=False)
    assert (evaluable.test if held == "test" else evaluable.val) is not None
    with pytest.raises(DataError) as info:
        load_dataset(str(src))
    assert "no training images" in _one_line(info.value) and "evaluate" in str(info.value)


def test_a_test_split_under_a_container_folder(tmp_path):
    write_image_folder(tmp_path / "d" / "mydata" / "test", per_class=2)
    ds = load_image_folder(tmp_path / "d", use_cache=False)
    assert ds.classes == CLASSES and len(ds.test) == 6 and len(ds.train) == 0


# ---------------------------------------------------------------------------- learnable (issue 9 item 3)
def test_one_class_is_refused_before_training_but_can_be_evaluated(tmp_path):
    write_image_folder(tmp_path / "cats", classes=["cat"], per_class=6)
    with pytest.raises(DataError) as info:
        load_dataset(str(tmp_path / "cats"))
    msg = _one_line(info.value)
    assert "at least two classes" in msg and "'cat'" in msg
    ds = load_dataset(str(tmp_path / "cats"), for_training=False, val_fraction=0.0)
    assert ds.classes == ["cat"] and len(ds.train) == 6
    assert "1 class," in ds.describe() and "1 classes" not in ds.describe()


def test_two_classes_but_one_empty_is_refused(tmp_path):
    write_image_folder(tmp_path / "d", classes=["cat"], per_class=4)
    (tmp_path / "d" / "dog").mkdir()
    with pytest.raises(DataError) as info:
        load_dataset(str(tmp_path / "d"))
    assert "only 'cat' has training images" in _one_line(info.value)


def test_selecting_classes_that_leave_one_with_images_is_refused(image_folder):
    root = image_folder("flat", per_class=4)
    for f in (root / "blue").iterdir():
        f.unlink()
    with pytest.raises(DataError):
        load_dataset(str(root), classes=("blue", "red"))


def test_plural():
    assert [plural(n, "class") for n in (0, 1, 2)] == ["0 classes", "1 class", "2 classes"]
    assert plural(1, "file") == "1 file" and plural(3, "image") == "3 images"


def test_mixed_bad_files_never_stop_the_rest(tmp_path):
    """Every kind of bad file at once, in a folder and in its zip: the good images all load."""
    root = write_image_folder(tmp_path / "data", per_class=5, ext=".jpg")
    (root / "red" / "ps.jpg").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 1 1\n")
    (root / "red" / "empty.png").write_bytes(b"")
    (root / "green" / "cut.gif").write_bytes(b"GIF89a\x10\x00\x10\x00\x80\x00\x00")
    (root / "blue" / "junk.tiff").write_bytes(b"II*\x00" + os.urandom(64))
    for src in (root, zip_folder(root, tmp_path / "data.zip")):
        ds = _load(src)
        assert len(ds.train) == 15 and len(ds.summary.skipped) == 4


@pytest.mark.parametrize("as_zip", [False, True])
def test_evaluate_auto_uses_a_lone_test_folder(tiny_checkpoint, tmp_path, as_zip):
    """CIFAR-10's test split usually arrives as ``test/<class>/...``: evaluated as the test split."""
    from engine.evaluation.run import evaluate_checkpoint

    write_image_folder(tmp_path / "held" / "test", per_class=3)
    data = zip_folder(tmp_path / "held", tmp_path / "held.zip") if as_zip else tmp_path / "held"
    report = evaluate_checkpoint(tiny_checkpoint, str(data), split="auto", device="cpu")
    assert report.split.startswith("test split") and "(9 images)" in report.split
    assert report.result.confusion.sum() == 9


def test_a_link_to_a_huge_tree_is_bounded(tmp_path, monkeypatch):
    """A class folder linked to "/" (or any huge tree) stops at the depth and entry limits."""
    root = write_image_folder(tmp_path / "data", per_class=2)
    deep = tmp_path / "deep"
    (deep / "/".join("d" * 10)).mkdir(parents=True)
    (root / "red" / "deep").symlink_to(deep)
    monkeypatch.setattr(listing, "MAX_DEPTH", 5)
    ds = _load(root)
    assert len(ds.train) == 6
    assert any(r.startswith("folder nested over 5 deep") for r in ds.summary.skipped.values())
    monkeypatch.setattr(listing, "MAX_ENTRIES", 5)
    with pytest.raises(DataError) as info:
        _load(root)
    assert "more than 5 files and folders" in _one_line(info.value)
