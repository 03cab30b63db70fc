"""An answer in few transactions: claims carry their context, one finish stores the rest."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from core.ports import AnswerRecord, Finished
from core.store.sql import SqlStore
from core.types import AnswerContext, ChannelSettings, Job, Question, Source, ThreadKey

THREAD = ThreadKey("slack", "T1", "C1", "1700.0001")
OTHER = ThreadKey("slack", "T1", "C2", "1700.0002")
ELSEWHERE = ThreadKey("slack", "T2", "C1", "1700.0003")
LEASE = timedelta(seconds=60)
CHANNEL = ChannelSettings(publishers=("Harbor",), sources_limit=2, enable_suggestions=False)
WORKSPACE = ChannelSettings(character_limit=500, tradition="catholic")


def job(key: str, thread: ThreadKey = THREAD) -> Job:
    return Job(key=key, question=Question(thread, "What is grace?", user_id="U1"))


def answer(
    answer_id: str = "a1", thread: ThreadKey = THREAD, chat_id: str = "chat-1"
) -> AnswerRecord:
    return AnswerRecord(
        answer_id=answer_id,
        thread=thread,
        chat_id=chat_id,
        question="What is grace?",
        text="Grace is unmerited favour.",
        sources=(Source("Grace", "https://harbor.example/grace"),),
        suggestions=("And mercy?",),
        user_id="U1",
        gloo_message_id="m-1",
        platform_message_ids=("p0",),
    )


@dataclass
class Transactions:
    begun: int = 0
    statements: int = 0


@contextlib.contextmanager
def count_transactions(store: SqlStore) -> Iterator[Transactions]:
    """Transactions begun on the store's engine (its read engine shares the listeners)."""
    counter = Transactions()
    sync = store.engine.sync_engine

    def on_begin(conn: Any) -> None:
        counter.begun += 1

    def on_execute(*args: Any) -> None:
        counter.statements += 1

    event.listen(sync, "begin", on_begin)
    event.listen(sync, "before_cursor_execute", on_execute)
    try:
        yield counter
    finally:
        event.remove(sync, "begin", on_begin)
        event.remove(sync, "before_cursor_execute", on_execute)


# --- claims carry their context ---------------------------------------------------------


async def test_a_claim_carries_no_context_when_nothing_is_stored(store: SqlStore) -> None:
    await store.accept(job("k1"))
    claimed = await store.claim("k1", "p1", LEASE)
    assert claimed is not None
    assert claimed.context == AnswerContext(settings=None, chat_id=None)


async def test_a_claim_carries_the_channel_settings_over_the_workspace_ones(
    store: SqlStore,
) -> None:
    await store.save_channel_settings("slack", "T1", "", WORKSPACE)
    await store.save_channel_settings("slack", "T1", "C1", CHANNEL)
    await store.save_channel_settings("slack", "T2", "C2", ChannelSettings(intent=1))
    await store.bind_chat_id(THREAD, "chat-1")
    await store.accept(job("k1"))
    await store.accept(job("k2", OTHER))
    first = await store.claim("k1", "p1", LEASE)
    second = await store.claim("k2", "p1", LEASE)
    assert first is not None
    assert second is not None
    assert first.context == AnswerContext(settings=CHANNEL, chat_id="chat-1")
    # C2 has no row of its own in T1: the workspace's row; its thread has no chat yet.
    assert second.context == AnswerContext(settings=WORKSPACE, chat_id=None)
    assert first.context.settings == await store.get_channel_settings("slack", "T1", "C1")
    assert second.context.settings == await store.get_channel_settings("slack", "T1", "C2")


async def test_claim_due_fills_each_jobs_context(store: SqlStore) -> None:
    await store.save_channel_settings("slack", "T1", "", WORKSPACE)
    await store.save_channel_settings("slack", "T1", "C1", CHANNEL)
    await store.bind_chat_id(OTHER, "chat-2")
    await store.accept(job("k1"))
    await store.accept(job("k2", OTHER))
    await store.accept(job("k3", ELSEWHERE))
    claimed = await store.claim_due("p1", LEASE, platforms={"slack"}, limit=10)
    assert {j.key: j.context for j in claimed} == {
        "k1": AnswerContext(settings=CHANNEL, chat_id=None),
        "k2": AnswerContext(settings=WORKSPACE, chat_id="chat-2"),
        "k3": AnswerContext(settings=None, chat_id=None),
    }
    assert [j.key for j in claimed] == ["k1", "k2", "k3"]  # oldest first, as before


