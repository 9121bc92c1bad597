"""The start-up check: the core's doctor runs once the model is ready; what needs attention goes in the banner,
with a Repair button when Hearth can fix it itself (a collection whose stores drifted apart is re-synced)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from app.views.chat_view import ErrorBanner
from app.workers import Job, Workers


class DoctorController(QObject):
    checked = Signal(list)  # the findings of the last check (tests wait on it)
    repaired = Signal()  # a repair ended: what it mended (collections) is read again

    def __init__(self, assistant: Any, workers: Workers, banner: ErrorBanner) -> None:
        super().__init__()
        self.assistant, self.workers, self.banner = assistant, workers, banner
        self.findings: list[Any] = []
        self._said = ""  # what the banner was given of the findings (see _show)
        self._started = False

    def check_once(self, _model_ready: bool = True) -> None:
        """At start-up, after the first model load (not after later switches)."""
        if not self._started:
            self._started = True
            self.check()

    def check(self) -> None:
        """Run the checks on the io lane (they read stores and files); the window is already usable."""
        assistant = self.assistant
        self.workers.io.submit(Job(lambda: assistant.doctor(desktop=False), on_done=self._show))

    def settings_mended(self) -> None:
        """The settings file reads well again (mended on disk, or saved whole by Settings → Apply): a check that
        named it runs again, and what it said goes. The start-up check's banner named a value the window's own
        Apply had mended until the window was closed."""
        if any(f.area == "settings" for f in self.findings):
            self.check()

    def _show(self, findings: list[Any]) -> None:
        """The findings in the banner, in place of what an earlier check said there."""
        self.findings = [f for f in findings if f.status != "ok"]
        self.checked.emit(self.findings)
        self.banner.withdraw(self._said)
        self._said = ""
        if not self.findings:
            return
        lines = [f"{f.message} {f.fix}".strip() if not f.repair else f.message for f in self.findings]
        repairable = [f for f in self.findings if f.repair]
        self._said = "\n".join(lines)
        self.banner.show_message(self._said, "Repair" if repairable else "", lambda: self.repair(repairable),
                                 lasting=True)

    def repair(self, findings: list[Any]) -> None:
        """Repairs run on the indexing lane (a re-sync embeds); the banner shows progress, then checks again."""
        self.banner.action.setEnabled(False)
        self.banner.label.setText("Repairing…")
        assistant = self.assistant

        def run() -> Any:
            for finding in findings:
                yield from assistant.repair(finding)

        self.workers.indexing.submit(Job(run, on_item=self._progress, on_done=lambda _: self._repaired(),
                                         on_failed=lambda message: self.banner.show_message(message)))

    def _progress(self, progress: Any) -> None:
        total = f"/{int(progress.total)}" if progress.total else ""
        self.banner.label.setText(f"Repairing… {int(progress.done)}{total} {progress.unit}".rstrip())

    def _repaired(self) -> None:
        self.banner.dismiss()
        self.repaired.emit()
        self.check()
