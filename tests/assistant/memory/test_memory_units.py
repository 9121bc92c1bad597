"""Unit tests of the memory rules: no model needed (a scripted fake LLM stands in where one is asked)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from assistant.memory.conflicts import Candidate, judge, retraction, slot_of
from assistant.memory.extraction import EXPLICIT_THRESHOLD, THRESHOLD, extract_facts
from assistant.memory.records import MemoryItem
from assistant.memory.secrets import secret_kind, secrets_in, without_secrets
from assistant.memory.statements import EVERYTHING, forget_request, statements, third_person


@pytest.mark.parametrize(("said", "facts"), [
    ("Please remember this: my dog is called Biscuit.", ["User's dog is called Biscuit"]),
    ("note to self: dentist on 14 March at 9:30", ["User noted: dentist on 14 March at 9:30"]),
    ("Can you suggest a gift for my wife Marta? She loves gardening.", ["User's wife Marta loves gardening"]),
    ("im vegetarian and my husband doesnt eat mushrooms, ideas for dinner tonite?",
     ["User is vegetarian", "User's husband doesnt eat mushrooms"]),
    ("Hi! I'm Aroha, 29, from Wellington, and I work as a vet nurse",
     ["User is Aroha, 29, from Wellington", "User works as a vet nurse"]),
    ("Update: we moved again, we now live in Braga.", ["User now lives in Braga"]),  # "moved again": no content
    ("no emojis ever", ["User wants: no emojis ever"]),
    ("Actually, I live in Bergen", ["User lives in Bergen"]),
    ("Sorry, I meant I live in Bergen.", ["User lives in Bergen"]),
    ("No, I live in Bergen. No meat for me though", ["User lives in Bergen", "User noted: No meat for User though"]),
    ("Could you reply with bullet points from now on?", ["User wants: reply with bullet points from now on"]),
    ("I use metric units. I'm in Dublin, not the US.", ["User uses metric units", "User is in Dublin, not the US"]),
    # nothing about the user: questions, quotes, hypotheticals, documents, thanks, one-off instructions
    ("what's the capital of Peru?", []),
    ("translate to german: 'my sister lives in Vienna and has three kids'", []),
    ("suppose I earned 80k in Germany, how much tax?", []),
    ("In the document, the author says she was born in 1961.", []),
    ("Very good explanation, thank you my friend.", []),
    ("this time give me the full working", []),
    ("So I finally did it, after years of saying I would.", []),
])
def test_statements_cut_a_message_and_keep_the_users_words(said: str, facts: list[str]) -> None:
    assert [s.fact for s in statements(said)] == facts


def test_pronouns_and_bare_relations_resolve_from_the_previous_message() -> None:
    previous = "my son oskar is 9 and he wants to start football"
    assert [s.fact for s in statements("sry hes 10 not 9", previous)] == ["User's son oskar is 10 not 9"]
    assert [s.fact for s in statements("husbands name is Dario", "my husband hates mushrooms")] == [
        "User's husbands name is Dario"]
    assert statements("He's 3 right now.") == []  # nobody to refer to: not a fact about the user


@pytest.mark.parametrize(("clause", "fact"), [
    ("I teach chemistry", "User teaches chemistry"),
    ("we now live in Braga", "User now lives in Braga"),
    ("I don't eat pork", "User doesn't eat pork"),
    ("I've got two greyhounds", "User has got two greyhounds"),
    ("I left teaching", "User left teaching"),
    ("I study law", "User studies law"),
    ("my passport expires in May", "User's passport expires in May"),
    ("I no longer have a dog", "User no longer has a dog"),  # it was "User noes longer have a dog"
    ("Now I live in Lisbon", "User lives in Lisbon"),  # it was "User noted: Now User lives in Lisbon"
    ("These days, we work from home", "User works from home"),
    ("Currently I am vegan", "User is vegan"),
])
def test_third_person(clause: str, fact: str) -> None:
    assert third_person(clause) == fact


def test_the_model_decides_and_an_explicit_request_needs_less_certainty(scripted) -> None:
    assert extract_facts(scripted(yes=0.9), "I'm vegetarian.") == ["User is vegetarian"]
    assert extract_facts(scripted(yes=0.1), "I'm vegetarian.") == []
    between = (EXPLICIT_THRESHOLD + THRESHOLD) / 2
    assert extract_facts(scripted(yes=between), "I'm vegetarian.") == []
    assert extract_facts(scripted(yes=between), "Remember that I'm vegetarian.") == ["User is vegetarian"]
    llm = scripted(yes=0.9)
    assert extract_facts(llm, "What's the weather?") == [] and llm.asked == []  # no statement: no model call
    extract_facts(llm, "My dog is called Biscuit.")
    assert llm.asked == ["User's dog is called Biscuit"]  # the model judges the fact it would store


def test_every_fact_of_a_long_message_is_found_and_none_is_cut_in_two(scripted) -> None:
    """Only the first 1,500 characters were read ("My favourite band is Radiohead." at the end was never learned,
    a sentence cut there became "User noted: Today I"), and at most 6 facts of a message were kept (an allergy,
    the 8th, was dropped without a word)."""
    diary = "Today I walked along the river and talked about the weather for a while. " * 30
    facts = extract_facts(scripted(yes=0.9), diary + "My favourite band is Radiohead.")
    assert "User's favourite band is Radiohead" in facts and not any(f.endswith(" I") for f in facts), facts
    eight = ("My name is Carla. I live in Braga. I work as a nurse. My husband is called Rui. My son is called "
             "Tiago. My daughter is called Ines. My cat is called Mittens. I'm allergic to peanuts.")
    facts = extract_facts(scripted(yes=0.9), eight)
    assert len(facts) == 8 and facts[-1] == "User is allergic to peanuts", facts


def test_retractions() -> None:
    assert retraction("New manager as of today: Oleksandr. Priya left.", "User's manager is called Priya") == "all"
    # what the service passes: the user's words and the turn's new facts
    assert retraction("sry hes 10 not 9. User's son oskar is 10 not 9", "User's son oskar is 9") == "all"
    assert retraction("I left teaching, no more chemistry in Glasgow", "User teaches chemistry in Glasgow") == "all"
    assert retraction("ok update: I work at Ledgerwise, quillfeather is history", "User works at Quillfeather") == "all"
    # a fact with more in it than the correction touches stays (ranked below it): hiding it would lose "dinosaurs"
    assert retraction("my daughter is 7 not 6", "User's daughter Lúcia is 6 and obsessed with dinosaurs") == "part"
    assert retraction("sry hes 10 not 9", "User's son oskar wants to start football") is None
    assert retraction("I left my keys at home", "User lives in Porto") is None


def test_a_denial_takes_back_what_it_denies_and_nothing_else() -> None:
    """"I'm not allergic to peanuts anymore", "Ana doesn't live in Porto anymore", "Miso died": each left the old
    fact in use (the first was even taken for a duplicate of it)."""
    for said, fact, how in (
            ("I'm not allergic to peanuts anymore. User is not allergic to peanuts anymore",
             "User is allergic to peanuts", "all"),
            ("Ana doesn't live in Porto anymore. User's sister Ana doesn't live in Porto anymore",
             "User's sister Ana lives in Porto", "all"),
            ("Miso died last week. User's cat Miso died last week", "User has a cat called Miso", "all"),
            ("I don't eat meat anymore", "User eats meat", "all"),
            ("I quit my job at Rabobank", "User works at Rabobank", "part"),
            ("I haven't smoked since 2019", "User smokes", "all"),
            ("Kowalczyk go to other station. User's manager is Herr Adebayo", "User's manager is Kowalczyk", "all"),
            ("Ledgerwise, quillfeather is history lol. User works at Ledgerwise", "User works at Quillfeather", "all"),
            # a move from the place, said either way round, and a denial said as never said (each was missed)
            ("I moved from Lisbon to Porto in May. User lives in Porto", "User lives in Lisbon", "all"),
            ("I moved to Porto from Lisbon", "User lives in Lisbon", "part"),
            ("I'm not living in Lisbon now, I moved to Porto", "User lives in Lisbon", "all"),
            ("I never said I'm allergic to peanuts", "User is allergic to peanuts", "all"),
            ("My mother moved from Lisbon to Porto", "User's mother lives in Lisbon", "part")):
        assert retraction(said, fact) == how, said
    # a denial of something else, or more, or someone else's, or asked, takes nothing back (each retired a fact)
    for said, fact in (("I'm not allergic to cats", "User is allergic to peanuts"),
                       ("I don't like coffee but I love tea", "User likes tea"),
                       ("My son isn't allergic to peanuts. User's son isn't allergic to peanuts",
                        "User is allergic to peanuts"),
                       ("Am I not allergic to peanuts? I live in Lisbon. User lives in Lisbon",
                        "User is allergic to peanuts"),
                       ("My wife doesn't work at Google. User's wife doesn't work at Google", "User works at Google"),
                       ("My cat Miso went to the vet", "User has a cat called Miso"),
                       ("My cat Miso is over her cold now", "User has a cat called Miso"),
                       ("I don't like green tea", "User likes tea"),
                       ("I don't like my tea sweet", "User likes tea"),
                       ("I have never lived outside Lisbon", "User lives in Lisbon"),
                       ("I'm not allergic to peanut butter cookies", "User is allergic to peanuts"),
                       ("My sister Ana moved flats but she still lives in Porto", "User's sister Ana lives in Porto"),
                       ("My sister Ana visited. She's not allergic to peanuts", "User is allergic to peanuts"),
                       ("They're not vegetarian", "User is vegetarian"),
                       ("I'm not just allergic to peanuts, also to shellfish", "User is allergic to peanuts"),
                       ("I'm not teaching today", "User is teaching"),
                       ("Ana's cat died", "User has a cat called Miso"),
                       ("Ana left Porto for a week", "User's sister Ana lives in Porto"),
                       ("My sister moved from Lisbon to Porto", "User lives in Lisbon"),
                       ("I left Lisbon to visit Porto", "User lives in Lisbon"),
                       ("My son never said he is allergic to peanuts", "User is allergic to peanuts"),
                       # someone else's fact, not named; what a move does not end; a move for a while
                       ("I'm not living in Lisbon now", "User's mother lives in Lisbon"),
                       ("I'm not allergic to peanuts", "User's son is allergic to peanuts"),
                       ("I never said I'm allergic to peanuts", "User's son is allergic to peanuts"),
                       ("I moved from Lisbon to Porto", "User was born in Lisbon"),
                       ("I left Lisbon", "User was born in Lisbon"),
                       ("I left Lisbon in 2010", "User grew up in Lisbon"),
                       ("I moved from Lisbon to Porto", "User works in Lisbon"),
                       ("I moved from Lisbon to Porto for a week of work", "User lives in Lisbon"),
                       ("My daughter is 10 not 9", "User is 9 years old")):
        assert retraction(said, fact) is None, said
    peanuts = Candidate("1", "User is allergic to peanuts", 0.95)
    assert judge(None, "User is not allergic to peanuts anymore", [peanuts], None).duplicate_of is None


@pytest.mark.parametrize(("fact", "slot"), [
    ("User lives in Paris", ("residence", "paris")),
    ('User said: "I moved to Berlin last month"', ("residence", "berlin")),
    ("User's name is Dana", ("name", "dana")),
    ("User prefers short answers", ("answer_style", "short")),
    ("User's favourite colour is green", ("favourite:colour", "green")),
    ("My sister lives in Toronto", None),  # not about the user
    ("My partner's name is Tom", ("called:partner", "tom")),
    ("User's dog is called Pretzel now", ("called:dog", "pretzel")),
    ("User is allergic to peanuts", None),
])
def test_slots(fact: str, slot: tuple[str, str] | None) -> None:
    found = slot_of(fact)
    assert (found and (found.name, found.value)) == slot


def test_rules_supersede_duplicate_and_keep_unrelated_facts() -> None:
    paris, vegan = Candidate("1", "User lives in Paris", 0.5), Candidate("2", "User is vegan", 0.2)
    assert judge(None, "User moved to Berlin", [paris, vegan], None).supersedes == ("1",)
    assert judge(None, "I live in Paris now", [paris], None).duplicate_of == "1"
    assert judge(None, "My sister lives in Rome", [paris], None).supersedes == ()


def test_a_new_name_replaces_the_old_one_when_the_user_corrects_it_or_has_one_such() -> None:
    """"Actually my dog is called Pretzel" left "User's dog is called Biscuit" in use beside it, both in every
    answer about the dog; a second son's name must not hide the first's."""
    biscuit = Candidate("1", "User's dog is called Biscuit", 0.9)
    assert judge(None, "User's dog is called Pretzel", [biscuit], None, correcting=True).supersedes == ("1",)
    assert judge(None, "User's dog's name is Pretzel now", [biscuit], None, correcting=True).supersedes == ("1",)
    tiago = Candidate("2", "User's son is called Tiago", 0.9)
    assert judge(None, "User's son is called Pedro", [tiago], None).supersedes == ()  # two sons: both stay
    priya = Candidate("3", "User's boss is called Priya", 0.9)
    assert judge(None, "User's boss is called Ana", [priya], None).supersedes == ("3",)  # one boss at a time
    assert judge(None, "User's dog is called biscuit", [biscuit], None).duplicate_of == "1"


def test_the_model_judges_similar_facts_and_a_failed_or_unsure_verdict_keeps_both(scripted) -> None:
    tea = Candidate("1", "User drinks tea every morning", 0.8)
    assert judge(scripted(yes=0.95), "User gave up tea", [tea], None).supersedes == ("1",)
    assert judge(scripted(yes=0.6), "User gave up tea", [tea], None).supersedes == ()  # not sure: keep both
    assert judge(scripted(failures=1), "User gave up tea", [tea], None).supersedes == ()
    oskar = Candidate("2", "User's son oskar is 9", 0.97)  # near-identical, but another number: not a duplicate
    assert judge(None, "User's son oskar is 10", [oskar], None).duplicate_of is None


def test_memory_item_reads_mem0_rows() -> None:
    row = {"id": "a", "memory": "User is vegan", "created_at": "t0", "updated_at": None,
           "metadata": {"status": "superseded", "superseded_by": "b", "source_conversation": ""}}
    item = MemoryItem.from_mem0(row)
    assert item == MemoryItem("a", "User is vegan", "t0", "t0", superseded_by="b", source_conversation=None)
    assert not item.active and item.to_dict()["superseded_by"] == "b"


def test_a_failed_turn_is_retried_with_back_off_then_given_up(tmp_path, monkeypatch) -> None:
    from assistant.memory import queue as q

    clock = [1000.0]
    monkeypatch.setattr(q.time, "time", lambda: clock[0])
    turns = q.TurnQueue(tmp_path / "queue.sqlite3")
    turn = turns.push("c", "I play the cello.")
    for delay in q.RETRY_DELAYS_S:
        assert turns.fail(turn, "bad JSON") is True
        assert turns.pending() == [] and turns.next_retry_in() == delay
        clock[0] += delay
        assert [t.id for t in turns.pending()] == [turn]
    assert turns.fail(turn, "bad JSON again") is False
    assert turns.counts() == {"pending": 0, "failed": 1} and turns.pending() == []
    turns.close()


def test_a_relation_keeps_the_name_it_has_in_a_stored_fact() -> None:
    known = ["User's daughter Lúcia loves dinosaurs"]
    assert [s.fact for s in statements("oh wait, my daughter is 7 not 6", known=known)] == [
        "User's daughter Lúcia is 7 not 6"]
    assert [s.fact for s in statements("She turned 7 in March", known=known)] == [
        "User's daughter Lúcia turned 7 in March"]
    assert [s.fact for s in statements("my son is 9", known=known)] == ["User's son is 9"]


def test_a_name_a_stored_fact_gives_someone_is_said_to_be_theirs() -> None:
    """"Miso died last week" says nothing of the user by itself: it was not even queued to be learned from."""
    known = ["User has a cat called Miso", "User's sister Ana lives in Porto"]
    assert statements("Miso died last week.") == []
    assert [s.fact for s in statements("Sadly Miso died last week.", known=known)] == [
        "User's cat Miso died last week"]
    assert [s.fact for s in statements("Ana doesn't live in Porto anymore", known=known)] == [
        "User's sister Ana doesn't live in Porto anymore"]
    assert [s.fact for s in statements("my dog called Biscuit is 3. He loves the beach")] == [
        "User's dog called Biscuit is 3", "User's dog Biscuit loves the beach"]
    # a name or a "she" made someone's does not make a reaction to the answer a fact about them
    assert statements("perfect, she'll love that", known=["User's daughter Lúcia loves dinosaurs"]) == []


def test_a_turn_is_learned_by_one_process_only(tmp_path) -> None:
    """Two Hearth processes (two `hearth ask` at once) both learned every queued turn, so every fact was stored
    twice. A turn is claimed first; a claim of a process that is no longer running is taken over."""
    import os
    import subprocess
    import sys

    from assistant.memory import queue as turn_queue

    turns = turn_queue.TurnQueue(tmp_path / "queue.sqlite3")
    turn = turns.push("c1", "My daughter Anna is 7 years old.")
    turns._db.execute("UPDATE turns SET claimed_by = ?", (os.getppid(),))  # another process, running, has it
    assert turns.pending() == [] and turns.due_count() == 0 and not turns.claim(turn)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    turns._db.execute("UPDATE turns SET claimed_by = ?", (int(gone.stdout),))  # it was killed mid-turn
    assert [t.id for t in turns.pending()] == [turn] and turns.claim(turn)
    turns.release(turn)
    assert turns._db.execute("SELECT claimed_by FROM turns").fetchone() == (0,)
    turns.close()


def test_a_turn_claimed_by_a_process_whose_number_was_given_again_is_taken_over(tmp_path) -> None:
    """A learner killed mid-turn held its turn for as long as another process given its number since ran (the
    system hands numbers out again): the turn waited, unlearned. The claim names when its process started."""
    import os

    import psutil

    from assistant.memory import queue as turn_queue

    turns = turn_queue.TurnQueue(tmp_path / "queue.sqlite3")
    turn = turns.push("c1", "My daughter Anna is 7 years old.")
    started = psutil.Process(os.getppid()).create_time()
    claim = "UPDATE turns SET claimed_by = ?, claimed_started = ?"
    turns._db.execute(claim, (os.getppid(), started))  # another process, running, has it
    assert turns.pending() == [] and not turns.claim(turn)
    turns._db.execute(claim, (os.getppid(), started - 3600))  # its number, of a process started an hour before
    assert [t.id for t in turns.pending()] == [turn] and turns.claim(turn)
    turns.close()


def test_a_message_about_oneself_in_another_language_is_told_apart_from_english() -> None:
    from assistant.memory.language import speaks_of_self_in_another_language as foreign

    for text in ("Ich heiße Anna und wohne in Graz.", "Je m'appelle Luc.", "Меня зовут Вера.", "我住在北京。",
                 "Mi chiamo Giulia e abito a Roma.", "Ik woon in Utrecht met mijn vriendin."):
        assert foreign(text), text
    for text in ("I live in Berlin.", "My name is Jan and ich bin hier", "Wie spät ist es?", "Bonjour!",
                 "Ja, danke", "Remember: my sister Olga lives in Kyiv", "Thanks!"):
        assert not foreign(text), text


def test_importing_mem0_through_hearth_leaves_qdrant_out_and_the_real_package_importable(tmp_path) -> None:
    """mem0 builds a default Qdrant config while it imports (0.62 s of qdrant-client); Hearth never uses Qdrant.
    A fresh process, so that mem0 is imported here for the first time."""
    code = (
        "import sys\n"
        "import assistant.memory.service\n"
        "assert 'mem0' in sys.modules\n"
        "print('qdrant_client' in sys.modules)\n"
        "import qdrant_client\n"
        "print(hasattr(qdrant_client.QdrantClient, 'create_collection'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HEARTH_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


@pytest.mark.parametrize(("said", "kind"), [
    ("My gmail password is hunter2sailor.", "a password"),
    ("User's gmail password is hunter2sailor", "a password"),
    ("password for the wifi: Tr0ub4dor&3", "a password"),
    ("My passcode is 1397.", "a password"),
    ("my PIN is 4821", "a PIN"),
    ("My bank PIN is 9999 and my cat is called Tom.", "a PIN"),
    ("My credit card number is 4111 1111 1111 1111, expiry 09/28, CVV 123.", "a card number"),
    ("my card is 5500-0000-0000-0004", "a card number"),
    ("The CVV is 123.", "a card's security code"),
    ("Here is my OpenAI API key: sk-proj-AbC123SECRET, keep it safe.", "an API key"),
    ("my github token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "an API key"),
    ("AWS key AKIAIOSFODNN7EXAMPLE", "an API key"),
    ("the token is 9fK2mQ7xL4pR8vT1nB6cW3zY5hJ0dS2a", "a key or a token"),
    ("I forgot my password again.", None),
    ("My PIN code changed last week.", None),
    ("I pin my hopes on the weekend.", None),
    ("My order number is 1234567890123.", None),  # fails the card check
    ("My phone number is +351 912 345 678.", None),
    ("I was born in 1984 and live in Saint-Jean-de-Luz.", None),
    ("My son loves Supercalifragilisticexpialidocious.", None),
    ("My files are in /home/ana/Documents/SomeLongFolderName2024.", None),
    ("User has a dog called Biscuit", None),
    ("My wifi password is: Sunflower42!", "a password"),
    ("my password's hunter2sailor", "a password"),
    ("The password for the office WiFi is CoffeeTime", "a password"),
    ("wifi pw is sunflower42", "a password"),
    ("The Wi-Fi key is sunflower42", "a password"),
    ("I use sunflower42 as my password", "a password"),
    ("My password is Fluffy.", "a password"),
    ("mot de passe: soleil123", "a password"),
    ("mein Passwort ist sonne123", "a password"),
    ("mi contraseña es sol12345", "a password"),
    ("my pin's 4821", "a PIN"),
    ("PIN 4821", "a PIN"),
    ("door code: 4821", "a lock code"),
    ("The door code is 4821 and my dog is called Rex.", "a lock code"),
    ("the alarm code is 4821", "a lock code"),
    ("My locker combination is 12-34-56", "a lock code"),
    ("My AWS secret access key is wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "a key or a token"),
    ("my seed phrase is abandon ability able about above absent absorb abstract absurd abuse access accident",
     "a seed phrase"),
    ("my SSN is 123-45-6789", "a social security number"),
    ("My social security number is 123456789.", "a social security number"),
    ("My IBAN is DE89 3704 0044 0532 0130 00", "an IBAN"),
    ("amex 3782 822463 10005", "a card number"),
    ("my password is weak", None),
    ("my password is long", None),
    ("my password was changed yesterday", None),
    ("My password is the name of my dog", None),
    ("my password is stored in my password manager", None),
    ("I use Bitwarden as my password manager", None),
    ("my locker code is in my wallet", None),
    ("My zip code is 94110", None),
    ("the PIN is 4 digits", None),
    ("my IMEI is 490154203237518", None),  # passes the card check, but no card brand's number is 15 digits from 4
    ("My order number is 1234567812345605", None),  # passes the card check, but no card brand starts with 1
    ("My library card number is 29393000123456", None),
    ("My flight is LH1234 on May 3", None),
    ("My files are in Documents/Projects/SomeLongFolderName2024.", None),
])
def test_a_secret_is_told_from_a_fact_that_only_names_one(said: str, kind: str | None) -> None:
    """"My gmail password is hunter2sailor.", a card number with its CVV, an API key and a PIN were each learned
    as a memory; a message that only speaks of a password, or a number that is no card's, is a fact as before."""
    assert secret_kind(said) == kind
    assert (without_secrets(said) == said) == (kind is None)


