"""Knowledge-base fixtures: one real embedder for the whole session, a knowledge base per test.

Every test uses the real all-MiniLM-L6-v2 model and a real Chroma store under the test's own HEARTH_HOME;
the model loads once (the slow part) and texts are kept short so the suite stays fast on two cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant.config import KnowledgeSettings
from assistant.events import Progress
from assistant.knowledge import KnowledgeBase, SentenceTransformerEmbedder
from assistant.paths import get_paths


class CountingEmbedder:
    """Delegates to a real embedder and records every text it was asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.max_tokens = inner.max_tokens
        self.tokenizer = inner.tokenizer
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += texts
        return self.inner.embed(texts)


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder.from_settings(KnowledgeSettings())


@pytest.fixture
def embedder(real_embedder: SentenceTransformerEmbedder) -> CountingEmbedder:
    return CountingEmbedder(real_embedder)


@pytest.fixture
def other_embedder(real_embedder: SentenceTransformerEmbedder) -> CountingEmbedder:
    """The same model under another name: what a changed ``knowledge.embedder`` setting looks like."""
    return CountingEmbedder(real_embedder, name="another-model")


@pytest.fixture
def settings() -> KnowledgeSettings:
    return KnowledgeSettings(chunk_tokens=64, chunk_overlap=8)


@pytest.fixture
def kb(hearth_home: Path, settings: KnowledgeSettings, embedder: CountingEmbedder) -> Iterator[KnowledgeBase]:
    base = KnowledgeBase(get_paths(), settings, embedder=embedder, batch_size=8)
    yield base
    base.close()


@pytest.fixture
def sync(kb: KnowledgeBase) -> Callable[..., Progress]:
    """Run a sync to the end and return its last progress event."""

    def run(*sources: Path, collection: str = "default", base: KnowledgeBase | None = None) -> Progress:
        events = list((base or kb).index(list(sources), collection))
        assert events, "indexing yielded no progress"
        return events[-1]

    return run


def build_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF with one text line per string (Helvetica), so pypdf has real text to extract."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>"
               % (" ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages))).encode(), len(pages)),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, lines in enumerate(pages):
        shown = b"".join(b"(%s) Tj T* " % line.encode() for line in lines)
        stream = b"BT /F1 12 Tf 14 TL 72 720 Td " + shown + b"ET"
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def build_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly Report", level=1)
    document.add_paragraph("Revenue grew because the otter sanctuary sold more tickets.")
    document.add_heading("Risks", level=2)
    document.add_paragraph("The main risk is a shortage of fish for the otters.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "region", "north"
    document.save(str(path))
    return path


def build_epub(path: Path) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("hearth-test")
    book.set_title("Lighthouse Tales")
    book.set_language("en")
    chapter = epub.EpubHtml(title="Keeper", file_name="keeper.xhtml", lang="en")
    chapter.content = ("<html><body><h1>The Keeper</h1>"
                       "<p>The lighthouse keeper polished the lens at dusk.</p></body></html>")
    book.add_item(chapter)
    book.toc = (chapter,)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", chapter]
    epub.write_epub(str(path), book)
    return path


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """One small real file of every supported kind, plus the four kinds of bad file."""
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "notes.txt").write_text("The spare key is under the blue flowerpot by the back door.\n")
    (root / "guide.md").write_text("# Garden\n\nIntro line.\n\n## Tomatoes\n\nWater them every morning.\n")
    (root / "manual.rst").write_text("Setup\n=====\n\nPress the red button twice to reset the router.\n")
    (root / "tool.py").write_text("import os\n\n\ndef compute_tax(amount):\n    return amount * 0.2\n")
    (root / "paper.pdf").write_bytes(build_pdf([["Page one talks about volcanoes."],
                                                ["Page two explains glaciers and ice ages."]]))
    build_docx(root / "report.docx")
    (root / "page.html").write_text(
        "<html><head><script>var tracking = 1;</script></head><body><nav>Home | About</nav><main>"
        "<h1>Bread</h1><p>Sourdough needs a starter fed daily.</p></main><footer>(c) site</footer>"
        "</body></html>")
    (root / "people.csv").write_text("name,city\nAda,London\nLinus,Helsinki\n")
    (root / "data.tsv").write_text("planet\tmoons\nMars\t2\n")
    (root / "config.json").write_text('{"telescope": "refractor", "aperture_mm": 102}\n')
    (root / "events.jsonl").write_text('{"event": "eclipse"}\n{"event": "meteor shower"}\n')
    build_epub(root / "book.epub")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage that is not a pdf at all")
    (root / "fake.txt").write_bytes(bytes(range(256)) * 4)
    latin = "Le café crème est très bon à Noël, déjà servi au garçon.\n"
    (root / "latin1.txt").write_bytes(latin.encode("cp1252"))
    (root / "empty.txt").write_bytes(b"")
    return root
