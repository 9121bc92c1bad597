"""Helpers the GUI tests import by name (``conftest`` is ambiguous when several test folders run together)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from app import theme
from assistant.config import Settings, save_settings
from assistant.paths import get_paths


def come_back(window) -> None:
    """The user comes back to ``window`` (offscreen, focus changes never happen: the event the window acts on)."""
    window.activateWindow()
    QApplication.sendEvent(window, QEvent(QEvent.Type.ActivationChange))


def write_settings(**model: object) -> Settings:
    settings = Settings()
    settings.model.n_ctx = 2048
    settings.model.max_tokens = 24
    settings.model.temperature = 0.0
    settings.memory.enabled = False  # memory has its own tests; here it would only load an embedder per window
    for key, value in model.items():
        setattr(settings.model, key, value)
    save_settings(settings, get_paths().settings_file)
    return settings


@contextmanager
def themed(qapp, name: str, font_size: int) -> Iterator[theme.Theme]:
    """The whole application in ``name`` at ``font_size`` for the test, as it was afterwards."""
    with kept_style(qapp):
        yield theme.apply(qapp, name, font_size)


@contextmanager
def kept_style(qapp) -> Iterator[None]:
    """The application's style, palette, style sheet and font put back as they were afterwards."""
    saved = qapp.style().name(), qapp.palette(), qapp.styleSheet(), qapp.font()
    try:
        yield
    finally:
        qapp.setStyle(saved[0])
        qapp.setPalette(saved[1])
        qapp.setStyleSheet(saved[2])
        qapp.setFont(saved[3])


def fill_status_bar(bar, model: str = "SmolLM2 135M Instruct · 135M Q4_1",
                    device: str = "CPU (this build of llama.cpp has no GPU support)") -> None:
    """Every label of the status bar ``bar`` with text as long as an answer leaves there."""
    bar.set_model(model, "the model file")
    bar.set_device(device)
    bar.speculation.setText("spec: off (no draft worth trying)")
    bar.speculation.show()
    bar.set_speed(18.1, 0.251)
    bar.set_context(1234, 4096)