def test_the_message_a_memory_was_learned_from_is_kept_without_its_secret() -> None:
    assert without_secrets("My dog is Rex and my PIN is 4821.") == "My dog is Rex and my […]."
    assert without_secrets("Card 4111 1111 1111 1111, CVV 123.") == "Card […], […]."
    assert without_secrets("The door code is 4821 and my dog is called Rex.") == "The […] and my dog is called Rex."


@pytest.mark.parametrize(("said", "kept"), [
    ("The wifi key is ghp_abcdefghijklmnopqrstuvwxyz0123456789", "The […]"),
    ("My PIN is 4821 and pin 4111 1111 1111 1111", "My […] and […]")])
def test_secrets_found_over_each_other_are_hidden_as_one(said: str, kept: str) -> None:
    """Each shape replaced what it found in what the shapes before had left: the key above was kept as
    "The […]]" (a password's value read in "[…]"), and the PIN's digits took the card's first four, so the twelve
    after them were kept."""
    assert without_secrets(said) == kept


def test_a_fact_that_repeats_a_secret_of_its_message_holds_it() -> None:
    """"I use sunflower42 as my password" was learned as "User uses sunflower42": the fact alone names no
    password, the message it came from does."""
    said = "I use sunflower42 as my password. My dog is called Rex."
    assert secret_kind("User uses sunflower42", secrets_in(said)) == "a password"
    assert secret_kind("User's dog is called Rex", secrets_in(said)) is None


