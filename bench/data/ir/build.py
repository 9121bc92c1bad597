#!/usr/bin/env python3
"""Build the IR test collections used by Hearth's retrieval benchmark.

Usage::

    python bench/data/ir/build.py RAW_DIR [--out OUT_DIR] [--only NAME ...]

RAW_DIR holds the raw files exactly as extracted from the public git
repositories listed in ``SOURCES`` below (see SOURCES.md for the commands).
Expected layout::

    RAW_DIR/scifact_sv.zip                   sumithra-p-v/claimverifier data/scifact.zip
        (or RAW_DIR/scifact_sv/*.csv, or RAW_DIR/scifact/*.csv, unzipped)
    RAW_DIR/beir_scifact_{train,test}.tsv    moorateeahtashil/Information-Retrieval scifact/qrels/
    RAW_DIR/nfc/                             hakimamarullah/medisearch-api data/nfcorpus/
        {dev,test}.docs  {dev,test}.titles.queries  {dev,test}.3-2-1.qrel
    RAW_DIR/lg/cran/cran.tar.gz              lailaglez/belief-network-irs cran/cran.tar.gz
    RAW_DIR/npl/{doc-text.trec,query-text.trec,qrels}
                                             terrier-org/pyterrier tests/fixtures/vaswani_npl/
    RAW_DIR/lg/cisi/cisi.tar.gz              lailaglez/belief-network-irs cisi/cisi.tar.gz

Each collection is written to ``OUT_DIR/<name>.json.gz`` (default: the
directory of this script) as gzip-compressed, compact UTF-8 JSON::

    {"name", "title", "source", "original", "licence", "notes",
     "docs": [{"id", "title", "text"}],
     "queries": {"dev": [{"id", "text"}], "test": [{"id", "text"}]},
     "qrels": {query_id: {doc_id: grade}}}      # grade >= 1, higher = better

Common rules applied to every collection:

* all text is whitespace-normalised (runs of whitespace -> one space,
  stripped); nothing is lowercased or otherwise altered;
* judgements with grade <= 0 are dropped, as are judgements whose doc is
  not in the corpus; a query is kept only if it still has a relevant doc;
* output is deterministic (sorted ids, gzip mtime 0), so a rebuild from the
  same inputs gives byte-identical files.

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import ast
import csv
import gzip
import io
import json
import random
import re
import sys
import tarfile
import tokenize
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

SEED = 13
SCIFACT_DEV_MAX = 300

# Where each raw input came from (repository, exact commit, path).
SOURCES = {
    "scifact": (
        "sumithra-p-v/claimverifier@b42f1c3444b28884ddcfadffafbfe223646c6c37:"
        "data/scifact.zip (corpus_train.csv, claims_train.csv, claims_validation.csv; "
        "a CSV export of the Hugging Face dataset allenai/scifact); "
        "moorateeahtashil/Information-Retrieval@00b74e83a48f52e6588946861a3bd6cfe9f7fede:"
        "scifact/qrels/train.tsv, scifact/qrels/test.tsv (BEIR qrels)"
    ),
    "nfcorpus": (
        "hakimamarullah/medisearch-api@0ae71a4bb2416506dbdd9a5f8894e7830b99f19f:"
        "data/nfcorpus/{dev,test}.docs, {dev,test}.titles.queries, {dev,test}.3-2-1.qrel, README.txt "
        "(the original NFCorpus release files)"
    ),
    "cranfield": (
        "lailaglez/belief-network-irs@9094e4cde738bd93ed1747dc958b5acb0e0fa684:"
        "cran/cran.tar.gz (cran.all.1400, cran.qry, cranqrel; the Glasgow IR group tarball)"
    ),
    "npl": (
        "terrier-org/pyterrier@9230fe5dc85358027ecda53d330a542e41a270cd:"
        "tests/fixtures/vaswani_npl/{corpus/doc-text.trec, query-text.trec, qrels}"
    ),
    "cisi": (
        "lailaglez/belief-network-irs@9094e4cde738bd93ed1747dc958b5acb0e0fa684:"
        "cisi/cisi.tar.gz (CISI.ALL, CISI.QRY, CISI.REL; the Glasgow IR group tarball)"
    ),
}

Qrels = dict[str, dict[str, int]]


# ---------------------------------------------------------------------------
# Generic helpers
# ---------------------------------------------------------------------------


def norm(text: str) -> str:
    """Collapse every run of whitespace to a single space and strip."""
    return " ".join(text.split())


def num_key(x: str):
    """Sort key that orders numeric ids numerically and others lexically."""
    return (0, int(x), "") if x.isdigit() else (1, 0, x)


def finalize(
    docs: list[dict],
    dev: dict[str, str],
    test: dict[str, str],
    qrels: Qrels,
) -> tuple[list[dict], dict, Qrels]:
    """Apply the common filtering rules and return (docs, queries, qrels).

    Drops grades <= 0 and judgements on unknown docs, then drops queries
    without a remaining relevant doc. Queries are emitted sorted by id.
    """
    ids = [d["id"] for d in docs]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate doc ids")
    if set(dev) & set(test):
        raise ValueError("a query id is in both dev and test")
    known = set(ids)
    out_q: Qrels = {}
    queries: dict[str, list[dict]] = {}
    for split, qs in (("dev", dev), ("test", test)):
        queries[split] = []
        for qid in sorted(qs, key=num_key):
            rel = {did: int(g) for did, g in qrels.get(qid, {}).items() if int(g) >= 1 and did in known}
            text = norm(qs[qid])
            if rel and text:
                queries[split].append({"id": qid, "text": text})
                out_q[qid] = dict(sorted(rel.items(), key=lambda kv: num_key(kv[0])))
    return docs, queries, out_q


def split_ids(qids: Iterable[str]) -> tuple[set[str], set[str]]:
    """Shuffle ids (sorted first) with Random(SEED); first floor(n/2) are dev."""
    ids = sorted(qids, key=num_key)
    random.Random(SEED).shuffle(ids)
    half = len(ids) // 2
    return set(ids[:half]), set(ids[half:])


def parse_smart(text: str) -> list[tuple[str, dict[str, list[str]]]]:
    """Parse SMART/Glasgow '.I n / .X' tagged records.

    Returns a list of (record id, {field letter: [lines]}). A field letter
    that recurs inside one record is appended to the same list. Lines are
    kept verbatim (without the line terminator).
    """
    records: list[tuple[str, dict[str, list[str]]]] = []
    field = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        m = re.match(r"^\.([A-Z])(?:\s+(.*?))?\s*$", line)
        if m and m.group(1) == "I":
            records.append((m.group(2), defaultdict(list)))
            field = None
        elif m:
            field = m.group(1)
            records[-1][1][field]  # create the key even if the field is empty
            if m.group(2):
                records[-1][1][field].append(m.group(2))
        elif field is not None and records:
            records[-1][1][field].append(line)
    return records


def read_tar(path: Path) -> dict[str, str]:
    """Return {member basename: text} for the regular files of a .tar.gz."""
    out = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                out[Path(member.name).name] = tar.extractfile(member).read().decode("utf-8")
    return out


# ---------------------------------------------------------------------------
# SciFact
# ---------------------------------------------------------------------------


def numpy_str_list(s: str) -> list[str]:
    """Parse the str() of a numpy array of strings, e.g. "['a.'\\n 'b.']".

    numpy separates elements by whitespace, not commas, so a plain
    ast.literal_eval would silently concatenate adjacent literals without a
    space. Tokenise instead and evaluate each string literal separately.
    """
    out, other = [], []
    for tok in tokenize.generate_tokens(io.StringIO(s).readline):
        if tok.type == tokenize.STRING:
            out.append(ast.literal_eval(tok.string))
        elif tok.type == tokenize.OP:
            other.append(tok.string)
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER):
            raise ValueError(f"unexpected token {tok!r} in {s[:80]!r}")
    if other != ["[", "]"]:  # '...' would mean numpy truncated the array
        raise ValueError(f"not a flat list: {other} in {s[:80]!r}")
    return out


def scifact_csvs(raw: Path) -> dict[str, list[dict]]:
    """Load the SciFact CSV export from a zip or an unzipped folder."""
    names = ["corpus_train.csv", "claims_train.csv", "claims_validation.csv"]
    for cand in (raw / "scifact_sv.zip", raw / "scifact.zip"):
        if cand.is_file():
            with zipfile.ZipFile(cand) as z:
                return {n: list(csv.DictReader(io.TextIOWrapper(z.open(n), "utf-8", newline=""))) for n in names}
    for d in (raw / "scifact_sv", raw / "scifact"):
        if (d / names[0]).is_file():
            out = {}
            for n in names:
                with open(d / n, encoding="utf-8", newline="") as f:
                    out[n] = list(csv.DictReader(f))
            return out
    raise FileNotFoundError("SciFact CSVs not found under " + str(raw))


def read_beir_qrels(path: Path) -> Qrels:
    """Read a BEIR qrels TSV (header: query-id, corpus-id, score)."""
    qrels: Qrels = defaultdict(dict)
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = int(row["score"])
    return qrels


def build_scifact(raw: Path) -> dict:
    """SciFact: BEIR test split as test, a 300-query sample of BEIR train as dev."""
    t = scifact_csvs(raw)
    docs = [
        {
            "id": r["doc_id"],
            "title": norm(r["title"]),
            "text": norm(" ".join(numpy_str_list(r["abstract"]))),
        }
        for r in t["corpus_train.csv"]
    ]
    docs.sort(key=lambda d: num_key(d["id"]))

    def claims(rows: list[dict]) -> tuple[dict[str, str], Qrels]:
        """Claim text and cited_doc_ids per claim id (rows repeat per evidence)."""
        text, cited = {}, defaultdict(dict)
        for r in rows:
            if text.setdefault(r["id"], r["claim"]) != r["claim"]:
                raise ValueError("claim id with two texts: " + r["id"])
            for did in re.findall(r"\d+", r["cited_doc_ids"]):
                cited[r["id"]][did] = 1
        return text, cited

    train_text, train_cited = claims(t["claims_train.csv"])
    val_text, val_cited = claims(t["claims_validation.csv"])
    qrels_train = read_beir_qrels(raw / "beir_scifact_train.tsv")
    qrels_test = read_beir_qrels(raw / "beir_scifact_test.tsv")
    # The BEIR qrels are exactly the cited_doc_ids of the claims; check it.
    if {q: qrels_train[q] for q in qrels_train} != {q: train_cited[q] for q in qrels_train}:
        raise ValueError("BEIR train qrels differ from claims_train cited_doc_ids")
    if {q: qrels_test[q] for q in qrels_test} != {q: val_cited[q] for q in qrels_test}:
        raise ValueError("BEIR test qrels differ from claims_validation cited_doc_ids")

    test = {q: val_text[q] for q in qrels_test}
    pool = sorted(qrels_train, key=num_key)
    dev_ids = random.Random(SEED).sample(pool, min(SCIFACT_DEV_MAX, len(pool)))
    dev = {q: train_text[q] for q in dev_ids}
    docs, queries, qrels = finalize(docs, dev, test, {**qrels_train, **qrels_test})
    return {
        "title": "SciFact (BEIR retrieval version)",
        "original": (
            "Wadden et al., 'Fact or Fiction: Verifying Scientific Claims', EMNLP 2020 "
            "(https://github.com/allenai/scifact); retrieval framing and qrels from "
            "Thakur et al., 'BEIR: A Heterogeneous Benchmark for Zero-shot Evaluation of "
            "Information Retrieval Models', NeurIPS 2021 Datasets and Benchmarks"
        ),
        "licence": (
            "CC BY-NC 2.0 (as declared on the allenai/scifact dataset card); non-commercial use only. "
            "The mirror repositories state no licence of their own for these files."
        ),
        "notes": (
            "Corpus: 5,183 abstracts (title separate; the abstract sentences, stored as numpy "
            "list reprs in the CSV, are joined with single spaces, as BEIR does). Queries are the "
            "claims. test = BEIR test split (all claims of the SciFact validation set, qrels = their "
            "cited_doc_ids; verified identical to the BEIR test.tsv). dev = a random.Random(13) "
            "sample of 300 of the 809 BEIR train queries (claims_train cited_doc_ids = BEIR "
            "train.tsv). All grades are 1. The SciFact test claims have no public labels and are "
            "not used. Some abstracts in the source end in '...' (truncated upstream)."
        ),
        "docs": docs,
        "queries": queries,
        "qrels": qrels,
    }


# ---------------------------------------------------------------------------
# NFCorpus
# ---------------------------------------------------------------------------


def read_tsv2(path: Path) -> dict[str, str]:
    """Read 'ID<TAB>TEXT' lines into a dict (rejects duplicate ids)."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            key, _, text = line.rstrip("\n").partition("\t")
            if key in out and out[key] != text:
                raise ValueError(f"conflicting duplicate id {key} in {path}")
            out[key] = text
    return out


