"""Package list for setuptools (everything else is in pyproject.toml).

The repository keeps the app's data in a top-level ``resources/`` folder (bundled model, model
card, sample photos, icons); installed, it becomes the package ``cifar_studio_resources`` so a
wheel carries it and :func:`engine.paths.resources_dir` finds it with importlib.resources.
Its sub-folders are listed as (namespace) packages so setuptools installs them as package data.
"""

from setuptools import find_namespace_packages, setup

RESOURCES = "cifar_studio_resources"

setup(
    packages=[
        *find_namespace_packages(include=["engine", "engine.*", "gui", "gui.*"], exclude=["*__pycache__*"]),
        RESOURCES,
        *(f"{RESOURCES}.{sub}" for sub in find_namespace_packages("resources", exclude=["*__pycache__*"])),
    ],
    package_dir={RESOURCES: "resources"},
)
