"""Teach-tab calls for :class:`gui.background.task.Task`: project changes (they hash and link
files), features, the held-out report and thumbnails, each a plain ``fn(state, ...)``.

Project changes run one at a time (the Teach tab queues them), so a project is never changed
by two threads at once; features and training read a snapshot (:func:`snapshot`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtGui import QImage

from . import gui_thread_gc
from .qimages import load_photo

# Imports inside functions: these functions run in worker threads, where the engine (and torch) is
# imported; the GUI thread never imports torch at start-up.

__all__ = [
    "Added",
    "HeldOutReport",
    "OpenedProject",
    "Thumbnail",
    "add_photos",
    "compute_features",
    "current_model",
    "held_out_report",
    "import_folder",
    "load_thumbnails",
    "open_project",
    "project_call",
    "run_folder",
    "save_project_as",
    "snapshot",
    "warm_up",
]


def project_call(state, project, method: str, *args):
    """``project.<method>(*args)`` in the worker (add_photos, import_folder, rename_class...)."""
    return getattr(project, method)(*args)


ADD_CHUNK = 16  # photos added between two updates of the window


@dataclass
class Added:
    """Partial result of :func:`add_photos` / :func:`import_folder`: a chunk went in."""

    class_name: str
    report: object  # engine.AddReport of this chunk


def add_photos(state, project, class_name: str, paths: list[str]) -> dict:
    """Add files and folders' images to a class in chunks, each reported as :class:`Added`
    (the window shows them, and their features start, while the rest are added); returns
    ``{class: AddReport}`` for everything."""
    import engine

    files = [str(p) for p in engine.expand_inputs(paths)]
    total = engine.AddReport()
    _add_chunks(state, project, class_name, files, total, (0, len(files)))
    return {class_name: total}


def _add_chunks(state, project, class_name: str, files: list[str], total, counter: tuple[int, int]) -> None:
    base, overall = counter
    for start in range(0, len(files), ADD_CHUNK):
        if state.is_interruption_requested():
            break
        report = project.add_photos(class_name, files[start : start + ADD_CHUNK])
        total.added += report.added
        total.duplicates += report.duplicates
        total.errors += report.errors
        done = base + min(start + ADD_CHUNK, len(files))
        state.set_partial_result(Added(class_name, report))
        state.set_progress(done / max(overall, 1), f"{done:,} of {overall:,} photos")


def import_folder(state, project, folder: str) -> dict:
    """A folder with one sub-folder per class, as ``TeachProject.import_folder`` does it, in chunks."""
    import engine

    root = Path(folder).expanduser()
    subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
    if not subs:
        raise engine.DataError(f"{root}: no class sub-folders (expected one folder of photos per class)")
    listed = [(sub.name, [str(p) for p in engine.expand_inputs([sub])]) for sub in subs]
    overall, done, reports = sum(len(files) for _, files in listed), 0, {}
    for name, files in listed:
        existing = {c.lower(): c for c in project.class_names()}
        if name.lower() not in existing:
            project.add_class(name)
            state.set_partial_result(Added(name, engine.AddReport()))
        name = existing.get(name.lower(), name.strip())
        reports[name] = engine.AddReport()
        _add_chunks(state, project, name, files, reports[name], (done, overall))
        done += len(files)
    return reports


def snapshot(project):
    """A copy of ``project`` for a reader in another thread (features): the GUI's copy may change meanwhile."""
    import engine

    classes = [engine.ProjectClass(c.name, [replace(p) for p in c.photos]) for c in project.classes]
    return engine.TeachProject(project.folder, classes, project.copy_photos)


_warmed = threading.Event()


def warm_up(state=None) -> None:
    """Import what features and the first training need (torch._dynamo and sympy: 2.5-3.7 s of
    Python here, about 300,000 objects), once per process, with the GUI thread's collector held
    meanwhile and the imported state frozen after (see gui_thread_gc.lasting_imports)."""
    import engine

    if _warmed.is_set():
        return
    with gui_thread_gc.lasting_imports():
        engine.warm_up_teach()
    _warmed.set()


