"""One chat turn, as data flowing through its parts: question -> memory + sources -> prompt -> engine -> history.

Why a module of its own: every front end (window, CLI, API server) runs exactly this sequence, including
the bookkeeping that used to live in the GUI (regenerate and edit-and-resend cut the history at the turn
they replace; the answer carries the ids both messages were stored under). The parts come in as a
:class:`TurnParts` so the facade wires the real ones and fast tests pass fakes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from assistant import processes
from assistant.chat.history import COLLECTIONS, INCOGNITO, LEARNING, History, writer_stamp
from assistant.chat.prompt import MIN_ANSWER_TOKENS, BuiltPrompt, build_prompt
from assistant.engine.chat_format import FALLBACK_NOTICE, Message
from assistant.engine.sampling import SamplingParams
from assistant.errors import (
    ChatMovedOnError,
    ContextOverflowError,
    ConversationNotFoundError,
    HearthError,
    HistoryError,
    InputError,
    StoppedBeforeAnswer,
)
from assistant.events import (
    Done,
    Event,
    Failed,
    Marker,
    MemoriesUsed,
    Notice,
    Progress,
    Saved,
    Sources,
    Stats,
    Token,
    context_cut,
    context_full,
    counted,
    short_title,
)

if TYPE_CHECKING:
    from assistant.knowledge.records import Citation, Hits
    from assistant.memory.service import MemoryService

log = logging.getLogger(__name__)

#: How often a streaming answer is written to the history (a killed process loses at most this much).
CHECKPOINT_S = 0.5
#: Said when the model ended its answer before writing anything (not when the user stopped it).
EMPTY_NOTICE = "The model ended its answer without writing anything. Ask again, or try another model."
#: Said under a grounded answer that restates none of the passages, whoever wrote its citations (see ``_finish``).
#: Worded as what Hearth checked, not as a fact about the answer: a sentence that mixes a passage's words with
#: invented ones ("the spare key is found under the blue flowerpot, which indicates that it is a fixture of a
#: home") holds under half of its words from the passage, so the answer is flagged though it states the fact.
UNSUPPORTED_NOTICE = ("Hearth could not match any sentence of this answer to the passages found in your files, so "
                      "it may not come from them.")




@dataclass(frozen=True)
class TurnOptions:
    """What one question asks for; ``None`` fields fall back to the settings."""

    conversation_id: str | None = None
    replace_from: str | None = None  # a user message id: it and everything after it are replaced
    #: The knowledge collections to answer from. None: none, except that a replaced question is asked again from
    #: the collections it was asked from (see ``replaced_choices``)
    collections: tuple[str, ...] | None = None
    #: False: incognito. None: on, except that a replaced question asked incognito stays so (see ``replaced_choices``)
    use_memory: bool | None = None
    sampling: SamplingParams | None = None
    system_prompt: str | None = None
    max_tokens: int | None = None
    #: The conversation so far, given by the caller (an API client's ``messages``): the history is not read.
    messages: tuple[Message, ...] | None = None
    stop: tuple[str, ...] = ()  # stop strings besides the chat template's own
    grammar: str | None = None  # GBNF the answer must match (``sampling.json_grammar``)
    #: False: nothing is written to the chat history (a stateless API request); the answer has no ids.
    save: bool = True
    #: ``messages`` too long for the context lose their oldest turns (said in a notice), as a saved conversation
    #: does, instead of being refused (the Responses API's ``truncation: "auto"``)
    drop_oldest: bool = False
    #: The newer questions the caller knows ``replace_from`` drops with it (an earlier question edited): any other
    #: number means the chat changed since it was shown (see ``ChatMovedOnError``).
    later_questions: int = 0


@dataclass(frozen=True)
class TurnParts:
    """The parts a turn runs through. ``engine`` is duck-typed (the real :class:`Engine` or a fake)."""

    engine: Any
    history: History
    ensure_model: Callable[[], Any]
    search: Callable[[str, tuple[str, ...]], Hits]  # Hits.only: said beside the answer
    memory: MemoryService | None
    system_prompt: str
    max_tokens: int
    sampling: SamplingParams
    #: queues the turn to be learned from when ``memory`` could not be opened (see ``queue_turn_later``)
    queue_turn: Callable[[str | None, str, str], None] | None = None
    #: drops a replaced question's turn still waiting to be learned from, when it is answered again without
    #: memory (see ``unqueue_turn``)
    unqueue: Callable[[str, str], None] | None = None
    #: what to say before the answer about the model that gives it (its info): its file changed on disk and was
    #: loaded again, it answers with less context than the settings ask (each said once)
    model_notes: Callable[[Any], Sequence[Notice]] = lambda info: ()


def _question_stats(options: TurnOptions, learns: bool) -> dict[str, Any] | None:
    """What a question's row keeps of how it was asked, so that asking it again asks it the same way; and, while
    its turn is to be learned from (``learns``), which process answers it (see ``history.LEARNING``)."""
    stats: dict[str, Any] = {}
    if learns:
        stats[LEARNING] = processes.stamp()
    if not options.use_memory:
        stats[INCOGNITO] = True
    if options.collections:
        stats[COLLECTIONS] = list(options.collections)
    return stats or None


def replaced_choices(options: TurnOptions, history: History) -> TurnOptions:
    """``options`` with ``use_memory`` and ``collections`` decided. Left open (None), memory is on and no
    collection is searched, unless a question is being replaced (regenerated, or edited and sent again): then
    they are as that question was asked. Regenerate on an incognito answer made memory learn the incognito
    question, and Regenerate on an answer from a folder answered from whatever the composer had selected since
    (often nothing: an answer without sources replaced one with)."""
    asked = None
    if options.replace_from is not None and (options.use_memory is None or options.collections is None):
        with contextlib.suppress(HearthError):  # a question that is gone: run_turn says so
            asked = history.get_message(options.replace_from)
    use_memory = options.use_memory if options.use_memory is not None else not (asked and asked.incognito)
    collections = options.collections if options.collections is not None else (asked.collections if asked else ())
    return replace(options, use_memory=use_memory, collections=collections)


def run_turn(parts: TurnParts, text: str, options: TurnOptions, cancel: threading.Event) -> Iterator[Event]:
    """Answer ``text``: yields the events every front end renders; the turn is saved as it streams (unless
    ``options.save`` is False: a stateless API request, whose past comes in ``options.messages``)."""
    text = text.strip()
    options = replaced_choices(options, parts.history)
    if not text:
        yield Failed("The question is empty: type something to ask.", error_type=InputError.__name__)
        return
    history, engine = parts.history, parts.engine
    try:
        with engine.watching(cancel):  # a remote model's first connection: Stop need not wait out its timeouts
            info = parts.ensure_model()
    except StoppedBeforeAnswer:
        yield _stopped_before(options.conversation_id)
        return
    except HearthError as exc:
        yield Failed(str(exc), error_type=type(exc).__name__)
        return
    asked_at = time.monotonic()  # the wait the user sees starts here (a first model load is shown on its own)
    memory = parts.memory if options.use_memory else None
    memory_trouble = ""
    first_asked: str | None = None
    replaced = ""  # the question a regenerated or edited one replaces
    queued_before = False  # that question was queued to be learned from (asked with memory)
    try:
        # Everything that can fail before an answer exists runs before anything is saved: a question that
        # cannot fit the context, or a collection that cannot be searched, leaves no half-saved turn behind.
        if options.messages is not None:
            conversation_id, past_messages = None, list(options.messages)
        elif options.replace_from is not None:
            conversation_id = history.get_message(options.replace_from).conversation_id
            past_messages = history.messages(conversation_id)
            cut = next(i for i, m in enumerate(past_messages) if m.id == options.replace_from)
            if (later := sum(m.role == "user" for m in past_messages[cut + 1:])) != options.later_questions:
                # a window showing the chat as it was regenerated its last answer, and the turns a terminal had
                # added since were deleted without a word
                raise ChatMovedOnError(
                    f"This chat has changed since it was shown ({counted(later, 'newer question')} after this one, "
                    f"not {options.later_questions}: from a terminal or another window). Nothing was deleted: open "
                    "it again to see it as it is.")
            first_asked = past_messages[0].content if cut == 0 else None  # the chat's title was made from it
            replaced = past_messages[cut].content
            queued_before = not past_messages[cut].incognito
            past_messages = past_messages[:cut]
        elif options.conversation_id is not None:
            conversation_id = history.get_conversation(options.conversation_id).id
            past_messages = history.messages(conversation_id)
        else:
            conversation_id, past_messages = None, []
        past = [Message(m.role, m.content) for m in past_messages if m.content]
        # the user's previous message, for memory's pronouns; never one asked without memory (it read an
        # incognito "Our parrot is called Zazu" to learn "User's parrot is 3 years old" from "He is 3")
        previous = next((m.content for m in reversed(past_messages) if m.role == "user" and m.content
                         and not getattr(m, "incognito", False)), "")
        found = parts.search(text, options.collections) if options.collections else None
        # a hybrid search that could read only the keyword index (or only the vectors): the answer goes on, and
        # says so
        citations, partial, unfinished = ((list(found), found.partial(), found.unfinished) if found is not None
                                          else ([], "", ""))
        try:
            memories = memory.relevant(text) if memory is not None else []
            if replaced:  # not what was learned from the question it replaces: /retry of "I work as a nurse in
                # Porto." put "User works as a nurse in Porto" above that same question, and the answer changed
                memories = [m for m in memories if not m.learned_from(conversation_id, replaced)]
        except HearthError as exc:  # a memory store that cannot be read does not cost the user the answer; the
            # turn is still queued to be learned from once it can be (said while a Chroma server was down, it
            # was never learned)
            memories, memory_trouble = [], str(exc)
        remembered = memory.prompt_block(memories) if memory is not None else ""
        system = parts.system_prompt if options.system_prompt is None else options.system_prompt
        asked_tokens = options.max_tokens or parts.max_tokens
        stateless = options.messages is not None
        with engine.watching(cancel):  # a remote model's template and token count (a silent server held Stop ~13 s)
            built, citations = _build(engine, system, asked_tokens, text, past, citations, bool(options.collections),
                                      remembered, keep_all=stateless and not options.drop_oldest,
                                      least=1 if stateless and options.max_tokens is None else MIN_ANSWER_TOKENS)
    except StoppedBeforeAnswer:
        yield _stopped_before(conversation_id if conversation_id is not None else options.conversation_id)
        return
    except HearthError as exc:
        yield Failed(str(exc), error_type=type(exc).__name__)
        return
    question_id = reply_id = None
    # a question regenerated in the same words says nothing new: its turn was queued when it was first answered,
    # and queueing it again brought back what the user had forgotten since ("My sister is called Ana.", `hearth
    # memory forget`, then /retry printed "(remembered: User's sister is called Ana)" again)
    learn = (None if queued_before and replaced == text
             else memory.enqueue_turn if memory is not None else parts.queue_turn if options.use_memory else None)
    # A regenerated or edited turn replaces the old one only once it has text: stopped (or failed) before its
    # first word it is dropped and the old answer stays (it was deleted at the start, and a Stop lost it).
    replaces = options.replace_from if options.save else None
    made_for_it = False  # the chat was made for this question (it goes too if the question is taken back)
    if options.save:
        if conversation_id is None:
            conversation_id = history.create_conversation(title=short_title(text), model=info.precise_name).id
            made_for_it = True
        question_id = history.add_message(conversation_id, "user", text,
                                          stats=_question_stats(options, learn is not None)).id
        reply_id = history.add_message(conversation_id, "assistant", "", partial=True, stats=writer_stamp()).id
    streamed: list[str] = []
    finished = False
    failure: dict[str, str] | None = None

    def take_back() -> None:
        nonlocal conversation_id, question_id, reply_id
        if made_for_it:
            history.delete(conversation_id)
            conversation_id = None
        else:
            history.delete_messages_from(question_id)
        question_id = reply_id = None

    def replace_old_turn() -> None:
        nonlocal replaces
        if replaces is not None:
            history.delete_messages_from(replaces, until=question_id)
            replaces = None
            if queued_before and not options.use_memory and parts.unqueue is not None:
                _unqueue(parts.unqueue, conversation_id, replaced)
            # a chat's first question edited: the title made from the old one (not one the user gave) follows
            if first_asked is not None and history.get_conversation(conversation_id).title == short_title(first_asked):
                history.rename(conversation_id, short_title(text))

    try:
        if conversation_id is not None and question_id is not None:
            yield Saved(conversation_id, question_id)
        if memory_trouble:
            yield Notice("memory", f"Answered without your memory: {memory_trouble}")
        if partial:
            yield Notice("knowledge", f"Searched your files {partial}")
        if unfinished:
            yield Notice("knowledge", unfinished)
        if memories:
            yield MemoriesUsed(tuple(memories))
        if citations:
            yield Sources(tuple(citations))
        if engine.uses_fallback_format:
            yield Notice("prompt_format", FALLBACK_NOTICE)
        yield from parts.model_notes(info)
        if built.dropped_turns:
            yield Notice("context", context_cut(built.dropped_turns, engine.n_ctx, none_kept=not built.kept_turns))
        last_save = time.monotonic()
        sampling = options.sampling or parts.sampling
        stop = tuple(built.prompt.stop) + tuple(s for s in options.stop if s not in built.prompt.stop)
        cleaner = None
        # a file's text must not echo the source delimiters, nor the answer recite the instructions; an answer
        # made to a grammar (JSON) is left as made: a cut or a cleaned fragment could break it
        if citations and not options.grammar:
            from assistant.knowledge.answering import RECITAL_STOP, SOURCE_HEADER_STOP, OutputCleaner

            cleaner, stop = OutputCleaner(), (*stop, RECITAL_STOP, SOURCE_HEADER_STOP)
        # a grammar is passed only when there is one: duck-typed engines (fakes, remote) need not know the keyword
        constrained = {"grammar": options.grammar} if options.grammar else {}
        prepare_s = time.monotonic() - asked_at
        # the conversation names the cache the engine may save to disk and find again in a later run
        for event in engine.generate(built.tokens, sampling, built.max_tokens, cancel, stop, cache_key=conversation_id,
                                     **constrained):
            if isinstance(event, Token):
                piece = cleaner.feed(event.text) if cleaner is not None else event.text
                if not piece:
                    continue
                replace_old_turn()
                streamed.append(piece)
                if reply_id is not None and time.monotonic() - last_save > CHECKPOINT_S:
                    _save_answer(history, conversation_id, reply_id, content="".join(streamed), stats=writer_stamp())
                    last_save = time.monotonic()
                yield Token(piece, event.drafted)
            elif isinstance(event, Progress):  # a long prompt being read: said with its ETA
                yield event
            elif isinstance(event, Done):
                event = replace(event, stats=_as_waited(event.stats, prepare_s, built.max_tokens < asked_tokens))
                if cleaner is not None and (rest := cleaner.flush()):
                    replace_old_turn()
                    streamed.append(rest)
                    yield Token(rest)
                if replaces is not None and event.stats.stop_reason == "cancelled":  # stopped before a word
                    history.delete_messages_from(question_id)
                    question_id = reply_id = replaces = None
                elif question_id is not None and event.stats.stop_reason == "cancelled" and not event.text:
                    # stopped before its first word: taken back, as unsent (the front end gives its text back). A
                    # long paste stopped while it was read stayed in the chat: every later question read it again
                    # (30 s here) and the answers went on about it
                    event = replace(event, withdrawn=True)
                    take_back()
                replace_old_turn()  # an answer that came out empty replaces the old one all the same
                yield from _finish(history, learn, conversation_id, question_id, reply_id, text, event, citations,
                                   memories, built, previous, bool(options.grammar), bool(options.stop))
                finished = True
    except HearthError as exc:
        failure = {"stop_reason": "failed", "error": str(exc)}  # the saved answer says why it stopped
        if isinstance(exc, ConversationNotFoundError):  # deleted meanwhile: none of the turn's rows is left
            question_id = reply_id = replaces = None
        elif replaces is not None:  # failed before a word: the old turn stays, the new one goes
            history.delete_messages_from(question_id)
            question_id = reply_id = None
        if learn is not None and question_id is not None:  # the question stays: what it says of the user is
            # learned as a finished turn's is (a failed answer dropped it)
            with contextlib.suppress(HearthError):
                learn(conversation_id, text, previous)
                history.learning_done(question_id)
        yield Failed(str(exc), text="".join(streamed), error_type=type(exc).__name__, saved=reply_id is not None)
    finally:
        if not finished and replaces is not None and question_id is not None:  # the consumer stopped iterating
            history.delete_messages_from(question_id)
        elif not finished and reply_id is not None and failure is None and not streamed:
            take_back()  # interrupted before its first word (a second Ctrl+C): taken back as a Stop then is
        elif not finished and reply_id is not None:  # failed, or the consumer stopped: keep what was streamed
            # no writer named any more: cut off, not "being written" for as long as its process goes on
            _save_answer(history, conversation_id, reply_id, content="".join(streamed), partial=True,
                         stats=failure or {})


def _stopped_before(conversation_id: str | None) -> Done:
    """The end of a turn stopped while its answer was prepared: nothing was saved, and the question is given back
    as one stopped while its prompt was read is (the chat it was asked in goes on)."""
    return Done("", Stats(stop_reason="cancelled"), conversation_id=conversation_id, withdrawn=True)


def _save_answer(history: History, conversation_id: str | None, reply_id: str, **changes: Any) -> None:
    """Write the answer into its message. A conversation deleted while it was answered (``hearth history delete``
    in another terminal) took the message with it, and is said so: "Message <id> was not found" named an id the
    user never saw, and the API answered it with a 500. So did a turn replaced elsewhere while it was answered
    (Regenerate or Edit in another window, the API), with the terminal's answer cut off mid-sentence."""
    try:
        history.update_message(reply_id, **changes)
    except HistoryError:
        if conversation_id is None:
            raise
        try:
            saved = {m.id for m in history.messages(conversation_id)}
        except ConversationNotFoundError:
            raise ConversationNotFoundError(f"Conversation {conversation_id} was deleted while it was being "
                                            "answered.") from None
        if reply_id in saved:  # there: the write failed for another reason, as raised
            raise
        raise ChatMovedOnError("This answer was replaced elsewhere while it was being written (Regenerate or Edit "
                               "in another Hearth window, or the API): it stopped here.") from None


