"""Image folders (one sub-folder per class) and ``.zip`` archives of them.

Accepted layouts, at the root or under one top-level folder::

    cats/x.jpg dogs/y.png                   -> one pool; a validation split is held out later
    train/cats/x.jpg test/cats/z.jpg        -> the splits as given (val/ and/or test/)
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import Cancelled, DataError, ImageError
from ..images import GRAY_MODES, image_to_array, open_image, probe_image
from .cache import cache_key, load_cached, store_cached
from .dataset import Dataset, ImageSet, LoadSummary

__all__ = ["load_image_folder"]

_logger = logging.getLogger(__name__)

TRAIN_NAMES = {"train", "training"}
TEST_NAMES = {"test", "testing"}
VAL_NAMES = {"val", "valid", "validation"}
HELD_NAMES = TEST_NAMES | VAL_NAMES
DEFAULT_SIZE = 32


class _Source:
    """Uniform access to the files of a folder or a zip: relative posix names and bytes."""

    def __init__(self, path: Path):
        self.path = path
        self.is_zip = path.is_file()
        if self.is_zip:
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise DataError(f"{path}: not a readable folder or .zip archive ({exc})") from None
            infos = self._zip.infolist()
            self.files = [i.filename for i in infos if not i.is_dir()]
            self.dirs = [i.filename.rstrip("/") for i in infos if i.is_dir()]
            self.fingerprint = [(i.filename, i.file_size, i.date_time, i.CRC) for i in infos]
        else:
            self.files, self.dirs, self.fingerprint = [], [], []
            for root, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                rel = Path(root).relative_to(path).as_posix()
                for d in dirnames:
                    self.dirs.append(d if rel == "." else f"{rel}/{d}")
                for f in sorted(filenames):
                    name = f if rel == "." else f"{rel}/{f}"
                    st = os.stat(os.path.join(root, f))
                    self.files.append(name)
                    self.fingerprint.append((name, st.st_size, st.st_mtime_ns))
        # Hidden files and macOS zip metadata are not data; they are not even "skipped".
        # Nor are their folders classes (zips from macOS hold "__MACOSX/" folder entries).
        self.files = [f for f in self.files if not _is_metadata(f)]
        self.dirs = [d for d in self.dirs if not _is_metadata(d)]

    def read(self, name: str) -> bytes:
        if self.is_zip:
            return self._zip.read(name)
        return (self.path / name).read_bytes()


def _is_metadata(name: str) -> bool:
    parts = name.split("/")
    return parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)


def _strip_common_root(names: list[str]) -> tuple[str, list[PurePosixPath]]:
    """Drop container folders ("cifar/airplane/x.jpg" -> "airplane/x.jpg").

    A lone ``train/`` folder is a container too: without a test split beside it, its
    sub-folders are the classes.
    """
    paths = [PurePosixPath(n) for n in names]
    root: list[str] = []
    while paths:
        firsts = {p.parts[0] for p in paths}
        if len(firsts) != 1 or any(len(p.parts) < 3 for p in paths):
            break
        first = next(iter(firsts))
        if first.lower() in HELD_NAMES:
            break
        root.append(first)
        paths = [PurePosixPath(*p.parts[1:]) for p in paths]
    return "/".join(root), paths


def _plan(src: _Source) -> tuple[dict[str, list[tuple[str, str]]], list[str], dict[str, str]]:
    """Map split -> [(file name, class)], the class list and files skipped for their place."""
    root, rel = _strip_common_root(src.files)
    skipped: dict[str, str] = {}
    firsts = {p.parts[0].lower() for p in rel if len(p.parts) > 1}
    has_splits = bool(firsts & TRAIN_NAMES) and bool(firsts & HELD_NAMES)
    plan: dict[str, list[tuple[str, str]]] = {}
    for name, p in zip(src.files, rel):
        parts = p.parts
        if has_splits:
            split = parts[0].lower()
            split = (
                "train"
                if split in TRAIN_NAMES
                else "test"
                if split in TEST_NAMES
                else "val"
                if split in VAL_NAMES
                else None
            )
            parts = parts[1:]
            if split is None:
                skipped[name] = "outside the train/, val/ and test/ folders"
                continue
        else:
            split = "all"
        if len(parts) < 2:
            skipped[name] = "not inside a class folder"
            continue
        plan.setdefault(split, []).append((name, parts[0]))
    # Class folders come from the directory tree too, so empty classes are reported.
    prefix = f"{root}/" if root else ""
    class_dirs = set()
    for d in src.dirs:
        if not d.startswith(prefix):
            continue
        parts = PurePosixPath(d[len(prefix) :]).parts
        if has_splits and len(parts) == 2 and parts[0].lower() in TRAIN_NAMES:
            class_dirs.add(parts[1])
        elif not has_splits and len(parts) == 1 and parts[0].lower() not in HELD_NAMES | TRAIN_NAMES:
            class_dirs.add(parts[0])
    source_split = "train" if has_splits else "all"
    classes = sorted(class_dirs | {c for _, c in plan.get(source_split, [])})
    return plan, classes, skipped


def _run(fn, items, workers, stage: str, progress=None, should_stop=None):
    """``fn`` over ``items`` on a thread pool, reporting ``progress(done, total, stage)``.

    Pillow releases the GIL while decoding, so threads use every core without processes.
    ``should_stop()`` returning True cancels the remaining work and raises :class:`Cancelled`.
    """
    out, total = [], len(items)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        for start in range(0, total, 512):  # chunks: a cancel takes effect within one chunk
            if should_stop is not None and should_stop():
                raise Cancelled("loading cancelled")
            out.extend(pool.map(fn, items[start : start + 512], chunksize=32))
            if progress is not None:
                progress(len(out), total, stage)
    return out


def _attempt(fn):
    """Call ``fn``; return (result, None) or (None, reason) for one unusable file."""
    try:
        return fn(), None
    except ImageError as exc:
        return None, str(exc).split(": ", 1)[-1]
    except OSError as exc:
        return None, f"unreadable ({exc})"


def load_image_folder(
    path: str | Path,
    image_size: int | None = None,
    workers: int | None = None,
    use_cache: bool = True,
    progress=None,
    should_stop=None,
) -> Dataset:
    """Load a class-per-folder image tree or zip; returns train (+ test when the layout has one).

    ``progress(done, total, stage)`` is called as files are read ("checking", "decoding");
    ``should_stop()`` can cancel (raises :class:`Cancelled`).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    src = _Source(path)
    key = cache_key("folder", str(path.resolve()), src.fingerprint, image_size)
    if use_cache and (cached := load_cached(key)) is not None:
        _logger.info("loaded %s from the decoded-image cache", path)
        return cached

    plan, classes, skipped = _plan(src)
    if not classes:
        raise DataError(f"{path}: no class folders with images found (expected one sub-folder per class)")
    jobs = [(split, name, cls) for split, items in plan.items() for name, cls in items]

    # Pass 1 reads headers only, to choose one size and channel count for the whole set
    # without holding full-size photos in memory.
    headers = _run(
        lambda j: _attempt(lambda: probe_image(src.read(j[1]), PurePosixPath(j[1]).name)),
        jobs,
        workers,
        "checking",
        progress,
        should_stop,
    )
    ok = []
    for job, (header, reason) in zip(jobs, headers):
        if header is None:
            skipped[job[1]] = reason
        else:
            ok.append((job, header))
    if not ok:
        raise DataError(f"{path}: none of the {len(jobs)} files could be read as images")
    channels = 1 if all(mode in GRAY_MODES for _, (_, mode) in ok) else 3
    sizes = Counter(wh for _, (wh, _) in ok)
    if image_size:
        size = (image_size, image_size)
    elif len(sizes) == 1:
        w, h = next(iter(sizes))
        size = (h, w)
    else:
        size = (DEFAULT_SIZE, DEFAULT_SIZE)

    # Pass 2 decodes and shrinks each file straight to its small array.
    def decode(job):
        return _attempt(
            lambda: image_to_array(open_image(src.read(job[1]), PurePosixPath(job[1]).name), size, channels)
        )

    arrays = _run(decode, [j for j, _ in ok], workers, "decoding", progress, should_stop)
    index = {c: i for i, c in enumerate(classes)}
    per_split: dict[str, tuple[list, list]] = {}
    for (job, _), (arr, reason) in zip(ok, arrays):
        if arr is None:
            skipped[job[1]] = reason
        elif job[2] not in index:
            skipped[job[1]] = f"class {job[2]!r} has no folder in train/"
        else:
            imgs, labels = per_split.setdefault(job[0], ([], []))
            imgs.append(arr)
            labels.append(index[job[2]])
    splits = {k: ImageSet(np.stack(v[0]), np.array(v[1])) for k, v in per_split.items()}
    train = splits.get("all") or splits.get("train")
    if train is None:
        raise DataError(f"{path}: the train/ folder has no readable images")
    counts = train.class_counts(len(classes))
    summary = LoadSummary(skipped, [c for c, n in zip(classes, counts) if n == 0])
    ds = Dataset(path.name, classes, train, splits.get("val"), splits.get("test"), summary)
    for line in summary.lines():
        _logger.warning("%s: %s", path.name, line)
    if use_cache:
        store_cached(key, ds)
    return ds
