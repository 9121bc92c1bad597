"""File loaders: one file's bytes to a :class:`Document` (text units with pages, lines and headings).

Each format uses its maintained parser (pypdf, python-docx, BeautifulSoup, markdown-it, EbookLib, Pygments
for code). The PDF, DOCX, HTML and EPUB parsers are imported by the first file that needs them: with lxml they
took 130 ms to import, on the indexing thread, in the middle of the window's first indexing run (it stalled
the window's event loop 50-80 ms, `python -m app.bench_ui`), for a folder of Markdown notes that uses none of
them. A loader never lets a parser's exception escape: anything that goes wrong with one file becomes
an :class:`UnreadableFileError` whose message is the reason shown next to the skipped file, so one bad PDF
never stops a folder from being indexed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from pygments.lexers import get_lexer_for_filename
from pygments.token import Name
from pygments.util import ClassNotFound

from assistant.knowledge.errors import UnreadableFileError
from assistant.knowledge.records import Document, Unit
from assistant.knowledge.textio import decode_text

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".text", ".rst", ".log", ".org", ".tex"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
TABLE_SUFFIXES = frozenset({".csv", ".tsv"})
CODE_SUFFIXES = frozenset({
    ".py", ".pyi", ".js", ".jsx", ".mjs", ".ts", ".tsx", ".java", ".kt", ".kts", ".scala", ".go",
    ".rs", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".cs", ".swift", ".m", ".mm", ".rb", ".php",
    ".pl", ".lua", ".r", ".jl", ".dart", ".hs", ".ml", ".ex", ".exs", ".erl", ".clj", ".sh", ".bash",
    ".zsh", ".fish", ".ps1", ".bat", ".sql", ".css", ".scss", ".less", ".vue", ".svelte", ".xml",
    ".yaml", ".yml", ".toml", ".ini", ".cfg", ".gradle", ".cmake", ".proto", ".graphql",
    ".json", ".jsonl", ".ndjson",
})
#: Files without a useful suffix that are nearly always worth reading.
TEXT_NAMES = frozenset({"readme", "license", "copying", "changelog", "authors", "makefile", "dockerfile"})
#: What a user is told Hearth reads when a file it was given has no reader.
READABLE = ("text and Markdown files, source code, notebooks, PDF, DOCX, EPUB, HTML, e-mails (.eml, .mbox), "
            "CSV/TSV and JSON (by the file's extension)")

_md = MarkdownIt("commonmark")
_HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
#: Never text for a reader. Not "form" (ASP.NET and SharePoint pages wrap their whole body in one) and not
#: "header" (an article's header holds its title); their site-wide chrome is left out by reading <main> or
#: <article> when the page has one.
#: Tags a browser shows as blocks of their own: a paragraph's break before and after each, and lines (a list's
#: items, a table's rows) a line break after each (see html_to_markdown).
_BLOCK_TAGS = ("p", "div", "ul", "ol", "dl", "table", "section", "article", "header", "blockquote", "figure",
               "form", "fieldset", "address", "details", "hr", "main", "body")
_LINE_TAGS = ("li", "tr", "dt", "dd", "caption", "figcaption", "summary")
#: Stand-ins (Unicode private use) for a line break, a paragraph break, a space inside <pre> and a table cell's
#: end, kept through the collapsing of the page's own white space.
_BREAK, _PARA, _SPACE, _CELL = "\ue000", "\ue003", "\ue001", "\ue002"
_NOISE_TAGS = ("script", "style", "noscript", "nav", "footer", "aside", "svg", "template")


class _PdfIssues(logging.Handler):
    """Collects what pypdf logs while one PDF is read, so it is reported once, with that file's name.

    pypdf logs the defects it works around ("incorrect startxref pointer") under its own logger names and
    never says which file they are about, which is useless in the middle of indexing a folder. This handler
    sits on the ``pypdf`` logger (which no longer propagates) and keeps the messages of the load running on
    the current thread; anything pypdf logs outside a load is passed on under Hearth's name.
    """

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    @contextmanager
    def collect(self) -> Iterator[list[str]]:
        issues: list[str] = []
        self._local.issues = issues
        try:
            yield issues
        finally:
            self._local.issues = None

    def emit(self, record: logging.LogRecord) -> None:
        issues = getattr(self._local, "issues", None)
        if issues is None:
            log.log(record.levelno, "pypdf: %s", record.getMessage())
        elif (message := record.getMessage()) not in issues:
            issues.append(message)


_pdf_issues = _PdfIssues()
_pypdf_log = logging.getLogger("pypdf")
_pypdf_log.addHandler(_pdf_issues)
_pypdf_log.propagate = False


def is_supported(path: Path) -> bool:
    """Whether Hearth has a loader for this file (by its name; the content is checked when it is read)."""
    return _loader_for(path) is not None


#: What a parser raises when a file is not laid out as it expects: its own code's slip, whose words (an attribute
#: or key of its internals) mean nothing to the user; a parser's deliberate errors say what is wrong.
_PARSER_SLIPS = (AttributeError, TypeError, KeyError, IndexError, AssertionError, RecursionError)


def load(path: Path, data: bytes) -> Document:
    """Parse ``data`` (the bytes of ``path``) into a document, or raise :class:`UnreadableFileError`."""
    loader = _loader_for(path)
    if loader is None:
        raise UnreadableFileError(f"unsupported file type {path.suffix or path.name!r}")
    if not data.strip():
        raise UnreadableFileError("empty file")
    try:
        doc = loader(path, data)
    except UnreadableFileError:
        raise
    except Exception as exc:  # a parser's own errors vary by library and version: all mean "unreadable"
        log.debug("loader failed on %s", path, exc_info=True)
        kind = path.suffix.lstrip(".").upper()
        if isinstance(exc, _PARSER_SLIPS):  # "'lxml.etree._Element' object has no attribute 'overrides'"
            raise UnreadableFileError(f"cannot be read as {kind}: it is damaged or not a {kind} file") from exc
        raise UnreadableFileError(f"cannot be read as {kind}: {exc}") from exc
    if not any(u.text.strip() for u in doc.units):
        hint = " (scanned PDF?)" if path.suffix.lower() == ".pdf" else ""
        raise UnreadableFileError(f"no extractable text{hint}")
    return doc


def _loader_for(path: Path) -> Callable[[Path, bytes], Document] | None:
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return _load_markdown
    if suffix in TEXT_SUFFIXES or (not suffix and path.name.lower() in TEXT_NAMES):
        return _load_text
    if suffix in CODE_SUFFIXES:
        return _load_code
    return {
        ".pdf": _load_pdf, ".docx": _load_docx, ".epub": _load_epub, ".csv": _load_table, ".tsv": _load_table,
        ".ipynb": _load_notebook, ".eml": _load_mail, ".mbox": _load_mail, **dict.fromkeys(HTML_SUFFIXES, _load_html),
    }.get(suffix)


def reads_as_markdown(path: Path) -> bool:
    """Whether ``path``'s passages are Markdown (its loader's or made from it), where a "# " line is a heading;
    in a text or code file it may be a comment."""
    return _loader_for(path) in (_load_markdown, _load_notebook, _load_docx, _load_html, _load_epub, _load_mail)


def _load_text(path: Path, data: bytes) -> Document:
    return Document("text", (Unit(decode_text(data)),))


def _load_notebook(path: Path, data: bytes) -> Document:
    """A Jupyter notebook as its cells' text: Markdown cells as they are, code cells fenced, outputs left out.
    Read as code, its JSON was indexed with its outputs: a 20 KB plot became 77 chunks of base64 that came
    back as search hits."""
    notebook = json.loads(decode_text(data))
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise UnreadableFileError("not a Jupyter notebook (no cells)")
    info = notebook.get("metadata", {}).get("language_info", {})
    language = info.get("name", "") if isinstance(info, dict) else ""
    parts = []
    for cell in cells:
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        text = "".join(source) if isinstance(source, list) else str(source)
        if not text.strip():
            continue
        parts.append(f"```{language}\n{text.rstrip()}\n```" if cell.get("cell_type") == "code" else text.strip())
    if not parts:
        raise UnreadableFileError("no extractable text")
    text = "\n\n".join(parts)
    # its lines are not the file's (a JSON document), so passages are cited without line numbers
    return Document("markdown", (Unit(text, first_line=None, headings=markdown_headings(text)),),
                    language="Jupyter")


def _load_markdown(path: Path, data: bytes) -> Document:
    text = decode_text(data)
    return Document("markdown", (Unit(text, headings=markdown_headings(text)),), language="Markdown")


#: YAML front matter (``---`` lines around ``title: …``), read as blank lines: markdown-it took its last lines
#: and closing ``---`` for a heading, which became every chunk's heading ("title: X\ntags: [a, b]").
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?:.*\r?\n)*?---[ \t]*\r?\n")


def markdown_headings(text: str) -> tuple[tuple[int, str], ...]:
    """Each heading's char offset and its path (``Install > Linux``), from markdown-it's block map."""
    line_offsets = [0]
    for line in text.splitlines(keepends=True):
        line_offsets.append(line_offsets[-1] + len(line))
    tokens = _md.parse(_FRONT_MATTER.sub(lambda m: "\n" * m.group(0).count("\n"), text, count=1))
    trail: list[tuple[int, str]] = []  # (level, title) of the enclosing headings
    found: list[tuple[int, str]] = []
    for i, tok in enumerate(tokens):
        if tok.type != "heading_open" or tok.map is None:
            continue
        level, title = int(tok.tag[1]), tokens[i + 1].content.strip()
        trail = [(lv, t) for lv, t in trail if lv < level] + [(level, title)]
        found.append((line_offsets[tok.map[0]], " > ".join(t for _, t in trail)))
    return tuple(found)


#: Script and style files a build tool wrote on one long line ("app.min.js", a bundle): no one reads them, and a
#: messy project's made half its passages, ranked above a note's exact match ("style.min.css" first for a name).
_MINIFIABLE = frozenset({".js", ".mjs", ".css"})
#: A script or style whose lines average more characters than this, with a statement's ";" at least every
#: :data:`MINIFIED_STATEMENT_CHARS`, is minified (hand-written code: lines under 80). Data on one long line (a JSON
#: array in a .js file) has few: it is read.
MINIFIED_LINE_CHARS, MINIFIED_STATEMENT_CHARS = 500, 100


def _load_code(path: Path, data: bytes) -> Document:
    text = decode_text(data)
    if path.suffix.lower() in _MINIFIABLE and (".min." in path.name.lower() or (
            len(text) / (text.count("\n") + 1) > MINIFIED_LINE_CHARS
            and text.count(";") * MINIFIED_STATEMENT_CHARS >= len(text))):
        raise UnreadableFileError("minified (made by a build tool, on long lines): not indexed")
    try:
        lexer = get_lexer_for_filename(path.name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return Document("code", (Unit(text),))
    # each definition from the start of its line: a passage starting at "def moon_phase_name(" was labelled with the
    # function before it, whose name came last before the passage's first character
    definitions = tuple(
        (text.rfind("\n", 0, offset) + 1, value)
        for offset, token, value in lexer.get_tokens_unprocessed(text)
        if token in Name.Function or token in Name.Class
    )
    return Document("code", (Unit(text, headings=definitions),), language=lexer.name)


def _delimiter(text: str) -> str:
    """The CSV's delimiter; a file the sniffer cannot place (one column: a plain list, or a header only) is
    read with commas, not skipped as unreadable."""
    try:
        return csv.Sniffer().sniff(text[:4096], ",;|\t").delimiter
    except csv.Error:
        return ","


def _load_table(path: Path, data: bytes) -> Document:
    """Rows become ``column: value | ...`` lines so each chunk carries its column names (one row per line)."""
    text = decode_text(data)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _delimiter(text)
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))  # a long cell is still a cell (128 KB max)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise UnreadableFileError("empty table")
    header = [h.strip() or f"column {i + 1}" for i, h in enumerate(rows[0])]
    lines = [" | ".join(header)]
    for row in rows[1:]:
        lines.append(" | ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False) if v.strip()))
    return Document("text", (Unit("\n".join(lines)),), language="CSV")


def _not_a_pdf(data: bytes) -> str | None:
    """What a ".pdf" file holds instead of a PDF (a PDF says "%PDF-" in its first 1,024 bytes), or None. A text
    file so named was told it "ends early (a download or copy cut short?)", sending the user to fetch it again;
    a download that saved a login page is common."""
    if b"%PDF-" in data[:1024]:
        return None
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "a web page (HTML), as a download that got a login or error page saves"
    if head.startswith(b"pk\x03\x04"):
        return "a zip archive (a DOCX, EPUB or ZIP renamed?)"
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "another kind of file"
    return "plain text"


def _load_pdf(path: Path, data: bytes) -> Document:
    import pypdf

    if (instead := _not_a_pdf(data)) is not None:
        raise UnreadableFileError(f"not a PDF: it holds {instead}")
    with _pdf_issues.collect() as issues:
        try:
            reader = pypdf.PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise UnreadableFileError("password-protected PDF")
            units = []
            for number, page in enumerate(reader.pages, start=1):
                text = page.extract_text() or ""
                if text.strip():
                    # no line numbers: they were lines of pypdf's extracted text, nothing a reader can find
                    # ("three.pdf p.2:1"); a page is what a PDF viewer shows
                    units.append(Unit(text, page=number, first_line=None))
        except pypdf.errors.PdfStreamError as exc:  # pypdf's words were "Stream has ended unexpectedly"
            raise UnreadableFileError("cannot be read as PDF: the file ends early (a download or copy cut "
                                      "short?)") from exc
    if issues:  # read all the same: the user learns which file is damaged (one that fails says why it was skipped,
        # and was also told it was worked around)
        shown = "; ".join(issue.strip() for issue in issues[:3])
        more = f" (and {len(issues) - 3} more)" if len(issues) > 3 else ""
        log.warning("%s is a damaged PDF; pypdf worked around: %s%s", path, shown, more)
    return Document("text", tuple(units))


#: A DOCX or EPUB (a zip archive) may unpack to at most this many bytes, and this many times its own size:
#: the parsers read whole parts into memory, so a "zip bomb" of a few hundred KB would otherwise take GBs.
MAX_UNPACKED_BYTES, MAX_UNPACK_RATIO = 256 * 2**20, 200


def _check_archive(data: bytes) -> None:
    """Refuse an archive whose declared contents are far larger than any document needs (read before parsing)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise UnreadableFileError(f"not a valid zip archive ({exc})") from None
    if unpacked > MAX_UNPACKED_BYTES or unpacked > MAX_UNPACK_RATIO * len(data):
        raise UnreadableFileError(f"unpacks to {unpacked / 2**20:,.0f} MB ({unpacked / len(data):,.0f} times its "
                                  "size): refused as a possible zip bomb")


