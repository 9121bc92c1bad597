"""``hearth bench answers``: are grounded answers right, and does each citation support what it is cited for?

The set is the personal folder (``bench/data/personal/folder``: a fictional person's notes, code, PDFs and
DOCX files) with its questions (``bench/data/personal/questions.json``); the questions with a known answer
(a list of acceptable short strings) are used. The folder is indexed into a collection in a temporary data
directory, and every question goes through the front door users use: ``Assistant.ask`` with that collection,
greedy decoding, a modest answer length. From the events (the final answer, the ``Sources`` event with the
passages given and the numbers cited, and the ``Notice("citations", ...)`` that says Hearth attributed the
citations itself) each answer is scored:

* **answer correct**: the answer (citation markers removed) contains one of the acceptable strings,
  case-insensitively, after normalising Unicode forms, quotes, whitespace and thousands separators;
* **retrieval hit**: a passage given to the model comes from a grade-2 file and contains an acceptable string
  (the answer was there to be found); the **baseline** is the top passage alone holding it (no model);
* **citation support**, per sentence of the answer that holds ``[n]`` (sentences end at ``.!?`` plus a space,
  or at a line break; markers at the start of a sentence belong to the one before). A passage (its file
  name, section heading and text, as the model saw it) *supports* a sentence when: the sentence contains an
  acceptable answer string and the passage contains one of those same strings; or, when the sentence has
  none, at least half (and at least two) of the sentence's content words occur in the passage (the content
  words and threshold of Hearth's own attribution: :mod:`assistant.knowledge.words`, ``attribution``). A cited
  sentence is supported when one of the passages it cites supports it; a citation (sentence, ``n``) is
  supported when passage ``n`` on its own does. An answer is fully supported when every citation is;
  a sentence that is not supported by what it cites but by another given passage is *misnumbered*;
* **cited relevant**: the answer cites at least one passage from a grade-2 file;
* **fallback**: Hearth attributed the citations (the model wrote none that were valid); **no citation**:
  the answer ends with none at all;
* **flagged**: Hearth told the user the answer restates none of the passages (``Notice("unsupported")``), and
  how often that flag was right (the answer was wrong) and how many wrong answers it caught;
* **honest "don't know"**: when retrieval missed, the answer says the files do not hold the answer;
* seconds per answer (retrieval, prompt and answer), median and p95.

Every question's row (answer, files given and cited, flags) is kept in the result so failures can be read.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.benchmarks.results import save_result
from assistant.config import Settings
from assistant.core import Assistant
from assistant.engine import GREEDY
from assistant.events import Done, Failed, Notice, Sources, Token
from assistant.knowledge.attribution import Said, restated_passage, split_sentences
from assistant.knowledge.records import Citation
from assistant.knowledge.words import content_words
from assistant.paths import BUNDLED_CHAT_MODEL, RESOURCES, Paths

DATA = RESOURCES.parent / "bench" / "data" / "personal"
FOLDER = DATA / "folder"
QUESTIONS = DATA / "questions.json"
COLLECTION = "personal"
ANSWER_TOKENS = 160
#: ``[3]``, ``[1, 2]``: one citation marker (``[1][2]`` is two), with the spaces before it.
_MARKER = re.compile(r"[ \t]*\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]")
#: Where an answer's text breaks into separate claims besides sentence ends: a blank line, a list item.
_BLOCK = re.compile(r"\n[ \t]*\n|\n(?=[ \t]*(?:[-*+\u2022]|\d+[.)])[ \t])")
_LEADING_MARKERS = re.compile(r"^(?:[ \t]*\[\s*\d+(?:\s*,\s*\d+)*\s*\])+[ \t]*[.!?]?")
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u2009](?=\d{3}(?!\d))")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
#: An answer that says the files do not hold the answer (what the sources prompt asks the model to say).
_DONT_KNOW = re.compile(
    r"\b(?:don'?t|do not|does not|doesn'?t|didn'?t|did not|cannot|can'?t|could not|couldn'?t|unable to) "
    r"(?:know|find|see|say|determine|tell|provide|have (?:any |enough )?information)"
    r"|\bnot (?:mentioned|found|stated|specified|provided|given|included|listed|available|clear|sure)\b"
    r"|\bno (?:information|mention|details?|record|answer)\b"
    r"|\b(?:sources|files|documents|passages) (?:do not|don'?t|does not|doesn'?t) (?:contain|mention|say|include)",
    re.IGNORECASE)


# ---- scoring: pure functions over the answer text and the passages --------------------------------------
def normalise(text: str) -> str:
    """Lower case, NFKC (non-breaking and thin spaces become spaces), straight quotes, plain dashes, one space
    for any whitespace, and no thousands separators (``1,250`` and ``1 250`` read ``1250``)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return " ".join(_THOUSANDS.sub("", text).lower().split())


