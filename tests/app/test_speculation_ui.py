"""Speculative decoding in the window: the Settings → Model controls (mode, draft-model picker, max draft length),
the status bar's summary of what speculation did, and the opt-in tint of text from accepted drafts.

The draft-model picker is checked over the real window and library (the bundled SmolLM2, for which Gemma 3 270M
cannot draft) and over given candidates; the other windows run over the fake engine (tests/fakes.py), with the
streamed events given directly where a test needs exact drafted pieces and speculation stats.
"""

from __future__ import annotations

import contextlib
import html
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fakes import FakeEmbedder, fake_engine
from gui_helpers import write_settings
from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.markdown import render
from app.theme import resolve
from app.views.message import DRAFT_TINT, MessageWidget, tint_html
from app.views.settings_dialog import SettingsDialog
from app.views.status_bar import StatusBar, speculation_summary
from assistant.config import Settings, load_settings, save_settings
from assistant.core import Assistant
from assistant.engine.sampling import PRESETS
from assistant.events import Done, Stats, Token
from assistant.knowledge import KnowledgeBase
from assistant.models.drafts import DraftCandidate
from assistant.paths import BUNDLED_CHAT_MODEL, get_paths

MARKDOWN = """Here is the **plan** for the garden [1]:

1. Water the *tomatoes* every morning.
2. Check the `soil_moisture` sensor & move
   the pots when it rains.

```python
def water(plants: list[str]) -> None:
    print(f"watering {len(plants)} <plants>")
```

| Plant | Days |
|---|---|
| Basil | 2 |

See [the guide](https://example.com/a/long/path/to/the/guide.html) for more."""


def _fake_assistant() -> Assistant:
    paths = get_paths()
    settings = Settings()
    settings.memory.enabled = False
    with contextlib.suppress(FileNotFoundError):
        settings = load_settings(paths.settings_file).settings
    return Assistant(paths, settings, engine=fake_engine(),
                     knowledge=KnowledgeBase(paths, settings.knowledge, embedder=FakeEmbedder()))


def _window(qtbot: QtBot, **appearance: Any) -> MainWindow:
    settings = Settings()
    settings.memory.enabled = False
    for key, value in appearance.items():
        setattr(settings.appearance, key, value)
    save_settings(settings, get_paths().settings_file)
    window = MainWindow(opener=_fake_assistant)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.ready, timeout=30_000) as blocker:
        pass
    assert blocker.args == [True], window.banner.label.text()
    return window


def _open_settings(qtbot: QtBot, window: MainWindow) -> SettingsDialog:
    dialog = window.ctl.model.open_settings()
    qtbot.waitUntil(lambda: dialog.draft_candidates is not None, timeout=20_000)
    return dialog


def _rows(dialog: SettingsDialog) -> list[tuple[str, bool, str]]:
    """The picker's rows: (text, selectable, tooltip)."""
    model = dialog.draft_model.model()
    assert isinstance(model, QStandardItemModel)
    return [(dialog.draft_model.itemText(i), model.item(i).isEnabled(),
             str(dialog.draft_model.itemData(i, Qt.ItemDataRole.ToolTipRole) or ""))
            for i in range(dialog.draft_model.count())]


def _stats(**spec: Any) -> Stats:
    return Stats(**{"prompt_tokens": 10, "evaluated_tokens": 10, "reused_tokens": 0, "completion_tokens": 12,
                    "ttft_s": 0.05, "prompt_eval_s": 0.05, "decode_s": 0.2, "decode_tps": 60.0, "stop_reason": "stop",
                    "device": "CPU", "model": "fake", **spec})


NGRAM = {"completion_tokens": 120, "spec_mode": "ngram", "spec_drafter": "ngram", "spec_drafted": 50,
         "spec_accepted": 41, "spec_steps": 20, "spec_speedup": 1.43,
         "spec_decision": "ngram: 82% of drafts accepted, 1.43x plain"}


