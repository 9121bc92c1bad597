"""Your folders, searchable: ingestion, incremental sync, hybrid retrieval and grounded-answer helpers.

Layout (one job per module): ``loaders`` (file formats) -> ``chunking`` (token-measured, structure-aware)
-> ``embedder`` (sentence-transformers) -> ``store`` (SQLite manifest + FTS5 + Chroma) driven by ``sync``
(the incremental, resumable job); ``retrieval`` (hybrid search), ``answering`` (sources prompt, citation
check), ``watch`` (re-sync on change); ``base.KnowledgeBase`` ties them together.
"""

from assistant.knowledge.answering import build_sources_prompt, check_citations
from assistant.knowledge.base import KnowledgeBase
from assistant.knowledge.embedder import Embedder, SentenceTransformerEmbedder
from assistant.knowledge.records import Citation, CollectionInfo
from assistant.knowledge.retrieval import SearchMode

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
