"""Download a ``tv:`` model's ImageNet weights into the torch hub cache, when the user asks.

Training never downloads: a ``tv:`` model uses the weights found at
:func:`~engine.models.torchvision_models.cached_weights_path` (or a file the user names). This
module puts them there: :func:`download_weights` fetches the URL torchvision's weights API gives
(``get_model_weights(arch).DEFAULT.url``), streaming into a temporary file in the cache folder,
checks the SHA-256 prefix in the file name (``resnet18-f37072fd.pth``, as ``torch.hub`` does),
and renames it into place: the cache never holds a partial or wrong file. Progress is reported
as (bytes done, bytes total or None) and a stop flag (anything with ``is_set()``) cancels
between chunks. Every failure is one line naming what to do instead (download the file
elsewhere and choose it as the weights file, or put it in the cache folder).

``CIFAR_STUDIO_WEIGHTS_URL`` names a mirror: it replaces everything before the file name
(``https://download.pytorch.org/models``), e.g. ``http://mirror.lan/torch-models``.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import http.client
import os
import re
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..errors import Cancelled, DiskFull, EngineError

# Imports inside functions: torchvision_models imports torchvision; listing and downloading weights
# import it only when asked.

__all__ = [
    "WEIGHTS_URL_ENV",
    "DownloadError",
    "WeightsStatus",
    "download_file",
    "download_weights",
    "expected_sha256_prefix",
    "list_weights",
    "weights_status",
]

WEIGHTS_URL_ENV = "CIFAR_STUDIO_WEIGHTS_URL"
_HASH = re.compile(r"-([a-f0-9]*)\.")  # torch.hub.HASH_REGEX: "resnet18-f37072fd.pth" -> f37072fd
_CHUNK = 64 * 1024
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_OFFLINE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.ECONNREFUSED, errno.ECONNRESET}
_TEMP_SUFFIX = ".part"
_STALE_S = 3600  # a temporary file untouched this long was left by a process that ended mid-download

Progress = Callable[[int, "int | None"], None]


class DownloadError(EngineError):
    """A download that failed; ``reason`` is the short cause ("HTTP 404 Not Found", ...)."""

    def __init__(self, url: str, reason: str):
        self.url, self.reason = url, reason
        super().__init__(f"cannot download {url} ({reason})")


@dataclass(frozen=True)
class WeightsStatus:
    """A ``tv:`` model's default ImageNet weights: where they come from and whether they are here."""

    model: str  # "tv:resnet18"
    arch: str  # "resnet18"
    url: str  # where download_weights fetches them (the mirror's, when one is set)
    source_url: str  # torchvision's own URL (the same unless a mirror is set)
    path: str  # where training looks for them (the torch hub cache)
    size_bytes: int | None  # torchvision's recorded size (MiB with 3 decimals: approximate)
    cached: bool

    @property
    def file_name(self) -> str:
        return Path(self.path).name

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "url": self.url,
            "path": self.path,
            "size_bytes": self.size_bytes,
            "cached": self.cached,
        }


def _mirrored(url: str) -> str:
    base = os.environ.get(WEIGHTS_URL_ENV, "").strip()
    if not base:
        return url
    return base.rstrip("/") + "/" + os.path.basename(urlparse(url).path)


def weights_status(name: str) -> WeightsStatus:
    """Whether ``name``'s (``"tv:resnet18"`` or ``"resnet18"``) ImageNet weights are in the cache,
    with their URL, cache path and size. Unknown names raise :class:`EngineError`."""
    from .torchvision_models import _arch, _default_weights, cached_weights_path

    arch = _arch(name)
    weights = _default_weights(arch)
    path = cached_weights_path(arch)
    mb = weights.meta.get("_file_size")
    return WeightsStatus(
        model="tv:" + arch,
        arch=arch,
        url=_mirrored(weights.url),
        source_url=weights.url,
        path=str(path),
        size_bytes=int(mb * 2**20) if isinstance(mb, (int, float)) else None,
        cached=path.is_file(),
    )


def list_weights() -> list[WeightsStatus]:
    """:func:`weights_status` of every torchvision classification model, by name."""
    from .torchvision_models import torchvision_model_names

    return [weights_status(n) for n in torchvision_model_names()]


