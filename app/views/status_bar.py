"""Status bar: model (and its load progress with Cancel), device, context used/size as a meter, last speed,
what speculative decoding did for the last answer, and the API server (its URL, or why it is not running)."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from app.views.widgets import restyle

#: Answers shorter than this show no speed-up: over a few tokens it measures noise, not speculation (the
#: screenshots' 8- and 28-token answers read 0.7x and 0.9x; 24 short answers measured together, 1.01x). The
#: tooltip still has the figure with the whole decision.
SPEEDUP_MIN_TOKENS = 32
#: The model's name is kept whole up to about this many characters (average ones) while the window narrows,
#: and at most this wide (a large font's window must still fit a laptop's screen).
MODEL_NAME_CHARS, KEPT_MOST_PX = 30, 200


def speculation_summary(stats: Any) -> str:
    """The last answer's speculation in a few words ("spec: ngram 82% · 1.4×", "spec: off (plain faster)"), or
    "" when there is nothing to say (speculation off and no decision reported). ``stats`` is a ``Stats``."""
    mode, decision = stats.spec_mode, stats.spec_decision
    if stats.spec_drafted:
        words = [f"spec: {stats.spec_drafter or mode} {stats.spec_acceptance:.0%}"]
        if stats.spec_speedup > 0 and stats.completion_tokens >= SPEEDUP_MIN_TOKENS:
            words.append(f"{stats.spec_speedup:.1f}×")
        return " · ".join(words)
    if not decision and mode == "off":
        return ""
    # "off: needs greedy sampling", or auto's "auto: off, no draft worth trying (…)": the words after the state
    reason = re.sub(r"^(?:off|on)\b,?\s*", "", decision.partition(":")[2].strip()).split(",")[0]
    reason = reason.split(" (")[0].strip()
    if re.search(r"\bplain (is |was )?faster", decision):
        reason = "plain faster"
    if mode in ("off", "auto") or decision.startswith("off"):
        return f"spec: off ({reason})" if reason and len(reason) <= 24 else "spec: off"
    return f"spec: {mode} · nothing drafted"


#: Qt's QWIDGETSIZE_MAX (PySide6 does not export it): no limit on a widget's width.
UNLIMITED_PX = (1 << 24) - 1


class ElidedLabel(QLabel):
    """A label that gives up width: its text ends in "…" where the window is narrower than the text. At font
    size 16 the status bar's labels made the window 1,470-1,814 px wide at least, wider than a laptop's screen,
    and an answer's longer figures widened it further."""

    def __init__(self, text: str = "", keep_chars: int = 0) -> None:
        super().__init__(text)
        self.keep_chars = keep_chars  # kept whole up to this many characters before the others give way
        self.short = ""  # shown instead where the text does not fit, and kept whole ("0 / 4,096": not "0 / 4,…")

    def set_text(self, text: str, short: str = "") -> None:
        self.short = short
        self.setText(text)
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        least = metrics.horizontalAdvance("…") * 4
        if self.short:  # with the room the style's padding takes beside the text
            least = metrics.horizontalAdvance(self.short) + 2 + self.width() - self.contentsRect().width()
        elif self.keep_chars:
            whole = metrics.horizontalAdvance(self.text()) + 2
            least = max(least, min(whole, metrics.averageCharWidth() * self.keep_chars, KEPT_MOST_PX))
        return QSize(least, super().minimumSizeHint().height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        box = self.contentsRect()
        text = self.text()
        if self.short and self.fontMetrics().horizontalAdvance(text) > box.width():
            text = self.short
        shown = self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, box.width())
        painter.drawText(box, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)