def strip_markers(text: str) -> str:
    """``text`` without citation markers (``the code is E4 [1].`` reads ``the code is E4.``)."""
    return _MARKER.sub("", text)


def found(text: str, accepted: Sequence[str]) -> list[str]:
    """The acceptable strings ``text`` contains (both normalised)."""
    norm = normalise(text)
    return [a for a in accepted if normalise(a) and normalise(a) in norm]


def answer_correct(answer: str, accepted: Sequence[str]) -> bool:
    return bool(found(strip_markers(answer), accepted))


def says_dont_know(answer: str) -> bool:
    return bool(_DONT_KNOW.search(normalise(strip_markers(answer))))


def cited_sentences(answer: str) -> list[tuple[str, tuple[int, ...]]]:
    """The answer's sentences with the citation numbers each holds (text without the markers).

    Sentences end at ``.!?`` followed by white space (Hearth's attribution splits the same way), at a blank
    line, and before a list item; a single line break inside a paragraph is a space. Markers that open a
    sentence (``The code is E4. [1] It means...``) belong to the sentence before, where the model meant them,
    and a cited piece with fewer than two content words (a list number, "Yes.") is read with the sentence
    before it: ``follow these steps: 1 [3].`` is one claim."""
    pieces: list[str] = []
    for block in _BLOCK.split(answer):
        pieces += split_sentences(" ".join(block.split()))[::2]
    out: list[tuple[str, list[int]]] = []
    for piece in pieces:
        lead = _LEADING_MARKERS.match(piece)
        if lead and out:
            out[-1][1].extend(int(n) for n in re.findall(r"\d+", lead.group()))
            piece = piece[lead.end():]
        numbers = [int(n) for m in _MARKER.finditer(piece) for n in re.findall(r"\d+", m.group(1))]
        text = strip_markers(piece).strip()
        if numbers and out and len(content_words(text)) < 2:
            out[-1] = (f"{out[-1][0]} {text}".strip(), out[-1][1] + numbers)
        elif text:
            out.append((text, numbers))
    return [(text, tuple(dict.fromkeys(numbers))) for text, numbers in out if numbers]


def passage_text(c: Citation) -> str:
    """What the model saw of a passage: its file name, section heading and text."""
    return f"{Path(c.path).name}\n{c.heading or ''}\n{c.text}"


def supports(passage: str, sentence: str, accepted: Sequence[str]) -> bool:
    """Does ``passage`` support ``sentence``? By the answer string when the sentence states one, otherwise by
    Hearth's attribution rule: at least half, and at least two, of the sentence's content words occur in it."""
    stated = found(sentence, accepted)
    if stated:
        return bool(found(passage, stated))
    return restated_passage(normalise(sentence), [Said.of(normalise(passage))]) is not None