def read_trec_qrels(path: Path) -> Qrels:
    """Read TREC qrels lines 'QID ITER DOCID GRADE' (whitespace separated)."""
    qrels: Qrels = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4:
                raise ValueError(f"bad qrels line in {path}: {line!r}")
            qrels[parts[0]][parts[2]] = int(float(parts[3]))
    return qrels


def build_nfcorpus(raw: Path) -> dict:
    """NFCorpus: docs = dev.docs U test.docs; titles queries; 3-2-1 qrels."""
    d = raw / "nfc"
    texts: dict[str, str] = {}
    for name in ("dev.docs", "test.docs"):
        for key, text in read_tsv2(d / name).items():
            if texts.setdefault(key, text) != text:
                raise ValueError("doc text differs between dev.docs and test.docs: " + key)
    docs = [{"id": k, "title": "", "text": norm(v)} for k, v in sorted(texts.items(), key=lambda kv: num_key(kv[0]))]
    dev = read_tsv2(d / "dev.titles.queries")
    test = read_tsv2(d / "test.titles.queries")
    qrels = {**read_trec_qrels(d / "dev.3-2-1.qrel"), **read_trec_qrels(d / "test.3-2-1.qrel")}
    docs, queries, qrels = finalize(docs, dev, test, qrels)
    return {
        "title": "NFCorpus (NutritionFacts medical IR corpus), dev and test splits",
        "original": (
            "Boteva, Gholipour, Sokolov and Riezler, 'A Full-Text Learning to Rank Dataset for "
            "Medical Information Retrieval', ECIR 2016 "
            "(https://www.cl.uni-heidelberg.de/statnlpgroup/nfcorpus/)"
        ),
        "licence": (
            "NFCorpus README: 'The data is free for use for academic purposes. For any other uses "
            "of the NutritionFacts data please refer to the NutritionFacts.org terms of use "
            "http://nutritionfacts.org/terms-of-service and contact Dr. Michael Greger directly.' "
            "(Academic use only; the mirror's Apache-2.0 LICENSE covers its code, not this data.)"
        ),
        "notes": (
            "Docs are the union of dev.docs and test.docs (identical text where they overlap). "
            "The document text is the release's PRE-PROCESSED form: title and abstract run together, "
            "lowercased, stop words removed, numbers replaced by 'num', no punctuation; no titles "
            "are available (the raw dumps raw/doc_dump.txt and raw/nfdump.txt are not present in "
            "the mirror). Queries are the '*.titles.queries' (NutritionFacts.org page titles, "
            "lowercased in the release): dev = dev.titles.queries, test = test.titles.queries. "
            "qrels from {dev,test}.3-2-1.qrel: 3 = direct link, 2 = indirect link, 1 = marginally "
            "relevant (the paper used the 2-1-0 files, which drop level 1). The train split is not "
            "included, so the corpus is smaller than BEIR's 3,633 docs."
        ),
        "docs": docs,
        "queries": queries,
        "qrels": qrels,
    }