def _load_docx(path: Path, data: bytes) -> Document:
    """Word headings become Markdown headings so the Markdown splitter cuts the document at its sections. The
    pages' headers and footers and the footnotes and endnotes follow the body, each under a heading of its own:
    they were left out, and contracts keep terms there."""
    import docx

    _check_archive(data)
    document = docx.Document(io.BytesIO(data))
    lines = _docx_blocks(document)
    margins: list[str] = []
    for section in document.sections:
        for part in (section.header, section.first_page_header, section.even_page_header, section.footer,
                     section.first_page_footer, section.even_page_footer):
            if not part.is_linked_to_previous:  # (linked: the previous section's, read already)
                margins += [line for line in _docx_blocks(part) if line not in margins]
    if margins:
        lines += ["# Header and footer", *margins]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for kind in ("footnotes", "endnotes"):
            if notes := _docx_notes(archive, kind):
                lines += [f"# {kind.capitalize()}", *notes]
    return _markdown_document("\n\n".join(lines))


def _docx_blocks(container: Any) -> list[str]:
    """A DOCX body's (or a header's) paragraphs and tables as Markdown lines, Word headings as headings."""
    from docx.table import Table

    lines: list[str] = []
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            lines += [" | ".join(c.text.strip() for c in row.cells) for row in block.rows]
            continue
        text = block.text.strip()
        style = block.style.name if block.style is not None else ""
        level = re.fullmatch(r"Heading (\d)", style or "")
        if text and (level or style == "Title"):
            lines.append("#" * (int(level.group(1)) if level else 1) + " " + text)
        elif text:
            lines.append(text)
    return lines


