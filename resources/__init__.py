"""CIFAR Studio's data files: the bundled model and its card, sample photos, icons.

Installed as the package ``cifar_studio_resources`` (see setup.py); found at run time by
:func:`engine.paths.resources_dir`. No code lives here.
"""
