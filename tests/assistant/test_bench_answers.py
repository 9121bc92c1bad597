"""``hearth bench answers``: the scoring of grounded answers (fast, hand-made passages) and one real run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant import cli
from assistant.benchmarks import answers
from assistant.knowledge.records import Citation

FOLDER = Path("/data/folder")
MANUAL = "documents/manual.pdf"
FORUM = "notes/forum.md"
RECIPE = "notes/recipe.md"


def _passage(rel: str, text: str, n: int = 0, heading: str | None = None) -> Citation:
    return Citation(n=n, collection="c", path=str(FOLDER / rel), page=None, line_start=1, line_end=2,
                    heading=heading, text=text, score=1.0)


PASSAGES = [
    _passage(MANUAL, "Error E4: the anti-flood float in the base tray has tripped. Switch off at the wall.", 1),
    _passage(FORUM, "E4 on my old model meant the door lock, someone said on the forum.", 2),
    _passage(RECIPE, "Red lentil soup: simmer the lentils for 20 minutes with cumin and stock.", 3),
]
RELEVANT = {MANUAL: 2, FORUM: 1}
ACCEPTED = ["anti-flood", "base tray"]


def test_answer_matching_ignores_case_spacing_quotes_separators_and_markers() -> None:
    assert answers.answer_correct("The ANTI-FLOOD  float tripped [1].", ACCEPTED)
    assert answers.answer_correct("It cost £1,250 in total.", ["1250"])
    assert answers.answer_correct("It cost £1250.", ["£1,250"])
    assert answers.answer_correct("Reset: hold\nStart for 3\u00a0seconds.", ["3 seconds"])
    assert answers.answer_correct("the landlord\u2019s agent", ["landlord's agent"])
    assert answers.answer_correct("boat at 10:15 [1]", ["10:15"])
    assert not answers.answer_correct("the door lock [2]", ACCEPTED)
    assert not answers.answer_correct("version 1.250", ["1250"])  # a decimal point is not a separator
    assert answers.normalise("  A\tB\n C ") == "a b c"


def test_honest_dont_know() -> None:
    assert answers.says_dont_know("I don't know based on the user's files.")
    assert answers.says_dont_know("The sources do not contain the ferry time.")
    assert answers.says_dont_know("This is not mentioned in your files [1].")
    assert not answers.says_dont_know("The anti-flood float tripped [1].")


def test_sentences_carry_their_citations() -> None:
    split = answers.cited_sentences
    assert split("E4 means the anti-flood float tripped [1]. Switch off at the wall [1][2].") == [
        ("E4 means the anti-flood float tripped.", (1,)), ("Switch off at the wall.", (1, 2))]
    # a marker after the full stop belongs to the sentence it follows; uncited sentences are left out
    assert split("It is the float. [1] Nothing else matters.") == [("It is the float.", (1,))]
    # a line break inside a sentence is a space; list items are claims of their own
    assert split("The float in the\nbase tray tripped [1].\n- switch off [2]\n- wait") == [
        ("The float in the base tray tripped.", (1,)), ("- switch off", (2,))]
    # a cited list number is read with the sentence before it (where Hearth's attribution put the marker)
    assert split("To reset the dishwasher follow these steps:\n\n1 [3]. Shut it off.") == [
        ("To reset the dishwasher follow these steps: 1.", (3,))]
    assert split("[1, 2] Yes.") == [("Yes.", (1, 2))]


def test_support_by_the_answer_string_or_by_content_words() -> None:
    manual, forum, recipe = (answers.passage_text(p) for p in PASSAGES)
    # the sentence states the answer: the passage must hold that same answer string
    assert answers.supports(manual, "The anti-flood float tripped.", ACCEPTED)
    assert not answers.supports(forum, "E4 means the anti-flood float tripped.", ACCEPTED)
    # otherwise at least half (and at least two) of the sentence's content words
    assert answers.supports(manual, "Switch it off at the wall.", ACCEPTED)  # switch, off, wall: all 3
    assert not answers.supports(recipe, "Switch it off at the wall.", ACCEPTED)
    assert not answers.supports(manual, "Yes, the wall.", ACCEPTED)  # one content word in common is not enough
    assert answers.supports(recipe, "Simmer the lentils with fresh ginger.", [])  # 2 of 4 words
    assert not answers.supports(recipe, "Simmer them with fresh ginger and garlic.", [])  # 1 of 4
    # the file name and heading are part of what the model saw
    assert answers.supports(answers.passage_text(_passage("notes/ferry-times.md", "Sails at 10:15.")),
                            "The ferry times are listed.", [])


def test_score_a_correct_well_cited_answer() -> None:
    row = answers.score("E4 means the anti-flood float tripped [1]. Switch off at the wall [1].", PASSAGES,
                        [1], ACCEPTED, RELEVANT, folder=FOLDER)
    assert row["correct"] and row["retrieval_hit"] and row["top_passage_has_answer"]
    assert row["cited_files"] == [MANUAL] and row["cited_relevant"]
    assert row["citations"] == row["citations_supported"] == 2 and row["fully_supported"]
    assert not row["fallback"] and not row["no_citation"] and not row["dont_know"]
    assert row["given_files"] == [MANUAL, FORUM, RECIPE]


def test_score_a_right_answer_citing_the_wrong_number() -> None:
    row = answers.score("E4 means the anti-flood float tripped [2].", PASSAGES, [2], ACCEPTED, RELEVANT,
                        folder=FOLDER)
    assert row["correct"] and not row["cited_relevant"] and not row["fully_supported"]
    [sentence] = row["sentences"]
    assert not sentence["supported"] and sentence["misnumbered"] and sentence["states_answer"]
    # two numbers on one sentence: supported through one, but not every citation is
    row = answers.score("E4 means the anti-flood float tripped [1][2].", PASSAGES, [1, 2], ACCEPTED, RELEVANT,
                        folder=FOLDER)
    assert row["sentences"][0]["supported"] and row["sentences"][0]["supported_by"] == [1]
    assert (row["citations"], row["citations_supported"], row["fully_supported"]) == (2, 1, False)


def test_score_a_miss_with_an_honest_answer() -> None:
    given = [PASSAGES[2], PASSAGES[1]]  # the manual was not retrieved; the forum (grade 1) does not count
    row = answers.score("I don't know based on the user's files.", given, [], ACCEPTED, RELEVANT, folder=FOLDER)
    assert not row["retrieval_hit"] and not row["correct"] and row["dont_know"]
    assert row["no_citation"] and row["citations"] == 0 and not row["fully_supported"]
    # a passage holding the answer string but from a file not graded 2 is no hit either
    forum = _passage(FORUM, "the anti-flood float", 1)
    assert not answers.score("no idea", [forum], [], ACCEPTED, RELEVANT, folder=FOLDER)["retrieval_hit"]


def test_summary_and_table() -> None:
    good = answers.score("The anti-flood float tripped [1].", PASSAGES, [1], ACCEPTED, RELEVANT, folder=FOLDER)
    wrong = answers.score("The anti-flood float tripped [2].", PASSAGES, [2], ACCEPTED, RELEVANT, folder=FOLDER,
                          fallback=True)
    miss = answers.score("I don't know.", PASSAGES[2:], [], ACCEPTED, RELEVANT, folder=FOLDER)
    rows = [{**r, "kind": "exact", "seconds": s, "notices": n}
            for r, s, n in ((good, 1.0, []), (wrong, 2.0, ["citations"]), (miss, 3.0, ["unsupported"]))]
    summary = answers.summarise(rows)
    assert summary["answer_correct"] == {"share": 2 / 3, "n": 2, "of": 3}
    assert summary["answer_correct_when_hit"]["share"] == 1.0 and summary["dont_know_when_missed"]["share"] == 1.0
    assert summary["fallback"]["n"] == 1 and summary["no_citation"]["n"] == 1
    assert summary["cited_sentences_supported_model"] == {"share": 1.0, "n": 1, "of": 1}
    assert summary["cited_sentences_supported_fallback"] == {"share": 0.0, "n": 0, "of": 1}
    assert summary["answers_fully_supported"] == {"share": 0.5, "n": 1, "of": 2}
    assert summary["misnumbered_sentences"] == {"n": 1, "of": 2}
    assert summary["seconds_per_answer_median"] == 2.0
    assert summary["flagged_unsupported"]["n"] == 1 and summary["flagged_wrong"] == {"n": 1, "of": 1}
    assert summary["wrong_flagged"] == {"n": 1, "of": 1}
    result = {"model": "M", "embedder": "E", "questions": 3, "files": 3, "top_k": 5, "max_tokens": 160, **summary}
    table = answers.table(result)
    assert table.count("\n| ") == 18  # header + 17 measures
    assert "| answer contains the known fact | 0.67 (2 of 3) |" in table


def test_the_question_set_has_enough_known_answers() -> None:
    questions = answers.load_questions()
    assert len(questions) >= 60
    for q in questions:
        assert q["answer"] and all(isinstance(a, str) and a for a in q["answer"])
        assert 2 in q["relevant"].values()
        assert all((answers.FOLDER / rel).is_file() for rel in q["relevant"]), q["id"]
    assert len(answers.load_questions(3)) == 3


@pytest.mark.slow
def test_one_question_through_the_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                         chat_model_path: Path) -> None:
    saved: dict[str, Any] = {}
    monkeypatch.setattr(answers, "save_result", lambda name, result: saved.update({name: result}))
    assert cli.main(["bench", "answers", "--limit", "1", "--json"]) == 0  # each answer is ~11 s on 2 cores
    result = json.loads(capsys.readouterr().out)
    # a run of the first N has its own file (one wrote over the whole set's, which the README cites)
    assert list(saved) == ["answers-first-1"] and saved["answers-first-1"]["questions"] == 1
    assert result["model_file"] == chat_model_path.name and result["files"] >= 60 and not result["index_errors"]
    assert len(result["rows"]) == 1 and result["sampling"] == "greedy"
    for row in result["rows"]:
        assert row["answer"] and row["failed"] is None and row["given_files"]
        assert row["completion_tokens"] <= answers.ANSWER_TOKENS
        assert row["no_citation"] == (not row["cited"])
        assert not (row["fallback"] and row["no_citation"])  # the fallback is only said when it attributed
    assert result["retrieval_hit"]["n"] == 1  # the dishwasher manual is found for its own error code
    assert "| answer contains the known fact |" in answers.table(result)
