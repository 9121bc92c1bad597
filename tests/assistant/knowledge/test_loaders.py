"""Each loader on a small real file of its type, and the bad files each fail with a readable reason."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from assistant.knowledge.errors import UnreadableFileError
from assistant.knowledge.loaders import html_to_markdown, is_supported, load
from assistant.knowledge.textio import decode_text


def _load(path: Path):
    return load(path, path.read_bytes())


def _text(path: Path) -> str:
    return "\n".join(u.text for u in _load(path).units)


def test_plain_text_markdown_and_rst(mixed_folder: Path) -> None:
    assert "blue flowerpot" in _text(mixed_folder / "notes.txt")
    md = _load(mixed_folder / "guide.md")
    assert md.kind == "markdown"
    assert [h for _, h in md.units[0].headings] == ["Garden", "Garden > Tomatoes"]
    offset = md.units[0].headings[1][0]
    assert md.units[0].text[offset:].startswith("## Tomatoes")
    assert "red button" in _text(mixed_folder / "manual.rst")


def test_windows_line_ends_become_newlines(tmp_path: Path) -> None:
    """Passages kept their carriage returns: in the prompt (tokens for nothing) and in `hearth search --json`."""
    for name, data in (("notes.txt", b"First line.\r\nSecond line.\r\n"), ("notes.md", b"# Title\r\n\r\nBody.\r\n"),
                       ("tool.py", b"def f():\r\n    return 1\r\n")):
        (tmp_path / name).write_bytes(data)
        text = "".join(u.text for u in load(tmp_path / name, data).units)
        assert "\r" not in text and text.count("\n") == data.count(b"\n"), (name, text)
    assert decode_text("Zoë\r\n".encode("cp1252")) == "Zoë\n"  # whatever the encoding


def test_code_keeps_language_and_definitions(mixed_folder: Path) -> None:
    doc = _load(mixed_folder / "tool.py")
    assert (doc.kind, doc.language) == ("code", "Python")
    assert [name for _, name in doc.units[0].headings] == ["compute_tax"]
    assert _load(mixed_folder / "config.json").language == "JSON"
    # from the start of the definition's line: a passage starting at "def moon_phase_name(" was labelled with the
    # function before it
    text = "def tide_height(hour):\n    return hour * 2\n\n\ndef moon_phase_name(day):\n    return 'full'\n"
    unit = load(Path("tides.py"), text.encode()).units[0]
    assert unit.headings == ((0, "tide_height"), (text.index("def moon"), "moon_phase_name"))
    assert "meteor shower" in _text(mixed_folder / "events.jsonl")


def test_pdf_has_page_numbers(mixed_folder: Path) -> None:
    doc = _load(mixed_folder / "paper.pdf")
    assert [(u.page, u.text.strip()) for u in doc.units] == [
        (1, "Page one talks about volcanoes."), (2, "Page two explains glaciers and ice ages.")]
    # cited by page only: its lines were pypdf's extracted text's, which no reader finds ("paper.pdf p.2:1")
    assert [u.first_line for u in doc.units] == [None, None]


def test_a_pdf_cut_short_is_said_in_words(mixed_folder: Path) -> None:
    """The window's skipped list showed pypdf's own words: "cannot be read as PDF: Stream has ended unexpectedly"."""
    data = (mixed_folder / "paper.pdf").read_bytes()
    with pytest.raises(UnreadableFileError) as raised:
        load(mixed_folder / "cut.pdf", data[: len(data) // 2])
    assert str(raised.value) == "cannot be read as PDF: the file ends early (a download or copy cut short?)"


def test_a_file_named_pdf_that_is_not_one_says_what_it_holds(tmp_path: Path) -> None:
    """A text file named .pdf was said to "end early (a download or copy cut short?)"."""
    for data, says in ((b"Meeting notes, not a PDF at all.\n", "plain text"),
                       (b"<!DOCTYPE html><html><body>Please log in</body></html>", "a web page (HTML)"),
                       (b"PK\x03\x04" + bytes(60), "a zip archive"), (bytes(range(256)) * 4, "another kind of file")):
        with pytest.raises(UnreadableFileError, match=r"^not a PDF: it holds " + re.escape(says)):
            load(tmp_path / "fake.pdf", data)


def test_docx_headings_and_tables(mixed_folder: Path) -> None:
    doc = _load(mixed_folder / "report.docx")
    text = doc.units[0].text
    assert "# Quarterly Report" in text and "## Risks" in text and "region | north" in text
    assert doc.units[0].first_line is None  # converted text: no source line numbers are claimed
    assert [h for _, h in doc.units[0].headings] == ["Quarterly Report", "Quarterly Report > Risks"]


def test_docx_headers_footers_and_footnotes_are_read(tmp_path: Path) -> None:
    """A contract's terms in its footer and a footnote were not indexed: only the body was read."""
    import zipfile

    import docx

    document = docx.Document()
    document.add_paragraph("The lease begins in Lisbon.")
    section = document.sections[0]
    section.header.paragraphs[0].text = "Nightjar Holdings — confidential"
    section.footer.paragraphs[0].text = "Reference footerfact-31"
    plain = tmp_path / "plain.docx"
    document.save(plain)
    notes = ('<w:footnotes xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
             '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
             '<w:footnote w:id="1"><w:p><w:r><w:t>The penalty clause is </w:t></w:r><w:r><w:t>ten per cent.</w:t>'
             '</w:r></w:p></w:footnote></w:footnotes>')
    lease = tmp_path / "lease.docx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(lease, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr("word/footnotes.xml", notes)
    text = _text(lease)
    assert text.startswith("The lease begins in Lisbon.")
    assert "# Header and footer\n\nNightjar Holdings — confidential\n\nReference footerfact-31" in text
    assert text.endswith("# Footnotes\n\n1. The penalty clause is ten per cent.")
    assert _text(plain).count("Nightjar") == 1  # one header, though each section and page type has one slot


