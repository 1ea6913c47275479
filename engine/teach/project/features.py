"""Every photo's frozen-backbone features, computed in the background as photos arrive and
kept in the feature cache that training then reads; and warming up what the first training imports.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from ...errors import Cancelled, ImageError
from ...paths import cache_dir
from .folder import TeachProject, teach_config

# Imports inside functions: feature extraction needs torch and the backbone; a project opens, lists
# and hashes its photos without them (the Teach tab's first paint).

__all__ = ["project_features", "warm_up_teach"]


def project_features(
    project: TeachProject,
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, str]:
    """Compute and cache every photo's features now, as training will read them.

    Photos are decoded exactly as the image-folder loader decodes them for the "photos"
    preset (same size, same framing), so training finds every feature in the cache. Returns
    the photos that could not be read: ``{"class/name": one-line reason}``.
    """
    # Start-up: torch and numpy load here, not when the Teach tab opens a project (see folder.py's add_photos).
    import numpy as np

    from ...data.folder import decode_for_training
    from ...models.efficientnet_lite import shared_backbone
    from ...training.features import FeatureCache, extract_features

    cfg = teach_config(project)
    model = shared_backbone(**cfg.model_args)
    mean, std = model.input_normalization
    errors: dict[str, str] = {}
    arrays = []
    # Photos whose features this process already cached are not decoded again: adding the
    # 100th photo costs one decode and one forward pass, not a hundred decodes.
    where = str(cache_dir())  # the cache that holds them (tests and users may switch it)
    photos = [(c, p) for c, p in project.all_photos() if (where, p.sha256, cfg.image_size) not in _DONE]
    done = []
    for i, (cname, photo) in enumerate(photos):
        if should_stop is not None and should_stop():
            raise Cancelled("stopped while computing features")
        try:
            arrays.append(decode_for_training(project.photo_path(cname, photo), cfg.image_size))
            done.append((where, photo.sha256, cfg.image_size))
        except ImageError as exc:
            errors[f"{cname}/{photo.name}"] = str(exc)
        if progress is not None:
            progress(i + 1, 2 * len(photos), "decoding")
    if arrays:
        cache = FeatureCache()
        try:

            def forward(done, total, stage):
                if progress is not None:
                    progress(len(photos) + done * len(photos) // max(total, 1), 2 * len(photos), "features")

            extract_features(model, np.stack(arrays), mean, std, "cpu", cache, forward, should_stop)
        finally:
            cache.close()
        _DONE.update(done)
    _warm_up_training()
    return errors


@functools.lru_cache(maxsize=1)
def warm_up_teach() -> None:
    """Import, once per process, everything extracting features and the first training use
    (torch._dynamo, sympy, the feature cache, the image-folder loader), so that an app can do
    it at a moment of its choosing, in one go, rather than piecemeal in its workers."""
    from ...data import folder  # noqa: F401
    from ...imaging.decode import pillow_formats
    from ...models import efficientnet_lite  # noqa: F401
    from ...training import features  # noqa: F401

    pillow_formats()  # the image plugins: the first photos' check imported them in a worker, a 50-70 ms stall
    _warm_up_training()


@functools.lru_cache(maxsize=1)
def _warm_up_training() -> None:
    """Import what the first training needs while the user is still adding photos: building an
    optimizer imports torch._dynamo, 6.7 s of the first "photos" training on this CPU under load
    (cProfile of benchmarks/teach.py), once per process."""
    import torch

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])


_DONE: set[tuple[str, str, int]] = set()  # (cache folder, file SHA-256, image size) already cached