#: WordprocessingML's namespace, in which footnotes.xml and endnotes.xml name their elements.
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_notes(archive: zipfile.ZipFile, kind: str) -> list[str]:
    """The text of each footnote (``kind`` "footnotes") or endnote in a DOCX, numbered as Word numbers them
    (python-docx does not read them). Word's separator notes (ids -1 and 0) hold no text."""
    from lxml import etree

    try:
        root = etree.fromstring(archive.read(f"word/{kind}.xml"),
                                etree.XMLParser(resolve_entities=False, no_network=True))
    except KeyError:
        return []
    notes = []
    for note in root.iter(f"{_W}{kind[:-1]}"):
        text = " ".join("".join(t.text or "" for t in p.iter(f"{_W}t")).strip() for p in note.iter(f"{_W}p")).strip()
        if text and int(note.get(f"{_W}id", "0")) > 0:
            notes.append(f"{note.get(f'{_W}id')}. {text}")
    return notes


def _load_html(path: Path, data: bytes) -> Document:
    return _markdown_document(html_to_markdown(data))


def html_to_markdown(data: bytes | str) -> str:
    """The main text of a page (``<main>``/``<article>`` when present), headings as Markdown headings.

    Lines break where the page's blocks do (paragraphs, list items, rows, ``<br>``), not at every tag: an inline
    ``<b>`` or ``<a>`` split its sentence into three lines ("… the cabin is \\npinecone-river-88\\n."), in the
    passage cited and in the answer that quoted it. A ``<pre>`` keeps its lines and spaces."""
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag, XMLParsedAsHTMLWarning

    # read as HTML on purpose: an EPUB's SVG cover page or an XHTML file starts as XML, and a page of one link
    # looks like a file name; bs4's advice about that printed a paragraph into `hearth index`'s output. (Set for
    # the process, not in catch_warnings(), which is not safe while other threads read files.)
    warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)
    warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
    soup = BeautifulSoup(data, "lxml")
    for tag in soup(_NOISE_TAGS):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    assert isinstance(root, Tag)
    for pre in root.find_all("pre"):  # its own breaks and spaces, kept from the collapsing below
        pre.replace_with(_PARA + pre.get_text().replace("\n", _BREAK).replace(" ", _SPACE) + _PARA)
    for heading in root.find_all(_HEADING_TAGS):
        title = " ".join(heading.get_text(" ").split())
        heading.replace_with(f"{_PARA}{'#' * int(heading.name[1])} {title}{_PARA}")
    for br in root.find_all("br"):
        br.replace_with(_BREAK)
    for cell in root.find_all(("td", "th")):
        cell.insert_after(_CELL)
    for line in root.find_all(_LINE_TAGS):
        line.insert_after(_BREAK)
    for block in root.find_all(_BLOCK_TAGS):
        block.insert_before(_PARA)
        block.insert_after(_PARA)
    text = re.sub(r"\s+", " ", root.get_text(""))  # the page's own line breaks are spaces, as a browser shows them
    text = re.sub(f" ?{_CELL}(?=[ {_BREAK}{_PARA}]*(?:[{_BREAK}{_PARA}]|$))", "", text).replace(_CELL, " | ")
    # a run of breaks is a new paragraph where a block ends or two lines break, else a new line
    text = re.sub(f"[ {_BREAK}{_PARA}]*[{_BREAK}{_PARA}][ {_BREAK}{_PARA}]*",
                  lambda run: "\n\n" if _PARA in run[0] or run[0].count(_BREAK) > 1 else "\n", text)
    return text.replace(_SPACE, " ").strip()


