"""The conversation service end to end: real store, real Gloo client, in-process simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from core import messages
from core.gloo.backend import GlooAnswer, GlooDelta, GlooEvent, GlooRequest
from core.ports import AnswerRecord, ConversationStore
from core.service import AnswerFailed, ConversationService, StreamEvent, UnknownSuggestion
from core.simulator import RequestRecord, Simulator, SimulatorConfig
from core.store.sql import SqlStore
from core.types import (
    ChannelSettings,
    ChatHistory,
    Question,
    Reply,
    TextDelta,
    ThreadKey,
    parse_suggestion_ref,
    whole_number,
)
from tests.harness import core_on_simulator

THREAD = ThreadKey("slack", "T1", "C1", "1700000000.000100")


def message_requests(sim: Simulator) -> list[RequestRecord]:
    return list(sim.message_records)


async def collect(events: AsyncIterator[StreamEvent]) -> tuple[list[TextDelta], Reply]:
    deltas: list[TextDelta] = []
    reply: Reply | None = None
    async for event in events:
        if isinstance(event, TextDelta):
            assert reply is None, "no text after the final reply"
            deltas.append(event)
        elif isinstance(event, Reply):
            reply = event
    assert reply is not None
    return deltas, reply


async def test_first_answer_binds_the_chat_and_follow_ups_continue_it(store: SqlStore) -> None:
    async with core_on_simulator(store, gloo_intent=1) as (c, sim):  # intent 1: sources
        first = await c.service.ask(Question(THREAD, "What is grace?", user_id="U1"))
        assert await store.get_chat_id(THREAD) == first.chat_id
        second = await c.service.ask(Question(THREAD, "And mercy?", user_id="U1"))
        assert second.chat_id == first.chat_id
        sent = [r.chat_id for r in message_requests(sim)]
        assert sent == [None, first.chat_id]
        assert "grace" in second.text.lower()  # the simulator's memory shows through
        assert first.sources
        assert all(s.url for s in first.sources)
        assert len(first.suggestions) == 3
        record = await store.get_answer(second.answer_id)
        assert record is not None
        assert record.question == "And mercy?"
        assert record.chat_id == first.chat_id
        assert record.user_id == "U1"


async def test_streaming_yields_deltas_that_add_up_to_the_reply(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, _):
        deltas, reply = await collect(c.service.stream(Question(THREAD, "Tell me about hope")))
    assert len(deltas) > 1
    assert "".join(d.delta for d in deltas) == reply.text
    assert deltas[-1].text == reply.text


async def test_racing_first_messages_end_with_one_chat(database_url: str) -> None:
    store = await SqlStore.open(database_url)
    try:
        async with core_on_simulator(store) as (c, sim):
            thread = ThreadKey("discord", "G1", "C9", "T9")
            replies = await asyncio.gather(
                *(c.service.ask(Question(thread, f"question {i}")) for i in range(8))
            )
            assert len({r.chat_id for r in replies}) == 1
            assert [r.chat_id for r in message_requests(sim)].count(None) == 1
            assert await store.get_chat_id(thread) == replies[0].chat_id
    finally:
        await store.close()


async def test_two_services_on_one_store_race_to_one_binding(store: SqlStore) -> None:
    """Two processes (no shared lock) racing: the unique constraint decides the binding."""
    sim = Simulator(SimulatorConfig())
    async with (
        core_on_simulator(store, simulator=sim) as (a, _),
        core_on_simulator(store, simulator=sim) as (b, _),
    ):
        thread = ThreadKey("slack", "T1", "C2", "1.2")
        r1, r2 = await asyncio.gather(
            a.service.ask(Question(thread, "one")), b.service.ask(Question(thread, "two"))
        )
        bound = await store.get_chat_id(thread)
        assert bound in (r1.chat_id, r2.chat_id)
        r3 = await a.service.ask(Question(thread, "three"))
        assert r3.chat_id == bound


async def test_suggestion_click_continues_the_chat_even_after_a_restart(store: SqlStore) -> None:
    sim = Simulator(SimulatorConfig())  # Gloo outlives our process
    async with core_on_simulator(store, simulator=sim) as (c, _):
        first = await c.service.ask(Question(THREAD, "What is faith?"))
        ref = first.suggestion_ref(2)
        assert len(ref) < 100
    async with core_on_simulator(store, simulator=sim) as (restarted, _):
        click, events = await restarted.service.answer_suggestion(ref, user_id="U2")
        _, answer = await collect(events)
    assert click.text == first.suggestions[2]
    assert click.thread == THREAD
    assert answer.chat_id == first.chat_id
    assert message_requests(sim)[-1].chat_id == first.chat_id
    assert message_requests(sim)[-1].query == first.suggestions[2]


async def test_a_suggestion_on_a_chat_gloo_lost_starts_a_new_chat(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, _):
        first = await c.service.ask(Question(THREAD, "What is faith?"))
    async with core_on_simulator(store) as (c, sim):  # a Gloo that never saw that chat
        _, events = await c.service.answer_suggestion(first.suggestion_ref(0))
        _, answer = await collect(events)
        assert answer.chat_id != first.chat_id
        assert await store.get_chat_id(THREAD) == answer.chat_id
        assert [r.status for r in message_requests(sim)] == [404, 200]


@pytest.mark.parametrize("ref", ["", "nope", "abc:x", "abc:-1", "missing-id:0", "x" * 120 + ":0"])
async def test_unknown_or_forged_suggestions_are_refused(store: SqlStore, ref: str) -> None:
    async with core_on_simulator(store) as (c, _):
        with pytest.raises(UnknownSuggestion) as info:
            await c.service.resolve_suggestion(ref)
        assert info.value.user_message == messages.UNKNOWN_SUGGESTION


@pytest.mark.parametrize("digit", ["\u00b2", "\u0661", "\uff11", "1\n", " 1", "+1"])
async def test_a_ref_ending_in_a_non_ascii_digit_is_an_unknown_suggestion(
    store: SqlStore, digit: str
) -> None:
    # "²".isdigit() and "١".isdigit() are true: "²" made int() raise ValueError, and "١"
    # (Arabic-Indic one) was read as index 1 of a real answer.
    async with core_on_simulator(store) as (c, sim):
        reply = await c.service.ask(Question(THREAD, "Why pray?"))
        assert len(reply.suggestions) > 1
        tampered = f"{reply.answer_id}:{digit}"
        assert parse_suggestion_ref(tampered) is None
        with pytest.raises(UnknownSuggestion) as info:
            await c.service.resolve_suggestion(tampered)
        assert info.value.user_message == messages.UNKNOWN_SUGGESTION
        assert len(message_requests(sim)) == 1  # nothing more was asked


def test_parse_suggestion_ref_reads_ascii_indexes() -> None:
    assert parse_suggestion_ref("abc:0") == ("abc", 0)
    assert parse_suggestion_ref("a:b:12") == ("a:b", 12)
    assert parse_suggestion_ref("abc:\u00b2") is None
    assert parse_suggestion_ref("abc:\u0661") is None
    assert whole_number("007") == 7
    assert [whole_number(t) for t in ("", "-1", "1e3", "\u00b2", "\u0661", "3\n")] == [None] * 6


async def test_suggestion_index_past_the_end_is_refused(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, _):
        reply = await c.service.ask(Question(THREAD, "Why pray?"))
        with pytest.raises(UnknownSuggestion):
            await c.service.resolve_suggestion(reply.suggestion_ref(len(reply.suggestions)))


async def test_reset_starts_a_new_chat(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, _):
        first = await c.service.ask(Question(THREAD, "hello"))
        assert await c.service.is_active(THREAD)
        assert await c.service.reset(THREAD)
        assert not await c.service.is_active(THREAD)
        second = await c.service.ask(Question(THREAD, "hello again"))
        assert second.chat_id != first.chat_id


async def test_history_is_neutral_data(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, _):
        assert await c.service.history(THREAD) is None
        reply = await c.service.ask(Question(THREAD, "What is grace?"))
        history = await c.service.history(THREAD)
    assert history is not None
    assert history.chat_id == reply.chat_id
    assert [m.role for m in history.messages] == ["user", "assistant"]
    assert history.messages[0].text == "What is grace?"
    assert history.messages[1].text == reply.text


async def test_history_says_who_asked_where_the_bot_kept_it(store: SqlStore) -> None:
    """Issue 24, finding 4: Gloo's history does not say who asked; the service adds each
    question's asker from the answers it kept, so a renderer can label people apart."""
    async with core_on_simulator(store) as (c, _):
        await c.service.ask(Question(THREAD, "What is grace?", user_id="U1"))
        await c.service.ask(Question(THREAD, "And mercy?", user_id="U2"))
        history = await c.service.history(THREAD)
    assert history is not None
    asked = [(m.text, m.user_id) for m in history.messages if m.role == "user"]
    assert asked == [("What is grace?", "U1"), ("And mercy?", "U2")]
    assert all(m.user_id == "" for m in history.messages if m.role != "user")