def relpath(c: Citation, folder: Path = FOLDER) -> str:
    try:
        return Path(c.path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return c.path


def score(answer: str, citations: Sequence[Citation], cited: Sequence[int], accepted: Sequence[str],
          relevant: dict[str, int], fallback: bool = False, folder: Path = FOLDER) -> dict[str, Any]:
    """One answer's flags: ``citations`` are the passages given (numbered 1..n in order), ``cited`` the numbers
    the final answer cites, ``relevant`` the question's graded files (paths under ``folder``)."""
    files = [relpath(c, folder) for c in citations]
    texts = [passage_text(c) for c in citations]
    grade2 = [relevant.get(f, 0) == 2 for f in files]
    hit = any(g and found(c.text, accepted) for g, c in zip(grade2, citations, strict=True))
    sentences = []
    for sentence, numbers in cited_sentences(answer):
        valid = [n for n in numbers if 1 <= n <= len(citations)]
        if not valid:
            continue
        by = {n: supports(texts[n - 1], sentence, accepted) for n in valid}
        others = [i + 1 for i in range(len(citations)) if i + 1 not in by and supports(texts[i], sentence, accepted)]
        sentences.append({"sentence": sentence, "cites": valid, "supported_by": [n for n in valid if by[n]],
                          "supported": any(by.values()), "misnumbered": not any(by.values()) and bool(others),
                          "states_answer": bool(found(sentence, accepted))})
    pairs = [n in s["supported_by"] for s in sentences for n in s["cites"]]
    cited = sorted(set(cited))
    correct = answer_correct(answer, accepted)
    return {
        "correct": correct,
        "retrieval_hit": hit,
        "top_passage_has_answer": bool(citations) and bool(found(citations[0].text, accepted)),
        "given_files": list(dict.fromkeys(files)),
        "cited": cited,
        "cited_files": list(dict.fromkeys(files[n - 1] for n in cited if 1 <= n <= len(files))),
        "cited_relevant": any(grade2[n - 1] for n in cited if 1 <= n <= len(grade2)),
        "fallback": fallback,
        "no_citation": not cited,
        "dont_know": not correct and says_dont_know(answer),
        "sentences": sentences,
        "citations": len(pairs),
        "citations_supported": sum(pairs),
        "fully_supported": bool(pairs) and all(pairs),
    }


# ---- the run -----------------------------------------------------------------------------------------------
def load_questions(limit: int | None = None) -> list[dict[str, Any]]:
    """The questions with a known answer, in the set's order (read at run time: the set may still grow)."""
    questions = [q for q in json.loads(QUESTIONS.read_text(encoding="utf-8")) if q.get("answer")]
    return questions[:limit] if limit else questions


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def _share(rows: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    n = sum(1 for r in rows if r[key])
    return {"share": n / len(rows) if rows else 0.0, "n": n, "of": len(rows)}


def _ask(assistant: Assistant, question: dict[str, Any]) -> dict[str, Any]:
    """Ask one question through the facade; the events it gave, reduced to what is scored."""
    assistant.engine.clear_cache()  # each answer from a cold start: the same whatever ran before (--limit)
    t0 = time.perf_counter()
    response = assistant.ask(question["question"], sampling=GREEDY, collections=(COLLECTION,),
                             use_memory=False, max_tokens=ANSWER_TOKENS)
    sources: Sources | None = None
    notices: list[Notice] = []
    raw: list[str] = []
    for event in response:
        if isinstance(event, Sources):
            sources = event  # the last one: the passages given, and the numbers the final answer cites
        elif isinstance(event, Notice):
            notices.append(event)
        elif isinstance(event, Token):
            raw.append(event.text)
    seconds = time.perf_counter() - t0
    done: Done | None = response.done
    failed: Failed | None = response.failed
    return {"answer": done.text if done else (failed.text if failed else ""), "raw": "".join(raw),
            "citations": list(sources.citations) if sources else [], "cited": list(sources.cited) if sources else [],
            "fallback": any(n.kind == "citations" for n in notices), "notices": sorted({n.kind for n in notices}),
            "seconds": seconds, "failed": failed.message if failed else None,
            "stats": done.stats if done else None}


def run(model: str | Path | None = None, limit: int | None = None,
        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Index the personal folder in a temporary data directory and answer every question with a known answer
    through ``Assistant.ask`` (greedy, ``ANSWER_TOKENS``); score, save and return the result."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    model_path = Path(model) if model else BUNDLED_CHAT_MODEL
    questions = load_questions(limit)
    rows: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hearth-bench-answers-") as tmp:
        root = Path(tmp)
        paths = Paths(root / "config", root / "data", root / "cache").ensure()
        settings = Settings()
        settings.memory.enabled = False  # grounded answers only: nothing read from or learned into memory
        settings.model.path = str(model_path)
        settings.model.max_tokens = ANSWER_TOKENS
        assistant = Assistant(paths, settings)
        try:
            t0 = time.perf_counter()
            progress = list(assistant.index([FOLDER], COLLECTION))
            index_s = time.perf_counter() - t0
            last = progress[-1]
            log(f"answers bench: indexed {last.done:.0f} files in {index_s:.1f} s ({len(last.errors)} errors)")
            t0 = time.perf_counter()
            info = assistant.ensure_model()
            load_s = time.perf_counter() - t0
            assistant.search("warm-up", (COLLECTION,))  # the query side (embedder, reranker) opens untimed
            for i, q in enumerate(questions, 1):
                asked = _ask(assistant, q)
                row = {"id": q["id"], "kind": q["kind"], "question": q["question"], "accepted": q["answer"],
                       "answer": asked["answer"], "seconds": round(asked["seconds"], 3),
                       **score(asked["answer"], asked["citations"], asked["cited"], q["answer"], q["relevant"],
                               asked["fallback"]),
                       "notices": asked["notices"], "failed": asked["failed"]}
                if asked["raw"].strip() != asked["answer"].strip():
                    row["raw"] = asked["raw"]  # what the model wrote, before the citation check / attribution
                stats = asked["stats"]
                if stats is not None:
                    row |= {"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
                            "stop_reason": stats.stop_reason, "ttft_s": round(stats.ttft_s, 3),
                            "prompt_eval_s": round(stats.prompt_eval_s, 3), "decode_s": round(stats.decode_s, 3)}
                rows.append(row)
                log(f"answers bench: {i}/{len(questions)} {q['id']} {asked['seconds']:.1f} s "
                    f"correct={row['correct']} hit={row['retrieval_hit']} cited={row['cited']}"
                    f"{' (fallback)' if row['fallback'] else ''}")
            embedder = assistant.knowledge.embedder_name
        finally:
            assistant.close(learning_s=0)
    result = summarise(rows)
    result = {"model": info.name, "model_file": model_path.name, "embedder": embedder,
              "questions": len(rows), "limit": limit, "files": int(last.done),
              "index_errors": [list(e) for e in last.errors], "max_tokens": ANSWER_TOKENS, "sampling": "greedy",
              "n_ctx": settings.model.n_ctx, "top_k": settings.knowledge.top_k,
              "index_s": round(index_s, 2), "load_s": round(load_s, 2), **result,
              "seconds": round(time.perf_counter() - t_start, 1), "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "rows": rows}
    bundled = model_path.resolve() == BUNDLED_CHAT_MODEL.resolve()
    name = "answers" if bundled else f"answers-{model_path.stem}"
    # a run of the first N questions has a file of its own: one wrote over the whole set's, which the README cites
    save_result(name if limit is None else f"{name}-first-{limit}", result)
    return result


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The measures over the scored rows (see the module docstring)."""
    hit = [r for r in rows if r["retrieval_hit"]]
    miss = [r for r in rows if not r["retrieval_hit"]]
    sentences = [s for r in rows for s in r["sentences"]]
    own = [s for r in rows if not r["fallback"] for s in r["sentences"]]
    attributed = [s for r in rows if r["fallback"] for s in r["sentences"]]
    with_citations = [r for r in rows if r["citations"]]
    seconds = [r["seconds"] for r in rows]

    def supported(group: Sequence[dict[str, Any]]) -> dict[str, Any]:
        n = sum(1 for s in group if s["supported"])
        return {"share": n / len(group) if group else 0.0, "n": n, "of": len(group)}

    flagged = [r for r in rows if "unsupported" in r["notices"]]
    flagged_and_wrong = sum(1 for r in flagged if not r["correct"])
    wrong = sum(1 for r in rows if not r["correct"])
    pairs = sum(r["citations"] for r in rows)
    pairs_ok = sum(r["citations_supported"] for r in rows)
    kinds = sorted({r["kind"] for r in rows})
    return {
        "answer_correct": _share(rows, "correct"),
        "answer_correct_when_hit": _share(hit, "correct"),
        "answer_correct_when_missed": _share(miss, "correct"),
        "retrieval_hit": _share(rows, "retrieval_hit"),
        "baseline_top_passage": _share(rows, "top_passage_has_answer"),
        "cited_sentences_supported": supported(sentences),
        "cited_sentences_supported_model": supported(own),
        "cited_sentences_supported_fallback": supported(attributed),
        "misnumbered_sentences": {"n": sum(1 for s in sentences if s["misnumbered"]), "of": len(sentences)},
        "citations_supported": {"share": pairs_ok / pairs if pairs else 0.0, "n": pairs_ok, "of": pairs},
        "answers_fully_supported": _share(with_citations, "fully_supported"),
        "correct_and_fully_supported": {"n": sum(1 for r in rows if r["correct"] and r["fully_supported"]),
                                        "of": len(rows)},
        "cited_relevant": _share(rows, "cited_relevant"),
        "fallback": _share(rows, "fallback"),
        "no_citation": _share(rows, "no_citation"),
        "flagged_unsupported": {"share": len(flagged) / len(rows) if rows else 0.0, "n": len(flagged),
                                "of": len(rows)},
        "flagged_wrong": {"n": flagged_and_wrong, "of": len(flagged)},  # how often the flag was right
        "wrong_flagged": {"n": flagged_and_wrong, "of": wrong},  # how many wrong answers it caught
        "dont_know_when_missed": _share(miss, "dont_know"),
        "dont_know_when_hit": _share(hit, "dont_know"),
        "by_kind": {k: {"questions": sum(1 for r in rows if r["kind"] == k),
                        "answer_correct": _share([r for r in rows if r["kind"] == k], "correct")["share"],
                        "retrieval_hit": _share([r for r in rows if r["kind"] == k], "retrieval_hit")["share"]}
                    for k in kinds},
        "seconds_per_answer_median": statistics.median(seconds) if seconds else 0.0,
        "seconds_per_answer_p95": _percentile(seconds, 0.95),
    }


def table(result: dict[str, Any]) -> str:
    def share(key: str) -> str:
        m = result[key]
        return f"{m['share']:.2f} ({m['n']} of {m['of']})"

    own, attributed = result["cited_sentences_supported_model"], result["cited_sentences_supported_fallback"]
    rows = [
        ("answer contains the known fact", share("answer_correct")),
        ("... when retrieval found it / missed it",
         f"{result['answer_correct_when_hit']['share']:.2f} / {result['answer_correct_when_missed']['share']:.2f}"),
        ("retrieval hit: a passage from a grade-2 file holds the fact", share("retrieval_hit")),
        ("baseline: the top passage alone holds the fact (no model)", share("baseline_top_passage")),
        ("cited sentences supported by a passage they cite", share("cited_sentences_supported")),
        ("... the model's own citations / Hearth's attribution",
         f"{own['share']:.2f} of {own['of']} / {attributed['share']:.2f} of {attributed['of']}"),
        ("citations supported by the passage they name", share("citations_supported")),
        ("answers whose every citation is supported (of answers citing)", share("answers_fully_supported")),
        ("cited sentences supported only by another passage (wrong number)",
         f"{result['misnumbered_sentences']['n']} of {result['misnumbered_sentences']['of']}"),
        ("answers citing a grade-2 file", share("cited_relevant")),
        ("answers that needed the attribution fallback", share("fallback")),
        ("answers with no citation", share("no_citation")),
        ("answers Hearth flagged as restating none of the passages", share("flagged_unsupported")),
        ("... of them wrong / wrong answers flagged",
         f"{result['flagged_wrong']['n']} of {result['flagged_wrong']['of']} / "
         f"{result['wrong_flagged']['n']} of {result['wrong_flagged']['of']}"),
        ("honest \"don't know\" when retrieval missed", share("dont_know_when_missed")),
        ("\"don't know\" although retrieval found it", share("dont_know_when_hit")),
        ("seconds per answer (median / p95)",
         f"{result['seconds_per_answer_median']:.2f} / {result['seconds_per_answer_p95']:.2f}"),
    ]
    lines = [f"Grounded answers ({result['model']}, {result['embedder']}, {result['questions']} questions over "
             f"{result['files']} files, top {result['top_k']} passages, greedy, {result['max_tokens']} tokens)", "",
             "| measure | result |", "|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} |" for a, b in rows])