# --- Settings → Model ------------------------------------------------------------------------------------
def test_model_page_lists_the_modes_and_greys_drafts_that_cannot_draft_with_the_reason(
        qtbot: QtBot, make_window: Callable[[], MainWindow]) -> None:
    write_settings()
    window = make_window()  # the real SmolLM2 and the real library, whose Gemma 3 270M has another vocabulary
    dialog = _open_settings(qtbot, window)
    box = dialog.speculative
    modes = [(box.itemText(i), box.itemData(i)) for i in range(box.count())]
    assert modes == [("Auto (recommended)", "auto"), ("Off", "off"), ("N-gram lookup", "ngram"),
                     ("Draft model", "draft"), ("Self (lower-bit copy)", "self")]
    assert dialog.speculative.currentData() == "auto" and dialog.max_draft.value() == 8
    assert (dialog.max_draft.minimum(), dialog.max_draft.maximum()) == (1, 16)
    assert "Auto measures" in dialog.speculation_note.text()

    rows = _rows(dialog)
    assert rows[0] == ("Automatic (no draft model yet)", True, rows[0][2])  # nothing here can draft for SmolLM2
    gemma = next(row for row in rows if row[0].startswith("Gemma 3 270M"))
    assert not gemma[1]  # greyed: another vocabulary
    assert gemma[0] == "Gemma 3 270M Q4_K_M: vocabulary differs from SmolLM2 135M Instruct's"  # its precision too
    assert "262144" in gemma[2] and "drafted tokens would mean other text" in gemma[2]  # all of it in the tooltip
    self_draft = next(row for row in rows if "self-draft" in row[0])
    assert not self_draft[1] and "already Q4_1" in self_draft[2]  # a Q4_1 gets no lower-bit copy, and says why
    assert dialog.draft_model.currentIndex() == 0

    enabled, hints = {}, {}
    for mode in ("auto", "off", "ngram", "draft", "self"):
        dialog.speculative.setCurrentIndex(dialog.speculative.findData(mode))
        enabled[mode] = (dialog.draft_model.isEnabled(), dialog.max_draft.isEnabled())
        hints[mode] = dialog.speculation_hint.text() if dialog.speculation_hint.isVisibleTo(dialog) else ""
    assert enabled == {"auto": (True, True), "off": (False, False), "ngram": (False, True), "draft": (True, True),
                       "self": (False, True)}
    # the modes that would have nothing to draft with say so before saving
    assert hints["auto"] == hints["off"] == hints["ngram"] == ""
    assert "No model here can draft" in hints["draft"] and "already Q4_1" in hints["self"]
    # and applied anyway, it is not said in green as if it worked ("Applied: speculative: 'self'; no draft model.")
    qtbot.waitUntil(lambda: window.assistant.engine.loaded, timeout=60_000)
    dialog.speculative.setCurrentIndex(dialog.speculative.findData("self"))
    dialog._apply_clicked()
    qtbot.waitUntil(lambda: "has no draft model" in dialog.apply_result.text(), timeout=60_000)
    assert "speculative decoding (self) has no draft model: " in dialog.apply_result.text()
    assert "already Q4_1" in dialog.apply_result.text() and "answers are decoded plainly" in dialog.apply_result.text()
    assert dialog.apply_result.property("state") == "error"
    dialog.reject()


def test_a_picker_row_gives_the_gist_of_why_a_model_cannot_draft() -> None:
    """The figures' own commas cut a reason short: the row read "Smol: (Q8_0"."""
    from app.views.settings_dialog import _short

    bigger = ("Smol (Q8_0, 138 MiB) is not smaller than SmolLM2 135M Instruct (Q4_1, 94 MiB), so it cannot draft "
              "faster than the model decodes")
    assert _short(bigger, "Smol") == "is not smaller than SmolLM2 135M Instruct"
    other = ("Gemma 3 270M's vocabulary (262144 tokens) differs from SmolLM2 135M Instruct's (49152 tokens): its "
             "drafted tokens would mean other text")
    assert _short(other, "Gemma 3 270M") == "vocabulary differs from SmolLM2 135M Instruct's"


