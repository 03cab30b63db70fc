"""SqlStore against the ConversationStore contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import OperationalError

from core.ports import AnswerRecord, ConversationStore
from core.store.sql import SqlStore, UnknownAnswerError
from core.types import ChannelSettings, Source, ThreadKey

THREAD = ThreadKey("slack", "T0001", "C0001", "1700000000.000100")


def _answer(answer_id: str = "a1", **overrides: object) -> AnswerRecord:
    fields: dict[str, object] = {
        "answer_id": answer_id,
        "thread": THREAD,
        "chat_id": "chat-1",
        "question": "What is grace?",
        "text": "Grace is unmerited favour.",
    }
    fields.update(overrides)
    return AnswerRecord(**fields)  # type: ignore[arg-type]


def test_sql_store_satisfies_the_port(store: SqlStore) -> None:
    port: ConversationStore = store
    assert port is store


# --- thread → chat --------------------------------------------------------------------


async def test_unbound_thread_has_no_chat(store: SqlStore) -> None:
    assert await store.get_chat_id(THREAD) is None


async def test_bind_then_get(store: SqlStore) -> None:
    assert await store.bind_chat_id(THREAD, "chat-1") == "chat-1"
    assert await store.get_chat_id(THREAD) == "chat-1"


async def test_second_bind_returns_the_first_chat(store: SqlStore) -> None:
    assert await store.bind_chat_id(THREAD, "chat-1") == "chat-1"
    assert await store.bind_chat_id(THREAD, "chat-2") == "chat-1"
    assert await store.get_chat_id(THREAD) == "chat-1"


async def test_threads_are_told_apart_by_every_key_part(store: SqlStore) -> None:
    threads = [
        THREAD,
        ThreadKey("discord", THREAD.workspace, THREAD.channel, THREAD.thread),
        ThreadKey(THREAD.platform, "T0002", THREAD.channel, THREAD.thread),
        ThreadKey(THREAD.platform, THREAD.workspace, "C0002", THREAD.thread),
        ThreadKey(THREAD.platform, THREAD.workspace, THREAD.channel, "1700000000.000200"),
        ThreadKey(THREAD.platform, THREAD.workspace, THREAD.channel, ""),
    ]
    for index, thread in enumerate(threads):
        assert await store.bind_chat_id(thread, f"chat-{index}") == f"chat-{index}"
    for index, thread in enumerate(threads):
        assert await store.get_chat_id(thread) == f"chat-{index}"


async def test_forget_thread_unbinds_it(store: SqlStore) -> None:
    other = ThreadKey("slack", "T0001", "C0001", "other")
    await store.bind_chat_id(THREAD, "chat-1")
    await store.bind_chat_id(other, "chat-other")

    assert await store.forget_thread(THREAD) is True
    assert await store.get_chat_id(THREAD) is None
    assert await store.forget_thread(THREAD) is False
    assert await store.get_chat_id(other) == "chat-other"

    assert await store.bind_chat_id(THREAD, "chat-2") == "chat-2"
    assert await store.get_chat_id(THREAD) == "chat-2"


async def test_twenty_concurrent_binds_agree_on_one_chat(store: SqlStore) -> None:
    results = await asyncio.gather(*(store.bind_chat_id(THREAD, f"chat-{i}") for i in range(20)))
    assert len(set(results)) == 1
    assert results[0] in {f"chat-{i}" for i in range(20)}
    assert await store.get_chat_id(THREAD) == results[0]


async def test_concurrent_binds_from_two_stores_agree(store: SqlStore, database_url: str) -> None:
    """Two processes' worth of connection pools racing on one database."""
    other = await SqlStore.open(database_url)
    try:
        results = await asyncio.gather(
            *((store if i % 2 else other).bind_chat_id(THREAD, f"chat-{i}") for i in range(20))
        )
    finally:
        await other.close()
    assert len(set(results)) == 1


async def test_binds_and_resets_interleaved_leave_a_consistent_binding(store: SqlStore) -> None:
    async def bind(i: int) -> str:
        return await store.bind_chat_id(THREAD, f"chat-{i}")

    outcomes = await asyncio.gather(
        *(bind(i) for i in range(10)), *(store.forget_thread(THREAD) for _ in range(5))
    )
    bound = await store.get_chat_id(THREAD)
    returned = {value for value in outcomes if isinstance(value, str)}
    assert returned <= {f"chat-{i}" for i in range(10)}
    assert bound is None or bound in returned


# --- answers ---------------------------------------------------------------------------


async def test_unknown_answer_is_none(store: SqlStore) -> None:
    assert await store.get_answer("nope") is None