def test_html_keeps_main_text_only(mixed_folder: Path) -> None:
    text = _text(mixed_folder / "page.html")
    assert "# Bread" in text and "Sourdough needs a starter" in text
    for noise in ("tracking", "Home | About", "(c) site"):
        assert noise not in text


def test_html_breaks_lines_where_the_page_does_not_at_every_tag(tmp_path: Path) -> None:
    """An inline <b> split its sentence over three lines ("… the cabin is \npinecone-river-88\n."), in the passage
    cited and in the answer quoting it; a list, a table and a <pre> keep their lines."""
    page = tmp_path / "saved page.htm"
    page.write_text("<html><body><p>The wifi password at the cabin is <b>pinecone-river-88</b>. See <a href='x'>"
                    "the\nmanual</a>.</p><ul><li>kayak</li><li>paddles</li></ul><table><tr><th>room</th><th>bed</th>"
                    "</tr><tr><td>loft</td><td>double</td></tr></table><pre>ssh cabin\n  uptime</pre></body></html>")
    assert _text(page) == ("The wifi password at the cabin is pinecone-river-88. See the manual.\n\nkayak\npaddles"
                           "\n\nroom | bed\nloft | double\n\nssh cabin\n  uptime")


def test_tables_name_their_columns(mixed_folder: Path) -> None:
    assert _text(mixed_folder / "people.csv").splitlines() == ["name | city", "name: Ada | city: London",
                                                              "name: Linus | city: Helsinki"]
    assert "planet: Mars | moons: 2" in _text(mixed_folder / "data.tsv")


def test_epub_chapters(mixed_folder: Path) -> None:
    text = _text(mixed_folder / "book.epub")
    assert "# The Keeper" in text and "polished the lens" in text


def test_an_xml_page_in_a_book_reads_without_a_warning_printed() -> None:
    """An EPUB's SVG cover page starts as XML: bs4 printed a paragraph of advice into `hearth index`'s output."""
    cover = b'<?xml version="1.0" encoding="utf-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>Cover</text></svg>'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert html_to_markdown(cover) == ""
        assert html_to_markdown(b"https://example.org/notes") == "https://example.org/notes"
    assert [w.message for w in caught if w.category.__module__.startswith("bs4")] == []


def test_non_utf8_text_is_decoded(mixed_folder: Path) -> None:
    assert "Le café crème est très bon à Noël" in _text(mixed_folder / "latin1.txt")
    assert decode_text("naïve 😀".encode("utf-16")) == "naïve 😀"
    for codec in ("utf-16-le", "utf-16-be"):  # no byte-order mark
        assert decode_text("Grüße aus Köln 😀\r\n".encode(codec)) == "Grüße aus Köln 😀\n"
    with pytest.raises(UnreadableFileError, match="binary"):  # NULs in every other byte, but not text
        decode_text(bytes([0x07, 0, 0x01, 0]) * 100)


