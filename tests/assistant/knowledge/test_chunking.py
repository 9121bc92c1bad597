"""Chunks are measured in the embedder's tokens, overlap, keep true line numbers, headings and pages."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from assistant.knowledge.chunking import Chunker
from assistant.knowledge.embedder import SentenceTransformerEmbedder
from assistant.knowledge.loaders import load
from assistant.knowledge.records import Document, Unit


def _chunker(real_embedder: SentenceTransformerEmbedder, tokens: int = 40, overlap: int = 8) -> Chunker:
    return Chunker(real_embedder.tokenizer, tokens, overlap, real_embedder.max_tokens)


def _count(real_embedder: SentenceTransformerEmbedder, text: str) -> int:
    tokenizer = Tokenizer.from_str(real_embedder.tokenizer.to_str())
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def test_sizes_are_embedder_tokens_with_overlap(real_embedder: SentenceTransformerEmbedder) -> None:
    words = [f"word{i}" for i in range(400)]
    text = "\n".join(" ".join(words[i:i + 4]) for i in range(0, 400, 4))
    pieces = _chunker(real_embedder, tokens=60, overlap=20).split(Document("text", (Unit(text),)))
    assert len(pieces) > 5
    assert all(_count(real_embedder, p.text) <= 60 for p in pieces)
    assert any(_count(real_embedder, p.text) > 45 for p in pieces)  # filled, not one line each
    for a, b in itertools.pairwise(pieces):
        assert b.line_start <= a.line_end  # consecutive chunks share at least one line (the overlap)
    covered = {w for p in pieces for w in p.text.split()}
    assert covered == set(words)


def test_capacity_is_capped_at_the_embedder_window(real_embedder: SentenceTransformerEmbedder) -> None:
    chunker = Chunker(real_embedder.tokenizer, 512, 50, real_embedder.max_tokens)
    assert chunker.capacity == real_embedder.max_tokens == 254
    assert chunker.signature == "v3-254t-50o"


def test_a_passage_repeated_in_a_file_is_kept_once(real_embedder: SentenceTransformerEmbedder) -> None:
    """A junk file of one repeated passage filled the dense ranking with its copies (see test_knowledge_cli)."""
    pieces = _chunker(real_embedder, tokens=60, overlap=0).split(Document("text", (Unit("[" * 20_000 + "\nend"),)))
    assert len({p.text for p in pieces}) == len(pieces) >= 2 and pieces[-1].text.endswith("end")


def test_line_numbers_match_the_source(tmp_path: Path, real_embedder: SentenceTransformerEmbedder) -> None:
    lines = [f"def function_{i}(x):\n    return x + {i}\n\n" for i in range(30)]
    path = tmp_path / "many.py"
    path.write_text("".join(lines))
    source = path.read_text().splitlines()
    pieces = _chunker(real_embedder).split(load(path, path.read_bytes()))
    assert len(pieces) > 3
    for p in pieces:
        first, last = p.text.splitlines()[0], p.text.splitlines()[-1]
        assert source[p.line_start - 1] == first and source[p.line_end - 1] == last
        assert p.heading is not None and p.heading.startswith("function_")
        assert p.heading in p.text or f"{p.heading}(" in "\n".join(source[: p.line_start])
        assert p.language == "Python"


def test_markdown_splits_at_headings(real_embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    body = "The cat sat on the mat and looked at the dog. "
    path = tmp_path / "doc.md"
    path.write_text(f"# Alpha\n\n{body}\n\n## Beta\n\n{body * 2}beta\n\n# Gamma\n\n{body * 6}gamma\n")
    pieces = _chunker(real_embedder).split(load(path, path.read_bytes()))
    assert [p.heading for p in pieces[:3]] == ["Alpha", "Alpha > Beta", "Gamma"]
    assert pieces[0].text.startswith("# Alpha") and "## Beta" not in pieces[0].text
    assert pieces[1].text.startswith("## Beta") and pieces[1].text.endswith("beta")
    assert all(p.heading == "Gamma" and "# " not in p.text for p in pieces[3:])  # no bare-heading chunk
    assert pieces[-1].text.endswith("gamma")


def test_pdf_chunks_never_span_pages(real_embedder: SentenceTransformerEmbedder) -> None:
    doc = Document("text", (Unit("first page text", page=1), Unit("second page text", page=2)))
    pieces = _chunker(real_embedder).split(doc)
    assert [(p.page, p.text, p.line_start) for p in pieces] == [(1, "first page text", 1),
                                                                (2, "second page text", 1)]


def test_a_one_line_heading_note_is_a_chunk(real_embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    """A .txt note "# Call the plumber ..." (or a file with CR-only line ends) was indexed as 0 chunks: a
    chunk that is only a heading was dropped in any file. Only Markdown drops them, where others follow."""
    note = tmp_path / "todo.txt"
    note.write_text("# Remember to call the plumber about the leaking boiler\n")
    old_mac = tmp_path / "old.md"
    old_mac.write_bytes(b"# Top\r\rThe boiler is in the cellar.\r")
    only = tmp_path / "title.md"
    only.write_text("# Plumber: 555-0142\n")
    chunker = _chunker(real_embedder)
    for path, words in ((note, "plumber"), (old_mac, "cellar"), (only, "555-0142")):
        pieces = chunker.split(load(path, path.read_bytes()))
        assert any(words in p.text for p in pieces), (path.name, pieces)
    doc = tmp_path / "doc.md"
    doc.write_text("# Boiler\n\n" + "The boiler is serviced every autumn by the plumber. " * 12)
    assert not any(p.text.strip() == "# Boiler" for p in chunker.split(load(doc, doc.read_bytes())))  # dropped here


def test_a_very_long_line_is_chunked_on_its_own_with_true_line_numbers(
        real_embedder: SentenceTransformerEmbedder) -> None:
    """A minified file or a log with one enormous line: in text that also had line breaks the splitter took
    109 s over a 240 KB base64 line (a 1 MB line of words: 2 minutes). Lines past LONG_LINE are chunked
    alone; the chunks keep their line numbers, cover every word, and text without such a line is cut as before."""
    from assistant.knowledge.chunking import LONG_LINE, _segments

    long_line = " ".join(f"tok{i}" for i in range(LONG_LINE // 4))
    text = "first line here\nsecond line\n" + long_line + "\nafter the long line\nlast line\n"
    assert [piece for _, piece in _segments(text)] == ["first line here\nsecond line\n", long_line,
                                                        "\nafter the long line\nlast line\n"]
    assert all(text[offset:offset + len(piece)] == piece for offset, piece in _segments(text))
    pieces = _chunker(real_embedder, tokens=200, overlap=20).split(Document("text", (Unit(text, first_line=1),)))
    source = text.splitlines()
    for p in pieces:
        assert p.line_start is not None and p.line_end is not None
        assert all(part in "\n".join(source[p.line_start - 1:p.line_end]) for part in p.text.split("\n"))
    assert {w for p in pieces for w in p.text.split()} == set(text.split())
    assert (pieces[0].line_start, pieces[0].line_end) == (1, 2) and pieces[-1].line_start == 4
    assert _segments("short\n" * 3000) == [(0, "short\n" * 3000)]  # no long line: one piece, as before


def test_a_line_of_megabytes_reaches_the_splitter_in_parts_cut_at_spaces(
        real_embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """One 20 MB line was given to the splitter whole: its time grew faster than the line (4 MB 91 s) and the
    run never ended, deaf to Ctrl+C. It goes in parts of LINE_PART, each cut after a space, every word kept
    whole and every passage cited at the line; a line without spaces (base64) is cut where its part ends."""
    from semantic_text_splitter import TextSplitter

    from assistant.knowledge import chunking

    words = " ".join(f"w{i}" for i in range(3 * chunking.LINE_PART // 6))  # ~3 parts of words
    sizes: list[int] = []

    class Recording:  # the real splitter, whose calls' sizes are noted
        def __init__(self, real: TextSplitter) -> None:
            self.real = real

        def chunk_indices(self, text: str) -> list[tuple[int, str]]:
            sizes.append(len(text))
            return self.real.chunk_indices(text)

    chunker = _chunker(real_embedder, tokens=200, overlap=0)
    monkeypatch.setattr(chunker, "_text", Recording(chunker._text))
    doc = Document("text", (Unit("before\n" + words + "\nafter", first_line=1),))
    steps = list(itertools.islice(chunker.cut(doc), 10))
    assert len(steps) == len(sizes) >= 4 and steps[-1][0] <= steps[-1][1] == len(doc.units[0].text)
    assert max(sizes) <= chunking.LINE_PART and all(a[0] < b[0] for a, b in itertools.pairwise(steps))
    pieces = chunker.split(doc)
    assert {w for p in pieces for w in p.text.split()} == set(doc.units[0].text.split())  # no word cut in two
    assert {(p.line_start, p.line_end) for p in pieces if p.text.startswith("w")} == {(2, 2)}
    assert pieces[-1].text == "after" and pieces[-1].line_start == 3
    blob = "QUJD" * (chunking.LINE_PART // 2)  # 2 parts' worth, no space
    assert [len(part) for _, part in chunking._segments(blob)] == [chunking.LINE_PART, chunking.LINE_PART]


def test_lines_ending_in_a_lone_carriage_return_are_counted(
        tmp_path: Path, real_embedder: SentenceTransformerEmbedder) -> None:
    """A classic Mac file (lines ended by CR alone) had every passage cited at line 1."""
    path = tmp_path / "old-mac.txt"
    lines = [f"Entry {i}: the code of locker {i} is MKE{i:03d}." for i in range(1, 301)]
    path.write_bytes("\r".join(lines).encode())
    crlf = tmp_path / "windows.txt"
    crlf.write_bytes("\r\n".join(lines).encode())
    for file in (path, crlf):
        pieces = _chunker(real_embedder).split(load(file, file.read_bytes()))
        assert len(pieces) > 5
        for p in pieces:
            first = p.text.splitlines()[0]
            assert lines[p.line_start - 1] == first and lines[p.line_end - 1] == p.text.splitlines()[-1], file
        (hit,) = [p for p in pieces if "MKE250" in p.text][:1]
        assert hit.line_start <= 250 <= hit.line_end
