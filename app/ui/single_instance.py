"""One running ViralStock per data directory: a second launch focuses the first and exits.

The key is a hash of the resolved data directory, so two profiles (say, demo and a real shop)
can run side by side while two copies on the same database cannot.
"""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

ACTIVATE = b"activate\n"


def server_name(data_dir: Path) -> str:
    """The local socket name for a data directory (per user, per directory)."""
    digest = hashlib.sha256(f"{getpass.getuser()}|{data_dir.resolve()}".encode()).hexdigest()
    return f"viralstock-{digest[:24]}"


def knock(name: str, timeout_ms: int = 500) -> bool:
    """Tell the instance listening on `name` to show itself; False when nobody answers.

    Needs no QApplication, so the composition root can knock before it imports the window,
    the charts and the sync engine: a second launch answers in well under a second."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(ACTIVATE)
    socket.waitForBytesWritten(timeout_ms)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(timeout_ms)
    return True


class SingleInstance(QObject):
    """Call `acquire()` at start; False means another instance runs and was told to show itself.

    The first instance emits `activated` whenever a later launch knocks.
    """

    activated = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(data_dir)
        self._server: QLocalServer | None = None

    @property
    def is_primary(self) -> bool:
        """True once this process holds the instance lock."""
        return self._server is not None and self._server.isListening()

    def acquire(self, timeout_ms: int = 500) -> bool:
        """Become the primary instance, or notify the running one and return False."""
        for _attempt in range(3):
            if self._notify_running(timeout_ms):
                return False
            server = QLocalServer(self)
            server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
            if server.listen(self.name):
                server.newConnection.connect(self._on_connection)
                self._server = server
                return True
            # A socket file left by a crashed instance: nobody answered, so remove and retry.
            server.deleteLater()
            QLocalServer.removeServer(self.name)
        return False

    def release(self) -> None:
        """Stop listening (on quit)."""
        if self._server is not None:
            self._server.close()
            self._server = None

    def _notify_running(self, timeout_ms: int) -> bool:
        return knock(self.name, timeout_ms)

    def _on_connection(self) -> None:
        # Read each knock synchronously (a few bytes, already sent) and drop the socket at once:
        # no per-connection signal handlers that could outlive the server.
        assert self._server is not None
        while self._server.hasPendingConnections():
            conn = self._server.nextPendingConnection()
            if not conn.bytesAvailable():
                conn.waitForReadyRead(500)
            data = bytes(conn.readAll().data())
            conn.abort()
            conn.deleteLater()
            if ACTIVATE.strip() in data:
                self.activated.emit()