@pytest.mark.parametrize(("text", "codec"), [  # each was read wrong by charset-normalizer's pick
    ("Café", "cp1252"),  # 䍡曩
    ("Price: €100 for the Ärger bundle", "cp1252"),  # Mac Icelandic: "Ä100 for the ƒrger"
    ("Hyvää päivää! Tämä on äidinkieli ja se on hieno.", "cp1252"),  # "Hyv‰‰"
    ("Привет, как дела? Всё хорошо.", "koi8-r"),  # Shift-JIS: 崹ﾉﾗﾅﾔ
    ("Він живе в Києві, і йому подобається їжа.", "koi8-u"),
    ("W Polsce jest wiele pięknych miast, a Kraków i Gdańsk są najbardziej znane.", "cp1250"),  # "piêknych"
    ("Zażółć gęślą jaźń, mówi Łukasz w Krakowie.", "iso8859-2"),
    ("Árvíztűrő tükörfúrógép, mondta a magyar mérnök Budapesten.", "cp1250"),  # "Árvíztûrõ"
    ("Bugün hava çok güzel, İstanbul'da güneş var.", "cp1254"),  # "Ýstanbul"
    ("Šiandien Vilniuje labai gražus oras, sakė Jonas.", "cp1257"),  # "Ðiandien"
    ("مرحبا، كيف حالك اليوم؟", "cp1256"),  # Greek
    ("Le café est très bon à Noël, dit-elle.", "cp1252"),
    ("Καλημέρα, τι κάνεις σήμερα;", "cp1253"),
    ("我住在北京，今天天气很好。", "gbk"),
    ("日本語のテキストです。東京は晴れ。", "shift_jis"),
    # two languages' accents in one Windows-1252 text: in no single alphabet, read as Windows-1250 or worse
    ("Le café est très bon, rue de la Straße 5, près de la gare.", "cp1252"),  # "trčs"
    ("Très bien, señor. À demain, mañana.", "cp1252"),  # "seńor", "Ŕ demain"
    ("2024-01-04;Crêpes – Nutella;5,50 €\n2024-01-05;“Smörgåsbord” dinner;42,00 €", "cp1252"),  # "5,50 Ç"
    # short CJK notes in legacy encodings
    ("明天开会，地点在三楼。", "gbk"),  # "츠莖역삔，뒈듐瞳힛짜。"
    ("明天开会。", "gbk"),
    ("明天開會，請準時到達會議室。", "big5"),  # "ꧺꓑ뙽라ꅁ…"
    ("明日の会議は十時からです。", "euc_jp"),  # "缺폽ㅞ뀜돨…"
    ("내일 회의가 있습니다.", "euc_kr"),  # reads as GB 2312 hanzi as well
])
def test_legacy_code_pages_are_told_apart_even_in_one_line(text: str, codec: str) -> None:
    assert decode_text(text.encode(codec)) == text


def test_utf8_with_a_pasted_latin1_line_keeps_both() -> None:
    data = "Die Bäckerei heißt Sonnenschein.\n".encode() + "Le gâteau est délicieux.\n".encode("latin-1")
    assert decode_text(data) == "Die Bäckerei heißt Sonnenschein.\nLe gâteau est délicieux.\n"  # was "BÃ¤ckerei"