async def test_channel_settings_shape_the_request(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, _):
        assert await c.service.settings_for("slack", "T1", "C1") == c.service.defaults
        updated = await c.service.update_settings(
            "slack", "T1", "C1", enable_suggestions=False, sources_limit=1
        )
        assert updated.enable_suggestions is False
        reply = await c.service.ask(Question(THREAD, "What is grace?"))
        assert reply.suggestions == ()
        assert len(reply.sources) <= 1
        # workspace-wide settings apply to other channels of the workspace
        await c.service.update_settings("slack", "T1", "", enable_sources=False)
        other = await c.service.ask(Question(ThreadKey("slack", "T1", "C7", "1"), "Hi"))
        assert other.sources == ()
        with pytest.raises(ValueError, match="from 0 to 25"):
            await c.service.update_settings("slack", "T1", "C1", sources_limit=99)


async def test_gloo_failure_is_a_plain_sentence_and_the_next_question_works(
    store: SqlStore,
) -> None:
    async with core_on_simulator(store, gloo_retry_attempts=2) as (c, sim):
        sim.inject("500", "502")
        with pytest.raises(AnswerFailed) as info:
            await c.service.ask(Question(THREAD, "What is grace?"))
        assert info.value.user_message == messages.for_error(info.value.cause or Exception())
        assert "Gloo" in info.value.user_message
        assert info.value.retryable
        reply = await c.service.ask(Question(THREAD, "What is grace?"))
        assert reply.text