class ClickableLabel(QLabel):
    """A status-bar label that opens something when clicked (the pointer says so)."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class StatusBar(QStatusBar):
    cancelLoadRequested = Signal()
    serverRequested = Signal()  # the API indicator was clicked: show Settings → Server

    def __init__(self) -> None:
        super().__init__()
        self.setSizeGripEnabled(False)
        # the model's name is what the bar is for: the device's and speculation's words give way first (it was
        # the first cut, "SmolLM2 135M Inst…", at 800-1,024 px)
        self.model = ElidedLabel("Starting…", keep_chars=MODEL_NAME_CHARS)
        self.model.setAccessibleName("Model")
        self.device = ElidedLabel()
        self.device.setAccessibleName("Device")
        self.meter = QProgressBar()
        self.meter.setObjectName("ContextMeter")
        self.meter.setAccessibleName("Context used")
        self.meter.setRange(0, 1)
        self.meter.setTextVisible(False)
        self.meter.setValue(0)
        self.meter.setMaximumWidth(140)  # a gauge: the width it would take is the model's name's and a message's
        self.context = ElidedLabel()  # "context 1,234 / 8,192", or at least its figures whole (see set_context)
        self.context_used = 0  # what the chat on screen takes of the context, as last shown
        self.load_bar = QProgressBar()
        self.load_bar.setObjectName("LoadProgress")
        self.load_bar.setAccessibleName("Model load progress")
        self.load_bar.setRange(0, 100)
        self.load_bar.setMaximumWidth(140)
        self.load_bar.setTextVisible(False)  # the model label says "Loading X… 42% · 3 s left"
        self.cancel_load = QPushButton("Cancel")
        self.cancel_load.setAccessibleName("Cancel loading the model")
        self.cancel_load.clicked.connect(self.cancelLoadRequested)
        self.speed = ElidedLabel(keep_chars=10)  # "18.5 tok/s", then its TTFT gives way (at font size 24 the
        # answer's figures held the window at 1,259 px at least)
        self.speed.setAccessibleName("Last answer speed")
        self.speculation = ElidedLabel()
        self.speculation.setAccessibleName("Speculative decoding in the last answer")
        self.speculation.hide()
        self.server = ClickableLabel()
        self.server.setObjectName("ServerIndicator")
        self.server.setAccessibleName("API server")
        self.server.clicked.connect(self.serverRequested)
        self.server.hide()
        for left in (self.model, self.load_bar, self.cancel_load, self.device):
            self.addWidget(left)
            left.installEventFilter(self)
        self.show_load(None)
        self.addPermanentWidget(self.server)
        self.addPermanentWidget(self.speculation)
        self.addPermanentWidget(self.speed)
        self.addPermanentWidget(self.meter)
        self.addPermanentWidget(self.context)
        self.messageChanged.connect(self._give_way)

    def _give_way(self, message: str) -> None:
        """While a message is shown, the API indicator and the last answer's figures give their width to it
        ("Stopped before the answer began: your message is…" was cut where they began); the context stays."""
        for label in (self.server, self.speculation, self.speed):
            label.setMaximumWidth(0 if message else UNLIMITED_PX)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Qt's restyle (a theme or font change) and a model load show the left-hand labels again under a
        message still shown ("Settings file changed: …" drawn over the model's name): hidden again at once."""
        if event.type() == QEvent.Type.Show and self.currentMessage():
            QTimer.singleShot(0, self.hideOrShow)
        return False

    def set_model(self, text: str, tooltip: str = "") -> None:
        self.model.setText(text)
        self.model.setToolTip(tooltip)

    def show_load(self, percent: int | None, text: str = "") -> None:
        """A load in progress (``percent`` 0-100, ``text`` with its ETA), or ``None`` when none runs."""
        for widget in (self.load_bar, self.cancel_load):
            widget.setVisible(percent is not None)
        if percent is not None:
            self.load_bar.setValue(percent)
            self.set_model(text, self.model.toolTip())

    def set_device(self, device: str) -> None:
        self.device.setText(device)

    def set_context(self, used: int, size: int | None = None) -> None:
        """``size`` None: the context size shown already (a chat opened: only what it uses changed)."""
        self.context_used = used
        size = self.meter.maximum() if size is None else size
        self.meter.setRange(0, max(size, 1))
        self.meter.setValue(min(used, max(size, 1)))
        over = used > size  # a chat longer than a context made smaller since: it read "2,388 / 2,048", unexplained
        full = " (full)" if over else ""
        self.context.set_text(f"context {used:,} / {size:,}{full}", f"{used:,} / {size:,}{full}")
        self.meter.setToolTip(f"This chat takes {used:,} tokens, more than the context's {size:,}: the next answer "
                              "leaves out its oldest turns (Settings → Model → Context length)" if over
                              else f"{used:,} of {size:,} context tokens in use")
        self.context.setToolTip(self.meter.toolTip())

    def set_speed(self, tokens_per_s: float, ttft_s: float) -> None:
        self.speed.setText(f"{tokens_per_s:.1f} tok/s · TTFT {ttft_s * 1000:.0f} ms")
        self.speed.setToolTip(self.speed.text())  # whole, where the bar is too narrow for it

    def clear_answer_stats(self) -> None:
        """A model (re)loaded, or a new chat: the last answer's speed and speculation described the one before
        (they stayed beside the new model's name after a switch, and beside a new chat's "context 0")."""
        self.speed.setText("")
        self.set_speculation(None, asked="off")  # nothing to report: hidden

    def set_speculation(self, stats: Any, asked: str = "") -> None:
        """Show what speculation did in the last answer (its decision in words as the tooltip); nothing when
        the user turned it off (``asked``: the configured mode) or there is nothing to report."""
        text = "" if asked == "off" else speculation_summary(stats)
        self.speculation.setText(text)
        self.speculation.setToolTip(stats.spec_decision if text else "")
        self.speculation.setVisible(bool(text))

    def set_server(self, text: str, tooltip: str = "", state: str = "") -> None:
        """The API server's indicator ("API: http://127.0.0.1:8181"; ``state`` "error" shows it in red, "busy"
        muted); hidden when ``text`` is empty (the server is off)."""
        self.server.setText(text)
        self.server.setToolTip(tooltip)
        restyle(self.server, "state", state)
        self.server.setVisible(bool(text))
