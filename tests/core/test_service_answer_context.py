"""The service answers from a claim's context and hands its writes to ``keep``.

With an :class:`~core.types.AnswerContext` it reads nothing from the store; with ``keep`` it
writes nothing either (only forgetting a chat Gloo lost stays a store call).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from core.gloo.backend import GlooAnswer, GlooDelta, GlooEvent, GlooRequest
from core.gloo.errors import GlooNotFound
from core.ports import AnswerRecord
from core.service import ConversationService, StreamEvent
from core.types import (
    AnswerContext,
    ChannelSettings,
    ChatHistory,
    Question,
    Reply,
    Source,
    TextDelta,
    ThreadKey,
)

THREAD = ThreadKey("slack", "T1", "C1", "1700.0001")
DEFAULTS = ChannelSettings(publishers=("Default Press",), character_limit=900)
CHANNEL = ChannelSettings(publishers=("Harbor",), sources_limit=1, enable_suggestions=False)
SOURCES = (
    Source("Grace", "https://harbor.example/grace"),
    Source("Mercy", "https://harbor.example/mercy"),
)


class ScriptedGloo:
    """Answers every request on ``chat_id`` (a new chat when the request has none), or
    raises :class:`GlooNotFound` for the chats in ``lost``."""

    offers_suggestions = True
    keeps_chats = True
    history_turns = 0

    def __init__(self, *, lost: tuple[str, ...] = ()) -> None:
        self.requests: list[GlooRequest] = []
        self._lost = lost

    async def send(self, request: GlooRequest) -> GlooAnswer:
        raise AssertionError("not used")

    async def stream(self, request: GlooRequest) -> AsyncIterator[GlooEvent]:
        self.requests.append(request)
        if request.chat_id in self._lost:
            raise GlooNotFound("no such chat", status_code=404)
        yield GlooDelta("Grace is ")
        yield GlooDelta("unmerited favour.")
        yield GlooAnswer(
            chat_id=request.chat_id or "chat-new",
            text="Grace is unmerited favour.",
            sources=SOURCES,
            suggestions=("And mercy?",),
            message_id="m-1",
            query_id="q-1",
        )

    async def history(self, chat_id: str) -> ChatHistory:
        raise AssertionError("not used")


class NoReads:
    """A store that must not be read while answering from a context; writes are recorded."""

    def __init__(self) -> None:
        self.saved: list[AnswerRecord] = []
        self.bound: list[tuple[ThreadKey, str]] = []
        self.forgotten: list[ThreadKey] = []

    async def get_chat_id(self, thread: ThreadKey) -> str | None:
        raise AssertionError("get_chat_id read despite the context")

    async def get_channel_settings(self, platform: str, workspace: str, channel: str) -> None:
        raise AssertionError("get_channel_settings read despite the context")

    async def save_answer(self, answer: AnswerRecord) -> None:
        self.saved.append(answer)

    async def bind_chat_id(self, thread: ThreadKey, chat_id: str) -> str:
        self.bound.append((thread, chat_id))
        return chat_id

    async def forget_thread(self, thread: ThreadKey) -> bool:
        self.forgotten.append(thread)
        return True


class NoWrites(NoReads):
    """A store that must not be written either: ``keep`` takes the writes."""

    async def save_answer(self, answer: AnswerRecord) -> None:
        raise AssertionError("save_answer called despite keep")

    async def bind_chat_id(self, thread: ThreadKey, chat_id: str) -> str:
        raise AssertionError("bind_chat_id called despite keep")


class Kept:
    """A ``keep`` callable that records its calls and the events seen before each."""

    def __init__(self, events: list[TextDelta | Reply]) -> None:
        self.calls: list[tuple[AnswerRecord, bool]] = []
        self.replies_before: list[int] = []
        self._events = events

    async def __call__(self, record: AnswerRecord, bind: bool) -> None:
        self.calls.append((record, bind))
        self.replies_before.append(sum(isinstance(e, Reply) for e in self._events))


def service(gloo: ScriptedGloo, store: Any) -> ConversationService:
    return ConversationService(gloo, store, DEFAULTS, id_factory=lambda: "answer-1")


async def run(
    svc: ConversationService, question: Question, **options: Any
) -> tuple[list[StreamEvent], Reply]:
    events: list[StreamEvent] = options.pop("events", [])
    async for event in svc.stream(question, **options):
        events.append(event)
    reply = events[-1]
    assert isinstance(reply, Reply)
    return events, reply


async def test_a_context_replaces_the_store_reads() -> None:
    gloo, store = ScriptedGloo(), NoReads()
    context = AnswerContext(settings=CHANNEL, chat_id="chat-7")
    _, reply = await run(service(gloo, store), Question(THREAD, "What is grace?"), context=context)
    [request] = gloo.requests
    assert request.chat_id == "chat-7"
    assert request.publishers == ("Harbor",)
    assert request.sources_limit == 1
    assert request.character_limit is None  # the channel's row, not merged field by field
    # Shown by the context's settings: one source, no suggestions.
    assert reply.sources == SOURCES[:1]
    assert reply.suggestions == ()
    # Without keep the service writes itself: the answer, no binding (the chat was bound).
    assert [r.answer_id for r in store.saved] == ["answer-1"]
    assert store.bound == []


async def test_a_context_without_settings_uses_the_defaults() -> None:
    gloo, store = ScriptedGloo(), NoReads()
    context = AnswerContext(settings=None, chat_id=None)
    _, reply = await run(service(gloo, store), Question(THREAD, "What is grace?"), context=context)
    [request] = gloo.requests
    assert request.chat_id is None
    assert request.publishers == ("Default Press",)
    assert request.character_limit == 900
    assert reply.suggestions == ("And mercy?",)
    assert store.bound == [(THREAD, "chat-new")]


async def test_an_explicit_chat_beats_the_contexts() -> None:
    gloo = ScriptedGloo()
    context = AnswerContext(settings=None, chat_id="chat-thread")
    _, reply = await run(
        service(gloo, NoReads()),
        Question(THREAD, "And mercy?"),
        chat_id="chat-clicked",
        context=context,
    )
    assert [r.chat_id for r in gloo.requests] == ["chat-clicked"]
    assert reply.chat_id == "chat-clicked"


async def test_keep_gets_the_record_before_the_reply_and_the_store_is_not_written() -> None:
    events: list[TextDelta | Reply] = []
    keep = Kept(events)
    context = AnswerContext(settings=CHANNEL, chat_id=None)
    _, reply = await run(
        service(ScriptedGloo(), NoWrites()),
        Question(THREAD, "  What is grace?  ", user_id="U1"),
        context=context,
        keep=keep,
        events=events,
    )
    [(record, bind)] = keep.calls
    assert bind is True  # a new chat: the caller binds it
    assert keep.replies_before == [0]  # kept before the reply was yielded
    assert any(isinstance(e, TextDelta) for e in events[: len(events) - 1])
    assert record.answer_id == reply.answer_id == "answer-1"
    assert record.chat_id == reply.chat_id == "chat-new"
    assert record.thread == THREAD
    assert record.question == "What is grace?"
    assert record.user_id == "U1"
    assert (record.gloo_message_id, record.gloo_query_id) == ("m-1", "q-1")
    # The record keeps the whole answer; only what is shown follows the settings.
    assert record.sources == SOURCES
    assert record.suggestions == ("And mercy?",)
    assert reply.suggestions == ()


async def test_keep_gets_exactly_what_save_answer_would_have() -> None:
    question = Question(THREAD, "What is grace?", user_id="U1")
    context = AnswerContext(settings=None, chat_id="chat-7")
    writing = NoReads()
    await run(service(ScriptedGloo(), writing), question, context=context)
    keep = Kept([])
    await run(service(ScriptedGloo(), NoWrites()), question, context=context, keep=keep)
    [saved] = writing.saved
    [(kept, bind)] = keep.calls
    assert bind is False
    assert kept == replace(saved, created_at=kept.created_at)


async def test_a_chat_gloo_lost_is_forgotten_directly_and_the_new_one_kept_to_bind() -> None:
    gloo, store = ScriptedGloo(lost=("chat-gone",)), NoWrites()
    keep = Kept([])
    context = AnswerContext(settings=None, chat_id="chat-gone")
    _, reply = await run(
        service(gloo, store), Question(THREAD, "Still there?"), context=context, keep=keep
    )
    assert [r.chat_id for r in gloo.requests] == ["chat-gone", None]
    assert store.forgotten == [THREAD]
    [(record, bind)] = keep.calls
    assert bind is True
    assert record.chat_id == reply.chat_id == "chat-new"


async def test_what_keep_raises_reaches_the_caller() -> None:
    async def broken(record: AnswerRecord, bind: bool) -> None:
        raise RuntimeError("bookkeeping failed")

    context = AnswerContext(settings=None, chat_id=None)
    events: list[TextDelta | Reply] = []
    with pytest.raises(RuntimeError, match="bookkeeping failed"):
        await run(
            service(ScriptedGloo(), NoWrites()),
            Question(THREAD, "What is grace?"),
            context=context,
            keep=broken,
            events=events,
        )
    assert not any(isinstance(e, Reply) for e in events)
