"""What the user said, cut into statements a memory could come from, each said about the user in the third person.

These are rules, and deliberately so: they never decide that something is a fact about the user (the model
does, see :mod:`extraction`); they only cut a message into clauses, drop what cannot be one (quoted text,
questions, hypotheticals, talk about a document), and rewrite a clause about the user into a fact
("my son oskar is 9 and he wants to start football" -> "User's son oskar is 9", "User's son oskar wants to
start football"). A rewrite only moves the user's own words around, so a name, a number or a date is
kept exactly as the user typed it and nothing can be invented, which even a 1B model does now and then
when asked to paraphrase ("My manager is called Priya" -> "User is Priya").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: Most of a user's text looked at: a pasted document is not a statement about the user, but the sentences
#: around it may be (see :func:`looked_at`).
MAX_SOURCE_CHARS = 1500
MAX_FACT_CHARS = 160
#: A clause longer than this is cut at every comma and "and" too: a fact is one short sentence.
LONG_CLAUSE_WORDS = 20
#: "Dr. Henrik Solberg" is one sentence: the dot of a title or abbreviation does not end it.
_ABBREVIATION = re.compile(r"\b(Dr|Mr|Mrs|Ms|Prof|St|Jr|Sr|Mt|vs|etc|approx|e\.g|i\.e)\.", re.IGNORECASE)
_DOT = "\u2024"  # stands in for an abbreviation's dot while sentences are cut
_LONG_CLAUSE = re.compile(r"\s*[,;]\s*|\s+and\s+")

_QUOTED = re.compile(r"(?<![\w])(['\"\u201c\u2018])[^'\"\u201c\u201d\u2018\u2019]{2,}?['\"\u201d\u2019](?![\w])")
#: Sentence ends, dashes and emoji ("... 😂 He's 3 right now.") end a sentence.
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+|\s+(?:—|–|--)\s+|(?<=[!?])(?=\w)|"
                       r"\s*[\U0001F300-\U0001FAFF\u2600-\u27BF]+\s*")
#: Where a sentence splits into clauses: a comma, semicolon or conjunction followed by a new subject.
_SUBJECT = (r"(?:i|i'm|im|i've|ive|i'd|i'll|my|we|we're|we've|our|he|he's|hes|she|she's|shes|they|they're|"
            r"his|her|their)\b")
_ASKING = (r"(?:what|whats|what's|how|which|who|where|when|why|can|could|would|will|should|do|does|is|are|any|"
           r"ideas?|suggest|recommend|please|pls|tell|give|make|write|help|explain|so)\b")
_DEPENDS = r"(?:after|before|since|until|although|though|because|unless|whereas)\b"
_ASKS_NEXT = r"(?:what|whats|what's|how|which|can|could|would|any|ideas?|suggest|recommend|tell|give)\b"
_CLAUSE = re.compile(rf"\s*[()]\s*|\s*[,;:]\s*(?={_SUBJECT}|(?:(?:so|and|but)\s+)?{_ASKS_NEXT}|{_DEPENDS})|\s+(?=if\b)|"
                     rf"\s+(?:and|but|so|because|as|since|while|though)\s+(?={_SUBJECT})", re.IGNORECASE)
_EXPLICIT = re.compile(r"^(?:(?:hi|hey|hello|ok|okay|so|oh|also|and)\W+)*(?:please\s+)?"
                       r"(?:(?:do\s+)?remember(?: this| that)?|"
                       r"note to self|don'?t forget(?: that)?|do not forget(?: that)?|remind me(?: that)?|"
                       r"keep in mind(?: that)?|for the record|for future reference|fyi|btw|just so you know)"
                       r"\b\s*[:,\-]?\s*", re.IGNORECASE)
#: A request to forget ("Please forget that I have a dog."): memory forgets only what the user forgets in the memory
#: manager or `hearth memory forget`, so it is learned from as nothing ("Forget that I live in Berlin." was kept as
#: "User noted: Forget that User lives in Berlin"), and told how (see :func:`forget_request`).
_FORGET = re.compile(r"^(?:(?:hi|hey|ok|okay|so|oh|and|also)\W+)*(?:please\s+)?(?:(?:can|could|would|will)\s+you\s+"
                     r"(?:please\s+)?)?(?:forget(?:\s+about)?|(?:do\s+not|don't|stop)\s+(?:remember|keep)(?:ing)?|"
                     r"(?:delete|remove|erase|clear|wipe)\s+(?:the\s+|that\s+|this\s+|your\s+|my\s+|"
                     r"(?P<all>all\s+(?:of\s+)?(?:the\s+|your\s+|my\s+)?|every\s+))?(?:memory|memories|facts?|notes?)"
                     r"(?:\s+(?:about|of|on|that\s+says?|saying))?)(?:\s+(?:that|this))?\b\s*[:,\-]?\s*"
                     r"(?P<what>.*?)[\s.!?]*$", re.IGNORECASE)
#: What a request to forget everything asks for, after "forget": "everything you know about me", "all of it".
_EVERYTHING = re.compile(r"(?:everything|all|anything)?(?:\s*(?:of it|you (?:know|remember|have|learned)))?"
                         r"(?:\s*(?:about|on|of)?\s*(?:me|myself))?", re.IGNORECASE)
#: What a request to forget names that says nothing of what ("forget about it", "Forget that.").
_ONLY_IT = frozenset({"", "it", "that", "this", "them", "those", "these", "him", "her"})
#: What :func:`forget_request` gives for a request to forget everything ("Can you forget everything about me?").
EVERYTHING = "everything"
_CORRECTION = re.compile(r"\b(?:update|updated|correction|correct that|actually|not anymore|no longer|any ?more|"
                         r"changed?|changing|instead|new|now|moved|left|sorry|wait|not \w+)\b", re.IGNORECASE)
_SELF = re.compile(r"\b(?:i|i'm|im|i've|ive|i'd|i'll|me|my|mine|myself|we|we're|we've|our|ours|us)\b", re.IGNORECASE)
#: "me" or "us" as whom a request is for ("Give me a table of fruits", "Can you help me write a haiku?"): it names
#: the user as "How tall is Everest?" does not, and the name and home town put in such prompts came back in the
#: answers ("The user's name is Ada, and their favourite fruit is a lemon"). "Recommend me", "Find me" stay
#: personal (where the user lives helps), as does any other "me", "my" or "I" in the question.
_REQUEST_FOR_ME = re.compile(r"(?:^|(?<=[.!?]\s))(?:(?:please|ok|okay|now|so|and)[, ]+)?"
                             r"(?:(?:can|could|would|will) you (?:please )?)?(?:please )?"
                             r"(?:give|tell|show|help|let|send|write|make|get|bring|teach|remind|hand|pass|read|draw|"
                             r"explain to|describe to) (?:me|us)\b", re.IGNORECASE)
_HYPOTHETICAL = re.compile(r"^(?:\w+\W+)?(?:if|suppose|supposing|imagine|assuming|hypothetically|what if|say)\b|"
                           r"\bif (?:i|we) (?:were|was|had|did)\b", re.IGNORECASE)
_DOCUMENT = re.compile(r"\b(?:the|this|that|attached|uploaded) (?:document|pdf|file|article|text|paper|email|"
                       r"report|author|book says|letter)\b|\bthe author\b|\bi uploaded\b", re.IGNORECASE)
_QUESTION_START = re.compile(rf"^{_ASKING}", re.IGNORECASE)
#: A standing wish about how answers should be ("from now on", "always"): a preference even without "I".
_STANDING = re.compile(r"\b(?:from now on|always|never|ever|in future|for all future|every time|going forward|"
                       r"by default|keep (?:your |the )?(?:answers|replies|responses))\b", re.IGNORECASE)
#: A subject-less clause that still describes the user ("living in york now", "new manager: Oleksandr").
_IMPLIED_BE = re.compile(r"^(?:living|based|working|staying|studying|settled|married|retired|engaged|"
                         r"originally from|from)\b", re.IGNORECASE)
#: Thanks and remarks on the answer: never a fact ("Very good explanation, thank you my friend").
_PLEASANTRY = re.compile(r"^(?:thanks|thank you|thx|ty|cheers|great|perfect|awesome|nice|amazing|wow|very good|"
                         r"good|that's|thats|that is|that was|this is)\b", re.IGNORECASE)
#: A feeling about something only the conversation names ("she'll love that", "he'd like it"): a reaction to the
#: answer, never a fact ("User's daughter Lúcia'll love that" was learned once a stored fact named "she").
_REACTION = re.compile(r"\b(?:love|like|enjoy|hate|appreciate|adore)s?\s+(?:that|it|this|these|those|them)\W*$",
                       re.IGNORECASE)
#: Talk about the conversation itself, not the user's life ("I have a question", "I'd like a recipe").
_CHATTER = re.compile(
    r"^(?:i have a question|i(?:'d| would) (?:like|love)|i need (?:help|you|to know|a |an |some )|"
    r"i want (?:a |an |some |you |to know)|i was (?:wondering|curious|confused|just)|"
    r"(?:i'?m|im|i am) (?:wondering|curious|confused|bored|sorry|fine|not sure|looking for|just asking|asking|"
    r"trying to (?:understand|figure))|i (?:think (?:so|that|you|it)|guess|agree|see|mean|understand|know|got it|"
    r"get it)|i (?:don'?t|do not|can'?t) (?:understand|know|see|get)|let me|let'?s)\b", re.IGNORECASE)
#: A dependent clause qualifies another one and states nothing by itself ("after years of saying I would").
_DEPENDENT = re.compile(rf"^(?:{_DEPENDS}|till|when|whenever|while|once)", re.IGNORECASE)
#: Words that say nothing about what a fact is about: "User moved again", "User finally did it".
_VAGUE = frozenset("it that this so too again then back there here now finally already last first once just really "
                   "lol haha".split())
#: An instruction for this answer ("this time give me the full working", "make it shorter").
_ONE_OFF = re.compile(r"^(?:give|make|write|show|explain|compare|translate|fix|summari[sz]e|list|draft|rewrite|"
                      r"plan|find|check|tell|send|add|remove|put|try|describe|create|generate|shorten|expand)\b|"
                      r"\bthis time\b|\bjust this once\b", re.IGNORECASE)
_POLITE = re.compile(r"^(?:(?:could|can|would|will) you\s+)?(?:please\s+|pls\s+)?", re.IGNORECASE)
#: A word or phrase that dates a clause before its subject ("Now I live in Lisbon" was learned as "User noted: Now
#: User lives in Lisbon", a note rather than a fact): it is dropped, as a memory says what holds now.
_LEADING_WHEN = re.compile(r"^(now|currently|recently|lately|nowadays|these days|at the moment|right now|this year)"
                           r"\s*,?\s+(?=(?:i|we)\b)", re.IGNORECASE)

_RELATIONS = {
    "she": "wife girlfriend daughter sister mother mum mom grandmother grandma gran granny nan nana aunt niece "
           "fiancee granddaughter stepmother stepmum stepmom stepdaughter",
    "he": "husband boyfriend son brother father dad grandfather grandpa grandad granddad uncle nephew fiance "
          "grandson stepfather stepdad stepson",
    "": "partner kid child baby parent friend boss manager colleague coworker flatmate roommate dog cat parrot "
        "bird rabbit hamster horse pet puppy kitten chef teacher doctor",
}
_GENDER = {word: g for g, words in _RELATIONS.items() for word in words.split()}
_IMPLIED_MY = re.compile(r"^new (?=\w)|^(?:" + "|".join(_GENDER) + r")s?:", re.IGNORECASE)
_ANTECEDENT = re.compile(r"\b(?:my|our|user's|(?:i|we|user) (?:have|has) (?:a|an))\s+(" + "|".join(_GENDER) + r")s?\b"
                         r"(?:,?\s+(?:called|named))?"
                         r"(?:\s+(?!(?:is|was|has|had|and|who|just|does|doesn|did|lives|works|loves|likes|got|"
                         r"wants|said|says|turned|will|would|can)\b)((?-i:[A-Z\u00C0-\u00DE][\w\u00C0-\u017F-]*)|"
                         r"[a-z\u00C0-\u017F]+(?=\s+(?:is|was|has)\b)))?", re.IGNORECASE)
_PRONOUN = re.compile(r"^(he's|she's|hes|shes|he|she|his|her)\b", re.IGNORECASE)

_ADVERBS = frozenset("last first once just now also really currently still actually recently already usually always "
                     "never often sometimes mostly only even probably definitely finally totally basically kinda "
                     "newly".split()) | {"no longer"}  # "I no longer have a dog" was "User noes longer have a dog"
_UNCHANGED = frozenset(
    "can could will would shall should may might must did had was were used got left went moved started took made "
    "came became began bought sold met ran said told thought felt knew grew gave found lost kept spent won wrote "
    "drove flew taught brought caught fell fought heard hurt paid put read set sat saw sent slept spoke stood swam "
    "wore broke chose ate drank forgot quit let cut".split())
_IRREGULAR = {"have": "has", "do": "does", "go": "goes", "am": "is", "are": "is", "dont": "doesnt",
              "don't": "doesn't", "havent": "hasnt", "haven't": "hasn't", "aren't": "isn't", "arent": "isnt",
              "'m": "is", "m": "is", "'re": "is", "re": "is", "'ve": "has", "ve": "has", "'d": "would",
              "d": "would", "'ll": "will", "ll": "will"}
_SUBJECT_VERB = re.compile(r"\b(?:i|we)(?:(')?(m|re|ve|d|ll)\b|(?=\s))((?:\s+(?:" + "|".join(_ADVERBS) +
                           r"))*)(?:\s+([\w']+))?", re.IGNORECASE)
_CONTRACTED = {"im": "User is", "ive": "User has"}
_POSSESSIVE = re.compile(r"\b(?:my|our|mine|ours)\b", re.IGNORECASE)
_OBJECT = re.compile(r"\b(?:[Mm]e|us|[Mm]yself|[Oo]urselves)\b")  # "US" is a country
#: Words that open a clause without saying anything ("sry hes 10 not 9", "Anyway, it made me think").
#: A correction's opening ("Actually, ...", "No, ...", "I meant ...") is filler too: "Sorry, I meant I live in
#: Bergen" states "User lives in Bergen", which the residence slot then sees replace the older city.
_FILLER = re.compile(r"^(?:(?:sry|sorry|oh|ok|okay|ugh|wait|hi|hey|hello|yes|yeah|well|so|also|and|but|btw|lol|"
                     r"haha|right|cool|anyway|anyways|again|actually|sadly|unfortunately|by the way|i mean|i meant|"
                     r"to be clear|to clarify|correction|oops|my bad|um+|uh+|hm+)\b[\s,!.]*|"
                     r"(?:no|nope|nah)\s*[,!.]+\s*)+",
                     re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    """One clause of a user message that may state a fact about the user, and how it reads as one."""

    said: str  # the clause as the user typed it (quotes removed)
    fact: str  # the same, in the third person: "User's dog is called Biscuit"
    explicit: bool  # the user asked for it to be remembered ("note to self: ...")
    standing: bool  # a wish about all future answers ("no emojis ever")
    correction: bool  # the message corrects something ("update:", "not 9", "now")


def _conjugate(verb: str) -> str:
    low = verb.lower()
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    if low in _UNCHANGED or low.endswith("ed") or low.endswith("n't") or not low.isalpha():
        return verb
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _subject_verb(m: re.Match[str]) -> str:
    contraction, adverbs, verb = m.group(2), m.group(3) or "", m.group(4)
    if contraction:
        return f"User {_IRREGULAR[contraction.lower()]}{adverbs}" + (f" {verb}" if verb else "")
    if verb is None:
        return "User" + adverbs
    return f"User{adverbs} {_conjugate(verb)}"


def third_person(clause: str, standing: bool = False) -> str:
    """``clause`` said about the user: subject, verb agreement and possessives rewritten, nothing else.

    A clause with no subject left reads "User noted: ...", or "User wants: ..." for a ``standing`` wish.
    """
    text = _POLITE.sub("", clause) if standing else clause
    text = _LEADING_WHEN.sub("", text)
    first = text.split(maxsplit=1)[0].lower() if text.split() else ""
    if first in _CONTRACTED:
        text = _CONTRACTED[first] + text[len(first):]
    elif _IMPLIED_BE.match(text):
        text = "User is " + text
    elif _IMPLIED_MY.match(text):
        text = "User's " + text
    text = _SUBJECT_VERB.sub(_subject_verb, text)
    text = _POSSESSIVE.sub("User's", text)
    text = _OBJECT.sub("User", text)
    if not text.startswith("User"):
        text = ("User wants: " if standing else "User noted: ") + text
    return text[:MAX_FACT_CHARS].strip(" ,;:-")


@dataclass(frozen=True)
class _Antecedent:
    """Someone "my <relation> [Name]" introduced, whom a later "she", "his" or bare "husbands" means."""

    gender: str  # "she", "he" or "" (either)
    relation: str  # lower case: "son"
    name: str  # as typed ("oskar", "Marta"), or ""

    @property
    def phrase(self) -> str:
        return f"User's {self.relation}" + (f" {self.name}" if self.name else "")


def _antecedents(text: str) -> list[_Antecedent]:
    """Every "my <relation> [Name]" (or "User's <relation> [Name]") in ``text``, in order."""
    return [_Antecedent(_GENDER[m.group(1).lower()], m.group(1).lower(), m.group(2) or "")
            for m in _ANTECEDENT.finditer(text)]


def _resolve(clause: str, antecedents: list[_Antecedent]) -> str:
    """Replace a leading he/she/his/her with the latest matching "my <relation>" ("She loves" -> "User's wife
    Marta loves"), and say whose a leading name is ("Ana moved" -> "User's sister Ana moved"); leave it when there
    is none (the model then judges a clause about somebody else)."""
    m = _PRONOUN.match(clause)
    if not m:
        bare = re.match(r"(\w+?)(?:'?s)?\b", clause)  # "husbands name is Dario" after "my husband"
        if bare and any(a.relation == bare.group(1).lower() for a in antecedents):
            return "User's " + clause
        named = re.match(r"(?-i:[A-Z\u00C0-\u00DE])[\w\u00C0-\u017F-]*\b", clause)  # "Miso died" after "my cat Miso"
        for a in reversed(antecedents):
            if named and a.name.lower() == named.group(0).lower():
                return f"User's {a.relation} {clause}"
        return clause
    word = m.group(1).lower().replace("'", "")
    gender = "she" if word.startswith(("she", "her")) else "he"
    for a in reversed(antecedents):
        if a.gender in (gender, ""):
            rest, phrase = clause[m.end():], a.phrase
            if word in ("hes", "shes"):
                return f"{phrase} is{rest}"
            if word in ("his", "her"):
                return f"{phrase}'s{rest}"
            return phrase + rest
    return clause


def _empty(fact: str) -> bool:
    """A verb with nothing it is about ("User moved again", "User last talked"); "User is vegan" is not."""
    if fact.startswith(("User's", "User noted:", "User wants:")):
        return False
    return len([w for w in fact.split()[1:] if w.lower() not in _VAGUE]) <= 1


def _named(fact: str, antecedents: list[_Antecedent]) -> str:
    """Give an unnamed relation the name it has elsewhere: "User's daughter is 7" after "my daughter Lúcia"
    (or a stored "User's daughter Lúcia ...") reads "User's daughter Lúcia is 7", so the name is not lost
    when this fact supersedes the older one."""
    named = {a.relation: a for a in antecedents if a.name}

    def name(m: re.Match[str]) -> str:
        a = named.get(m.group(1).lower())
        return a.phrase if a and a.name not in fact else m.group(0)

    return re.sub(r"\bUser's (\w+)\b(?!'|\s+(?-i:[A-Z\u00C0-\u00DE]))", name, fact, count=1)


def _clean(text: str) -> str:
    return _FILLER.sub("", " ".join(text.split()).strip(" .,;:!?-–—\"'()")).strip(" .,;:!?-–—\"'()")


def speaks_of_user(text: str) -> bool:
    """Whether ``text`` says I, me, my, we or our: a question that does is about the user and gets the always-on
    profile facts; one that does not ("How tall is Mount Everest?") gets only the memories close to it. Given
    the user's home town, the bundled model answered that question "The user lives in Lisbon, Portugal.", the
    capital of France "Lisbon is the capital of Portugal.", and wrote a haiku about rain in Lisbon. A "me" that
    only says whom a request is for does not count (see :data:`_REQUEST_FOR_ME`)."""
    return bool(_SELF.search(_REQUEST_FOR_ME.sub(" ", text)))


def corrects(text: str) -> bool:
    """Whether the user's ``text`` corrects something ("actually", "now", "not 9", "sorry, I meant")."""
    return bool(_CORRECTION.search(text))


def looked_at(text: str) -> str:
    """The part of ``text`` statements are read from: all of it up to :data:`MAX_SOURCE_CHARS`, else whole
    sentences from its start and its end, half of that each (what a long message says of the user comes before
    or after what it pastes). The first 1,500 characters were read: "My favourite band is Radiohead." at the end
    of a long message was never learned, and a sentence cut there became the memory "User noted: Today I"."""
    if len(text) <= MAX_SOURCE_CHARS:
        return text
    half = MAX_SOURCE_CHARS // 2
    head, tail = text[:half], text[-half:]
    ends = [m.end() for m in _SENTENCE.finditer(head)]
    starts = [m.end() for m in _SENTENCE.finditer(tail)]
    return f"{head[:ends[-1]] if ends else ''}\n{tail[starts[0]:] if starts else ''}".strip()


def _forgetting(sentence: str) -> str | None:
    """What ``sentence`` asks to forget, as typed ("I have a dog"), or :data:`EVERYTHING`; None when it asks no such
    thing, or only "it"."""
    m = _FORGET.match(sentence.strip())
    if m is None:
        return None
    what = m.group("what")
    if (what or m.group("all")) and _EVERYTHING.fullmatch(what):
        return EVERYTHING
    return None if what.lower() in _ONLY_IT else what


def forget_request(user_text: str) -> str | None:
    """What the user asks Hearth to forget, said about the user ("Please forget that I have a dog." gives "User
    has a dog"), :data:`EVERYTHING` for all of it; None when the message asks no such thing."""
    for sentence in _SENTENCE.split(user_text.replace("\u2019", "'")):
        if (what := _forgetting(sentence)) is not None:
            if what == EVERYTHING or not _SELF.search(what):  # "the memory about Apple" is not "User noted: Apple"
                return what
            return third_person(_clean(what))
    return None


def statements(user_text: str, context: str = "", known: Sequence[str] = ()) -> list[Statement]:
    """The clauses of ``user_text`` that may state a fact about the user, rewritten in the third person.

    ``context``: the user's previous message in the conversation, for "He's 3 now" after "our parrot Zazu";
    ``known``: facts already stored that may name a relation ("User's daughter Lúcia loves dinosaurs").
    Questions, quoted text, hypotheticals and talk about documents are left out here; whether a clause that
    remains is a lasting fact about the user is the model's call.
    """
    text = _QUOTED.sub(" ", looked_at(user_text).replace("\u2019", "'"))
    text = _ABBREVIATION.sub(lambda m: m.group(1) + _DOT, text)
    correction = corrects(text)
    antecedents = [a for fact in known for a in _antecedents(fact)]
    antecedents += _antecedents(_QUOTED.sub(" ", context.replace("\u2019", "'")))
    found: list[Statement] = []
    for sentence in _SENTENCE.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        if _forgetting(sentence) is not None:
            continue
        explicit_m = _EXPLICIT.match(sentence)
        explicit = explicit_m is not None and bool(sentence[explicit_m.end():].strip())
        if explicit_m:
            sentence = sentence[explicit_m.end():]
        asks = sentence.rstrip().endswith("?")
        clauses = [short for c in _CLAUSE.split(sentence) if c and c.strip()
                   for short in (_LONG_CLAUSE.split(c) if len(c.split()) > LONG_CLAUSE_WORDS else [c])]
        for i, raw in enumerate(clauses):
            clause = _clean(raw.replace(_DOT, "."))
            antecedents += _antecedents(clause)
            if len(clause.split()) < 2 and not (explicit and clause):
                continue
            last = i == len(clauses) - 1
            standing = bool(_STANDING.search(clause))
            if not (explicit or standing) and ((asks and last) or _QUESTION_START.match(clause)):
                continue
            if (_HYPOTHETICAL.search(clause) or _DOCUMENT.search(clause) or _PLEASANTRY.match(clause)
                    or _CHATTER.match(clause) or _REACTION.search(clause)):
                continue
            if (_ONE_OFF.search(clause) or _DEPENDENT.match(clause)) and not (explicit or standing):
                continue
            clause = _resolve(clause, antecedents)
            if not (explicit or standing or _SELF.search(clause) or clause.startswith("User's")
                    or _IMPLIED_BE.match(clause) or _IMPLIED_MY.match(clause)):
                continue
            fact = _named(third_person(clause, standing), antecedents)
            if _empty(fact):
                continue
            found.append(Statement(clause, fact, explicit, standing, correction))
    return found