async def test_the_context_does_not_change_claim_semantics(store: SqlStore) -> None:
    await store.accept(job("a"))
    await store.accept(job("b"))
    assert await store.claim("b", "p1", LEASE) is None  # "a" is still open
    claims = await asyncio.gather(*(store.claim("a", f"p{i}", LEASE) for i in range(4)))
    assert len([c for c in claims if c is not None]) == 1
    assert await store.claim_due("p9", LEASE, platforms={"slack"}, limit=5) == []
    # The context is not part of a job's identity.
    assert job("a") == Job(
        key="a",
        question=job("a").question,
        context=AnswerContext(settings=CHANNEL, chat_id="x"),
    )


async def test_a_claim_is_one_transaction(store: SqlStore) -> None:
    await store.save_channel_settings("slack", "T1", "C1", CHANNEL)
    await store.bind_chat_id(THREAD, "chat-1")
    await store.accept(job("k1"))
    await store.accept(job("k2", OTHER))
    with count_transactions(store) as one:
        claimed = await store.claim("k1", "p1", LEASE)
    assert claimed is not None
    assert claimed.context is not None
    assert one.begun == 1
    with count_transactions(store) as due:
        batch = await store.claim_due("p1", LEASE, platforms={"slack"}, limit=5)
    assert [j.key for j in batch] == ["k2"]
    assert due.begun == 1


# --- finish_answered --------------------------------------------------------------------


