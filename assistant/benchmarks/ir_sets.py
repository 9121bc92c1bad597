"""The retrieval benchmark's test collections, each as files on disk plus queries and graded judgments.

Four kinds, so that ranking is judged on the kinds of text users drop in and not tuned to one:

- public test collections committed in ``bench/data/ir/`` (SciFact, NFCorpus, Cranfield, NPL, CISI; their
  sources and licences are in ``bench/data/ir/SOURCES.md``): each document becomes a Markdown file whose
  heading is the document's title;
- the standard-library docstring set (query: a docstring's summary line; relevant: the rest of it);
- the personal folder in ``bench/data/personal/`` (notes, code, PDFs, DOCX of one fictional person), indexed
  as it is, with hand-written questions and judgments.

Every collection has a dev and a test split of its queries: tuning looks at dev only, the README reports
test. Judgments are per file (a document's relevance is that of its best-ranked passage).
"""

from __future__ import annotations

import ast
import gzip
import json
import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from assistant.paths import RESOURCES

DATA = RESOURCES.parent / "bench" / "data"
PUBLIC = ("scifact", "nfcorpus", "cranfield", "npl", "cisi")
ALL = (*PUBLIC, "docstrings", "personal")
SPLITS = ("dev", "test")


@dataclass
class Query:
    id: str
    text: str
    split: str
    relevant: dict[str, int]  # file path relative to the collection folder -> grade (>= 1)


@dataclass
class TestCollection:
    name: str
    title: str
    folder: Path  # the files to index
    queries: list[Query]
    source: str
    licence: str


def load(name: str, workdir: Path) -> TestCollection:
    """The collection ``name``; generated files go under ``workdir``."""
    if name == "docstrings":
        return docstrings(workdir / name)
    if name == "personal":
        return personal()
    return public(name, workdir / name)


def public(name: str, folder: Path) -> TestCollection:
    data = json.loads(gzip.decompress((DATA / "ir" / f"{name}.json.gz").read_bytes()))
    folder.mkdir(parents=True, exist_ok=True)
    file_of = {}
    for doc in data["docs"]:
        file_of[doc["id"]] = f"{len(file_of) // 1000:03}/{doc['id'].replace('/', '_')}.md"
        path = folder / file_of[doc["id"]]
        path.parent.mkdir(exist_ok=True)
        path.write_text((f"# {doc['title']}\n\n" if doc["title"] else "") + doc["text"] + "\n", encoding="utf-8")
    queries = [Query(q["id"], q["text"], split, {file_of[d]: g for d, g in data["qrels"][q["id"]].items()})
               for split in SPLITS for q in data["queries"][split]]
    return TestCollection(name, data["title"], folder, queries, data["source"], data["licence"])


def docstrings(folder: Path, documents: int = 600, queries: int = 200) -> TestCollection:
    """600 standard-library docstrings as files; 200 of their summary lines as queries, split in halves."""
    pairs = random.Random(5).sample(stdlib_docstrings(), documents)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (_, body) in enumerate(pairs):
        (folder / f"doc-{i:05}.txt").write_text(body + "\n", encoding="utf-8")
    picked = random.Random(7).sample(range(len(pairs)), queries)
    return TestCollection(
        "docstrings", "Python standard-library docstrings", folder,
        [Query(f"q{i}", pairs[i][0], SPLITS[n % 2], {f"doc-{i:05}.txt": 1}) for n, i in enumerate(picked)],
        f"this interpreter's standard library ({sysconfig.get_paths()['stdlib']})", "PSF licence",
    )


def personal() -> TestCollection:
    root = DATA / "personal"
    items = json.loads((root / "questions.json").read_text(encoding="utf-8"))
    queries = [Query(q["id"], q["question"], q.get("split") or SPLITS[n % 2], q["relevant"])
               for n, q in enumerate(items)]
    return TestCollection("personal", "A personal folder (notes, code, PDF, DOCX)", root / "folder", queries,
                          "written for this benchmark (bench/data/personal)", "fictional; part of Hearth")


def stdlib_docstrings() -> list[tuple[str, str]]:
    """(summary, body) of standard-library docstrings: a summary of >= 4 words, a body of >= 30 words."""
    pairs, seen = [], set()
    for source in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if {"test", "tests", "idle_test", "site-packages"} & set(source.parts):
            continue
        try:
            tree = ast.parse(source.read_text("utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            doc = ast.get_docstring(node) or ""
            summary, _, body = doc.partition("\n\n")
            summary, body = " ".join(summary.split()), body.strip()
            if len(summary.split()) >= 4 and len(body.split()) >= 30 and body not in seen:
                seen.add(body)
                pairs.append((summary, body))
    return pairs