def test_the_picker_offers_the_compatible_drafts_marks_the_suggested_one_and_keeps_an_unknown_setting(
        qtbot: QtBot, tmp_path: Path) -> None:
    small, big = tmp_path / "tiny-q8_0.gguf", tmp_path / "other.gguf"
    settings = Settings()
    settings.model.speculative, settings.model.draft_model = "draft", "tiny-q8_0.gguf"  # a file name finds it
    dialog = SettingsDialog(settings, [], PRESETS, BUNDLED_CHAT_MODEL)
    qtbot.addWidget(dialog)
    assert not dialog.draft_model.isEnabled() and dialog.draft_model.currentText() == "Looking for draft models…"
    assert dialog.values().model.draft_model == "tiny-q8_0.gguf"  # not listed yet: saving keeps the setting
    candidates = [
        DraftCandidate("Tiny", str(small), "sibling", True, "", True, 40_000_000),
        DraftCandidate("Other", str(big), "sibling", True, "", False, 90_000_000),
        DraftCandidate("Qwen2.5 0.5B Instruct", "", "catalog", False, "not downloaded: `hearth models download x y`",
                       True, 400_000_000),
        DraftCandidate("Gemma 3 270M", "/m/gemma.gguf", "sibling", False, "Gemma 3 270M's vocabulary (262144 "
                       "tokens) differs from SmolLM2 135M Instruct's (49152 tokens): its drafted tokens would mean "
                       "other text", False, 250_000_000),
    ]
    dialog.set_draft_candidates(candidates)
    rows = _rows(dialog)
    assert [(text, selectable) for text, selectable, _ in rows] == [
        ("Automatic: Tiny", True),
        ("Tiny (suggested)  (40 MB)", True),
        ("Other  (90 MB)", True),
        ("Qwen2.5 0.5B Instruct (suggested)  (400 MB): download first", False),
        ("Gemma 3 270M: vocabulary differs from SmolLM2 135M Instruct's", False),
    ]
    assert "hearth models download" in rows[3][2] and "its drafted tokens would mean other text" in rows[4][2]
    assert dialog.draft_model.isEnabled() and dialog.draft_model.currentText() == "Tiny (suggested)  (40 MB)"
    dialog.draft_model.setCurrentIndex(2)
    dialog.max_draft.setValue(3)
    new = dialog.values().model
    assert (new.speculative, new.draft_model, new.speculative_max_draft) == ("draft", str(big), 3)

    settings.model.draft_model = "/gone/moved.gguf"  # names no candidate: kept, not silently dropped
    dialog = SettingsDialog(settings, [], PRESETS, BUNDLED_CHAT_MODEL)
    qtbot.addWidget(dialog)
    dialog.set_draft_candidates(candidates)
    assert dialog.draft_model.currentText() == "/gone/moved.gguf (not found)"
    assert dialog.values().model.draft_model == "/gone/moved.gguf"
    # names one that cannot draft for this model (or a file deleted since): it read "Automatic: Tiny" while
    # answers drafted with no model at all; the setting is shown, kept, and said
    settings.model.draft_model = "Gemma 3 270M"
    dialog = SettingsDialog(settings, [], PRESETS, BUNDLED_CHAT_MODEL)
    qtbot.addWidget(dialog)
    dialog.set_draft_candidates(candidates)
    assert dialog.draft_model.currentText() == "Gemma 3 270M (cannot be used)"
    assert dialog.values().model.draft_model == "Gemma 3 270M"
    assert not dialog.speculation_hint.isHidden() and dialog.speculation_hint.text() == (
        "The draft model saved cannot be used (vocabulary differs from SmolLM2 135M Instruct's): answers draft "
        "without it until you choose another, or Automatic.")
    dialog.draft_model.setCurrentIndex(0)  # Automatic chosen: the hint goes
    assert dialog.speculation_hint.isHidden() and dialog.values().model.draft_model == ""


def test_saving_applies_the_speculation_settings_through_update_settings(qtbot: QtBot) -> None:
    window = _window(qtbot)
    assistant = window.assistant
    applied: list[Settings] = []
    update = assistant.update_settings

    def spy(new: Settings, *args: Any, **kwargs: Any) -> Any:
        applied.append(new)
        return update(new, *args, **kwargs)

    assistant.update_settings = spy
    dialog = _open_settings(qtbot, window)
    dialog.speculative.setCurrentIndex(dialog.speculative.findData("ngram"))
    dialog.max_draft.setValue(5)
    dialog.tint_drafts.setChecked(True)
    dialog.accept()
    qtbot.waitUntil(lambda: window.ctl.model.lastApplied is not None, timeout=20_000)
    assert len(applied) == 1
    assert (applied[0].model.speculative, applied[0].model.speculative_max_draft) == ("ngram", 5)
    assert assistant.settings.model.speculative == "ngram" and assistant.settings.appearance.tint_drafts
    saved = load_settings(get_paths().settings_file).settings
    assert (saved.model.speculative, saved.model.speculative_max_draft, saved.appearance.tint_drafts) == (
        "ngram", 5, True)
    again = _open_settings(qtbot, window)
    assert again.speculative.currentData() == "ngram" and again.max_draft.value() == 5
    assert again.tint_drafts.isChecked()
    again.reject()
    window.close()