def compute_features(state, project) -> dict[str, str]:
    """Every photo's backbone features into the cache (cached ones cost nothing); the errors."""
    import engine

    state.set_progress(None, "preparing the ImageNet network")
    warm_up(state)  # at once if the tab did it already

    def report(done: int, total: int, stage: str) -> None:
        n = max(total // 2, 1)  # the engine counts each photo twice: decoded, then read
        if stage == "decoding":
            text = f"opening photo {done:,} of {n:,}"
        else:
            text = f"reading photo {max(done - n, 0):,} of {n:,} (photos read before are cached)"
        state.set_progress(done / total if total else None, text)

    return engine.project_features(project, report, state.is_interruption_requested)


@dataclass
class HeldOutReport:
    """The trained model on its own held-out photos (the 20% training never learned from)."""

    checkpoint: str
    images: int
    accuracy: float
    classes: list[str]
    per_class: list[tuple[str, int, int]]  # (class, right, held-out photos of it)
    confusion: list[list[int]]
    guidance: list[str]
    tta: int


def held_out_report(state, checkpoint: str, folder: str, counts: dict[str, int], tta: int) -> HeldOutReport:
    """Evaluate ``checkpoint`` on the held-out split of the project it was just trained on."""
    import engine

    report = engine.evaluate_checkpoint(
        checkpoint,
        data=folder,
        split="val",
        tta=tta,
        should_stop=state.is_interruption_requested,
    )
    cm = report.result.confusion
    per_class = [(c, int(cm[i][i]), int(cm[i].sum())) for i, c in enumerate(report.classes)]
    tips = engine.guidance(counts, cm.tolist(), list(report.classes))
    return HeldOutReport(
        checkpoint,
        len(report.result.labels),
        float(report.result.accuracy),
        list(report.classes),
        per_class,
        cm.tolist(),
        tips,
        tta,
    )


@dataclass
class Thumbnail:
    key: str  # the photo's SHA-256 (or a test photo's path)
    image: QImage | None


def load_thumbnails(state, jobs: list[tuple[str, str]], size: int) -> int:
    """Decode ``(key, path)`` photos at thumbnail size; each is a partial :class:`Thumbnail`."""
    done = 0
    for key, path in jobs:
        if state.is_interruption_requested():
            break
        state.set_partial_result(Thumbnail(key, load_photo(path, size)))
        done += 1
    return done


@dataclass
class OpenedProject:
    project: object  # engine.TeachProject
    missing: list[str]  # "class/name" of photos whose original is gone
    model: str | None  # the project's trained best.pt when it is newer than every change since


def run_folder(project) -> Path:
    """Where the project's model is trained: a run the Runs tab and the checkpoint menus list."""
    import engine

    return engine.runs_dir() / f"teach-{project.name}"


def open_project(state, folder: str, create: bool = False) -> OpenedProject:
    """Open (or create, in an empty or new folder) a Teach project; what its model and photos are."""
    import engine

    project = engine.TeachProject.create(folder) if create else engine.TeachProject.open(folder)
    missing = [f"{c}/{p.name}" for c, p in project.missing_photos()]
    return OpenedProject(project, missing, current_model(project))


def current_model(project) -> str | None:
    """The project's newest model trained after its last change (its own run, or a fine-tuning
    of it), else None: the model to show when the project opens, without training again."""
    import json

    import engine

    folder = run_folder(project)
    candidates = [folder / "best.pt", *folder.parent.glob(f"{folder.name}-finetune-*/best.pt")]
    try:
        changed = (project.folder / engine.PROJECT_FILE).stat().st_mtime
    except OSError:
        return None
    fresh = []
    for best in candidates:
        try:
            config = json.loads((best.parent / "config.json").read_text(encoding="utf-8"))
            trained_on = Path(config.get("data", "")).resolve()
            when = best.stat().st_mtime
        except (OSError, ValueError, AttributeError, TypeError):
            continue
        if when >= changed and trained_on == project.folder:
            fresh.append((when, str(best)))
    return max(fresh)[1] if fresh else None


def save_project_as(state, project, folder: str) -> OpenedProject:
    """Copy the project (its class folders of links or copies, and its manifest) to ``folder``
    (new or empty) and open the copy there; the original stays as it was."""
    import shutil

    import engine

    dest = Path(folder).expanduser().resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise engine.EngineError(f"{dest}: choose an empty or new folder to save the project in")
    if dest == project.folder or project.folder in dest.parents:
        raise engine.EngineError(f"{dest}: choose a folder outside the project")
    tmp = dest.with_name(f".{dest.name}.saving")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(project.folder, tmp, symlinks=True)
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise engine.EngineError(f"cannot save the project in {dest} ({exc.strerror or exc})") from None
    return open_project(state, str(dest))