def _load_epub(path: Path, data: bytes) -> Document:
    import ebooklib
    from ebooklib import epub

    _check_archive(data)
    book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    items = book.get_items_of_type(ebooklib.ITEM_DOCUMENT)
    chapters = [html_to_markdown(item.get_content()) for item in items]
    return _markdown_document("\n\n".join(c for c in chapters if c))


def _load_mail(path: Path, data: bytes) -> Document:
    """An e-mail (``.eml``), or a mailbox of them (``.mbox``), as Markdown: each message's subject a heading,
    who wrote it to whom and when, and its text (the plain part, else the HTML part's text); a forwarded message
    is read as one more; attachments are named, not read. Saved mail was left out as a type Hearth does not
    read. Each message is chunked on its own, so a passage is cited under its own subject."""
    import email
    import email.policy
    import mailbox

    if path.suffix.lower() == ".mbox":
        box = mailbox.mbox(str(path), factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default),
                           create=False)
        # mbox quotes a body line that starts "From " as ">From ": shown as written
        texts = [_MBOX_QUOTED.sub(r"\1", text) for m in box.itervalues() if m.keys() for text in _mail_texts(m)]
    else:
        message = email.message_from_bytes(data, policy=email.policy.default)
        if not message.keys():  # random bytes, or a text saved under the name
            raise UnreadableFileError("not an e-mail (no headers)")
        texts = _mail_texts(message)
    return Document("markdown", tuple(Unit(text, first_line=None, headings=markdown_headings(text))
                                      for text in texts))