@pytest.mark.parametrize(("name", "reason"), [
    ("broken.pdf", "cannot be read as PDF"),
    ("fake.txt", "binary file"),
    ("empty.txt", "empty file"),
])
def test_bad_files_raise_with_a_reason(mixed_folder: Path, name: str, reason: str,
                                      caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(UnreadableFileError, match=reason):
        _load(mixed_folder / name)
    assert "worked around" not in caplog.text  # a skipped PDF was also said to be worked around


def test_a_zip_without_a_word_document_inside_is_said_to_be_damaged_not_in_the_parsers_words(
        tmp_path: Path) -> None:
    """It read "cannot be read as DOCX: 'lxml.etree._Element' object has no attribute 'overrides'"."""
    import zipfile

    odd = tmp_path / "empty.docx"
    with zipfile.ZipFile(odd, "w") as z:
        z.writestr("[Content_Types].xml", "<x/>")
    with pytest.raises(UnreadableFileError) as caught:
        _load(odd)
    assert str(caught.value) == "cannot be read as DOCX: it is damaged or not a DOCX file"


def test_supported_types() -> None:
    for name in ("a.md", "b.PY", "c.pdf", "d.docx", "e.htm", "f.csv", "g.jsonl", "h.epub", "README", "i.rst"):
        assert is_supported(Path(name)), name
    for name in ("photo.jpg", "archive.zip", "movie.mp4", "noext"):
        assert not is_supported(Path(name)), name


def test_pages_and_tables_that_were_refused_or_emptied(tmp_path: Path) -> None:
    """Found by a sweep: a one-column CSV (a plain list) was "cannot be read as CSV: Could not determine
    delimiter", a cell over 128 KB failed, an ASP.NET page (all inside <form>) had "no extractable text", and
    an article's <header> title was dropped."""
    names = tmp_path / "names.csv"
    names.write_text("name\nAlice Wonderland\nBob Builder\n")
    assert _text(names).splitlines() == ["name", "name: Alice Wonderland", "name: Bob Builder"]
    wide = tmp_path / "wide.csv"
    wide.write_text("id,notes\n1," + "word " * 40_000 + "\n")
    assert _text(wide).startswith("id | notes\nid: 1 | notes: word word")
    page = tmp_path / "aspnet.html"
    page.write_text('<html><body><form id="form1"><div><h1>Expense policy</h1><p>Employees may claim 40 euros '
                    "per day.</p></div></form></body></html>")
    assert "Employees may claim 40 euros per day." in _text(page)
    blog = tmp_path / "blog.html"
    blog.write_text("<html><body><header>Site menu</header><article><header><h1>How I fixed my bicycle</h1>"
                    "</header><p>The chain had slipped.</p></article></body></html>")
    text = _text(blog)
    assert "# How I fixed my bicycle" in text and "The chain had slipped." in text and "Site menu" not in text


def test_yaml_front_matter_is_not_a_heading(tmp_path: Path) -> None:
    """markdown-it read the front matter's last lines and its closing --- as a heading, and that became the
    heading of every chunk after it ("title: Front Matter Doc\ntags: [a, b]")."""
    note = tmp_path / "note.md"
    note.write_text("---\ntitle: Front Matter Doc\ntags: [a, b]\n---\n# Real heading\n\nBody text.\n")
    doc = _load(note)
    assert [h for _, h in doc.units[0].headings] == ["Real heading"]


def test_a_notebook_is_its_cells_without_their_outputs(tmp_path: Path) -> None:
    """Read as code, a notebook's JSON was indexed with its outputs: a 20 KB plot became 77 chunks of base64."""
    import base64
    import json

    plot = base64.b64encode(bytes(range(256)) * 80).decode()
    notebook = {"cells": [
        {"cell_type": "markdown", "source": ["# Rainfall\n", "Monthly rainfall in Bergen."]},
        {"cell_type": "code", "source": ["df.plot()\n"], "outputs": [{"data": {"image/png": plot}}]},
    ], "metadata": {"language_info": {"name": "python"}}, "nbformat": 4}
    path = tmp_path / "rain.ipynb"
    path.write_text(json.dumps(notebook))
    text = _text(path)
    assert text == "# Rainfall\nMonthly rainfall in Bergen.\n\n```python\ndf.plot()\n```" and plot[:40] not in text
    assert _load(path).units[0].first_line is None  # its lines are not the JSON file's


def test_a_folder_of_notes_is_indexed_without_importing_the_document_parsers(tmp_path: Path) -> None:
    """pypdf, python-docx, BeautifulSoup/lxml and EbookLib took 130 ms to import at the first indexing run,
    on the indexing thread: the window's event loop stalled 50-70 ms in the middle of it (`app.bench_ui`).
    They are imported by the first file that needs one; `hearth index` of Markdown notes needs none."""
    notes = tmp_path / "notes"
    notes.mkdir()
    for i in range(3):
        (notes / f"note-{i}.md").write_text(f"# Note {i}\n\nThe greenhouse key is under pot {i}.\n")
    code = ("import sys\n"
            "from app.__main__ import main\n"
            f"sys.argv = ['hearth', 'index', {str(notes)!r}]\n"
            "code = main()\n"
            "print(code, sorted(m for m in ('pypdf', 'docx', 'bs4', 'lxml', 'ebooklib') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "HEARTH_HOME": str(tmp_path / "home")})
    assert done.stdout.splitlines()[-1] == "0 []", done.stdout + done.stderr[-2000:]
