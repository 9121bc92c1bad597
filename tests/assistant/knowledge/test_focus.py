"""The lines of a cited passage an answer restates, and the section named for them."""

from __future__ import annotations

from assistant.knowledge.focus import focused
from assistant.knowledge.records import Citation

HANDBOOK = ("# Policy handbook\n\nWelcome to the team.\n\n## Leave\n\nEvery employee gets 25 days of paid leave a "
            "year.\n\n## Expenses\n\nTaxi receipts are refunded within 14 days.")


def cite(path: str, heading: str | None, text: str) -> Citation:
    return Citation(1, "c", path, None, None, None, heading, text, 1.0)


def test_a_one_passage_file_is_cited_by_the_section_above_the_line_the_answer_restates() -> None:
    """A DOCX (or HTML, EPUB, Markdown) file of one passage was cited by its first heading whichever section held
    the fact: "handbook.docx § Policy handbook" for its leave and its expenses alike."""
    handbook = cite("/d/handbook.docx", "Policy handbook", HANDBOOK)
    leave = focused("Employees get 25 days of paid leave [1].", [handbook], [1])[0]
    assert (leave.focus, leave.heading, leave.place()) == ((6,), "Policy handbook > Leave",
                                                            "handbook.docx § Policy handbook > Leave")
    taxi = focused("Taxis are refunded within 14 days [1]. Leave is 25 days a year [1].", [handbook], [1])[0]
    assert (taxi.focus, taxi.heading) == ((6, 10), "Policy handbook > Leave")  # the first line's section
    assert focused("Welcome to the team [1].", [handbook], [1])[0].heading == "Policy handbook"
    # text above the passage's first heading has no section: the file name alone, not a misleading one
    page = cite("/d/team.html", "Leave", "Our team wiki, kept by Ana.\n\n# Leave\n\nEvery employee gets 25 days.")
    assert focused("The team wiki is kept by Ana [1].", [page], [1])[0].place() == "team.html"
    assert focused("Every employee gets 25 days [1].", [page], [1])[0].heading == "Leave"


def test_only_cited_passages_with_a_sentence_matched_change() -> None:
    """A passage not cited, one whose sentences share nothing with any line, and a code file (whose "# " lines
    are comments) keep their heading; a code passage still gets the lines it was cited for."""
    handbook = cite("/d/handbook.docx", "Policy handbook", HANDBOOK)
    code = cite("/d/tool.py", "def refund", "def refund(days):\n    # Leave\n    return days * 25  # taxi")
    out = focused("Refunds are 25 per taxi day [2]. Unrelated words [1].", [handbook, code], [1, 2])
    assert out[0] == handbook
    assert (out[1].focus, out[1].heading) == ((2,), "def refund")
    assert focused("Employees get 25 days of paid leave.", [handbook], []) == [handbook]
