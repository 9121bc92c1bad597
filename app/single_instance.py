"""One window per user and data folder: a second ``hearth`` hands its arguments to the running one.

The first window listens on a local socket (``QLocalServer``: a Unix socket on Linux and macOS, a named pipe on
Windows) whose name is derived from the user and the data folder (``HEARTH_HOME`` or the platform's), so two
users, or a test with its own ``HEARTH_HOME``, never reach each other's window. A later launch connects
first: when something answers, it sends one JSON line (``{"paths": [...]}``: folders or files to index, as
if dropped on the window) and exits, and the running window comes to the front. A socket left behind by a
crashed window is detected (nothing answers, and listening fails) and replaced.

This runs before ``QApplication`` exists: ``QLocalSocket``'s blocking calls need no event loop, and a second
launch then never pays for creating a window.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

CONNECT_MS = 300
SEND_MS = 1000


def server_name(env: dict[str, str] | None = None) -> str:
    """A name per user and data folder; short, because a Unix socket path is limited to ~100 bytes."""
    env = dict(os.environ) if env is None else env
    home = env.get("HEARTH_HOME")
    where = str(Path(home).expanduser().resolve()) if home else "platformdirs"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): the uid still tells users apart
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    digest = hashlib.sha256(f"{user}\0{where}".encode()).hexdigest()[:16]
    return f"hearth-{digest}"


def forward(paths: Sequence[Path | str], name: str | None = None) -> bool:
    """Hand ``paths`` to a running window; False when none is running (then this process opens one)."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_MS):
        return False
    message = json.dumps({"paths": [str(Path(p).expanduser().resolve()) for p in paths]}) + "\n"
    socket.write(message.encode("utf-8"))
    sent = socket.waitForBytesWritten(SEND_MS)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(SEND_MS)
    return sent


class InstanceServer(QObject):
    """Listens for later launches; ``received`` carries the paths each one passed (maybe none)."""

    received = Signal(list)

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name or server_name()
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)  # this user only
        self.server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytearray] = {}

    def listen(self) -> bool:
        """Start listening; a socket file left by a crashed window (nothing answered :func:`forward`) is removed."""
        if self.server.listen(self.name):
            return True
        if self.server.serverError() == QAbstractSocket.SocketError.AddressInUseError:
            QLocalServer.removeServer(self.name)
            return self.server.listen(self.name)
        return False

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        while (socket := self.server.nextPendingConnection()) is not None:
            self._buffers[socket] = bytearray()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._finish(s))
            self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        buffer = self._buffers.get(socket)
        if buffer is None:
            return
        buffer += bytes(socket.readAll().data())
        if b"\n" in buffer:
            self._finish(socket)

    def _finish(self, socket: QLocalSocket) -> None:
        buffer = self._buffers.pop(socket, None)
        if buffer is None:
            return
        buffer += bytes(socket.readAll().data())
        socket.deleteLater()
        try:
            paths = json.loads(buffer.split(b"\n", 1)[0] or b"{}").get("paths", [])
        except (ValueError, AttributeError):
            return  # not one of ours: ignore it
        self.received.emit([Path(p) for p in paths if isinstance(p, str)])
