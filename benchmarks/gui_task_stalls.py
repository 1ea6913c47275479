"""Event-loop stalls of the real window while it decodes a dataset, classifies a folder of
phone photos and evaluates a checkpoint (the non-training scenarios of gui_responsiveness.py).

Each scenario drives the widgets through their public methods, as a user would with the mouse:
- decode: the Train tab's data panel Load of an archive with an empty decoded-data cache
  (CIFAR_STUDIO_CACHE points at a fresh folder), so it decodes every image first;
- predict: the Predict tab given N phone-sized JPEGs at once (a drop), until all are classified;
- evaluate: the Evaluate tab on the archive's validation split (cache warmed first, unmeasured);
- teach: the Teach tab with a new project, classes added and photos dropped on each (real photos
  from photos-dev, fresh feature cache), until the model is trained and measured: thumbnails,
  feature extraction, training the last layer and the held-out report all run meanwhile.

A 5 ms QTimer ticks throughout; every gap between ticks from the moment the task is started
until 250 ms after it has finished (so the result's layout and paint count too) is a sample.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

STALL_TARGET_MS = 50.0
TICK_MS = 5
SETTLE_MS = 250  # keep measuring after the task: its results are laid out and painted then
SCENARIOS = ("decode", "predict", "evaluate", "teach")
PHOTOS_DEV = Path("/work/shared/datasets/photos-dev")


def gap_stats(gaps: list[float]) -> dict:
    gaps = sorted(gaps)
    return {
        "ticks": len(gaps),
        "longest_stall_ms": round(gaps[-1], 1),
        "p99_gap_ms": round(gaps[int(0.99 * (len(gaps) - 1))], 1),
        "median_gap_ms": round(statistics.median(gaps), 1),
        "gaps_over_50ms": sum(g > STALL_TARGET_MS for g in gaps),
        "target_ms": STALL_TARGET_MS,
    }


# ---------------------------------------------------------------------------- inputs
def subset_archive(archive: Path, per_class: int, out: Path) -> Path:
    """A smaller copy of an image-folder zip: the first ``per_class`` images of each class
    folder (compressed bytes copied as they are), for short runs."""
    out.parent.mkdir(parents=True, exist_ok=True)
    taken: dict[str, int] = {}
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.is_dir():
                continue
            folder = info.filename.rsplit("/", 1)[0]
            if taken.get(folder, 0) < per_class:
                taken[folder] = taken.get(folder, 0) + 1
                dst.writestr(info, src.read(info))
    return out


def phone_photos(folder: Path, count: int, size: tuple[int, int] = (1600, 1200)) -> list[Path]:
    """``count`` JPEGs of ``size`` in ``folder`` (made once, reused): smooth random scenes with
    some grain (so they compress like photos, ~100-300 KB at phone size), plus up to 10 real
    photos from photos-dev when it is there. Never inside the repository."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    real = sorted(p for p in PHOTOS_DEV.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg"})[:10]
    real = real[: max(0, count // 20)]  # a few, never most of a small set
    paths = []
    rng = np.random.default_rng(0)
    w, h = size
    for i in range(count):
        path = folder / f"photo-{i:04d}-{w}x{h}.jpg"
        paths.append(path)
        if path.exists():
            continue
        if i < len(real):
            Image.open(real[i]).convert("RGB").resize(size).save(path, quality=90)
            continue
        coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        scene = np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
        grain = rng.integers(-12, 13, (h, w, 1), dtype=np.int16)
        Image.fromarray(np.clip(scene + grain, 0, 255).astype(np.uint8)).save(path, quality=90)
    return paths


# ---------------------------------------------------------------------------- the harness
def run_in_window(prepare, begin, tmp: Path, timeout_s: float, trace_stalls: Path | None = None) -> dict:
    """Show the real window; once the engine is ready, ``prepare(window, go, fail)`` sets the
    scene and calls ``go()``; then ``begin(window, done, fail)`` starts the measured task and
    calls ``done(**extra)`` when it has finished. With ``trace_stalls`` every thread's stack is
    appended to that file whenever the event loop has not ticked for 50 ms (finds the blocker)."""
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    import gui  # noqa: F401 - its Qt binding work-arounds must come before any Qt call

    app = QApplication.instance() or QApplication([])
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    clock = QElapsedTimer()
    clock.start()
    state = {
        "measuring": False,
        "gaps": [],
        "last": None,
        "t0": None,
        "wall_s": None,
        "error": None,
        "extra": {},
        "late": [],
        "late_ms": [],
        "late_cpu_ms": [],
        "last_cpu": 0.0,
    }

    def now_ms() -> float:
        return clock.nsecsElapsed() / 1e6

    # Cyclic collections run on the GUI thread (gui/background/gui_thread_gc.py): each one's
    # length is recorded, so a stall can be told apart from a long collection.
    collections: list[tuple[int, float]] = []
    started: list[float] = []

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started and state["measuring"]:
            collections.append((info["generation"], (time.perf_counter() - started[0]) * 1000))

    gc.callbacks.append(on_gc)
    trace = open(trace_stalls, "a") if trace_stalls else None  # open for the whole run: faulthandler writes to its fd

    def tick():
        if trace is not None and state["measuring"]:
            faulthandler.dump_traceback_later(STALL_TARGET_MS / 1000, file=trace)  # re-armed by every tick
        now, cpu = now_ms(), time.thread_time() * 1000
        if state["measuring"] and state["last"] is not None:
            state["gaps"].append(now - state["last"])
            if now - state["last"] > STALL_TARGET_MS:  # when: start-up of the task, its middle or its end
                state["late"].append(round(time.perf_counter() - state["t0"], 2))
                state["late_ms"].append(round(now - state["last"], 1))
                # The GUI thread's own CPU time in the gap: small when it was waiting (for the GIL
                # or for a core), large when it was working (layout, painting, a slot).
                state["late_cpu_ms"].append(round(cpu - state["last_cpu"], 1))
        state["last"], state["last_cpu"] = now, cpu

    def fail(message: str):
        state["error"] = state["error"] or message
        QTimer.singleShot(0, app.quit)

    def done(**extra):
        if state["wall_s"] is not None:
            return
        state["wall_s"] = time.perf_counter() - state["t0"]
        state["extra"] = extra

        def stop():
            state["measuring"] = False  # closing the window is not part of the task
            app.quit()

        QTimer.singleShot(SETTLE_MS, stop)

    def go():
        state["measuring"] = True
        state["last"] = now_ms()  # whatever begin() does synchronously counts as a stall
        state["t0"] = time.perf_counter()
        begin(window, done, fail)

    window.engine_ready.connect(lambda _info: prepare(window, go, fail))
    timer = QTimer(interval=TICK_MS, timeout=tick)
    timer.start()
    QTimer.singleShot(int(timeout_s * 1000), lambda: fail(f"not finished within {timeout_s:.0f} s"))
    app.exec()
    timer.stop()
    gc.callbacks.remove(on_gc)
    if trace is not None:
        faulthandler.cancel_dump_traceback_later()
        trace.close()
    if window.engine_info is not None:
        window.predict_tab.shutdown()
        window.evaluate_tab.shutdown()
        window.teach_tab.shutdown()
    window.close()
    if state["error"] or not state["gaps"] or state["wall_s"] is None:
        return {"error": state["error"] or "the task did not start"}
    stats = {
        "wall_s": round(state["wall_s"], 2),
        **gap_stats(state["gaps"]),
        "stalls_at_s": state["late"],
        "stalls_ms": state["late_ms"],
        "stalls_gui_cpu_ms": state["late_cpu_ms"],
        "collections": len(collections),
        "longest_collection_ms": round(max((ms for _, ms in collections), default=0.0), 1),
        "collections_over_50ms": [(g, round(ms, 1)) for g, ms in collections if ms > STALL_TARGET_MS],
    }
    return {**stats, **state["extra"]}


# ---------------------------------------------------------------------------- scenarios
def measure_decode(archive: Path, tmp: Path, timeout_s: float = 900, trace_stalls: Path | None = None) -> dict:
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=tmp))
    os.environ["CIFAR_STUDIO_CACHE"] = str(cache)  # empty: Load has to decode every image

    def prepare(window, go, fail):
        window.tabs.setCurrentWidget(window.train_tab)
        panel = window.train_tab.form.data
        panel.source.set_value(str(archive))
        go()

    def begin(window, done, fail):
        panel = window.train_tab.form.data
        panel.loaded.connect(lambda info: done(classes=len(info.classes), description=info.description))
        panel.load_failed.connect(fail)
        panel.load()

    result = run_in_window(prepare, begin, tmp, timeout_s, trace_stalls)
    return {**result, "data": str(archive), "cache": "empty"}