def _reason(exc: BaseException) -> str:
    """A short cause for a failed request, saying "no network" where there is none."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}".strip()
    if isinstance(exc, urllib.error.URLError):
        inner = exc.reason
        text = str(getattr(inner, "strerror", None) or inner)
        offline = isinstance(inner, (socket.gaierror, ConnectionError, TimeoutError)) or (
            getattr(inner, "errno", None) in _OFFLINE
        )
        return f"{'no network: ' if offline else ''}URLError {text}"
    if isinstance(exc, TimeoutError):  # socket.timeout too
        return "no network: timed out"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    if isinstance(exc, http.client.IncompleteRead):
        return "connection closed before the end of the file"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


def _remove_stale(dest: Path) -> None:
    """Temporary files of ``dest`` left by a process killed mid-download (one writing now
    touches its file every chunk, so it is never this old)."""
    now = time.time()
    for old in dest.parent.glob(f".{glob.escape(dest.name)}.*{_TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > _STALE_S:
                old.unlink()


def download_file(
    url: str,
    dest: str | Path,
    sha256_prefix: str | None = None,
    progress: Progress | None = None,
    stop=None,
    timeout: float = 30.0,
) -> Path:
    """Stream ``url`` to ``dest``: into a temporary file in ``dest``'s folder, then renamed.

    ``sha256_prefix``: the first hex digits the file's SHA-256 must start with (a mismatch
    removes the temporary file and raises :class:`DownloadError`). ``progress(done, total)``
    after each chunk (``total`` None when the server does not say). ``stop.is_set()`` true
    between chunks raises :class:`Cancelled`. Network and HTTP failures raise
    :class:`DownloadError`, a full disk :class:`DiskFull`; ``dest`` is never left partial.
    """
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}{_TEMP_SUFFIX}")
    request = urllib.request.Request(url, headers={"User-Agent": "cifar-studio"})
    digest = hashlib.sha256()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(dest)
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError, HTTPError are OSErrors
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()
            raise DownloadError(url, _reason(exc)) from None
        with response, open(tmp, "xb") as f:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            if progress is not None:
                progress(0, total)
            while True:
                if stop is not None and stop.is_set():
                    raise Cancelled(f"download of {dest.name} cancelled")
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, http.client.HTTPException) as exc:  # connection dropped, timed out
                    raise DownloadError(url, _reason(exc)) from None
                if not chunk:
                    break
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            if total is not None and done != total:
                raise DownloadError(url, f"connection closed after {done} of {total} bytes")
            f.flush()
            os.fsync(f.fileno())
        if sha256_prefix:
            got = digest.hexdigest()
            if not got.startswith(sha256_prefix.lower()):
                raise DownloadError(
                    url, f"SHA-256 mismatch: expected {sha256_prefix}..., got {got[: len(sha256_prefix)]}...; not kept"
                )
        os.replace(tmp, dest)
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise DiskFull(f"disk full: cannot write {dest.name} in {dest.parent}") from None
        raise DownloadError(url, f"cannot write {dest.parent}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)  # gone after the rename; removed on any failure
    return dest


def expected_sha256_prefix(file_name: str) -> str | None:
    """The SHA-256 prefix torchvision puts in its file names (``resnet18-f37072fd.pth``)."""
    match = _HASH.search(file_name)
    return match.group(1) if match and match.group(1) else None


def download_weights(
    name: str,
    progress: Progress | None = None,
    stop=None,
    force: bool = False,
    timeout: float = 30.0,
) -> Path:
    """Download ``name``'s (``"tv:resnet18"``) default ImageNet weights into the torch hub cache,
    where training finds them; returns their path. Already cached: returns it at once (unless
    ``force``). Failures are one line naming the alternative: the file chosen as weights file."""
    status = weights_status(name)
    dest = Path(status.path)
    if status.cached and not force:
        return dest
    try:
        return download_file(status.url, dest, expected_sha256_prefix(dest.name), progress, stop, timeout)
    except DownloadError as exc:
        mirror = f" from {status.url}" if status.url != status.source_url else ""
        raise EngineError(
            f"cannot download {status.arch} weights{mirror} ({exc.reason}); download {status.source_url} "
            f"elsewhere and choose it as Weights file (--pretrained-path), or put it in {dest.parent}"
        ) from None