async def test_finish_answered_stores_the_answer_with_its_messages(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await store.claim("k1", "p1", LEASE)
    await store.set_posted("k1", "p1", ["p1"])
    done = await store.finish_answered("k1", "p1", answer(), bind=True, posted=["p1", "p2"])
    assert done == Finished(finished=True, next_key=None, bound_chat_id="chat-1")
    stored = await store.get_answer("a1")
    assert stored is not None
    assert stored.platform_message_ids == ("p0", "p1", "p2")
    assert stored.sources == answer().sources
    assert stored.suggestions == ("And mercy?",)
    assert await store.get_chat_id(THREAD) == "chat-1"
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert (entry.status, entry.claimed_by, entry.last_error) == ("answered", None, None)
    assert entry.job.posted == ("p1", "p2")


async def test_finish_answered_stores_what_save_answer_and_attach_would(
    store: SqlStore,
) -> None:
    given = answer("old")
    await store.save_answer(given)
    await store.add_platform_message_ids("old", ["p1", "p2"])
    await store.accept(job("k1"))
    await store.claim("k1", "p1", LEASE)
    await store.finish_answered(
        "k1", "p1", replace(given, answer_id="new"), bind=False, posted=["p1", "p2"]
    )
    old, new = await store.get_answer("old"), await store.get_answer("new")
    assert old is not None
    assert new is not None
    assert new == replace(old, answer_id="new")


async def test_the_first_binding_wins_and_the_winner_is_reported(store: SqlStore) -> None:
    await store.bind_chat_id(THREAD, "chat-first")
    await store.accept(job("k1"))
    await store.claim("k1", "p1", LEASE)
    done = await store.finish_answered(
        "k1", "p1", answer(chat_id="chat-late"), bind=True, posted=[]
    )
    assert done.finished
    assert done.bound_chat_id == "chat-first"
    assert await store.get_chat_id(THREAD) == "chat-first"
    stored = await store.get_answer("a1")
    assert stored is not None
    assert stored.chat_id == "chat-late"


async def test_concurrent_finishes_bind_one_chat(store: SqlStore) -> None:
    keys = [f"k{i}" for i in range(5)]
    for i, key in enumerate(keys):
        await store.accept(job(key, ThreadKey("slack", "T1", "C1", f"t{i}")))
        await store.claim(key, "p1", LEASE)
    racing = [
        answer(f"a{i}", ThreadKey("slack", "T1", "C9", "shared"), chat_id=f"chat-{i}")
        for i in range(5)
    ]
    done = await asyncio.gather(
        *(
            store.finish_answered(key, "p1", record, bind=True, posted=[])
            for key, record in zip(keys, racing, strict=True)
        )
    )
    bound = await store.get_chat_id(ThreadKey("slack", "T1", "C9", "shared"))
    assert bound is not None
    assert {d.bound_chat_id for d in done} == {bound}
    assert all(d.finished for d in done)


async def test_without_bind_nothing_is_bound(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await store.claim("k1", "p1", LEASE)
    done = await store.finish_answered("k1", "p1", answer(), bind=False, posted=["p1"])
    assert done == Finished(finished=True, next_key=None, bound_chat_id=None)
    assert await store.get_chat_id(THREAD) is None


async def test_bind_without_an_answer_is_refused(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="bind"):
        await store.finish_answered("k1", "p1", None, bind=True, posted=[])


async def test_a_lost_claim_still_keeps_the_answer_and_the_binding(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await store.claim("k1", "dead", timedelta(seconds=-1))
    await store.set_posted("k1", "dead", ["p1"])
    taken = await store.claim("k1", "alive", LEASE)
    assert taken is not None
    done = await store.finish_answered("k1", "dead", answer(), bind=True, posted=["p1", "p2"])
    assert done == Finished(finished=False, next_key=None, bound_chat_id="chat-1")
    assert await store.get_answer("a1") is not None
    assert await store.get_chat_id(THREAD) == "chat-1"
    entry = await store.inbox_entry("k1")
    assert entry is not None
    # The row is the new owner's: untouched.
    assert (entry.status, entry.claimed_by, entry.job.posted) == ("answering", "alive", ("p1",))


async def test_finish_answered_names_the_threads_next_question(store: SqlStore) -> None:
    await store.accept(job("a"))
    await store.accept(job("b"))
    await store.accept(job("c"))
    await store.accept(job("x", OTHER))
    await store.claim("a", "p1", LEASE)
    done = await store.finish_answered("a", "p1", answer(), bind=True, posted=["pa"])
    assert done.next_key == "b" == await store.next_in_thread(THREAD)
    second = await store.claim("b", "p1", LEASE)
    assert second is not None
    assert second.context == AnswerContext(settings=None, chat_id="chat-1")
    done = await store.finish_answered("b", "p1", None, bind=False, posted=[])
    assert done == Finished(finished=True, next_key="c", bound_chat_id=None)


async def test_posted_ids_are_the_owners_whole_list(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await store.claim("k1", "p1", LEASE)
    await store.set_posted("k1", "p1", ["m1"])
    await store.set_posted("k1", "p1", ["m1", "m2"])
    await store.set_posted("k1", "intruder", ["x"])  # not the holder: nothing changes
    with count_transactions(store) as counted:
        await store.set_posted("k1", "p1", ["m1", "m2", "m3"])
    assert counted.statements == (1 if store.is_postgres else 2)  # SQLite: BEGIN IMMEDIATE
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.job.posted == ("m1", "m2", "m3")


async def test_finishing_an_unknown_question_reports_nothing_finished(store: SqlStore) -> None:
    done = await store.finish_answered("nope", "p1", answer(), bind=False, posted=["p1"])
    assert done == Finished(finished=False, next_key=None, bound_chat_id=None)
    assert await store.get_answer("a1") is not None


async def test_finish_answered_is_one_transaction(store: SqlStore) -> None:
    await store.bind_chat_id(THREAD, "chat-first")
    await store.accept(job("k1"))
    await store.accept(job("k2"))
    await store.claim("k1", "p1", LEASE)
    with count_transactions(store) as counted:
        done = await store.finish_answered("k1", "p1", answer(), bind=True, posted=["p1", "p2"])
    assert done == Finished(finished=True, next_key="k2", bound_chat_id="chat-first")
    assert counted.begun == 1
    # The answer, the binding and the end of the claim, which on PostgreSQL also names the
    # next question; SQLite reads that in a statement of its own, and its write
    # transactions begin with a BEGIN IMMEDIATE statement.
    assert counted.statements == (3 if store.is_postgres else 5)
