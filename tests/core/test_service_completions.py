"""The conversation service on the Completions V2 backend: real store, real HTTP client,
the in-process simulator serving V2. The backend is stateless: the service reads the
chat's earlier turns from the store, hands them over in the request, and shows the chat
from its own records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from core import messages
from core.gloo.auth import ClientCredentialsAuth
from core.gloo.completions import CompletionsBackend, build_completions_backend
from core.gloo.retry import RetryPolicy
from core.ports import AnswerRecord
from core.service import HISTORY_VIEW_TURNS, AnswerFailed, ConversationService, StreamEvent
from core.simulator import SIMULATOR_BASE_URL, RequestRecord, Simulator, simulator_client
from core.store.sql import SqlStore
from core.types import ChannelSettings, Question, Reply, Source, TextDelta, ThreadKey
from tests.harness import core_on_simulator

THREAD = ThreadKey("discord", "G1", "C1", "T1")


@dataclass
class V2Core:
    service: ConversationService
    backend: CompletionsBackend
    sim: Simulator

    @property
    def requests(self) -> list[RequestRecord]:
        return self.sim.completion_records


@asynccontextmanager
async def v2_core(
    store: SqlStore,
    *,
    sim: Simulator | None = None,
    history_chars: int = 12_000,
    defaults: ChannelSettings | None = None,
    attempts: int = 3,
) -> AsyncIterator[V2Core]:
    simulator = sim or Simulator()
    async with simulator_client(simulator, timeout=httpx.Timeout(5.0)) as http:
        auth = ClientCredentialsAuth(
            http, f"{SIMULATOR_BASE_URL}/oauth2/token", "bot-client", "bot-secret"
        )
        backend = build_completions_backend(
            http,
            auth,
            SIMULATOR_BASE_URL,
            retry=RetryPolicy(attempts=attempts),
            model=None,
            history_chars=history_chars,
            stream_enabled=True,
        )
        service = ConversationService(backend, store, defaults or ChannelSettings())
        yield V2Core(service, backend, simulator)


@pytest.fixture
def reads(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The store's ``chat_answers`` reads, ``(chat_id, limit)``; the real store answers."""
    calls: list[tuple[str, int]] = []
    real = store.chat_answers

    async def recorded(chat_id: str, limit: int) -> list[AnswerRecord]:
        calls.append((chat_id, limit))
        return await real(chat_id, limit)

    monkeypatch.setattr(store, "chat_answers", recorded)
    return calls


async def collect(events: AsyncIterator[StreamEvent]) -> tuple[list[TextDelta], Reply]:
    deltas: list[TextDelta] = []
    reply: Reply | None = None
    async for event in events:
        if isinstance(event, TextDelta):
            deltas.append(event)
        elif isinstance(event, Reply):
            reply = event
    assert reply is not None
    return deltas, reply


def turn(question: str, answer: Reply) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer.text},
    ]


async def test_follow_ups_carry_the_earlier_turns(
    store: SqlStore, reads: list[tuple[str, int]]
) -> None:
    async with v2_core(store) as core:
        first = await core.service.ask(Question(THREAD, "What is grace?", user_id="U1"))
        assert reads == []  # a new chat has no history to read
        assert await store.get_chat_id(THREAD) == first.chat_id
        assert first.suggestions == ()  # V2 answers carry none
        second = await core.service.ask(Question(THREAD, "And mercy?"))
        third = await core.service.ask(Question(THREAD, "How do they meet?"))
    assert second.chat_id == third.chat_id == first.chat_id
    # The backend asks for 50 turns (HISTORY_TURNS); its budget decides how many are sent.
    assert reads == [(first.chat_id, 50), (first.chat_id, 50)]
    sent = [r.messages for r in core.requests]
    assert sent[0] == [{"role": "user", "content": "What is grace?"}]
    assert sent[1] == [*turn("What is grace?", first), {"role": "user", "content": "And mercy?"}]
    assert sent[2] == [
        *turn("What is grace?", first),
        *turn("And mercy?", second),
        {"role": "user", "content": "How do they meet?"},
    ]
    assert "Earlier you asked about *And mercy*" in third.text  # the simulator saw the history
    record = await store.get_answer(third.answer_id)
    assert record is not None
    assert record.chat_id == first.chat_id


