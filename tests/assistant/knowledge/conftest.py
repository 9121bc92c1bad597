"""Knowledge-base fixtures: one real embedder for the whole session, a knowledge base per test.

Every test uses the real all-MiniLM-L6-v2 model and a real Chroma store under the test's own HEARTH_HOME;
the model loads once (the slow part) and texts are kept short so the suite stays fast on two cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from documents import build_docx, build_epub, build_pdf

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