# ---------------------------------------------------------------------------
# Cranfield
# ---------------------------------------------------------------------------


def build_cranfield(raw: Path) -> dict:
    """Cranfield 1400: title = .T, text = everything after the first .W."""
    files = read_tar(raw / "lg" / "cran" / "cran.tar.gz")
    docs = cran_docs(files["cran.all.1400"])
    if [d["id"] for d in docs] != [str(i) for i in range(1, 1401)]:
        raise ValueError("unexpected Cranfield doc ids")

    # Query .I numbers (001..365) are not the qrels ids; qrels use 1..225 by position.
    qrecs = parse_smart(files["cran.qry"])
    queries_all = {str(pos): " ".join(f["W"]) for pos, (_, f) in enumerate(qrecs, 1)}

    qrels: Qrels = defaultdict(dict)
    for line in files["cranqrel"].splitlines():
        parts = line.split()
        if not parts:
            continue
        qid, did, g = parts[0], parts[1], int(parts[2])
        if 1 <= g <= 4:  # Cleverdon: 1 = complete answer ... 4 = minimum interest
            qrels[qid][did] = max(qrels[qid].get(did, 0), 5 - g)
        elif g != -1:
            raise ValueError(f"unexpected Cranfield grade {g}")
    dev_ids, test_ids = split_ids(q for q in queries_all if qrels.get(q))
    docs, queries, qrels = finalize(
        docs,
        {q: queries_all[q] for q in dev_ids},
        {q: queries_all[q] for q in test_ids},
        qrels,
    )
    return {
        "title": "Cranfield 1400 (aeronautics abstracts)",
        "original": (
            "Cleverdon, Mills and Keen, 'Factors Determining the Performance of Indexing Systems' "
            "(Cranfield II, 1966); distributed by the University of Glasgow IR group "
            "(http://ir.dcs.gla.ac.uk/resources/test_collections/cran/); graded qrels courtesy of "
            "Donna Harman (cranqrel.readme)"
        ),
        "licence": (
            "no licence stated; distributed freely for research by the University of Glasgow IR "
            "group (the mirror repository's MIT licence covers its own code, not this data)"
        ),
        "notes": (
            "title = .T, text = .W (the .W of almost every doc begins by repeating the title, as in "
            "the original). Text is lowercase with spaced punctuation in the original. Docs 471 and "
            "995 are empty in the source and are kept (995 is judged relevant to query 125). "
            "Docs 240, 576 and 578 carry stray field markers / scrambled text in the source; "
            "everything after the first .W is kept as text. Queries: the 225 records of cran.qry "
            "(.I numbers 001..365) are numbered 1..225 by position, which is what cranqrel uses. "
            "Grades: raw Cleverdon code 1..4 mapped to 5 - code (4 = complete answer, 1 = minimum "
            "interest); the 225 rows with code -1 are dropped. Split: query ids shuffled with "
            "random.Random(13); first floor(n/2) = dev, rest = test."
        ),
        "docs": docs,
        "queries": queries,
        "qrels": qrels,
    }


