"""A Teach project's folder: class sub-folders of links (or copies) to the user's photos and a
hidden manifest saved atomically (the format is described in engine/teach/project/__init__.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...errors import DataError, EngineError, ImageError
from ...presets import preset_config
from .guidance import MIN_PHOTOS

# Imports inside functions: expand_inputs lives with the predictor (torch); adding files imports it
# only when a folder is dropped.

__all__ = ["PROJECT_FILE", "AddReport", "ProjectClass", "ProjectPhoto", "TeachProject", "teach_config"]

PROJECT_FILE = ".cifar-studio-project.json"
_FORMAT = "cifar-studio-teach-project"


@dataclass
class ProjectPhoto:
    name: str  # file name inside the class folder
    source: str  # the original file (absolute path)
    sha256: str
    size: int


@dataclass
class ProjectClass:
    name: str
    photos: list[ProjectPhoto] = field(default_factory=list)


@dataclass
class AddReport:
    """What adding files did: each file is added, a duplicate, or refused with one line."""

    added: list[ProjectPhoto] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, class that already has it)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, one-line reason)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_class_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise EngineError("a class needs a name")
    if name.startswith(".") or any(c in name for c in '/\\:*?"<>|') or len(name) > 80:
        raise EngineError(
            f"{name!r}: a class name cannot start with '.', contain / \\ : * ? \" < > |, or exceed 80 characters"
        )
    return name


class TeachProject:
    """A Teach project folder (see the module docstring). Every change is saved at once."""

    def __init__(self, folder: Path, classes: list[ProjectClass], copy_photos: bool):
        self.folder, self.classes, self.copy_photos = folder, classes, copy_photos

    # ------------------------------------------------------------------ create / open / save
    @classmethod
    def create(cls, folder: str | Path, copy_photos: bool = False) -> TeachProject:
        """A new project in ``folder`` (created; an existing folder must be empty)."""
        folder = Path(folder).expanduser().resolve()
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise EngineError(f"{folder}: choose an empty or new folder for a new project")
        folder.mkdir(parents=True, exist_ok=True)
        project = cls(folder, [], copy_photos)
        project.save()
        return project

    @classmethod
    def open(cls, folder: str | Path) -> TeachProject:
        """The project saved in ``folder``; a missing or damaged manifest is one line."""
        folder = Path(folder).expanduser().resolve()
        if folder.name == PROJECT_FILE:
            folder = folder.parent
        path = folder / PROJECT_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EngineError(f"{folder}: not a Teach project (no {PROJECT_FILE})") from None
        except (OSError, ValueError) as exc:
            raise EngineError(f"{path}: unreadable project file ({type(exc).__name__})") from None
        try:
            if data.get("format") != _FORMAT:
                raise ValueError("format")
            classes = [ProjectClass(str(c["name"]), [ProjectPhoto(**p) for p in c["photos"]]) for c in data["classes"]]
            return cls(folder, classes, bool(data.get("copy_photos", False)))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise EngineError(f"{path}: damaged project file") from None

    def save(self) -> None:
        """Write the manifest atomically (a temporary file renamed over the old one)."""
        data = {
            "format": _FORMAT,
            "version": 1,
            "copy_photos": self.copy_photos,
            "classes": [{"name": c.name, "photos": [asdict(p) for p in c.photos]} for c in self.classes],
        }
        tmp = self.folder / f"{PROJECT_FILE}.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, self.folder / PROJECT_FILE)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise EngineError(f"cannot save the project in {self.folder} ({exc.strerror or exc})") from None

    # ------------------------------------------------------------------ classes
    @property
    def name(self) -> str:
        return self.folder.name

    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    def get(self, name: str) -> ProjectClass:
        for c in self.classes:
            if c.name == name:
                return c
        raise EngineError(f"no class named {name!r}")

    def add_class(self, name: str) -> ProjectClass:
        name = _check_class_name(name)
        if name.lower() in (c.name.lower() for c in self.classes):
            raise EngineError(f"there is already a class named {name!r}")
        (self.folder / name).mkdir(exist_ok=True)
        c = ProjectClass(name)
        self.classes.append(c)
        self.save()
        return c

    def rename_class(self, old: str, new: str) -> None:
        c = self.get(old)
        new = _check_class_name(new)
        if new != old and new.lower() in (x.name.lower() for x in self.classes if x is not c):
            raise EngineError(f"there is already a class named {new!r}")
        if new != old:
            os.replace(self.folder / old, self.folder / new)
            c.name = new
            self.save()

    def remove_class(self, name: str) -> None:
        """Forget a class: its links (or copies) go; the user's own files are never touched."""
        c = self.get(name)
        shutil.rmtree(self.folder / c.name, ignore_errors=True)
        self.classes.remove(c)
        self.save()

    # ------------------------------------------------------------------ photos
    def photo_path(self, class_name: str, photo: ProjectPhoto) -> Path:
        return self.folder / class_name / photo.name

    def all_photos(self) -> list[tuple[str, ProjectPhoto]]:
        return [(c.name, p) for c in self.classes for p in c.photos]

    def find(self, sha256: str) -> tuple[str, ProjectPhoto] | None:
        for cname, p in self.all_photos():
            if p.sha256 == sha256:
                return cname, p
        return None

    def add_photos(self, class_name: str, paths: list[str | Path]) -> AddReport:
        """Add image files (folders: the images under them) to a class; see :class:`AddReport`."""
        # Imported here, not at the top: this module stays free of torch so that the Teach tab can
        # open and edit a project before the engine's torch side has loaded (engine.inference.predict has it).
        from ...imaging.decode import probe_image
        from ...inference.predict import expand_inputs

        target = self.get(class_name)
        report = AddReport()
        for path in expand_inputs(list(paths)):
            shown = str(path)
            try:
                path = path.expanduser().resolve()
                probe_image(path, path.name)  # header, size limits, format: the engine's one boundary
                digest, size = _sha256(path), path.stat().st_size
            except ImageError as exc:
                report.errors.append((shown, str(exc)))
                continue
            except OSError as exc:
                report.errors.append((shown, f"{path.name}: unreadable ({exc.strerror or type(exc).__name__})"))
                continue
            if (hit := self.find(digest)) is not None:
                report.duplicates.append((shown, hit[0]))
                continue
            name = self._free_name(target.name, path.name)
            try:
                self._place(path, self.folder / target.name / name)
            except OSError as exc:
                report.errors.append((shown, f"{path.name}: cannot add ({exc.strerror or type(exc).__name__})"))
                continue
            photo = ProjectPhoto(name, str(path), digest, size)
            target.photos.append(photo)
            report.added.append(photo)
        if report.added:
            self.save()
        return report

    def import_folder(self, folder: str | Path) -> dict[str, AddReport]:
        """A folder with one sub-folder per class, in one step: classes created as needed."""
        folder = Path(folder).expanduser()
        subs = (
            sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []
        )
        if not subs:
            raise DataError(f"{folder}: no class sub-folders (expected one folder of photos per class)")
        reports = {}
        for sub in subs:
            name = _check_class_name(sub.name)
            if name not in self.class_names():
                self.add_class(name)
            reports[name] = self.add_photos(name, [sub])
        return reports

    def remove_photo(self, class_name: str, name: str) -> None:
        c = self.get(class_name)
        photo = next((p for p in c.photos if p.name == name), None)
        if photo is None:
            raise EngineError(f"{class_name} has no photo {name!r}")
        (self.folder / class_name / name).unlink(missing_ok=True)
        c.photos.remove(photo)
        self.save()

    def move_photo(self, name: str, from_class: str, to_class: str) -> ProjectPhoto:
        """Move a photo to another class (a wrong prediction corrected)."""
        src, dst = self.get(from_class), self.get(to_class)
        photo = next((p for p in src.photos if p.name == name), None)
        if photo is None:
            raise EngineError(f"{from_class} has no photo {name!r}")
        new_name = self._free_name(dst.name, photo.name)
        os.replace(self.folder / src.name / photo.name, self.folder / dst.name / new_name)
        src.photos.remove(photo)
        photo.name = new_name
        dst.photos.append(photo)
        self.save()
        return photo

    def missing_photos(self) -> list[tuple[str, ProjectPhoto]]:
        """Photos whose link or copy no longer opens (the original moved or was deleted)."""
        return [(c, p) for c, p in self.all_photos() if not self.photo_path(c, p).exists()]

    def counts(self) -> dict[str, int]:
        return {c.name: len(c.photos) for c in self.classes}

    def ready(self) -> bool:
        """Two classes or more, each with at least MIN_PHOTOS photos."""
        return len(self.classes) >= 2 and all(len(c.photos) >= MIN_PHOTOS for c in self.classes)

    def _free_name(self, class_name: str, wanted: str) -> str:
        folder = self.folder / class_name
        stem, suffix = Path(wanted).stem, Path(wanted).suffix
        name, i = wanted, 1
        while (folder / name).exists() or (folder / name).is_symlink():
            i += 1
            name = f"{stem}-{i}{suffix}"
        return name

    def _place(self, src: Path, dest: Path) -> None:
        if self.copy_photos:
            tmp = dest.with_name(f".{dest.name}.tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
            return
        try:
            os.symlink(src, dest)
        except (OSError, NotImplementedError):  # Windows without the symlink privilege: copy instead
            shutil.copyfile(src, dest)


def teach_config(project: TeachProject | str | Path, **changes):
    """The training config for a project: the "photos" preset on its folder."""
    folder = project.folder if isinstance(project, TeachProject) else Path(project)
    return preset_config("photos", data=str(folder), **changes)
