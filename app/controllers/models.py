"""The Models view's controller: library, catalog and Hub search on the io lane, downloads and self-drafts on
their own lane.

Everything that touches the core runs in a lane job (reading GGUF headers, probing free memory, the network),
so the window never waits. Downloads get the "hearth-download" lane: a multi-GB file must not hold up the
memory dialog or a library refresh. Progress comes back through a :class:`Relay`; Cancel sets the core's
cancel event, and Resume simply starts the same download again, which continues from the partial file the
core keeps. "Use" is the model controller's switch, whose load progress this view shows as well.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from app.controllers.model import ModelController
from app.views.dialogs import confirm, show_error
from app.views.model_folders import ModelFoldersDialog
from app.views.models_view import ModelsDialog, size_text
from app.workers import Job, Relay, Workers
from assistant.core import real_path
from assistant.events import time_left

if TYPE_CHECKING:
    from assistant.events import Progress
    from assistant.models import LibraryEntry
    from assistant.models.downloads import DownloadProgress, DownloadResult
    from assistant.models.hub import HubRepo
    from assistant.models.service import CatalogRow


def download_text(p: DownloadProgress) -> str:
    total = f" of {p.total / 1e6:.1f}" if p.total else ""
    eta = time_left(p.eta_s)
    return f"{p.file}: {p.downloaded / 1e6:.1f}{total} MB · {p.speed / 1e6:.1f} MB/s" + (f" · {eta}" if eta else "")


class ModelsController(QObject):
    downloadFinished = Signal(object)  # the DownloadResult, once the model is in the library

    def __init__(self, assistant: Any, workers: Workers, window: QWidget, model: ModelController) -> None:
        super().__init__()
        self.assistant, self.workers, self.window, self.model = assistant, workers, window, model
        self.dialog: ModelsDialog | None = None
        self.folders: ModelFoldersDialog | None = None  # Models → Folders…, created when first opened
        self.transfer: tuple[str, str] | None = None  # (repo, file) of the last download: what Resume repeats
        self.received = 0  # bytes of the current download on disk (see download)
        self.downloading = False
        #: loads started here ("Use") and not ended: their progress shows in the view. Counted, because they queue
        #: on the model lane: with a second Use clicked during the first load, the first one's end said "Still
        #: using <first>: the new model could not load", and the second model then loaded without a word.
        self.switching = 0
        self._wanted: Path | None = None  # the model that "Use" asked for last
        self.cancel = threading.Event()
        self._progress = Relay(self._on_progress)
        self.drafting: str | None = None  # the model whose self-draft is being made
        self.draft_cancel = threading.Event()
        self._draft_progress = Relay(self._on_draft_progress)
        model.libraryChanged.connect(self._show_library)
        model.loadProgress.connect(self._load_progress)
        model.loadFinished.connect(self._load_finished)
        model.recorded.connect(self._recorded)
        model.applied.connect(self._settings_applied)

    def _view(self) -> ModelsDialog:
        """The dialog, created once: a download keeps reporting to it while it is closed."""
        if self.dialog is None:
            dialog = self.dialog = ModelsDialog(self.window)
            dialog.useRequested.connect(self.use)
            dialog.removeRequested.connect(self.remove)
            dialog.addRequested.connect(self.add)
            dialog.foldersRequested.connect(self.open_folders)
            dialog.downloadRequested.connect(self.download)
            dialog.searchRequested.connect(self.search)
            dialog.download.cancelRequested.connect(self.cancel_download)
            dialog.download.resumeRequested.connect(self.resume)
            dialog.selfDraftRequested.connect(self.make_self_draft)
            dialog.activated.connect(lambda: self.model.refresh_library(if_changed=True))
            dialog.draft.cancelRequested.connect(self.draft_cancel_requested)
            dialog.load.cancelRequested.connect(self.model.cancel_load)
        return self.dialog

    def open(self) -> ModelsDialog:
        dialog = self._view()
        self._show_library(self.model.library)
        self.model.refresh_library()
        self.refresh_catalog()
        dialog.open()
        return dialog

    # --- library and catalog -----------------------------------------------------------------------------
    def _show_library(self, entries: list[LibraryEntry]) -> None:
        if self.dialog is not None:
            self.dialog.set_library(entries, self.model.current_model())

    def _settings_applied(self, applied: Any) -> None:
        """A context or KV cache applied in Settings (or the settings file) changes the fit the open view shows:
        the library is read again (it kept the fit at the old context until the dialog was opened again). An
        Apply that loaded the model is left to the load's end, which reads it anyway."""
        if self.dialog is not None and self.dialog.isVisible() and getattr(applied, "model", None) is None:
            self.model.refresh_library()

    def refresh_catalog(self) -> None:
        self.workers.io.submit(Job(self.assistant.models.catalog, on_done=self._show_catalog,
                                   on_failed=self._catalog_failed))

    def _show_catalog(self, rows: list[CatalogRow]) -> None:
        self._view().set_catalog(rows)

    def _catalog_failed(self, message: str) -> None:
        self._view().catalog.set_rows([], message)

    def use(self, path: Path) -> None:
        self.switching += 1
        self._wanted = path
        self._view().load.running(f"Loading {path.name}…", 0)
        self.model.switch(path, listed=True)

    def _load_progress(self, text: str, percent: int) -> None:
        if self.switching:
            self._view().load.running(text, percent)

    def _load_finished(self, ok: bool) -> None:
        if self._switch_ended():
            engine = self.assistant.engine
            if not (ok and engine.loaded):
                said = "No model loaded."
            elif real_path(engine.info.path) == real_path(self._wanted):
                said = f"Now using {engine.info.precise_name}."
            else:  # the old model stayed (it read "Now using <the old one>", as if the switch had happened)
                said = f"Still using {engine.info.precise_name}: {self.model.failure.rstrip('.')}."
            self._view().load.finished(said)
            # the current mark moves now, not when the library has been read again (seconds behind other io jobs,
            # during which the old model was still marked current, with Use on the new one)
            self._show_library(self.model.library)
            if not said.startswith("Now using"):  # (one removed elsewhere goes from the list)
                self.model.refresh_library(if_changed=True)

    def _recorded(self, said: str) -> None:
        if self._switch_ended():
            self._view().load.finished(said)

    def _switch_ended(self) -> bool:
        """One load started here ended: True when it was the last one asked for (the one to say)."""
        if not self.switching:
            return False
        self.switching -= 1
        return not self.switching

    def add(self, path: Path) -> None:
        """List a model file (linked, where it is) or a folder of them in the library; its header is read first,
        so a file that is no model is said and not listed."""
        view, models = self._view(), self.assistant.models

        def add() -> tuple[Path, str]:
            where = models.add(path)
            if not where.is_dir():
                return where, ": Use loads it"
            return where, f": it {models.folder_contents(where).holds()}"  # "Added lib" alone said nothing more

        def added(result: tuple[Path, str]) -> None:
            where, said = result
            view.tabs.setCurrentWidget(view.library)
            view.load.finished(f"Added {where.name} to the library{said}.")
            self._library_changed()

        self.workers.io.submit(Job(add, on_done=added,
                                   on_failed=lambda message: show_error(view, "Add model", message)))

    def remove(self, entry: LibraryEntry) -> None:
        # what happens to this file, not the rule for both kinds (the user had to know which kind it was)
        size = f", {size_text(entry.info.file_size)}" if entry.info else ""
        text = (f"Delete {entry.shown} ({entry.file}{size}) from Hearth's models folder? The file is deleted, with "
                "its self-draft if one was made."
                if entry.removal_deletes else
                f"Forget {entry.shown}? Hearth stops listing it; the file stays where it is: {entry.path}.")
        confirm(self._view(), "Remove model?", text, "Remove", lambda: self.workers.io.submit(
            Job(lambda: self.assistant.remove_model(str(entry.path)), on_done=lambda _: self._library_changed(),
                on_failed=lambda message: show_error(self._view(), "Remove model", message))))

    def _library_changed(self) -> None:
        self.model.refresh_library()
        self.refresh_catalog()
        if self.folders is not None and self.folders.isVisible():
            self.refresh_folders()

    # --- folders ------------------------------------------------------------------------------------------
    def open_folders(self) -> ModelFoldersDialog:
        """The folders added, each with "Stop listing": only `hearth models remove FOLDER` could stop listing
        one (every row from it had Remove greyed)."""
        if self.folders is None:
            self.folders = ModelFoldersDialog(self._view())
            self.folders.stopRequested.connect(self.stop_listing)
        self.refresh_folders()
        self.folders.open()
        return self.folders

    def refresh_folders(self) -> None:
        models = self.assistant.models
        dialog = self.folders
        assert dialog is not None
        self.workers.io.submit(Job(models.folders_contents, on_done=dialog.set_folders,
                                   on_failed=lambda message: dialog.rows.set_rows([], message)))

    def stop_listing(self, folder: Path) -> None:
        """Asked first, as Remove is; the core refuses the folder holding the model in use, and that is said."""
        dialog = self.folders
        assert dialog is not None
        text = (f"Stop listing the models in {folder}? The files stay where they are (self-drafts made of them are "
                "deleted); Add folder… lists them again.")
        confirm(dialog, "Stop listing folder?", text, "Stop listing", lambda: self.workers.io.submit(
            Job(lambda: self.assistant.remove_model(str(folder)), on_done=lambda _: self._library_changed(),
                on_failed=lambda message: show_error(dialog, "Stop listing folder", message))))

    # --- Hub search ---------------------------------------------------------------------------------------
    def search(self, query: str) -> None:
        self.workers.io.submit(Job(lambda: self.assistant.models.search_hub(query),
                                   on_done=lambda repos: self._show_results(query, repos),
                                   on_failed=self._view().search_failed))

    def _show_results(self, query: str, repos: list[HubRepo]) -> None:
        self._view().set_results(query, repos)

    # --- downloads ----------------------------------------------------------------------------------------
    def download(self, repo: str, file: str) -> None:
        """Start (or, for a file with a partial, resume) a download; one at a time."""
        if self.downloading:
            return
        panel = self._view().download
        self.transfer, self.downloading, self.cancel = (repo, file), True, threading.Event()
        self.received = 0  # Resume continues what is on disk; Retry when nothing came (see _download_failed)
        panel.running(f"{file}: asking the Hub…", None)
        models, progress, cancel = self.assistant.models, self._progress, self.cancel
        self.workers.download.submit(Job(lambda: models.download(repo, file, progress, cancel),
                                         on_done=self._downloaded, on_failed=self._download_failed))

    def cancel_download(self) -> None:
        """Stop the download; its partial file stays, and Resume continues from it."""
        self.cancel.set()

    def resume(self) -> None:
        if self.transfer is not None:
            self.download(*self.transfer)

    def _on_progress(self, p: DownloadProgress) -> None:
        if self.downloading:
            self.received = p.downloaded
            self._view().download.running(download_text(p), round(100 * p.fraction) if p.fraction is not None
                                          else None)

    def _downloaded(self, result: DownloadResult) -> None:
        self.downloading = False
        check = "sha256 verified" if result.verified else "no sha256 to verify against"
        self._view().download.finished(f"Downloaded {result.path.name} ({size_text(result.size)}, {check}). "
                                       "It is in the Library.")
        self._library_changed()
        self._view().tabs.setCurrentIndex(0)
        self.downloadFinished.emit(result)

    def _download_failed(self, message: str) -> None:
        self.downloading = False
        self._view().download.stopped(message, resumable=True, action="Resume" if self.received else "Retry")

    # --- self-drafts --------------------------------------------------------------------------------------
    def make_self_draft(self, entry: LibraryEntry) -> None:
        """Make a model's self-draft on the download lane (a long disk job, like a download: one waits for the
        other), with progress, ETA and Cancel; a cancelled run leaves no file behind (the core's rule)."""
        if self.drafting is not None:
            return
        self.drafting, self.draft_cancel = entry.name, threading.Event()
        self._view().draft.running(("Once the download has finished: a" if self.downloading else "Making a")
                                   + f" self-draft of {entry.name}…", None)
        models, progress, cancel, started = self.assistant.models, self._draft_progress, self.draft_cancel, time.time()

        def make() -> tuple[int, float]:
            path = models.make_self_draft(entry.path, progress, cancel)
            return path.stat().st_size, time.time() - started

        self.workers.download.submit(Job(make, on_done=self._drafted, on_failed=self._draft_failed))

    def draft_cancel_requested(self) -> None:
        self.draft_cancel.set()

    def _on_draft_progress(self, p: Progress) -> None:
        if self.drafting is not None:
            total, eta = (f" of {p.total / 1e6:.0f}" if p.total else ""), time_left(p.eta_s)
            self._view().draft.running(f"Making a self-draft of {self.drafting}: {p.done / 1e6:.0f}{total} MB"
                                       + (f" · {eta}" if eta else ""),
                                       min(100, round(100 * p.done / p.total)) if p.total else None)

    def _drafted(self, made: tuple[int, float]) -> None:
        size, seconds = made
        name, self.drafting = self.drafting, None
        self._view().draft.finished(f"Made a {size_text(size)} self-draft of {name} in {seconds:.1f} s. It drafts "
                                    "for it when the speculative mode is Self or Auto (Settings → Model).")
        self._library_changed()

    def _draft_failed(self, message: str) -> None:
        self.drafting = None
        self._view().draft.stopped(message, resumable=False)

    def shutdown(self) -> None:
        """At close: a download's partial file stays (the next start can resume it); a self-draft being made is
        dropped, leaving nothing behind."""
        self.cancel_download()
        self.draft_cancel.set()