def _as_waited(stats: Stats, prepare_s: float, context_cut: bool) -> Stats:
    """The engine's stats as the user lived them. The first token's wait includes what came before the engine
    started (memory recall, retrieval, building the prompt: ``prepare_s``); it showed 16 s for an answer that
    took 53 s to begin. ``context_cut``: the answer had only the room the context had left, so running out is
    "context_full", not "hit the answer length limit", which raising that limit would not have changed."""
    waited = {"ttft_s": stats.ttft_s + prepare_s, "prepare_s": prepare_s} if stats.completion_tokens else {}
    reason = {"stop_reason": "context_full"} if stats.stop_reason == "length" and context_cut else {}
    return replace(stats, **waited, **reason)


def _build(engine: Any, system: str, max_tokens: int, text: str, past: list[Message], citations: list[Citation],
           grounded: bool, remembered: str, keep_all: bool = False,
           least: int = MIN_ANSWER_TOKENS) -> tuple[BuiltPrompt, list[Citation]]:
    """The prompt within budget; passages that do not fit are dropped from the end (least relevant);
    ``keep_all`` and ``least``: see :func:`build_prompt`."""
    from assistant.knowledge.answering import build_sources_prompt

    while True:
        sources = build_sources_prompt(citations) if grounded else ""
        try:
            built = build_prompt(system=system, history=past, question=text, n_ctx=engine.n_ctx,
                                 max_tokens=max_tokens, render=engine.render,
                                 question_context="\n\n".join(p for p in (remembered, sources) if p),
                                 keep_all=keep_all, least=least)
            return built, citations
        except ContextOverflowError:
            if not citations:
                raise
            citations = citations[: len(citations) // 2]


def _unqueue(unqueue: Callable[[str, str], None], conversation_id: str, replaced: str) -> None:
    """The memory setting of a turn's latest answer is the turn's: asked with memory, then answered again
    without it, the question was learned from once learning came to it."""
    try:
        unqueue(conversation_id, replaced)
    except HearthError as exc:  # (a damaged queue: said by whatever opens memory next; the answer goes on)
        log.warning("memory: a question answered again without memory stays queued: %s", exc)


def _finish(history: History, learn: Callable[[str | None, str, str], str | None] | None,
            conversation_id: str | None, question_id: str | None, reply_id: str | None, text: str, event: Done,
            citations: list[Citation], memories: list[Any], built: BuiltPrompt, previous: str,
            constrained: bool = False, own_stops: bool = False) -> Iterator[Event]:
    """Check the citations, save the answer (unless the turn is not saved: ``reply_id`` None), queue the turn
    for memory with ``learn`` (with the user's ``previous`` message, for pronouns), and yield the final events.
    ``own_stops``: the caller gave stop strings (an API request's ``stop``).

    A ``constrained`` answer (made to a grammar: JSON) keeps its text as made; the passages it restates are
    still marked as cited. A ``[1]`` put after its closing brace made JSON "by construction" invalid."""
    cited: list[Citation] = []
    answer = event.text
    if citations:
        from assistant.knowledge.answering import check_citations
        from assistant.knowledge.attribution import attribute, restates_any
        from assistant.knowledge.focus import focused

        answer, cited = check_citations(event.text, citations)
        if not cited:
            answer, cited = attribute(answer, citations, text)
            if cited:
                yield Notice("citations", "The model did not cite its sources; Hearth matched sentences to "
                                          "the passages they restate.")
        if constrained:
            answer = event.text
        citations = focused(answer, citations, [c.n for c in cited])
        if answer.strip() and event.stats.stop_reason != "cancelled" and not restates_any(answer, citations, text):
            # honest about what it knows: such answers of the bundled models were wrong 131 times in 133 (all 219
            # questions of ``hearth bench answers``, both models, see the README), so the user is told, also when
            # the model wrote "[1]" itself under a sentence passage 1 has nothing to do with
            yield Notice("unsupported", UNSUPPORTED_NOTICE)
    # "the model ended it": not when the user stopped it, nor when the length limit cut it before any text
    # (max_tokens 1 gave "\n" with this notice), nor when the caller's own stop string cut what it wrote (stop
    # "1" of "Count from 1 to 20" was told to ask again or try another model)
    cut = event.stats.stop_reason in ("cancelled", "length", "context_full") or (
        own_stops and event.stats.stop_reason == "stop")
    if not answer.strip() and not cut:
        yield Notice("empty", EMPTY_NOTICE)
    stats = replace(event.stats, dropped_turns=built.dropped_turns)
    if stats.stop_reason == "context_full":
        yield Notice("context", context_full(stats.completion_tokens, stats.context_size))
    numbers = {c.n for c in cited}
    if reply_id is not None:
        _save_answer(
            history, conversation_id, reply_id, content=answer, partial=stats.stop_reason == "cancelled",
            stats=stats.to_dict(), sources=[c.to_dict() | {"cited": c.n in numbers} for c in citations] or None,
            memories=[m.to_dict() for m in memories] or None,
        )
    if learn is not None and stats.stop_reason != "cancelled":
        try:
            untold = learn(conversation_id, text, previous)
        except HearthError as exc:  # the queue itself cannot be written (damaged): the answer stands, and says so
            untold = f"This message is not learned from: {exc}"
        if untold:
            yield Notice("memory", untold)
    if learn is not None and question_id is not None:
        with contextlib.suppress(HearthError):  # (decided: no later run learns from it as a turn cut off)
            history.learning_done(question_id)
    markers: tuple[Marker, ...] = ()
    if citations:
        from assistant.knowledge.answering import citation_markers

        markers = citation_markers(answer, numbers)
        yield Sources(tuple(citations), cited=tuple(sorted(numbers)))
    yield replace(event, text=answer, stats=stats, conversation_id=conversation_id, message_id=reply_id,
                  user_message_id=question_id, markers=markers)