async def test_rate_limit_is_retried_then_succeeds(store: SqlStore) -> None:
    async with core_on_simulator(store, gloo_retry_attempts=3) as (c, sim):
        sim.inject("429", "429")
        reply = await c.service.ask(Question(THREAD, "What is grace?"))
        assert reply.text
        assert [r.status for r in message_requests(sim)] == [429, 429, 200]


async def test_a_stream_cut_after_text_is_not_retried(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, sim):
        sim.inject("drop")
        deltas: list[TextDelta] = []

        async def consume() -> None:
            async for event in c.service.stream(Question(THREAD, "What is grace?")):
                if isinstance(event, TextDelta):
                    deltas.append(event)

        with pytest.raises(AnswerFailed) as info:
            await consume()
        assert deltas, "some text reached the user before the cut"
        assert info.value.partial_text == deltas[-1].text
        assert len(message_requests(sim)) == 1
        assert "cut off" in info.value.user_message


async def test_a_chat_gloo_forgot_is_restarted(store: SqlStore) -> None:
    await store.bind_chat_id(THREAD, "c-unknown-to-gloo")
    async with core_on_simulator(store) as (c, sim):
        reply = await c.service.ask(Question(THREAD, "Still there?"))
        assert reply.chat_id != "c-unknown-to-gloo"
        assert await store.get_chat_id(THREAD) == reply.chat_id
        assert [r.status for r in message_requests(sim)] == [404, 200]


async def test_empty_question_is_answered_without_calling_gloo(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, sim):
        with pytest.raises(AnswerFailed) as info:
            await c.service.ask(Question(THREAD, "   "))
        assert info.value.user_message == messages.EMPTY_QUESTION
        assert message_requests(sim) == []


async def test_feedback_and_platform_messages_are_kept(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, _):
        reply = await c.service.ask(Question(THREAD, "What is grace?"))
        assert await c.service.record_feedback(reply.answer_id, "U1", 1)
        assert await c.service.record_feedback(reply.answer_id, "U1", -1)
        assert not await c.service.record_feedback("no-such-answer", "U1", 1)
        assert await store.get_feedback(reply.answer_id) == {"U1": -1}
        await c.service.attach_messages(reply.answer_id, ["1700.1", "1700.2"])
        record = await c.service.get_answer(reply.answer_id)
        assert record is not None
        assert record.platform_message_ids == ("1700.1", "1700.2")


class FailingSaves:
    """A store whose writes of answers fail: the user still gets the answer."""

    def __init__(self, inner: ConversationStore) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def save_answer(self, answer: AnswerRecord) -> None:
        raise RuntimeError("disk full")

    async def add_platform_message_ids(self, answer_id: str, message_ids: Sequence[str]) -> None:
        raise RuntimeError("disk full")


class DownStore(FailingSaves):
    """A store whose database is unreachable."""

    async def get_chat_id(self, thread: ThreadKey) -> str | None:
        raise ConnectionError("database is down")


async def test_a_follow_up_is_refused_rather_than_answered_out_of_context(
    store: SqlStore,
) -> None:
    async with core_on_simulator(DownStore(store)) as (c, sim):  # type: ignore[arg-type]
        with pytest.raises(AnswerFailed) as info:
            await c.service.ask(Question(THREAD, "And then?"))
        assert info.value.user_message == messages.STORE_UNAVAILABLE
        assert info.value.retryable
        assert message_requests(sim) == []


