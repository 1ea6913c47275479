"""One window per user: a second launch ("Open with", ``cifar-studio PHOTO``) hands its files to
the window already open and exits, instead of starting a second process with its own torch.

:func:`forward_to_running` is called by :func:`gui.app.main` before torch or any Qt widget
module is imported (QtNetwork needs only QtCore): it connects to the running window's local
socket, sends the launch's file arguments as one JSON line, waits (briefly) for "ok" and
returns True, and the second process exits. With no window running (nothing listening, or a
stale socket left by a crash) it returns False and this process becomes the window:
:class:`InstanceServer` listens on the same name and hands what arrives to the window, which
raises itself and opens the files.

The name is per user and per settings file (``CIFAR_STUDIO_SETTINGS``), so an isolated run (the
tests, the screenshots) never talks to the user's window. ``--new-instance`` skips all this.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable

# Imports inside functions: QtNetwork loads only when a window starts its server, not in the launch
# that hands its files to a running window and exits.

__all__ = ["InstanceServer", "forward_to_running", "server_name"]

_logger = logging.getLogger(__name__)
CONNECT_MS = 500  # a running window answers at once; a stale socket is refused at once
REPLY_MS = 3000  # the window's event loop may be busy for a moment


def server_name() -> str:
    """The local socket name: a path in the user's runtime folder on Unix, a pipe name on Windows."""
    scope = os.environ.get("CIFAR_STUDIO_SETTINGS") or "user-settings"
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    digest = hashlib.sha1(f"{user}:{scope}".encode()).hexdigest()[:12]
    if sys.platform == "win32":
        return f"cifar-studio-{digest}"
    folder = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return os.path.join(folder, f"cifar-studio-{digest}.sock")


def forward_to_running(payload: dict, name: str | None = None) -> bool:
    """Send ``payload`` (the launch's files and options) to a running window; True when it took them."""
    from PySide6.QtNetwork import QLocalSocket  # QtCore + QtNetwork only: no widgets, no torch

    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_MS):
        return False  # nothing listening (or a stale socket): this process becomes the window
    socket.write(json.dumps(payload).encode("utf-8") + b"\n")
    socket.flush()  # the few bytes go out at once (waitForBytesWritten would then wait for nothing)
    reply = b""
    while b"\n" not in reply:
        # The answer may already be buffered (waitForReadyRead waits for *new* data only).
        if not socket.bytesAvailable() and not socket.waitForReadyRead(REPLY_MS):
            break
        reply += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return reply.strip() == b"ok"


class InstanceServer:
    """Listens for later launches; ``handler(payload)`` runs in the GUI thread for each."""

    def __init__(self, handler: Callable[[dict], None], name: str | None = None):
        from PySide6.QtNetwork import QLocalServer

        self.name = name or server_name()
        self._handler = handler
        self._buffers: dict = {}
        self.server = QLocalServer()
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)  # this user only
        if not self.server.listen(self.name):
            # A socket file left by a window that crashed (nothing answered forward_to_running).
            QLocalServer.removeServer(self.name)
            if not self.server.listen(self.name):
                _logger.warning(
                    "cannot listen on %s (%s): a second launch opens a second window",
                    self.name,
                    self.server.errorString(),
                )
        self.server.newConnection.connect(self._on_connection)

    @property
    def listening(self) -> bool:
        return self.server.isListening()

    def close(self) -> None:
        self.server.close()

    def _on_connection(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._on_ready(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))

    def _forget(self, socket) -> None:
        self._buffers.pop(socket, None)
        try:
            socket.deleteLater()
        except RuntimeError:  # Qt has already deleted it with the connection
            pass

    def _on_ready(self, socket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if len(data) > 1 << 20:  # a launch's arguments are a few KB; anything else is not ours
            socket.abort()
            return
        self._buffers[socket] = data
        if b"\n" not in data:
            return
        line = data.split(b"\n", 1)[0]
        try:
            payload = json.loads(line.decode("utf-8"))
            if not isinstance(payload, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            _logger.warning("ignoring a malformed message from a second launch: %s", exc)
            socket.abort()
            return
        socket.write(b"ok\n")
        socket.flush()
        self._handler(payload)