def cran_docs(text: str) -> list[dict]:
    """Parse cran.all.1400 into docs: title = .T, text = all lines after the first .W.

    Three records (240, 576, 578) contain stray '.A'/'.B'/'.W' marker lines
    inside their abstract. The lines after such markers belong to the
    abstract, so once the first .W is seen every later non-marker line of
    the record is text and the stray marker lines themselves are dropped.
    """
    docs: list[dict] = []
    for rid, fields in parse_smart(text):
        docs.append({"id": rid, "title": norm(" ".join(fields["T"])), "text": ""})
    after_w: dict[str, list[str]] = {}
    rid, seen_w = None, False
    for line in text.replace("\r\n", "\n").split("\n"):
        m = re.match(r"^\.([A-Z])(?:\s+(.*?))?\s*$", line)
        if m and m.group(1) == "I":
            rid, seen_w = m.group(2), False
            after_w[rid] = []
        elif m:
            seen_w = seen_w or m.group(1) == "W"
        elif seen_w:
            after_w[rid].append(line)
    for d in docs:
        d["text"] = norm(" ".join(after_w[d["id"]]))
    return docs


# ---------------------------------------------------------------------------
# NPL (Vaswani)
# ---------------------------------------------------------------------------


def build_npl(raw: Path) -> dict:
    """NPL: TREC-format docs and queries, binary qrels, no titles."""
    d = raw / "npl"
    doc_src = (d / "doc-text.trec").read_text(encoding="utf-8")
    docs = [
        {"id": m.group(1), "title": "", "text": norm(m.group(2))}
        for m in re.finditer(r"<DOC>\s*<DOCNO>\s*(\S+?)\s*</DOCNO>(.*?)</DOC>", doc_src, re.S)
    ]
    q_src = (d / "query-text.trec").read_text(encoding="utf-8")
    queries_all = {
        m.group(1): m.group(2)
        for m in re.finditer(r"<top>\s*<num>\s*(\S+?)\s*</num>\s*<title>(.*?)</title>\s*</top>", q_src, re.S)
    }
    qrels = read_trec_qrels(d / "qrels")
    dev_ids, test_ids = split_ids(q for q in queries_all if qrels.get(q))
    docs, queries, qrels = finalize(
        docs,
        {q: queries_all[q] for q in dev_ids},
        {q: queries_all[q] for q in test_ids},
        qrels,
    )
    return {
        "title": "NPL (Vaswani) electronics/physics abstracts",
        "original": (
            "National Physical Laboratory collection (Vaswani and Cameron, 'The National Physical "
            "Laboratory Experiments in Statistical Word Associations and their use in Document "
            "Indexing and Retrieval', 1970); distributed by the University of Glasgow IR group "
            "(http://ir.dcs.gla.ac.uk/resources/test_collections/npl/); TREC-format conversion as "
            "shipped in PyTerrier's test fixtures"
        ),
        "licence": (
            "no licence stated; distributed freely for research by the University of Glasgow IR "
            "group (PyTerrier, which ships the TREC-format copy as a test fixture, is MPL-2.0 for "
            "its code)"
        ),
        "notes": (
            "11,429 short abstracts with no titles; docs are lowercase, without punctuation or "
            "numbers, as in the source. Queries are UPPERCASE as in the source (not changed). "
            "Grades are all 1. Split: query ids shuffled with random.Random(13); first floor(n/2) "
            "= dev, rest = test."
        ),
        "docs": docs,
        "queries": queries,
        "qrels": qrels,
    }


