"""Settings → Server (the OpenAI-compatible API while the window is open) and Settings → Remote (a Chroma server
for the vectors, an OpenAI-compatible server for the model): two pages of the Settings dialog.

The pages only edit values; the controllers give them what the core knows (the token, the server's live
status, "Test connection" results) and apply the edited settings through ``Assistant.update_settings``.
"""

from __future__ import annotations

import ipaddress
import shlex

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.views.widgets import field_label, restyle
from assistant.config import RANGES, RemoteSettings, ServerSettings, browser_origins, local_url

DEFAULT_HOST = "127.0.0.1"
#: The addresses the picker offers; any other can be typed (an address of one of this computer's networks).
HOSTS = {DEFAULT_HOST: "This computer only", "0.0.0.0": "Every network this computer is on"}
NETWORK_WARNING = ("Reachable from other computers: anyone who can reach this address can call the API with the "
                   "token, and requests and answers cross the network unencrypted. Keep the token secret.")
PARALLEL_NOTE = "Answers decoded together in one batch: more serve more programs at once and use more memory."
CORS_NOTE = "Web pages from these origins may call the API, comma-separated. Empty: none."
SERVER_NOTE = ("Saving (or Apply) takes effect at once: the switch starts or stops the server, and a new address, "
               "port, parallel count or origin list restarts it (answers in progress are cancelled). Every "
               "request needs the token, from this computer too.")
CHROMA_NOTE = ("Knowledge and memory vectors move to this server. The keyword index, the passages' text and the "
               "list of indexed files stay on this computer. Chroma's own login is weak: put it behind a TLS "
               "proxy that checks the token.")
LLM_PRIVACY = ("Privacy: with a remote model, your questions, the passages retrieved from your folders and your "
               "memories are sent to this server. Use only a server you trust, over https unless it is on your "
               "own network.")
REMOTE_NOTE = "Empty URLs keep the part on this computer. Saving (or Apply) switches at once."
#: What the curl example asks; the server answers with the model it has, whatever the ``model`` field says.
CURL_BODY = '{"model":"hearth","messages":[{"role":"user","content":"Hello"}]}'


