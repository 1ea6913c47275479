"""Teach: your own classes from a few photos each, as a project folder on disk.

A project is a folder with one sub-folder per class, each holding the class's photos as links
to the user's files (or copies, ``copy_photos``), and a hidden manifest
(``.cifar-studio-project.json``: every photo's original path, SHA-256 and size). Because the
folder is an ordinary class-per-folder image tree (the loader ignores hidden files and follows
links), the window and ``python -m engine train --preset photos --data PROJECT`` train on exactly
the same data, decoded and framed by the same code, and give the same model.

What the Teach tab calls, all without Qt:
- :class:`TeachProject`: create, open, add / rename / remove classes, add / move / remove photos
  (duplicates by content noticed, unreadable files refused one by one), save atomically.
- :func:`project_features`: every photo's frozen-backbone features, computed in the
  background as photos arrive and kept in the feature cache that training then reads.
- :func:`teach_config`: the "photos" preset on the project (the recipe ``train`` uses).
- :func:`guidance`: warnings a person understands (too few photos, unbalanced classes, two
  classes the model confuses).

The project folder and its manifest are in folder.py, the features in features.py, the
warnings in guidance.py; engine/__init__.py exports the names listed here from this package.
"""

from __future__ import annotations

from .features import project_features, warm_up_teach
from .folder import PROJECT_FILE, AddReport, ProjectClass, ProjectPhoto, TeachProject, teach_config
from .guidance import MIN_PHOTOS, guidance

__all__ = [
    "MIN_PHOTOS",
    "PROJECT_FILE",
    "AddReport",
    "ProjectClass",
    "ProjectPhoto",
    "TeachProject",
    "guidance",
    "project_features",
    "teach_config",
    "warm_up_teach",
]