async def test_an_answer_is_delivered_even_if_it_cannot_be_stored(store: SqlStore) -> None:
    flaky = FailingSaves(store)
    async with core_on_simulator(flaky) as (c, _):  # type: ignore[arg-type]
        reply = await c.service.ask(Question(THREAD, "What is grace?"))
    assert reply.text
    assert await store.get_answer(reply.answer_id) is None


async def test_questions_in_one_thread_are_answered_in_order(store: SqlStore) -> None:
    config = SimulatorConfig(first_chunk_latency=0.01)
    async with core_on_simulator(store, config) as (c, sim):
        await asyncio.gather(*(c.service.ask(Question(THREAD, f"q{i}")) for i in range(5)))
        assert [r.query for r in message_requests(sim)] == [f"q{i}" for i in range(5)]


class CrashingBackend:
    """A Gloo backend with a bug: it breaks after some text."""

    offers_suggestions = True
    keeps_chats = True
    history_turns = 0

    async def send(self, request: GlooRequest) -> GlooAnswer:
        raise AssertionError("not used")

    async def stream(self, request: GlooRequest) -> AsyncIterator[GlooEvent]:
        yield GlooDelta("Half an ans")
        raise KeyError("surprise")

    async def history(self, chat_id: str) -> ChatHistory:
        raise AssertionError("not used")


async def test_a_crash_mid_answer_is_a_plain_sentence(store: SqlStore) -> None:
    service = ConversationService(CrashingBackend(), store, ChannelSettings())
    with pytest.raises(AnswerFailed) as info:
        await service.ask(Question(THREAD, "What is grace?"))
    assert info.value.user_message == messages.INTERNAL_ERROR
    assert info.value.partial_text == "Half an ans"
    assert isinstance(info.value.cause, KeyError)
    assert await store.get_chat_id(THREAD) is None


async def test_a_hanging_gloo_times_out_and_the_retry_answers(store: SqlStore) -> None:
    async with core_on_simulator(store, gloo_timeout=0.2, gloo_retry_attempts=2) as (c, sim):
        sim.inject("hang")
        reply = await c.service.ask(Question(THREAD, "What is grace?"))
        assert reply.text
        assert [r.fault for r in message_requests(sim)] == ["hang", None]


async def test_an_abandoned_stream_releases_its_thread(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, _):
        events = c.service.stream(Question(THREAD, "What is grace?"))
        first = await anext(aiter(events))
        assert isinstance(first, TextDelta)
        await events.aclose()  # e.g. the adapter shut down mid-answer
        reply = await asyncio.wait_for(c.service.ask(Question(THREAD, "Still there?")), 5)
        assert reply.text
        assert len(c.service._locks) == 0


async def test_many_threads_under_faults_lose_no_question(store: SqlStore) -> None:
    config = SimulatorConfig(
        seed=11,
        error_500=0.08,
        error_502=0.07,
        error_408=0.05,
        error_429=0.05,
        drop_stream=0.05,
        rate_limit_reset=1,
    )
    async with core_on_simulator(store, config, gloo_retry_attempts=4) as (c, sim):
        threads = [ThreadKey("slack", "T1", "C1", f"t{i}") for i in range(20)]

        async def ask(thread: ThreadKey, n: int) -> Reply | AnswerFailed:
            try:
                return await c.service.ask(Question(thread, f"question {n}"))
            except AnswerFailed as failed:
                return failed

        outcomes = await asyncio.wait_for(
            asyncio.gather(*(ask(t, n) for n in range(5) for t in threads)), 60
        )
        answered = [o for o in outcomes if isinstance(o, Reply)]
        failed = [o for o in outcomes if isinstance(o, AnswerFailed)]
        print(f"\n100 questions, 30% faults: answered={len(answered)} failed={len(failed)}")
        assert len(answered) + len(failed) == 100
        assert len(answered) >= 80  # retries absorb most faults
        assert all(f.user_message and "Traceback" not in f.user_message for f in failed)
        chats_by_thread: dict[ThreadKey, set[str]] = {}
        for reply in answered:
            record = await store.get_answer(reply.answer_id)
            assert record is not None
            chats_by_thread.setdefault(record.thread, set()).add(reply.chat_id)
        # one chat per thread, whatever failed along the way
        assert all(len(chats) == 1 for chats in chats_by_thread.values())
        assert sum(1 for r in sim.message_records if r.fault) > 0
