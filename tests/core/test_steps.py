"""The answer's steps: said only when Gloo really searches its sources (core.steps), and
handed only to surfaces that show them (core.answering)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from core.answering import show_answer
from core.delivery import _after_notice
from core.gloo.backend import GlooAnswer, GlooDelta, GlooEvent, GlooRequest
from core.service import ConversationService, StreamEvent
from core.steps import searches_sources
from core.store.sql import SqlStore
from core.types import (
    ChannelSettings,
    ChatHistory,
    Question,
    Reply,
    SearchingSources,
    Source,
    SourcesFound,
    Step,
    TextDelta,
    ThreadKey,
)

THREAD = ThreadKey("slack", "T1", "C1", "1700000000.000100")
SOURCE = Source(title="On grace", url="https://example.org/grace", publisher="P1")


class Backend:
    """A Message-API-like backend: answers with one source, searches only what is named."""

    offers_suggestions = True
    keeps_chats = True
    history_turns = 0

    def __init__(self) -> None:
        self.requests: list[GlooRequest] = []

    async def send(self, request: GlooRequest) -> GlooAnswer:
        raise AssertionError("not used")

    async def stream(self, request: GlooRequest) -> AsyncIterator[GlooEvent]:
        self.requests.append(request)
        yield GlooDelta("Grace is ")
        yield GlooDelta("a gift.")
        yield GlooAnswer(chat_id="chat-1", text="Grace is a gift.", sources=(SOURCE,))

    async def history(self, chat_id: str) -> ChatHistory:
        raise AssertionError("not used")


class GroundedBackend(Backend):
    """A backend whose every request goes to a grounded route (V2's grounded by default)."""

    def searches_sources(self, request: GlooRequest) -> bool:
        return True


async def events(service: ConversationService) -> list[StreamEvent]:
    return [e async for e in service.stream(Question(THREAD, "What is grace?"))]


def kinds(found: list[StreamEvent]) -> list[str]:
    return [type(e).__name__ for e in found]


async def test_a_publisher_filtered_answer_says_searching_then_found_before_its_reply(
    store: SqlStore,
) -> None:
    service = ConversationService(Backend(), store, ChannelSettings(publishers=("P1",)))
    found = await events(service)
    assert kinds(found) == [
        "SearchingSources",
        "TextDelta",
        "TextDelta",
        "SourcesFound",
        "Reply",
    ]
    step, reply = found[-2], found[-1]
    assert isinstance(step, SourcesFound)
    assert isinstance(reply, Reply)
    assert step.sources == reply.sources == (SOURCE,)


async def test_an_answer_without_a_search_has_no_steps(store: SqlStore) -> None:
    service = ConversationService(Backend(), store, ChannelSettings())
    assert kinds(await events(service)) == ["TextDelta", "TextDelta", "Reply"]


async def test_a_grounded_backend_says_its_search_and_the_sources_the_answer_shows(
    store: SqlStore,
) -> None:
    hidden = ChannelSettings(enable_sources=False)  # searched, but the channel shows none
    service = ConversationService(GroundedBackend(), store, hidden)
    found = await events(service)
    assert isinstance(found[0], SearchingSources)
    assert found[-2] == SourcesFound(())


def test_searches_sources_follows_named_publishers_and_the_backend() -> None:
    assert searches_sources(Backend(), GlooRequest(query="q", publishers=("P1",)))
    assert not searches_sources(Backend(), GlooRequest(query="q", publishers=(" ",)))
    assert not searches_sources(Backend(), GlooRequest(query="q"))
    assert searches_sources(GroundedBackend(), GlooRequest(query="q"))


@dataclass
class Surface:
    calls: list[str] = field(default_factory=list)

    def pace(self) -> float:
        return 0.0

    async def progress(self, text: str) -> None:
        self.calls.append(f"progress {text}")

    async def final(self, reply: Reply) -> None:
        self.calls.append(f"final {reply.text}")

    async def halt(self) -> None:
        self.calls.append("halt")

    async def failure(self, sentence: str) -> None:
        self.calls.append("failure")

    def close(self) -> None:
        self.calls.append("close")


@dataclass
class StepSurface(Surface):
    async def step(self, step: Step) -> None:
        found = f" {len(step.sources)}" if isinstance(step, SourcesFound) else ""
        self.calls.append(f"step {type(step).__name__}{found}")


async def grounded_answer() -> AsyncIterator[StreamEvent]:
    yield SearchingSources()
    yield TextDelta(delta="Grace", text="Grace")
    yield SourcesFound((SOURCE,))
    yield Reply(text="Grace.", sources=(SOURCE,), suggestions=(), answer_id="a", chat_id="c")


async def test_a_surface_that_shows_steps_gets_them_in_order_before_the_final() -> None:
    surface = StepSurface()
    await show_answer(surface, grounded_answer())
    assert surface.calls == [
        "step SearchingSources",
        "progress Grace",
        "step SourcesFound 1",
        "final Grace.",
    ]


async def test_steps_are_not_gloo_s_first_text() -> None:
    """The dispatcher's "Gloo has started" signal (which ends the slow-Gloo notices) comes
    with the first text, not with the task card's "Searching Gloo's sources"."""
    started = asyncio.Event()
    seen: list[tuple[str, bool]] = []
    async for item in _after_notice(grounded_answer(), started, asyncio.Lock()):
        seen.append((type(item).__name__, started.is_set()))
    assert seen == [
        ("SearchingSources", False),
        ("TextDelta", True),
        ("SourcesFound", True),
        ("Reply", True),
    ]


async def test_a_surface_without_steps_never_sees_them() -> None:
    surface = Surface()
    await show_answer(surface, grounded_answer())
    assert surface.calls == ["progress Grace", "final Grace."]