# --- the status bar ----------------------------------------------------------------------------------------
def test_the_status_bar_shows_the_mode_and_acceptance_with_the_decision_as_tooltip(qtbot: QtBot) -> None:
    assert speculation_summary(_stats(**NGRAM)) == "spec: ngram 82% · 1.4×"
    # a short answer's speed-up is noise: not shown (the screenshots' 8-token answer read "0.7×")
    assert speculation_summary(_stats(**{**NGRAM, "completion_tokens": 8})) == "spec: ngram 82%"
    assert speculation_summary(_stats(**{**NGRAM, "spec_mode": "auto", "spec_speedup": 0.0})) == "spec: ngram 82%"
    plain = _stats(spec_mode="auto", spec_decision="off: plain is faster on this CPU, 0.86x")
    assert speculation_summary(plain) == "spec: off (plain faster)"
    assert speculation_summary(_stats(spec_mode="off", spec_decision="off: needs greedy sampling")) == (
        "spec: off (needs greedy sampling)")
    assert speculation_summary(_stats()) == ""  # off, nothing to say
    nothing = _stats(spec_mode="auto", spec_decision="auto: off, no draft worth trying (nothing in the context to "
                                                     "look up)")
    assert speculation_summary(nothing) == "spec: off (no draft worth trying)"  # it read "spec: off (off)"
    assert speculation_summary(_stats(spec_mode="ngram", spec_decision="ngram")) == "spec: ngram · nothing drafted"

    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show()
    bar.set_speculation(_stats(**NGRAM), "auto")
    assert bar.speculation.isVisible() and bar.speculation.text() == "spec: ngram 82% · 1.4×"
    assert bar.speculation.toolTip() == NGRAM["spec_decision"]
    bar.set_speculation(plain, "auto")
    assert bar.speculation.text() == "spec: off (plain faster)" and "0.86x" in bar.speculation.toolTip()
    bar.set_speculation(_stats(spec_decision="off: turned off in the settings"), "off")  # the user's choice
    assert not bar.speculation.isVisible() and not bar.speculation.text()


# --- tinted drafts -----------------------------------------------------------------------------------------
def _answer_with_drafts(window: MainWindow, qtbot: QtBot, pieces: list[tuple[str, bool]], **spec: Any) -> None:
    """Send a question whose answer streams ``pieces`` (text, drafted) and ends with speculation ``spec``."""
    text = "".join(piece for piece, _ in pieces)

    def ask(*_args: Any, **_kwargs: Any) -> Iterator[Any]:
        for piece, drafted in pieces:
            yield Token(piece, drafted)
        yield Done(text, _stats(**spec))

    window.assistant.ask = ask
    window.composer.edit.setPlainText("Rewrite the plan.")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.ctl.chat.generating, timeout=10_000)


PIECES = [("Here is the ", False), ("**plan** for", True), (" the garden:\n\n1. Water the", False),
          (" *tomatoes* every", True), (" morning.", True), ("\n\n```python\nprint(", False), ('"hi")', True),
          ("\n```", False)]


def _tinted(message: MessageWidget) -> list[str]:
    """The words shown tinted (whitespace at the edge of a text node is never tinted: it shows no colour)."""
    color = DRAFT_TINT[message.theme.name]
    spans = re.findall(rf'<span style="color:{color};">(.*?)</span>', message.body.text())
    return " ".join(html.unescape(t) for t in spans).split()


DRAFTED_WORDS = ["plan", "for", "tomatoes", "every", "morning.", '"hi"', ")"]  # pygments splits '"hi")' in two


def test_text_from_accepted_drafts_is_tinted_when_the_setting_is_on(qtbot: QtBot) -> None:
    window = _window(qtbot, tint_drafts=True)
    _answer_with_drafts(window, qtbot, PIECES, **NGRAM)
    answer = window.chat_view.last("assistant")
    assert answer.text == "".join(p for p, _ in PIECES)
    assert "<strong>" in answer.body.text() and "<li>" in answer.body.text()  # still rendered as Markdown
    assert _tinted(answer) == DRAFTED_WORDS
    assert window.status.speculation.text() == "spec: ngram 82% · 1.4×"
    window.apply_appearance(window.assistant.settings)  # a re-render (theme change) keeps the tint
    assert _tinted(answer) == DRAFTED_WORDS

    window.assistant.settings.appearance.tint_drafts = False  # the next answer is not tinted; this one stays
    _answer_with_drafts(window, qtbot, PIECES, **NGRAM)
    assert not _tinted(window.chat_view.last("assistant")) and _tinted(answer)
    window.close()


