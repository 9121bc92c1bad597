"""Whether a message tells something about its writer in a language other than English.

Memory's rules (:mod:`statements`) read English only: "Ich heiße Anna und wohne in Graz" gives them no
statement, so nothing was queued and nothing said. This check lets the core say so instead of staying
silent: the message is not English (no common English word, or mostly a script other than Latin) and holds
a first-person word of one of the languages people most often write to Hearth in.
"""

from __future__ import annotations

import re
import unicodedata

#: Common English words: a message in a Latin script with enough of them is taken as English.
_ENGLISH = frozenset(
    "i i'm im i've my me mine we our us the a an is are am was were be been have has had do does did not and or "
    "but so to of in on at for with from by about this that it you your he she they his her their what when "
    "where who how why which can could would will should please remember".split())
#: First-person words (I, my, me, we, our...) of other languages; for CJK, characters found anywhere.
_FIRST_PERSON = frozenset(
    # German, French, Spanish, Italian, Portuguese, Dutch
    "ich mein meine meinen meinem meiner mich mir wir unser unsere je j moi mon ma mes nous notre nos yo mi mis "
    "me nosotros nuestro nuestra llamo io mio mia miei mie noi nostro nostra eu meu minha meus minhas nós nosso "
    "nossa ik mijn mij wij ons onze "
    # Swedish, Danish, Norwegian, Polish, Czech, Turkish, Finnish, Hungarian
    "jag mitt mina vi vår jeg mit mine vores mój moja moje mam jestem mieszkam nazywam já můj moje jsem ben "
    "benim biz bizim minä minun olen én engem vagyok "
    # Russian, Ukrainian, Bulgarian, Greek, Hebrew, Arabic, Persian, Hindi
    "я мой моя моё мои меня мне мы наш наша мій моя мене аз моят εγώ μου είμαι אני שלי שמי أنا اسمي لدي من "
    "مرا اسم मैं मेरा मेरी".split())
_CJK_SELF = re.compile("[我私僕俺저제내]")
#: At least this share of a message's words are common English words when it is English.
ENGLISH_SHARE = 0.2


def speaks_of_self_in_another_language(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", unicodedata.normalize("NFC", text).lower())
    if not words:
        return False
    letters = [ch for word in words for ch in word]
    latin = sum(unicodedata.name(ch, "").startswith("LATIN") for ch in letters)
    if latin > len(letters) / 2 and sum(word in _ENGLISH for word in words) >= ENGLISH_SHARE * len(words):
        return False  # English, which the rules read ("in" or "a" alone is German or Italian too)
    return bool(_CJK_SELF.search(text)) or any(word in _FIRST_PERSON for word in words)