async def test_the_history_budget_keeps_only_the_newest_turns(store: SqlStore) -> None:
    async with v2_core(store) as warmup:
        answers = [
            await warmup.service.ask(Question(THREAD, f"Question number {i} about hope"))
            for i in range(3)
        ]
    last = answers[-1]
    budget = len("Next?") + len("Question number 2 about hope") + len(last.text)
    async with v2_core(store, history_chars=budget) as core:
        await core.service.ask(Question(THREAD, "Next?"))
    assert core.requests[-1].messages == [
        *turn("Question number 2 about hope", last),
        {"role": "user", "content": "Next?"},
    ]


async def test_a_store_failure_refuses_rather_than_answering_out_of_context(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with v2_core(store) as core:
        await core.service.ask(Question(THREAD, "What is grace?"))

        async def down(chat_id: str, limit: int) -> list[AnswerRecord]:
            raise RuntimeError("database is down")

        monkeypatch.setattr(store, "chat_answers", down)
        with pytest.raises(AnswerFailed) as info:
            await core.service.ask(Question(THREAD, "And mercy?"))
    assert info.value.user_message == messages.STORE_UNAVAILABLE
    assert info.value.retryable
    assert isinstance(info.value.cause, RuntimeError)
    assert len(core.requests) == 1  # nothing was sent without its history


async def test_a_zero_budget_reads_no_turns(store: SqlStore, reads: list[tuple[str, int]]) -> None:
    async with v2_core(store, history_chars=0) as core:
        await core.service.ask(Question(THREAD, "What is grace?"))
        await core.service.ask(Question(THREAD, "And mercy?"))
    assert reads == []
    assert core.requests[-1].messages == [{"role": "user", "content": "And mercy?"}]
    async with v2_core(store, history_chars=0) as core:
        history = await core.service.history(THREAD)
    assert history is not None  # the chat view still comes from the stored answers
    assert [m.text for m in history.messages][::2] == ["What is grace?", "And mercy?"]
    assert [m.user_id for m in history.messages] == ["", "", "", ""]  # nobody said who


async def test_the_message_api_reads_no_turns(
    store: SqlStore, reads: list[tuple[str, int]]
) -> None:
    # Gloo keeps Message API chats: the service hands that backend no history.
    async with core_on_simulator(store) as (c, _):
        assert c.gloo.history_turns == 0
        assert c.gloo.keeps_chats
        await c.service.ask(Question(THREAD, "What is grace?"))
        await c.service.ask(Question(THREAD, "And mercy?"))
    assert reads == []


async def test_the_chat_view_comes_from_the_stored_answers(
    store: SqlStore, reads: list[tuple[str, int]]
) -> None:
    source = Source(title="S", url="https://s.example/")
    await store.bind_chat_id(THREAD, "c")
    first = AnswerRecord(
        answer_id="a-1",
        thread=THREAD,
        chat_id="c",
        question="Q1",
        text="A1",
        sources=(source,),
        suggestions=("More?",),
    )
    await store.save_answer(first)
    await store.save_answer(
        AnswerRecord(answer_id="a-2", thread=THREAD, chat_id="c", question="Q2", text="A2")
    )
    async with v2_core(store) as core:
        history = await core.service.history(THREAD)
    assert history is not None
    assert history.chat_id == "c"
    assert [(m.role, m.text) for m in history.messages] == [
        ("user", "Q1"),
        ("assistant", "A1"),
        ("user", "Q2"),
        ("assistant", "A2"),
    ]
    assert history.messages[1].sources == (source,)
    assert history.messages[1].suggestions == ("More?",)
    assert history.messages[0].timestamp is not None
    assert reads == [("c", HISTORY_VIEW_TURNS)]
    assert core.requests == []  # Gloo was not asked


async def test_a_suggestion_continues_its_chat_with_its_history(store: SqlStore) -> None:
    # An answer given before the switch to V2 (the Message API had suggestions).
    await store.bind_chat_id(THREAD, "chat-from-v1")
    await store.save_answer(
        AnswerRecord(
            answer_id="a-v1",
            thread=THREAD,
            chat_id="chat-from-v1",
            question="What is faith?",
            text="Faith is trust.",
            suggestions=("How do I grow in faith?",),
        )
    )
    async with v2_core(store) as core:
        click, events = await core.service.answer_suggestion("a-v1:0", user_id="U2")
        _, reply = await collect(events)
        history = await core.service.history(THREAD)
    assert click.chat_id == "chat-from-v1"
    assert reply.chat_id == "chat-from-v1"
    assert core.requests[-1].messages == [
        {"role": "user", "content": "What is faith?"},
        {"role": "assistant", "content": "Faith is trust."},
        {"role": "user", "content": "How do I grow in faith?"},
    ]
    assert history is not None
    assert [m.text for m in history.messages] == [
        "What is faith?",
        "Faith is trust.",
        "How do I grow in faith?",
        reply.text,
    ]


async def test_a_rate_limit_and_a_server_error_are_retried(store: SqlStore) -> None:
    async with v2_core(store) as core:
        core.sim.inject("429", "500")
        deltas, reply = await collect(core.service.stream(Question(THREAD, "What is hope?")))
    assert [r.status for r in core.requests] == [429, 500, 200]
    assert "".join(d.delta for d in deltas) == reply.text
    # The retries sent the same conversation each time.
    assert len({str(r.messages) for r in core.requests}) == 1


async def test_rate_limits_past_the_retries_are_a_plain_sentence(store: SqlStore) -> None:
    # Gloo's Errors reference: 429 is "request rate or spending limit for your plan"; a
    # 429 still there after the retry budget is told as the organisation's usage limit.
    async with v2_core(store, attempts=2) as core:
        core.sim.inject("429", "429")
        with pytest.raises(AnswerFailed) as info:
            await core.service.ask(Question(THREAD, "What is hope?"))
        assert info.value.user_message == messages.USAGE_LIMIT
        assert not info.value.retryable
        assert len(core.requests) == 2
        assert await store.get_chat_id(THREAD) is None  # nothing was bound
        reply = await core.service.ask(Question(THREAD, "What is hope?"))
        assert reply.text


async def test_a_content_filter_is_a_declined_sentence_and_not_retried(store: SqlStore) -> None:
    async with v2_core(store) as core:
        core.sim.inject("content_filter")
        with pytest.raises(AnswerFailed) as info:
            await core.service.ask(Question(THREAD, "Something filtered"))
    assert info.value.user_message == messages.DECLINED
    assert "sign in" not in info.value.user_message
    assert not info.value.retryable
    assert len(core.requests) == 1


async def test_a_stream_error_after_text_keeps_the_partial_answer(store: SqlStore) -> None:
    async with v2_core(store) as core:
        core.sim.inject("stream_error")
        deltas: list[TextDelta] = []

        async def consume() -> None:
            async for event in core.service.stream(Question(THREAD, "What is grace?")):
                if isinstance(event, TextDelta):
                    deltas.append(event)

        with pytest.raises(AnswerFailed) as info:
            await consume()
    assert deltas
    assert info.value.partial_text == deltas[-1].text
    assert "cut off" in info.value.user_message
    assert len(core.requests) == 1


async def test_channel_publishers_ground_the_answer_with_sources(store: SqlStore) -> None:
    defaults = ChannelSettings(publishers=("Lantern House",), sources_limit=3)
    async with v2_core(store, defaults=defaults) as core:
        reply = await core.service.ask(Question(THREAD, "How do I start journaling?"))
    assert core.requests[-1].path == "/ai/v2/chat/completions/grounded"
    assert 1 <= len(reply.sources) <= 3
    assert {s.publisher for s in reply.sources} == {"Lantern House"}
    record = await store.get_answer(reply.answer_id)
    assert record is not None
    assert record.sources == reply.sources


async def test_two_threads_stay_apart(store: SqlStore) -> None:
    other = ThreadKey("discord", "G1", "C1", "T2")
    async with v2_core(store) as core:
        a, b = await asyncio.gather(
            core.service.ask(Question(THREAD, "What is grace?")),
            core.service.ask(Question(other, "What is rest?")),
        )
        await core.service.ask(Question(other, "And sabbath?"))
    assert a.chat_id != b.chat_id
    follow_up = core.requests[-1].messages
    assert follow_up is not None
    assert "What is grace?" not in str(follow_up)
    assert follow_up[0] == {"role": "user", "content": "What is rest?"}


async def test_reset_starts_a_chat_without_history(store: SqlStore) -> None:
    async with v2_core(store) as core:
        first = await core.service.ask(Question(THREAD, "What is grace?"))
        await core.service.reset(THREAD)
        second = await core.service.ask(Question(THREAD, "What is peace?"))
    assert second.chat_id != first.chat_id
    assert core.requests[-1].messages == [{"role": "user", "content": "What is peace?"}]


async def test_settings_say_the_completions_api_offers_no_suggestions(store: SqlStore) -> None:
    async with core_on_simulator(store, gloo_backend="completions") as (c, _):
        lines = dict(c.service.describe_settings(c.service.defaults))
    assert lines["Suggestions"] == "not offered by the Gloo API in use"
    assert lines["Sources"] == "on, at most 5"