async def test_answer_round_trips_everything(store: SqlStore) -> None:
    created = datetime(
        2024, 5, 17, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    record = AnswerRecord(
        answer_id="ans_9f8e7d",
        thread=ThreadKey(
            "discord", "123456789012345678", "223456789012345678", "323456789012345678"
        ),
        chat_id="7c1b0d9e-2f6a-4b8e-9d3c-1a2b3c4d5e6f",
        question="¿Qué es la gracia? 恩典是什么？ מה זה חסד? 🙏",
        text="Grace — *unmerited* favour.\nLine two with `code` and emoji ✝️🕊️.",
        sources=(
            Source(
                title="Ephesians 2:8–9",
                url="https://example.org/eph-2?lang=en&v=1",
                publisher="Bible Society",
                author="Paul",
                snippet="For by grace you have been saved…",
            ),
            Source(title="", url="https://example.org/untitled"),
            Source(title="Only a title"),
        ),
        suggestions=("What is mercy?", "Wie hängt Gnade mit Glauben zusammen?", "🙏?"),
        user_id="U123ABC",
        gloo_message_id="msg_42",
        gloo_query_id="q_42",
        platform_message_ids=("1", "2"),
        created_at=created,
    )
    await store.save_answer(record)

    loaded = await store.get_answer("ans_9f8e7d")
    assert loaded == record
    assert loaded is not None
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.created_at == datetime(2024, 5, 17, 4, 0, 15, 123456, tzinfo=UTC)


async def test_chat_answers_are_the_newest_oldest_first(store: SqlStore) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(5):
        await store.save_answer(
            AnswerRecord(
                answer_id=f"a{i}",
                thread=THREAD,
                chat_id="chat-1",
                question=f"q{i}",
                text=f"t{i}",
                created_at=start + timedelta(minutes=i),
            )
        )
    await store.save_answer(
        AnswerRecord(answer_id="other", thread=THREAD, chat_id="chat-2", question="q", text="t")
    )
    answers = await store.chat_answers("chat-1", limit=3)
    assert [a.answer_id for a in answers] == ["a2", "a3", "a4"]
    assert await store.chat_answers("nothing", limit=3) == []


async def test_answer_defaults_round_trip(store: SqlStore) -> None:
    record = _answer()
    await store.save_answer(record)
    loaded = await store.get_answer(record.answer_id)
    assert loaded == record
    assert loaded is not None
    assert loaded.sources == ()
    assert loaded.suggestions == ()
    assert loaded.gloo_message_id is None
    assert loaded.gloo_query_id is None


async def test_naive_timestamps_are_taken_as_utc(store: SqlStore) -> None:
    await store.save_answer(_answer(created_at=datetime(2024, 1, 2, 3, 4, 5)))
    loaded = await store.get_answer("a1")
    assert loaded is not None
    assert loaded.created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


async def test_saving_an_answer_again_replaces_it(store: SqlStore) -> None:
    await store.save_answer(_answer(text="draft"))
    await store.save_answer(_answer(text="final", suggestions=("next?",)))
    loaded = await store.get_answer("a1")
    assert loaded is not None
    assert loaded.text == "final"
    assert loaded.suggestions == ("next?",)


async def test_saved_duplicate_message_ids_are_collapsed(store: SqlStore) -> None:
    await store.save_answer(_answer(platform_message_ids=("m1", "m2", "m1")))
    loaded = await store.get_answer("a1")
    assert loaded is not None
    assert loaded.platform_message_ids == ("m1", "m2")


async def test_answers_survive_a_restart(store: SqlStore, database_url: str) -> None:
    record = _answer()
    await store.save_answer(record)
    await store.bind_chat_id(THREAD, "chat-1")
    await store.close()

    reopened = await SqlStore.open(database_url)
    try:
        assert await reopened.get_answer("a1") == record
        assert await reopened.get_chat_id(THREAD) == "chat-1"
    finally:
        await reopened.close()


# --- platform message ids --------------------------------------------------------------


async def test_platform_message_ids_are_appended_in_order_without_duplicates(
    store: SqlStore,
) -> None:
    await store.save_answer(_answer(platform_message_ids=("m1",)))
    await store.add_platform_message_ids("a1", ["m2", "m3"])
    await store.add_platform_message_ids("a1", ["m3", "m1", "m4", "m4", "m5"])
    await store.add_platform_message_ids("a1", [])

    loaded = await store.get_answer("a1")
    assert loaded is not None
    assert loaded.platform_message_ids == ("m1", "m2", "m3", "m4", "m5")


async def test_concurrent_appends_lose_nothing(store: SqlStore) -> None:
    await store.save_answer(_answer())
    await asyncio.gather(*(store.add_platform_message_ids("a1", [f"m{i}"]) for i in range(10)))
    loaded = await store.get_answer("a1")
    assert loaded is not None
    assert sorted(loaded.platform_message_ids) == sorted(f"m{i}" for i in range(10))


async def test_message_ids_for_an_unknown_answer_are_refused(store: SqlStore) -> None:
    with pytest.raises(UnknownAnswerError) as caught:
        await store.add_platform_message_ids("nope", ["m1"])
    assert caught.value.answer_id == "nope"
    assert isinstance(caught.value, LookupError)


# --- feedback --------------------------------------------------------------------------


async def test_no_feedback_yet(store: SqlStore) -> None:
    await store.save_answer(_answer())
    assert await store.get_feedback("a1") == {}


async def test_feedback_is_upserted_per_user(store: SqlStore) -> None:
    await store.save_answer(_answer())
    await store.save_answer(_answer("a2"))

    await store.set_feedback("a1", "U1", 1)
    await store.set_feedback("a1", "U2", -1)
    await store.set_feedback("a1", "U1", -1)
    await store.set_feedback("a1", "U1", -1)
    await store.set_feedback("a2", "U1", 1)

    assert await store.get_feedback("a1") == {"U1": -1, "U2": -1}
    assert await store.get_feedback("a2") == {"U1": 1}


async def test_concurrent_votes_by_one_user_leave_one_vote(store: SqlStore) -> None:
    await store.save_answer(_answer())
    await asyncio.gather(*(store.set_feedback("a1", "U1", 1 if i % 2 else -1) for i in range(10)))
    feedback = await store.get_feedback("a1")
    assert list(feedback) == ["U1"]
    assert feedback["U1"] in (1, -1)


@pytest.mark.parametrize("value", [0, 2, -2, 100])
async def test_feedback_must_be_plus_or_minus_one(store: SqlStore, value: int) -> None:
    await store.save_answer(_answer())
    with pytest.raises(ValueError, match="feedback"):
        await store.set_feedback("a1", "U1", value)
    assert await store.get_feedback("a1") == {}


async def test_feedback_on_an_unknown_answer_is_refused(store: SqlStore) -> None:
    with pytest.raises(UnknownAnswerError):
        await store.set_feedback("nope", "U1", 1)
    assert await store.get_feedback("nope") == {}


# --- channel settings ------------------------------------------------------------------


async def test_no_settings_stored(store: SqlStore) -> None:
    assert await store.get_channel_settings("slack", "T1", "C1") is None


async def test_channel_settings_round_trip_and_upsert(store: SqlStore) -> None:
    first = ChannelSettings(
        publishers=("Bible Society", "Église réformée"),
        character_limit=1200,
        sources_limit=3,
        intent=2,
        enable_sources=False,
        enable_suggestions=True,
    )
    await store.save_channel_settings("slack", "T1", "C1", first)
    assert await store.get_channel_settings("slack", "T1", "C1") == first

    second = ChannelSettings(enable_suggestions=False)
    await store.save_channel_settings("slack", "T1", "C1", second)
    assert await store.get_channel_settings("slack", "T1", "C1") == second


async def test_workspace_settings_are_the_fallback(store: SqlStore) -> None:
    workspace = ChannelSettings(publishers=("Workspace Pub",), sources_limit=5)
    channel = ChannelSettings(publishers=("Channel Pub",), character_limit=500)
    await store.save_channel_settings("slack", "T1", "", workspace)
    await store.save_channel_settings("slack", "T1", "C1", channel)

    assert await store.get_channel_settings("slack", "T1", "C1") == channel
    assert await store.get_channel_settings("slack", "T1", "C2") == workspace
    assert await store.get_channel_settings("slack", "T1", "") == workspace
    assert await store.get_channel_settings("slack", "T2", "C1") is None
    assert await store.get_channel_settings("discord", "T1", "C1") is None


async def test_channel_settings_without_workspace_settings(store: SqlStore) -> None:
    channel = ChannelSettings(intent=7)
    await store.save_channel_settings("discord", "G1", "C1", channel)
    assert await store.get_channel_settings("discord", "G1", "C1") == channel
    assert await store.get_channel_settings("discord", "G1", "C2") is None


async def test_concurrent_settings_saves_keep_one_row(store: SqlStore) -> None:
    await asyncio.gather(
        *(
            store.save_channel_settings("slack", "T1", "C1", ChannelSettings(sources_limit=i))
            for i in range(10)
        )
    )
    stored = await store.get_channel_settings("slack", "T1", "C1")
    assert stored is not None
    assert stored.sources_limit in range(10)


# --- lifecycle -------------------------------------------------------------------------


async def test_ping(store: SqlStore) -> None:
    await store.ping()


async def test_ping_raises_when_the_server_is_unreachable() -> None:
    store = await SqlStore.open(
        "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2", migrate=False
    )
    try:
        with pytest.raises(OperationalError):
            await store.ping()
    finally:
        await store.close()


async def test_open_without_migrating_leaves_the_database_empty(sqlite_url: str) -> None:
    store = await SqlStore.open(sqlite_url, migrate=False)
    try:
        await store.ping()
        with pytest.raises(OperationalError, match="no such table"):
            await store.get_chat_id(THREAD)
    finally:
        await store.close()
