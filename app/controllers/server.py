"""The API server in the window: started with it when ``settings.server.enabled`` is on, started or stopped when
that setting changes, its state in the status bar and on Settings → Server.

Starting and stopping run on the model lane, the lane that also applies settings (``update_settings`` restarts
a running server after a change): so the two never race, and at launch the server starts before the first
model load, which sizes the engine's parallel sequences from ``settings.server.parallel``. A failure (a busy
port, an address that is not this computer's) is a status, shown in red in the indicator and on the page:
never a dialog, never a traceback.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from app.views.dialogs import deleted_on_close
from app.views.status_bar import StatusBar
from app.workers import Job, Workers
from assistant.errors import HearthError

if TYPE_CHECKING:
    from app.views.settings_dialog import SettingsDialog
    from assistant.server.runner import ServerStatus

#: How often the indicator looks again while the server runs: it may stop on its own (the reason shows), and
#: it says how many answers it is generating (no socket is touched: a look costs microseconds).
POLL_MS = 1_000


def _answering(status: ServerStatus) -> str:
    return f"answering {status.answering} request{'s' if status.answering != 1 else ''}" if status.answering else ""


def indicator(status: ServerStatus | None, starting: bool = False) -> tuple[str, str, str]:
    """The status bar's (text, tooltip, state): the URL while it runs, the error in red when it could not start
    or stopped on its own, "" (hidden) when it is off."""
    if starting:
        return "API: starting…", "The API server is starting.", "busy"
    if status is None:
        return "", "", ""
    if status.running:
        tip = [f"Hearth's OpenAI-compatible API runs at {status.url} (base URL {status.base_url}).",
               f"{status.parallel} parallel answer slot{'s' if status.parallel != 1 else ''}."]
        if status.network:
            tip.append(f"Reachable from other computers on the network ({status.host}): every request needs "
                       "the token.")
        if answering := _answering(status):
            tip.append(f"Now {answering} (stopping or restarting the server cuts them short).")
        tip.append("Click for the server settings.")
        return f"API: {status.url}" + (f" · {answering}" if answering else ""), "\n".join(tip), "ok"
    if status.error:
        return (f"API: {status.error}", f"The API server is not running: {status.error}.\nClick to choose "
                "another port or address.", "error")
    return "", "", ""


def status_line(status: ServerStatus | None, starting: bool = False) -> tuple[str, str]:
    """Settings → Server's live line (text, state)."""
    if starting:
        return "Starting…", "busy"
    if status is not None and status.running:
        network = f"; reachable from the network on {status.host}" if status.network else ""
        answering = _answering(status)
        now = f" Now {answering}: applying a change to the server cuts them short." if answering else ""
        return f"Running at {status.url} ({status.parallel} in parallel{network}).{now}", "ok"
    if status is not None and status.error:
        return f"Not running: {status.error}.", "error"
    return "Stopped.", ""


class ServerController(QObject):
    def __init__(self, assistant: Any, workers: Workers, status_bar: StatusBar) -> None:
        super().__init__()
        self.assistant, self.workers, self.status_bar = assistant, workers, status_bar
        self.status: ServerStatus | None = None
        self.pending = 0  # start/stop jobs queued on the model lane
        self.dialog: SettingsDialog | None = None
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self.refresh)

    def start_if_enabled(self) -> None:
        """At launch: start the server when the settings say so (before the model loads: same lane, earlier)."""
        if self.assistant.settings.server.enabled:
            self.sync()

    def sync(self, _applied: Any = None) -> None:
        """Make the server match ``settings.server.enabled`` (after the settings were applied): start it when it
        should run and does not (``update_settings`` restarts a running server but starts none), stop it when
        it should not."""
        self.pending += 1
        self._show()
        self.workers.model.submit(Job(self._ensure, on_done=self._done, on_failed=self._failed))

    def _ensure(self) -> tuple[ServerStatus, str]:
        """On the model lane: the status, and what was done in words ("" for nothing)."""
        assistant = self.assistant
        wanted = assistant.settings.server
        status = assistant.server_status()
        if wanted.enabled and not status.running:
            try:
                status = assistant.start_server()
            except HearthError as exc:
                return (dataclasses.replace(assistant.server_status(), running=False, error=str(exc),
                                            host=wanted.host, port=wanted.port), f"API server not started: {exc}")
            return status, f"API server started at {status.url}"
        if not wanted.enabled and (status.running or status.error):  # (a failed start is switched off too)
            assistant.stop_server()
            return assistant.server_status(), "API server stopped" if status.running else ""
        return status, ""

    def _done(self, result: tuple[ServerStatus, str]) -> None:
        self.pending -= 1
        self.status, done = result
        self._show()
        if done and self.dialog is not None and self.dialog.isVisible():  # after Apply: say it under the pages
            self.dialog.add_applied(self.status.running or not self.status.error, done)

    def _failed(self, message: str) -> None:
        self.pending -= 1
        self.status = dataclasses.replace(self.assistant.server_status(), running=False, error=message)
        self._show()

    def refresh(self) -> None:
        """Look at the server again (cheap: no socket is touched) unless a start or stop is under way."""
        if not self.pending:
            status = self.assistant.server_status()
            if status == self.status:
                return  # (every second while it runs: nothing to lay out again)
            if status.running or status.error or not (self.status and self.status.error):
                self.status = status  # (a failed start leaves no server behind: keep showing why)
            self._show()

    def _show(self) -> None:
        starting = self.pending > 0 and self.assistant.settings.server.enabled
        self.status_bar.set_server(*indicator(self.status, starting))
        if self.dialog is not None:
            self.dialog.server_page.set_status(*status_line(self.status, starting))
        running = self.status is not None and self.status.running
        if running:
            self.poll.start()
        else:
            self.poll.stop()

    def attach_dialog(self, dialog: SettingsDialog) -> None:
        """Settings was opened: its Server page gets the live status and the token (made now, on first use)."""
        self.dialog = dialog
        deleted_on_close(dialog, self)
        self._show()
        token = self.assistant.settings.server.token
        if token:
            dialog.server_page.set_token(token)
        else:
            # the network lane: the io lane may be busy reading the library for seconds right after launch
            self.workers.network.submit(Job(self.assistant.server_token, on_done=dialog.server_page.set_token,
                                            owner=dialog))
