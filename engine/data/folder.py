"""Image folders (one sub-folder per class) and ``.zip`` archives of them.

Accepted layouts, at the root or under one top-level folder::

    cats/x.jpg dogs/y.png                   -> one pool; a validation split is held out later
    train/cats/x.jpg test/cats/z.jpg        -> the splits as given (val/ and/or test/)
    test/cats/z.jpg (no train/)             -> a test split alone (to evaluate on), not a class "test"

Decoding reads each file once, straight from the folder or the zip's bytes (no temporary
files), on a thread pool (Pillow releases the GIL while decoding). Small images (CIFAR,
MNIST-sized) are kept as decoded while the common size is chosen; larger ones are read
again at the chosen size, JPEGs at a reduced scale that stays at least twice that size.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import Cancelled, DataError, ImageError
from ..imaging.decode import decode_array
from ..imaging.photo import DEFAULT_VIEW
from .cache import cache_key, load_cached, store_cached
from .dataset import Dataset, ImageSet, LoadSummary
from .listing import Listing

__all__ = ["load_image_folder"]

_logger = logging.getLogger(__name__)

TRAIN_NAMES = {"train", "training"}
TEST_NAMES = {"test", "testing"}
VAL_NAMES = {"val", "valid", "validation"}
HELD_NAMES = TEST_NAMES | VAL_NAMES
SPLIT_NAMES = TRAIN_NAMES | HELD_NAMES
DEFAULT_SIZE = 32
NATIVE_PIXELS = 128 * 128  # images up to this size stay decoded while the common size is chosen


def _split_of(folder: str) -> str | None:
    low = folder.lower()
    return "train" if low in TRAIN_NAMES else "test" if low in TEST_NAMES else "val" if low in VAL_NAMES else None


def _strip_common_root(names: list[str]) -> tuple[str, list[tuple[str, ...]]]:
    """Drop container folders ("cifar/airplane/x.jpg" -> ("airplane", "x.jpg")).

    A lone ``train/`` folder is a container too: without a test split beside it, its
    sub-folders are the classes. A lone ``test/`` or ``val/`` is a split (see :func:`_plan`).
    Names are split on "/" (the listing's names are normalised): fast for 50,000 files.
    """
    paths = [tuple(n.split("/")) for n in names]
    root: list[str] = []
    while paths:
        firsts = {p[0] for p in paths}
        if len(firsts) != 1 or any(len(p) < 3 for p in paths):
            break
        first = next(iter(firsts))
        if first.lower() in HELD_NAMES:
            break
        root.append(first)
        paths = [p[1:] for p in paths]
    return "/".join(root), paths


def _plan(src: Listing) -> tuple[dict[str, list[tuple[str, str]]], list[str], dict[str, str]]:
    """Map split -> [(file name, class)], the class list and files skipped for their place.

    Splits are read as splits when the top folders are ``train/`` with ``val/`` and/or
    ``test/``, or only ``val/`` and/or ``test/`` (a test set on its own); otherwise the top
    folders are classes and everything is one pool ("all").
    """
    root, rel = _strip_common_root(src.files)
    skipped: dict[str, str] = {}
    firsts = {p[0].lower() for p in rel if len(p) > 1}
    has_splits = bool(firsts & TRAIN_NAMES) and bool(firsts & HELD_NAMES)
    held_only = bool(firsts) and firsts <= HELD_NAMES
    split_layout = has_splits or held_only
    plan: dict[str, list[tuple[str, str]]] = {}
    for name, parts in zip(src.files, rel):
        if split_layout:
            split = _split_of(parts[0]) if len(parts) > 1 else None
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
    # Class folders come from the directory tree too, so empty classes are reported. With
    # train/ they are train/'s sub-folders; a test set on its own names them in its splits.
    class_splits = {"train"} if has_splits else {"test", "val"} if held_only else {"all"}
    prefix = f"{root}/" if root else ""
    class_dirs = set()
    for d in src.dirs:
        if not d.startswith(prefix):
            continue
        parts = tuple(d[len(prefix) :].split("/"))
        if split_layout and len(parts) == 2 and _split_of(parts[0]) in class_splits:
            class_dirs.add(parts[1])
        elif not split_layout and len(parts) == 1 and parts[0].lower() not in SPLIT_NAMES:
            class_dirs.add(parts[0])
    classes = sorted(class_dirs | {c for s in class_splits for _, c in plan.get(s, [])})
    return plan, classes, skipped


# Below this median file size decoding is mostly Python (Pillow's JPEG header parsing, the
# framing), so threads only take turns at the GIL and lose time handing it over: the shared
# CIFAR-10 archive (0.9 KB JPEGs) loaded in 4.4-4.6 s on one thread and 5.9-6.2 s on two; 64-96 px
# JPEGs (2.5-4.4 KB) tied (2-core machine, `python -m engine bench --skip throughput --skip
# accuracy --skip peer` for the archive). Larger files, photos above all, decode on every core.
SMALL_FILE_BYTES = 16_000


def _decode_workers(src: Listing, workers: int | None) -> int | None:
    """``workers`` when given; else one thread for folders of small files, all cores otherwise."""
    if workers:
        return workers
    sizes = sorted(entry[1] for entry in src.fingerprint)  # (name, size, ...) for zips and folders
    return 1 if sizes and sizes[len(sizes) // 2] < SMALL_FILE_BYTES else None


def _cores() -> int:
    """CPUs this process may use (its affinity where the OS has one: containers, taskset)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 2


def _run(fn, items: list, chunk: int, workers: int | None, stage: str, progress=None, should_stop=None) -> list:
    """``fn(list_of_items) -> list_of_results`` over chunks on a thread pool, results in order.

    Reports ``progress(done, total, stage)`` per chunk; ``should_stop()`` returning True
    cancels what has not started and raises :class:`Cancelled` once the running chunks (a
    few images each) are done.
    """
    out: list = []
    total = len(items)
    pool = ThreadPoolExecutor(max_workers=workers or _cores())
    try:
        futures = [pool.submit(fn, items[i : i + chunk]) for i in range(0, total, chunk)]
        for future in futures:
            if should_stop is not None and should_stop():
                raise Cancelled("loading cancelled")
            out.extend(future.result())
            if progress is not None:
                progress(len(out), total, stage)
    finally:
        # Queued chunks are dropped; running ones (small) finish before the files are closed.
        pool.shutdown(wait=True, cancel_futures=True)
    return out


def _reason(exc: Exception) -> str:
    """The one-line skip reason: an ImageError's text after its file label, or the exception's first line."""
    if isinstance(exc, ImageError):
        return str(exc).split(": ", 1)[-1]
    lines = str(exc).strip().splitlines()
    return f"unreadable ({type(exc).__name__}: {lines[0][:160] if lines else 'no details'})"


def decode_for_training(path: str | Path, image_size: int) -> np.ndarray:
    """One photo as an image-folder dataset at ``image_size`` holds it: uint8 (H, W, 3).

    The same call as the loader's per-file decode (framing, reduced decode, limits), so the
    Teach tab's background feature extraction and a later training run see identical pixels.
    Raises :class:`ImageError` with one line for an unreadable file.
    """
    name = Path(path).name
    arr, _shape, channels = decode_array(
        Path(path), (image_size, image_size), name, 2 * image_size, NATIVE_PIXELS, DEFAULT_VIEW
    )
    return np.repeat(arr, 3, axis=2) if channels == 1 else arr


def _decoder(src: Listing, size: tuple[int, int] | None):
    """Per-chunk decoding; each file's failure is that file's skip reason, never the batch's."""
    min_side = 2 * max(size) if size else None

    def one(name: str):
        # Framed as predict frames a photo by default, so a folder-trained model sees photos alike.
        return decode_array(src.source(name), size, PurePosixPath(name).name, min_side, NATIVE_PIXELS, DEFAULT_VIEW)

    def decode(names: list[str]) -> list:
        out = []
        for name in names:
            try:
                out.append(one(name))
            except Exception as exc:  # the one boundary per file: ImageError, or anything unforeseen
                out.append(_reason(exc))
        return out

    return decode


def _choose_size(shapes: list[tuple[int, int]], image_size: int | None) -> tuple[int, int]:
    if image_size:
        return (image_size, image_size)
    sizes = Counter(shapes)
    return next(iter(sizes)) if len(sizes) == 1 else (DEFAULT_SIZE, DEFAULT_SIZE)


def _decode_all(src, names, image_size, workers, progress, should_stop):
    """name -> uint8 (H, W, C) array at one size and channel count, plus skipped name -> reason."""
    size = (image_size, image_size) if image_size else None
    first = _run(_decoder(src, size), names, 256 if size is None else 32, workers, "decoding", progress, should_stop)
    skipped = {n: r for n, r in zip(names, first) if isinstance(r, str)}
    good = {n: r for n, r in zip(names, first) if not isinstance(r, str)}
    if not good:
        return {}, skipped, 3
    size = _choose_size([shape for _, shape, _ in good.values()], image_size)
    channels = 1 if all(c == 1 for _, _, c in good.values()) else 3
    again = [n for n, (arr, shape, _) in good.items() if arr is None or shape != size]
    if again:  # larger (or differently sized) images, read once more at the chosen size
        redone = _run(_decoder(src, size), again, 8, workers, f"decoding at {size[0]}x{size[1]}", progress, should_stop)
        for name, r in zip(again, redone):
            if isinstance(r, str):
                skipped[name] = r
                del good[name]
            else:
                good[name] = r
    arrays = {}
    for name, (arr, _, c) in good.items():
        arrays[name] = np.repeat(arr, 3, axis=2) if channels == 3 and c == 1 else arr
    return arrays, skipped, channels


def load_image_folder(
    path: str | Path,
    image_size: int | None = None,
    workers: int | None = None,
    use_cache: bool = True,
    progress=None,
    should_stop=None,
) -> Dataset:
    """Load a class-per-folder image tree or zip: train, plus val/test when the layout has them.

    A test set on its own (only ``test/`` or ``val/``) gives an empty train split.
    ``progress(done, total, stage)`` is called as files are decoded (stage "decoding", then
    "decoding at HxW" for larger images read again at the chosen size); ``should_stop()``
    can cancel (raises :class:`Cancelled`).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    try:
        src = Listing(path)
    except PermissionError:
        raise DataError(f"{path}: permission denied") from None
    except OSError as exc:
        raise DataError(f"{path}: not readable ({exc.strerror or exc})") from None
    with closing(src):  # the archive's file handle, not left to the garbage collector
        # The view is part of the key: resized photos are framed as predict frames them.
        parts = (str(path.resolve()), src.fingerprint, sorted(src.skipped.items()), image_size, DEFAULT_VIEW)
        key = cache_key("folder", *parts)
        if use_cache and (cached := load_cached(key)) is not None:
            _logger.info("loaded %s from the decoded-image cache", path)
            return cached
        plan, classes, skipped = _plan(src)
        skipped = {**src.skipped, **skipped}
        if not classes:
            raise DataError(f"{path}: no class folders with images found (expected one sub-folder per class)")
        jobs = [(split, name, cls) for split, items in plan.items() for name, cls in items]
        names = [j[1] for j in jobs]
        arrays, bad, _channels = _decode_all(
            src, names, image_size, _decode_workers(src, workers), progress, should_stop
        )
    skipped.update(bad)
    if not arrays:
        raise DataError(f"{path}: none of the {len(jobs)} files could be read as images")
    ds = _assemble(path, classes, jobs, arrays, skipped, "train" in plan)
    for line in ds.summary.lines():
        _logger.warning("%s: %s", path.name, line)
    if use_cache:
        store_cached(key, ds)
    return ds


def _assemble(path: Path, classes, jobs, arrays: dict, skipped: dict, has_train: bool) -> Dataset:
    """Stack the decoded arrays into the splits; classes without training images are reported."""
    index = {c: i for i, c in enumerate(classes)}
    per_split: dict[str, tuple[list, list]] = {}
    for split, name, cls in jobs:
        if name not in arrays:
            continue
        if cls not in index:
            skipped[name] = f"class {cls!r} has no folder in train/"
            continue
        imgs, labels = per_split.setdefault(split, ([], []))
        imgs.append(arrays.pop(name))
        labels.append(index[cls])
    splits = {k: ImageSet(np.stack(v[0]), np.array(v[1], dtype=np.int64)) for k, v in per_split.items()}
    train = splits.get("all") or splits.get("train")
    if train is None:
        if has_train or not splits:
            raise DataError(f"{path}: the train/ folder has no readable images")
        shape = next(iter(splits.values())).images.shape[1:]
        train = ImageSet(np.zeros((0, *shape), np.uint8), np.zeros(0, np.int64))  # a test set on its own
    counted = train if len(train) else ImageSet(*_concat([s for s in splits.values() if len(s)]))
    counts = counted.class_counts(len(classes))
    summary = LoadSummary(skipped, [c for c, n in zip(classes, counts) if n == 0])
    return Dataset(path.name, classes, train, splits.get("val"), splits.get("test"), summary)


def _concat(sets: list[ImageSet]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([s.images for s in sets]), np.concatenate([s.labels for s in sets])