#: A line of a message in a mailbox that the format quoted with ">" (">From now on…", mboxrd's ">>From").
_MBOX_QUOTED = re.compile(r"(?m)^>(>*From )")


def _mail_texts(message: Any) -> list[str]:
    """One message as Markdown (see :func:`_load_mail`), and each message forwarded in it after it."""
    lines = [f"# {' '.join(str(message.get('subject') or '(no subject)').split())}", ""]
    lines += [f"{name}: {message[name]}" for name in ("From", "To", "Cc", "Date") if message[name]]
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        try:
            text = body.get_content()
        except (LookupError, ValueError):  # a charset Python does not know, a broken transfer encoding
            text = decode_text(body.get_payload(decode=True) or b"")
        lines += ["", html_to_markdown(text) if body.get_content_type() == "text/html" else text.strip()]
    attached: list[str] = []
    forwarded: list[str] = []
    for part in message.iter_attachments():
        if part.get_content_type() == "message/rfc822":
            forwarded += _mail_texts(part.get_content())
        elif name := part.get_filename():
            attached.append(name)
    if attached:
        lines += ["", f"Attachments: {', '.join(attached)}"]
    return ["\n".join(lines), *forwarded]


def _markdown_document(text: str) -> Document:
    """A converted document: its lines are not the source file's lines, so none are claimed."""
    return Document("markdown", (Unit(text, first_line=None, headings=markdown_headings(text)),))
