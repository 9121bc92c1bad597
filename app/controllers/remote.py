"""Settings → Remote's "Test connection": the core tries the values on the page (before they are saved) on the
network lane, so a server that does not answer holds up nothing; the page shows the result in green or red."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from app.workers import Job, Workers

if TYPE_CHECKING:
    from app.views.settings_dialog import SettingsDialog
    from assistant.config import RemoteSettings
    from assistant.remote import RemoteCheck


def check_text(check: RemoteCheck) -> str:
    """The check's sentence, with its round trip when the sentence does not give it already."""
    text = check.message.strip()
    if check.latency_ms is not None and " ms" not in text:
        text = f"{text.rstrip('.')} ({check.latency_ms:.0f} ms)."
    return text


class RemoteController(QObject):
    def __init__(self, assistant: Any, workers: Workers) -> None:
        super().__init__()
        self.assistant, self.workers = assistant, workers

    def attach_dialog(self, dialog: SettingsDialog) -> None:
        dialog.testRemoteRequested.connect(lambda part, remote: self.test(dialog, part, remote))

    def test(self, dialog: SettingsDialog, part: str, remote: RemoteSettings) -> None:
        page, assistant = dialog.remote_page, self.assistant
        self.workers.network.submit(Job(
            lambda: assistant.test_remote(part, remote),
            on_done=lambda check: page.show_check(part, bool(check.ok), check_text(check)),
            on_failed=lambda message: page.show_check(part, False, message), owner=dialog))