def measure_predict(
    photos: list[Path], checkpoint: str | None, tmp: Path, timeout_s: float = 1800, trace_stalls: Path | None = None
) -> dict:
    def prepare(window, go, fail):
        tab = window.predict_tab
        window.tabs.setCurrentWidget(tab)
        tab.picker.load_failed.connect(fail)
        if not checkpoint and not window.engine_info.default_checkpoint:
            fail("no checkpoint: the bundled model is not installed (give --checkpoint)")
            return
        wanted = Path(checkpoint).resolve() if checkpoint else None
        started = []

        def loaded(path: str):  # the window loads its default first; wait for the one asked for
            if not started and (wanted is None or Path(path).resolve() == wanted):
                started.append(path)
                go()

        tab.checkpoint_loaded.connect(loaded)
        if checkpoint:
            tab.set_checkpoint(checkpoint)

    def begin(window, done, fail):
        tab = window.predict_tab

        def finished():
            results = [e.prediction for e in tab.entries]
            if len(results) == len(photos) and all(r is not None for r in results):
                errors = sum(1 for r in results if r.error)
                done(photos=len(photos), classified=len(results) - errors, errors=errors, checkpoint=tab.checkpoint)

        tab.classification_finished.connect(finished)
        tab.add_paths([str(p) for p in photos])  # what a drop of the files hands the tab

    result = run_in_window(prepare, begin, tmp, timeout_s, trace_stalls)
    if "wall_s" in result and result["wall_s"] > 0:
        result["images_per_s"] = round(len(photos) / result["wall_s"], 1)
    return result