def test_no_tint_by_default_and_no_spec_summary_when_the_user_turned_speculation_off(qtbot: QtBot) -> None:
    window = _window(qtbot)
    assert not window.assistant.settings.appearance.tint_drafts
    _answer_with_drafts(window, qtbot, PIECES, **NGRAM)
    answer = window.chat_view.last("assistant")
    assert not _tinted(answer) and answer.body.text() == render(answer.text, answer.theme).html
    assert window.status.speculation.isVisible()
    window.assistant.settings.model.speculative = "off"
    _answer_with_drafts(window, qtbot, [("Plain.", False)], spec_decision="off: turned off in the settings")
    assert not window.status.speculation.isVisible()
    window.close()


def test_the_tint_never_changes_what_the_markdown_renders() -> None:
    """Whatever ranges are tinted, the HTML shows the same text with the same structure, spans balanced."""
    theme = resolve("light", 11)
    base = render(MARKDOWN, theme).html
    rng = random.Random(11)

    def visible(markup: str) -> str:
        return html.unescape(re.sub(r"<[^>]*>", "", markup))

    def tags(markup: str) -> list[str]:
        return [t for t in re.findall(r"<[^>]*>", markup) if not t.startswith(("<span", "</span"))]

    for _ in range(300):
        ranges, at = [], 0
        while (start := at + rng.randint(0, 25)) < len(MARKDOWN):
            at = min(start + rng.randint(1, 40), len(MARKDOWN))
            ranges.append((start, at))
            at += 1
        tinted = tint_html(base, MARKDOWN, ranges, "#2d7466")
        assert visible(tinted) == visible(base) and tags(tinted) == tags(base)
        assert tinted.count("<span") - base.count("<span") == tinted.count("</span>") - base.count("</span>")
    everything = tint_html(base, MARKDOWN, [(0, len(MARKDOWN))], "#2d7466")
    tinted_text = "".join(html.unescape(t) for t in re.findall(r'<span style="color:#2d7466;">(.*?)</span>',
                                                                everything))
    for word in ("plan", "tomatoes", "soil_moisture", "the pots when it rains", "watering", "Basil", "the guide"):
        assert word in tinted_text


def test_a_real_answer_with_lookup_drafts_is_tinted_and_summarised(qtbot: QtBot, make_window, ask) -> None:
    """The whole path on the bundled model: the engine's drafted tokens reach the window through the turn."""
    write_settings(max_tokens=80, speculative="ngram")
    settings = load_settings().settings
    settings.appearance.tint_drafts = True
    save_settings(settings, get_paths().settings_file)
    window = make_window()
    paragraph = ("The lighthouse stood on a rock at the edge of the bay. Every night the keeper climbed the one "
                 "hundred and twelve steps to light the lamp.")
    ask(window, f"Repeat this paragraph exactly:\n\n{paragraph}")
    answer = window.chat_view.last("assistant")
    assert "lighthouse" in answer.text
    assert len(_tinted(answer)) >= 5  # words that came from accepted drafts
    assert window.status.speculation.text().startswith("spec: ngram ")
    assert window.status.speculation.toolTip().startswith("ngram: ")


def test_tab_leaves_the_system_prompt_for_the_speculation_controls(qtbot: QtBot) -> None:
    """Tab typed a tab character into the system prompt and focus never left it: the speculative-decoding
    controls after it, and Save, were out of the keyboard's reach."""
    dialog = SettingsDialog(Settings(), [], PRESETS, BUNDLED_CHAT_MODEL)
    qtbot.addWidget(dialog)
    dialog.show()
    prompt = dialog.system_prompt
    before = prompt.toPlainText()
    prompt.setFocus()
    qtbot.waitUntil(prompt.hasFocus)
    qtbot.keyClick(prompt, Qt.Key.Key_Tab)
    assert prompt.toPlainText() == before and not prompt.hasFocus()
