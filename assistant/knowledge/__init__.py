"""Your folders, searchable: ingestion, incremental sync, hybrid retrieval and grounded-answer helpers.

Layout (one job per module): ``loaders`` (file formats) -> ``chunking`` (token-measured, structure-aware)
-> ``embedder`` (sentence-transformers) -> ``store`` (SQLite manifest + FTS5 + Chroma) driven by ``sync``
(the incremental, resumable job); ``retrieval`` (hybrid search), ``answering`` (sources prompt, citation
check), ``watch`` (re-sync on change); ``base.KnowledgeBase`` ties them together.

The public names are imported on first use (PEP 562): a record or the citation check does not drag in the
file-format parsers, Chroma or numpy, which keeps commands that never touch a collection quick to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.lazy import lazy_exports

if TYPE_CHECKING:
    from assistant.knowledge.answering import build_sources_prompt, check_citations
    from assistant.knowledge.base import KnowledgeBase
    from assistant.knowledge.embedder import Embedder, SentenceTransformerEmbedder
    from assistant.knowledge.records import Citation, CollectionInfo
    from assistant.knowledge.retrieval import SearchMode

#: public name -> the submodule that defines it
_EXPORTS = {
    "build_sources_prompt": "answering",
    "check_citations": "answering",
    "KnowledgeBase": "base",
    "Embedder": "embedder",
    "SentenceTransformerEmbedder": "embedder",
    "Citation": "records",
    "CollectionInfo": "records",
    "SearchMode": "retrieval",
}

__all__ = [
    "Citation",
    "CollectionInfo",
    "Embedder",
    "KnowledgeBase",
    "SearchMode",
    "SentenceTransformerEmbedder",
    "build_sources_prompt",
    "check_citations",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
