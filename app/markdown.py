"""Markdown to the HTML subset Qt's rich-text engine understands (CommonMark + tables, via markdown-it).

Why custom rules: Qt rich text ignores most CSS, so code blocks become a one-cell table with inline styles
(background, monospace, Pygments colours) headed by a ``copy:N`` link, and citation markers ``[n]`` become
``cite:n`` links that open the source panel. Raw HTML in a model's answer is escaped, never rendered.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.style import Style
from pygments.styles import get_style_by_name
from pygments.util import ClassNotFound

from app.theme import Theme, readable

_CITATION = re.compile(r"\[(\d{1,3})\]")
#: Runs without a space this long get a zero-width space every _BREAK_EVERY characters: a QLabel cannot break
#: inside a word, so one long URL, hash or code line widened the whole chat past the window and cut every message
#: off at the right. The copy buttons copy the raw text, without them.
_LONG_RUN = re.compile(r"[^\s\u200b]{32,}")
_BREAK_EVERY = 16
#: How a Markdown table begins in the HTML (a code block is a table too, but one that wraps)
TABLE = '<table border="1"'
#: What stands before and after a table that is not inside a list or quote: the message shows it in a strip of
#: its own that scrolls sideways (``parts``). An HTML comment: Qt's rich text and ``tint_html`` pass it by.
PART = "<!--part-->"
MONO = "'JetBrains Mono', 'DejaVu Sans Mono', 'Menlo', 'Consolas', monospace"


@dataclass(frozen=True)
class Rendered:
    html: str
    code_blocks: tuple[str, ...]  # raw code of each block, indexed by the N of its ``copy:N`` link


def breakable(text: str) -> str:
    """``text`` with break opportunities (U+200B) inside very long runs of non-space characters."""
    return _LONG_RUN.sub(lambda m: "\u200b".join(m[0][i:i + _BREAK_EVERY]
                                                 for i in range(0, len(m[0]), _BREAK_EVERY)), text)


def _fence(tokens: list[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
    theme, blocks = env["theme"], env["blocks"]
    token = tokens[idx]
    code = token.content.rstrip("\n")
    if not code.strip():  # a lone fence (an answer ending in ```): an empty block with a Copy link
        return ""
    language = token.info.split()[0] if token.info.strip() else ""
    n = len(blocks)
    blocks.append(code)
    body = _highlight(breakable(code), language, _code_style(theme["pygments"], theme["code_bg"])).replace("\n", "<br>")
    return (
        f'<table width="100%" cellspacing="0" cellpadding="8" style="background:{theme["code_bg"]};'
        f'margin:6px 0;"><tr><td style="color:{theme["muted"]};">{html.escape(language or "code")}'
        f'</td><td align="right"><a href="copy:{n}" style="color:{theme["link"]};">Copy</a></td></tr>'
        f'<tr><td colspan="2" style="font-family:{MONO};color:{theme["code_fg"]};white-space:pre-wrap;">'
        f"{body}</td></tr></table>"
    )


def _code_inline(tokens: list[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
    return (f'<code style="font-family:{MONO};background:{env["theme"]["code_bg"]};">'
            f"{html.escape(breakable(tokens[idx].content))}</code>")


def _text(tokens: list[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
    link = env["theme"]["link"]
    escaped = html.escape(breakable(tokens[idx].content), quote=False)
    return _CITATION.sub(lambda m: f'<a href="cite:{m.group(1)}" style="color:{link};text-decoration:none;">'
                                   f"<sup>[{m.group(1)}]</sup></a>", escaped)


def _table_open(tokens: list[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
    part = PART if tokens[idx].level == 0 else ""
    return f'{part}{TABLE} cellspacing="0" cellpadding="5" style="border-color:{env["theme"]["border"]};">'


def _table_close(tokens: list[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
    return "</table>" + (PART if tokens[idx].level == 0 else "")


def parts(body: str) -> list[str]:
    """``body`` (rendered, tinted or not) cut around its top-level tables: text and tables by turns, empty text
    left out. One label held the whole answer, and a table wider than the window made the label that wide: the
    whole conversation scrolled sideways, and the text after the table ran off the right edge."""
    return [part for part in body.split(PART) if part.strip()]


def _link_open(tokens: list[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
    href = html.escape(tokens[idx].attrGet("href") or "", quote=True)
    return f'<a href="{href}" style="color:{env["theme"]["link"]};">'


@cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
    md.renderer.rules.update({"fence": _fence, "code_block": _fence, "code_inline": _code_inline, "text": _text,
                              "table_open": _table_open, "table_close": _table_close,
                              "link_open": _link_open})
    return md


_COLOUR = re.compile(r"(?<![:\w])#[0-9a-fA-F]{3,6}\b")  # a token's text colour, not its "bg:" or "border:"


@cache
def _code_style(name: str, background: str) -> type[Style]:
    """Pygments' style ``name`` with every token's colour made readable on the code block's ``background``."""
    base = get_style_by_name(name)
    styles = {token: _COLOUR.sub(lambda m: readable(m[0], background), rule) for token, rule in base.styles.items()}
    return type(f"Readable{base.__name__}", (base,), {"styles": styles})


def _highlight(code: str, language: str, style: type[Style]) -> str:
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return html.escape(code)
    return highlight(code, lexer, HtmlFormatter(nowrap=True, noclasses=True, style=style)).rstrip("\n")


def render(text: str, theme: Theme) -> Rendered:
    """Render ``text`` (complete or still streaming: an unclosed fence renders as an open code block)."""
    env: dict[str, Any] = {"theme": theme, "blocks": []}
    body = _parser().render(text, env)
    return Rendered(body, tuple(env["blocks"]))