@pytest.mark.parametrize("said", ["I moved to Lisbon.", "I moved from Berlin to Lisbon.", "Now I live in Lisbon.",
                                  "I now live in Lisbon.", "I live in Lisbon now.",
                                  "We moved from Berlin to Lisbon last year.", "Currently I live in Lisbon."])
def test_each_way_of_saying_a_move_replaces_the_old_home(said: str) -> None:
    """Only "I moved to Lisbon." replaced "User lives in Berlin": "I moved from Berlin to Lisbon." and "Now I
    live in Lisbon." left it in use and in the prompt."""
    [fact] = [s.fact for s in statements(said, "")]
    olds = [Candidate("berlin", "User lives in Berlin", 0.5)]
    assert judge(None, fact, olds, None).supersedes == ("berlin",), fact


@pytest.mark.parametrize(("said", "how"), [("I don't have a dog anymore.", "all"), ("I no longer have a dog.", "all"),
                                           ("I don't have a cat anymore.", None),
                                           ("My sister doesn't have a dog anymore.", None)])
def test_a_denial_of_a_pet_retires_the_fact_that_names_it(said: str, how: str | None) -> None:
    """"I don't have a dog anymore." took "dog" back from "User has a dog called Biscuit" only in part (its name was
    not said again), so the fact stayed in use."""
    assert retraction(said, "User has a dog called Biscuit") == how


@pytest.mark.parametrize(("said", "asked"), [
    ("Please forget that I have a dog.", "User has a dog"), ("Forget that I live in Berlin.", "User lives in Berlin"),
    ("My dog is Rex. Could you forget about my sister's job?", "User's sister's job"),
    ("forget about it", None), ("Don't forget that I have a dog.", None), ("I forget things easily.", None),
    ("Don't remember that I work at Apple.", "User works at Apple"), ("Delete the memory about Apple.", "Apple"),
    ("Can you forget everything you know about me?", EVERYTHING), ("Delete all memories.", EVERYTHING),
    ("Delete the memory.", None)])
def test_a_request_to_forget_is_told_apart_and_not_learned_from(said: str, asked: str | None) -> None:
    assert forget_request(said) == asked
    assert not any("orget" in s.fact for s in statements(said, "")) or asked is None