def measure_evaluate(
    archive: Path,
    checkpoint: str | None,
    tmp: Path,
    split: str = "val",
    timeout_s: float = 1800,
    trace_stalls: Path | None = None,
) -> dict:
    def prepare(window, go, fail):
        panel = window.train_tab.form.data
        tab = window.evaluate_tab
        path = checkpoint or window.engine_info.default_checkpoint
        if not path:
            fail("no checkpoint: the bundled model is not installed (give --checkpoint)")
            return
        waiting = {"cache", "checkpoint"}

        def ready(what):
            waiting.discard(what)
            if not waiting:
                window.tabs.setCurrentWidget(tab)
                go()

        # Warm the decoded-data cache first (unmeasured): the decode scenario covers decoding.
        panel.loaded.connect(lambda _info: ready("cache"))
        panel.load_failed.connect(fail)
        panel.source.set_value(str(archive))
        panel.load()
        tab.picker.loaded.connect(lambda _info: ready("checkpoint"))
        tab.picker.load_failed.connect(fail)
        tab.set_checkpoint(path)

    def begin(window, done, fail):
        tab = window.evaluate_tab
        tab.data.set_value(str(archive))
        tab.split.setCurrentIndex(tab.split.findData(split))

        def finished():
            if tab.report is None:
                fail(tab.message.text() or "evaluation gave no report")
                return
            r = tab.report.result
            done(images=len(r.labels), accuracy=round(float(r.accuracy), 4))

        tab.evaluation_finished.connect(finished)
        if not tab.evaluate():
            fail(tab.message.text())

    result = run_in_window(prepare, begin, tmp, timeout_s, trace_stalls)
    if "images" in result and result["wall_s"] > 0:
        result["images_per_s"] = round(result["images"] / result["wall_s"], 1)
    return {**result, "data": str(archive), "split": split, "cache": "warm"}


def teach_photos(classes: int, per_class: int, root: Path = PHOTOS_DEV) -> dict[str, list[Path]]:
    """The first ``per_class`` photos of the first ``classes`` class folders of ``root``."""
    folders = sorted(p for p in root.iterdir() if p.is_dir())[:classes]
    exts = {".jpg", ".jpeg", ".png", ".webp"}
    return {f.name: sorted(p for p in f.iterdir() if p.suffix.lower() in exts)[:per_class] for f in folders}


def measure_teach(
    photos: dict[str, list[Path]], tmp: Path, timeout_s: float = 900, trace_stalls: Path | None = None
) -> dict:
    """A new Teach project, the classes added, each class's photos dropped on its bin at once
    (what the bin's drop hands the tab), until the model is trained, measured and nothing is
    left to do. The feature cache is fresh, so every photo's features are extracted. It starts
    once the window has finished starting (its plots loaded) and the tab its warm-up, as a
    user's first drop would."""
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=tmp))
    os.environ["CIFAR_STUDIO_CACHE"] = str(cache)
    marks: dict[str, float] = {}

    def prepare(window, go, fail):
        from PySide6.QtCore import QTimer

        tab = window.teach_tab
        window.tabs.setCurrentWidget(tab)

        def settled():
            # The window's own start-up (plots loaded and built) is not the task, nor is the tab's
            # one-off warm-up when first shown (imports for features and training): a user takes
            # longer than that to make classes and drop photos.
            plots, warm_up = window._plots_loader, getattr(tab, "_warm_up_task", None)
            if (plots is not None and not plots.done) or (warm_up is not None and not warm_up.done):
                QTimer.singleShot(50, settled)
                return
            QTimer.singleShot(SETTLE_MS, lambda: tab.new_project(tmp / "teach-project", then=go))

        settled()

    def begin(window, done, fail):
        from PySide6.QtCore import QTimer

        tab = window.teach_tab
        t0 = time.perf_counter()

        def mark(name: str) -> None:
            marks.setdefault(name, round(time.perf_counter() - t0, 2))

        for name in photos:
            tab.add_class(name)
        for name, paths in photos.items():
            tab.add_files(name, [str(p) for p in paths])

        def poll():
            if tab.message.kind == "error":
                fail(tab.message.text())
                return
            if tab._features_task is not None:
                mark("features_started")
            if tab._training is not None:
                mark("training_started")
            if tab.report is not None and not tab.busy:
                mark("model_ready")
                r = tab.report
                done(
                    classes=len(photos),
                    photos=sum(len(v) for v in photos.values()),
                    accuracy=round(r.accuracy, 3),
                    held_out=r.images,
                    phases_s=marks,
                )
                return
            QTimer.singleShot(20, poll)

        poll()

    return run_in_window(prepare, begin, tmp, timeout_s, trace_stalls)