# ---------------------------------------------------------------------------
# CISI
# ---------------------------------------------------------------------------


def build_cisi(raw: Path) -> dict:
    """CISI: title = .T, text = .W; queries = .W; binary qrels from CISI.REL."""
    files = read_tar(raw / "lg" / "cisi" / "cisi.tar.gz")
    docs = [
        {"id": rid, "title": norm(" ".join(f["T"])), "text": norm(" ".join(f["W"]))}
        for rid, f in parse_smart(files["CISI.ALL"])
    ]
    queries_all = {rid: " ".join(f["W"]) for rid, f in parse_smart(files["CISI.QRY"])}
    qrels: Qrels = defaultdict(dict)
    for line in files["CISI.REL"].splitlines():
        parts = line.split()
        if parts:
            qrels[parts[0]][parts[1]] = 1
    dev_ids, test_ids = split_ids(q for q in queries_all if qrels.get(q))
    docs, queries, qrels = finalize(
        docs,
        {q: queries_all[q] for q in dev_ids},
        {q: queries_all[q] for q in test_ids},
        qrels,
    )
    return {
        "title": "CISI (library and information science abstracts)",
        "original": (
            "Collection assembled at the Institute for Scientific Information (ISI) and described in "
            "Fox, 'Characterization of Two New Experimental Collections in Computer and Information "
            "Science Containing Textual and Bibliographic Concepts', Cornell TR 83-561, 1983; "
            "distributed by the University of Glasgow IR group "
            "(http://ir.dcs.gla.ac.uk/resources/test_collections/cisi/)"
        ),
        "licence": (
            "no licence stated; distributed freely for research by the University of Glasgow IR "
            "group (the mirror repository's MIT licence covers its own code, not this data)"
        ),
        "notes": (
            "title = .T, text = .W; authors (.A), source (.B), cross-references (.X) and the "
            "keywords/categories (.K/.C) of one doc are dropped. Query text = .W only: 55 of the "
            "112 queries (26 of the 76 kept) are a paper's title, authors, abstract and source "
            "(.T/.A/.W/.B), and for those only the abstract (.W) is used, as is usual for CISI. "
            "Only the 76 queries with judgements are kept. "
            "CISI.REL's 3rd/4th columns are always 0 and are ignored; all grades are 1. Split: "
            "query ids shuffled with random.Random(13); first floor(n/2) = dev, rest = test."
        ),
        "docs": docs,
        "queries": queries,
        "qrels": qrels,
    }


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