def is_loopback(host: str) -> bool:
    """A host only this computer can reach (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def curl_example(url: str, token: str) -> str:
    """A ready ``curl`` command for one chat completion (the body in single quotes for a POSIX shell)."""
    return (f'curl {url}/v1/chat/completions -H "Authorization: Bearer {token}" '
            f'-H "Content-Type: application/json" -d {shlex.quote(CURL_BODY)}')


def set_state(label: QLabel, state: str) -> None:
    """Colour a status label through the stylesheet: "ok" (green), "error" (red), "busy" or "" (muted)."""
    restyle(label, "state", state)


def _note(text: str, name: str = "Muted") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    return label


class _Rows(QGridLayout):
    """A form: labels on the left, fields on the right, and notes under a field or across the page. (A grid,
    not a QFormLayout: a form row with a word-wrapped label in its field column keeps a gap above it.)"""

    def __init__(self) -> None:
        super().__init__()
        self.setColumnStretch(1, 1)
        self.setHorizontalSpacing(10)
        self.labels: list[QLabel] = []
        self.rows = 0

    def add(self, label: str | None, field: QWidget | QHBoxLayout) -> None:
        """``label`` None: ``field`` spans both columns; "": under the field column."""
        row, self.rows = self.rows, self.rows + 1
        if label:
            text = field_label(label, field)
            self.labels.append(text)
            self.addWidget(text, row, 0)
        column, span = (0, 2) if label is None else (1, 1)
        if isinstance(field, QHBoxLayout):
            self.addLayout(field, row, column, 1, span)
        else:
            self.addWidget(field, row, column, 1, span)


def _align(*forms: _Rows) -> None:
    """The same label width in several forms, so their fields line up."""
    width = max((label.sizeHint().width() for form in forms for label in form.labels), default=0)
    for form in forms:
        form.setColumnMinimumWidth(0, width)


def _copy(button: QPushButton, text: str) -> None:
    """Put ``text`` on the clipboard and say so on the button for a moment."""
    QApplication.clipboard().setText(text)
    label = button.text()
    if label != "Copied":
        button.setText("Copied")
        QTimer.singleShot(1500, button, lambda: button.setText(label))


class ServerPage(QWidget):
    """On/off, address, port, parallel answers, CORS origins, the token, a curl example and the live status."""

    def __init__(self, server: ServerSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.enabled = QCheckBox("Run the API server while Hearth is open")
        self.status = QLabel("Stopped.")
        self.status.setObjectName("ServerStatus")
        self.status.setAccessibleName("API server status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        set_state(self.status, "")
        self.host = QComboBox()
        self.host.setEditable(True)
        self.host.setAccessibleName("Address to listen on")
        self.host.lineEdit().setAccessibleName("Address to listen on")  # the part that takes the focus
        for address, meaning in HOSTS.items():
            self.host.addItem(address)
            self.host.setItemData(self.host.count() - 1, meaning, Qt.ItemDataRole.ToolTipRole)
        self.host.setToolTip("127.0.0.1: this computer only. 0.0.0.0: every network. Or type one of this "
                             "computer's addresses.")
        self.host_warning = _note(NETWORK_WARNING, "Warning")
        self.port = QSpinBox()
        self.port.setRange(*RANGES["server.port"])
        self.port.setAccessibleName("Port")
        self.parallel = QSpinBox()
        self.parallel.setRange(*RANGES["server.parallel"])
        self.parallel.setAccessibleName("Parallel answers")
        self.cors = QLineEdit()
        self.cors.setAccessibleName("Allowed browser origins")
        self.cors.setPlaceholderText("none, e.g. http://localhost:3000")
        self.token = QLineEdit()
        self.token.setReadOnly(True)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setAccessibleName("API token")
        self.token.setPlaceholderText("being made…")
        self.show_token = QPushButton("Show")
        self.show_token.setCheckable(True)
        self.show_token.setAccessibleName("Show the API token")
        self.show_token.toggled.connect(self._show_token)
        self.copy_token = QPushButton("Copy token")
        self.copy_token.clicked.connect(lambda: _copy(self.copy_token, self.token.text()))
        self.copy_curl = QPushButton("Copy curl example")
        self.copy_curl.setToolTip("A curl command that asks the server one question, with the address and token")
        self.copy_curl.clicked.connect(lambda: _copy(self.copy_curl, self.curl_example()))
        self.client_hint = _note("")
        self.client_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        token_row = QHBoxLayout()
        token_row.setSpacing(6)
        token_row.addWidget(self.token, 1)
        token_row.addWidget(self.show_token)
        token_row.addWidget(self.copy_token)
        curl_row = QHBoxLayout()
        curl_row.addWidget(self.copy_curl)
        curl_row.addStretch(1)
        form = _Rows()
        form.add(None, self.enabled)
        form.add("Status", self.status)
        form.add("Address", self.host)
        form.add("", self.host_warning)
        form.add("Port", self.port)
        form.add("Parallel answers", self.parallel)
        form.add("", _note(PARALLEL_NOTE))
        form.add("Browser origins", self.cors)
        form.add("", _note(CORS_NOTE))
        form.add("Token", token_row)
        form.add("Try it", curl_row)
        form.add("", self.client_hint)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(_note(SERVER_NOTE))
        layout.addStretch(1)
        self.token.textChanged.connect(self._token_buttons)
        self.host.currentTextChanged.connect(self._address_changed)
        self.port.valueChanged.connect(self._address_changed)
        self.show_values(server)
        self._token_buttons()
        self._address_changed()

    def url(self) -> str:
        """Where programs on this computer reach the server with the address and port on this page."""
        return local_url(self.host.currentText(), self.port.value())

    def curl_example(self) -> str:
        return curl_example(self.url(), self.token.text())

    def set_token(self, token: str) -> None:
        self.token.setText(token)
        self.token.setCursorPosition(0)

    def set_status(self, text: str, state: str) -> None:
        self.status.setText(text)
        set_state(self.status, state)

    def show_values(self, server: ServerSettings) -> None:
        """Put ``server`` on the page (:meth:`values` reads it back)."""
        self.enabled.setChecked(server.enabled)
        self.host.setCurrentText(server.host or DEFAULT_HOST)
        self.port.setValue(server.port)
        self.parallel.setValue(server.parallel)
        self.cors.setText(server.cors_origins)
        if server.token:
            self.set_token(server.token)

    def values(self, into: ServerSettings) -> None:
        into.enabled = self.enabled.isChecked()
        into.host = self.host.currentText().strip().strip("[]") or DEFAULT_HOST
        into.port, into.parallel = self.port.value(), self.parallel.value()
        into.cors_origins = ", ".join(browser_origins(self.cors.text()))
        into.token = self.token.text() or into.token

    def _show_token(self, shown: bool) -> None:
        self.token.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_token.setText("Hide" if shown else "Show")

    def _token_buttons(self) -> None:
        for button in (self.show_token, self.copy_token, self.copy_curl):
            button.setEnabled(bool(self.token.text()))

    def _address_changed(self) -> None:
        self.host_warning.setVisible(not is_loopback(self.host.currentText()))
        self.client_hint.setText(f"OpenAI clients: base URL {self.url()}/v1, the token as the API key.")


class RemotePage(QWidget):
    """A Chroma server for the vectors and an OpenAI-compatible server for the model, each with "Test
    connection" (the controller runs the test off the GUI thread and answers with :meth:`show_check`)."""

    testRequested = Signal(str, object)  # part ("chroma" or "llm"), the RemoteSettings on the page

    def __init__(self, remote: RemoteSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chroma_url = self._line("Chroma server URL", "empty: on this computer (e.g. http://chroma.lan:8000)")
        self.chroma_token = self._line("Chroma token", "none", secret=True)
        self.llm_url = self._line("Remote model URL", "empty: the local model (e.g. http://gpu-box:8080/v1)")
        self.llm_api_key = self._line("Remote model API key", "none", secret=True)
        self.llm_model = self._line("Remote model name", "empty: the first model it lists")
        self.show_values(remote)
        self.buttons: dict[str, QPushButton] = {}
        self.results: dict[str, QLabel] = {}
        chroma = _Rows()
        chroma.add("Server URL", self.chroma_url)
        chroma.add("Token", self.chroma_token)
        self._test_rows(chroma, "chroma")
        chroma.add(None, _note(CHROMA_NOTE))
        llm = _Rows()
        llm.add("Server URL", self.llm_url)
        llm.add("API key", self.llm_api_key)
        llm.add("Model name", self.llm_model)
        self._test_rows(llm, "llm")
        self.privacy = _note(LLM_PRIVACY, "Warning")
        self.privacy.setAccessibleName("Privacy of a remote model")
        llm.add(None, self.privacy)
        _align(chroma, llm)
        layout = QVBoxLayout(self)
        for title, form in (("Knowledge and memory: Chroma server", chroma),
                            ("Model: OpenAI-compatible server", llm)):
            group = QGroupBox(title)
            group.setLayout(form)
            layout.addWidget(group)
        layout.addWidget(_note(REMOTE_NOTE))
        layout.addStretch(1)

    @staticmethod
    def _line(name: str, placeholder: str, secret: bool = False) -> QLineEdit:
        line = QLineEdit()
        line.setAccessibleName(name)
        line.setPlaceholderText(placeholder)
        if secret:
            line.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        return line

    def _test_rows(self, form: _Rows, part: str) -> None:
        button = QPushButton("Test connection")
        button.setAccessibleName(f"Test the connection to the {'Chroma server' if part == 'chroma' else 'model'}")
        button.clicked.connect(lambda: self._test(part))
        result = QLabel()
        result.setObjectName("CheckResult")
        result.setWordWrap(True)
        result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        result.hide()
        self.buttons[part], self.results[part] = button, result
        row = QHBoxLayout()
        row.addWidget(button)
        row.addStretch(1)
        form.add("", row)
        form.add("", result)

    def remote(self) -> RemoteSettings:
        """The values on the page, for "Test connection" before they are saved."""
        into = RemoteSettings()
        self.values(into)
        return into

    def show_values(self, remote: RemoteSettings) -> None:
        """Put ``remote`` on the page (:meth:`values` reads it back)."""
        for name in ("chroma_url", "chroma_token", "llm_url", "llm_api_key", "llm_model"):
            line = getattr(self, name)
            line.setText(getattr(remote, name))
            line.setCursorPosition(0)

    def values(self, into: RemoteSettings) -> None:
        into.chroma_url, into.chroma_token = self.chroma_url.text().strip(), self.chroma_token.text().strip()
        into.llm_url, into.llm_api_key = self.llm_url.text().strip(), self.llm_api_key.text().strip()
        into.llm_model = self.llm_model.text().strip()

    def _test(self, part: str) -> None:
        self.show_check(part, None, "Testing…")
        self.testRequested.emit(part, self.remote())

    def show_check(self, part: str, ok: bool | None, text: str) -> None:
        """A test's result in green (``ok``) or red, or ``None`` while it runs (the button waits meanwhile)."""
        result = self.results[part]
        result.setText(("✓ " if ok else "✗ " if ok is False else "") + text)
        set_state(result, "busy" if ok is None else "ok" if ok else "error")
        result.show()
        self.buttons[part].setEnabled(ok is not None)