BUILDERS: dict[str, Callable[[Path], dict]] = {
    "scifact": build_scifact,
    "nfcorpus": build_nfcorpus,
    "cranfield": build_cranfield,
    "npl": build_npl,
    "cisi": build_cisi,
}


def assemble(name: str, raw: Path) -> dict:
    """Build one collection and put its keys in the documented order."""
    body = BUILDERS[name](raw)
    return {
        "name": name,
        "title": body["title"],
        "source": SOURCES[name],
        "original": body["original"],
        "licence": body["licence"],
        "notes": body["notes"],
        "docs": body["docs"],
        "queries": body["queries"],
        "qrels": body["qrels"],
    }


def validate(c: dict) -> None:
    """Check the invariants promised by the file format."""
    ids = {d["id"] for d in c["docs"]}
    assert len(ids) == len(c["docs"]), "duplicate doc ids"
    qids = [q["id"] for s in ("dev", "test") for q in c["queries"][s]]
    assert len(qids) == len(set(qids)), "duplicate query ids"
    assert set(qids) == set(c["qrels"]), "qrels do not match the queries"
    for qid, rel in c["qrels"].items():
        assert rel and all(d in ids and isinstance(g, int) and g >= 1 for d, g in rel.items()), qid


def write(c: dict, out_dir: Path) -> Path:
    """Write compact, deterministic gzip JSON."""
    path = out_dir / f"{c['name']}.json.gz"
    data = json.dumps(c, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(path, "wb") as raw_f, gzip.GzipFile("", "wb", 9, raw_f, mtime=0) as gz:
        gz.write(data)
    return path


def stats(c: dict) -> dict:
    """Counts used in SOURCES.md."""
    n_docs = len(c["docs"])
    words = sum(len(f"{d['title']} {d['text']}".split()) for d in c["docs"])
    grades: dict[int, int] = defaultdict(int)
    for rel in c["qrels"].values():
        for g in rel.values():
            grades[g] += 1
    return {
        "docs": n_docs,
        "dev": len(c["queries"]["dev"]),
        "test": len(c["queries"]["test"]),
        "pairs": sum(len(r) for r in c["qrels"].values()),
        "avg_doc_words": round(words / n_docs, 1),
        "grades": dict(sorted(grades.items())),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw_dir", type=Path, help="directory with the raw inputs (see module docstring)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="output directory")
    ap.add_argument("--only", nargs="+", choices=sorted(BUILDERS), help="build only these collections")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or BUILDERS:
        c = assemble(name, args.raw_dir)
        validate(c)
        path = write(c, args.out)
        print(name, json.dumps(stats(c)), f"{path.stat().st_size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
