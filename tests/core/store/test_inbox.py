"""The inbox: accepted once, claimed by one owner at a time, in thread order, leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.inbox import _LOCK_THREAD_PART_KNOWN, _thread_values
from core.store.sql import SqlStore
from core.store.tables import utcnow
from core.types import Job, Question, ThreadKey

THREAD = ThreadKey("slack", "T1", "C1", "1700.0001")
OTHER = ThreadKey("slack", "T1", "C1", "1700.0002")
LEASE = timedelta(seconds=60)


def job(key: str, thread: ThreadKey = THREAD, text: str = "What is grace?") -> Job:
    return Job(key=key, question=Question(thread, text, user_id="U1", message_ref=key))


async def test_a_job_is_accepted_once(store: SqlStore) -> None:
    assert await store.accept(job("k1"))
    assert not await store.accept(job("k1", text="a redelivery"))
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.status == "pending"
    assert entry.job.question.text == "What is grace?"
    assert entry.job.question.message_ref == "k1"
    assert await store.inbox_counts() == {"pending": 1}


async def test_a_claim_is_exclusive(store: SqlStore) -> None:
    await store.accept(job("k1"))
    claims = await asyncio.gather(*(store.claim("k1", f"p{i}", LEASE) for i in range(6)))
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1
    assert winners[0].attempt == 1
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.status == "answering"


async def test_claim_due_never_hands_one_job_to_two_owners(store: SqlStore) -> None:
    for i in range(20):
        await store.accept(job(f"k{i:02}", ThreadKey("slack", "T1", "C1", f"t{i}")))
    batches = await asyncio.gather(
        *(store.claim_due(f"p{i}", LEASE, platforms={"slack"}, limit=7) for i in range(4))
    )
    keys = [j.key for batch in batches for j in batch]
    assert len(keys) == len(set(keys)) == 20


async def test_questions_in_one_thread_are_claimed_in_order(store: SqlStore) -> None:
    await store.accept(job("a"))
    await store.accept(job("b"))
    await store.accept(job("x", OTHER))
    assert await store.claim("b", "p1", LEASE) is None  # "a" is still open
    claimed = await store.claim_due("p1", LEASE, platforms={"slack"}, limit=10)
    assert [j.key for j in claimed] == ["a", "x"]
    assert await store.next_in_thread(THREAD) == "b"
    assert await store.finish("a", "p1", "answered")
    second = await store.claim("b", "p2", LEASE)
    assert second is not None
    assert second.key == "b"


async def test_a_question_stamped_earlier_waits_for_a_live_answer_of_its_thread(
    store: SqlStore,
) -> None:
    # Two hosts whose clocks differ, or an accept that committed late: "a" is stamped before
    # "b" but "b" was claimed first. One answer at a time in a thread, still.
    await store.accept(job("b"))
    held = await store.claim("b", "p1", LEASE)
    assert held is not None
    assert held.accepted_at is not None
    early = Job(
        key="a",
        question=job("a").question,
        accepted_at=held.accepted_at - timedelta(seconds=1),
    )
    assert await store.accept(early)
    assert await store.claim("a", "p2", LEASE) is None
    assert await store.claim_due("p2", LEASE, platforms={"slack"}, limit=10) == []
    assert await store.finish("b", "p1", "answered")
    claimed = await store.claim("a", "p2", LEASE)
    assert claimed is not None


@pytest.mark.postgres
async def test_on_postgres_an_accept_waits_for_one_in_progress_in_its_thread(
    postgres_url: str,
) -> None:
    """An accept in progress (another process's, its commit not yet seen) holds its thread's
    lock: an accept in that thread waits, and is stamped once it has the lock; an accept in
    another thread does not wait."""
    store = await SqlStore.open(postgres_url)
    try:
        async with store.engine.connect() as other_process:
            transaction = await other_process.begin()
            values = {**_thread_values(THREAD), "p_key": "a"}
            assert not (await other_process.execute(_LOCK_THREAD_PART_KNOWN, values)).one().known
            accepting = asyncio.create_task(store.accept(job("b")))
            assert await store.accept(job("x", OTHER))  # another thread: no wait
            await _until_a_lock_is_awaited(other_process)
            assert not accepting.done()
            released_at = utcnow()
            await transaction.commit()
        assert await accepting
        entry = await store.inbox_entry("b")
        assert entry is not None
        assert entry.job.accepted_at is not None
        assert entry.job.accepted_at >= released_at
    finally:
        await store.close()


async def _until_a_lock_is_awaited(conn: AsyncConnection) -> None:
    waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    async with asyncio.timeout(10):
        # PostgreSQL's own state: there is no event to wait on.
        while not (await conn.execute(waiting)).scalar_one():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_only_the_owner_ends_a_claim(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await store.claim("k1", "p1", LEASE)
    assert not await store.finish("k1", "intruder", "answered")
    assert await store.finish("k1", "p1", "answered")
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.status == "answered"
    assert entry.claimed_by is None
    assert await store.claim("k1", "p1", LEASE) is None  # answered is final


async def test_an_expired_lease_is_taken_over_with_what_was_posted(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await store.claim("k1", "dead", timedelta(seconds=-1))
    await store.set_posted("k1", "dead", ["m1", "m2"])
    await store.set_posted("k1", "dead", ["m1", "m2", "m3"])
    taken = await store.claim_due("alive", LEASE, platforms={"slack"}, limit=5)
    assert [j.key for j in taken] == ["k1"]
    assert taken[0].posted == ("m1", "m2", "m3")
    assert taken[0].attempt == 2
    assert not await store.finish("k1", "dead", "answered")  # the old owner lost it


async def test_a_released_job_waits_for_its_time(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await store.claim("k1", "p1", LEASE)
    assert await store.release("k1", "p1", utcnow() + timedelta(hours=1), "Gloo 503")
    assert await store.claim("k1", "p1", LEASE) is None
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.last_error == "Gloo 503"
    await store.release_all("p1")  # nothing held: no effect
    assert await store.claim_due("p1", LEASE, platforms={"slack"}, limit=5) == []


async def test_a_stopping_process_hands_its_jobs_back(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await store.accept(job("k2", OTHER))
    await store.claim_due("p1", LEASE, platforms={"slack"}, limit=5)
    assert await store.release_all("p1") == 2
    again = await store.claim_due("p2", LEASE, platforms={"slack"}, limit=5)
    assert {j.key for j in again} == {"k1", "k2"}


async def test_claim_due_is_limited_to_the_platforms_served(store: SqlStore) -> None:
    await store.accept(job("d1", ThreadKey("discord", "G", "C", "")))
    assert await store.claim_due("p1", LEASE, platforms={"slack"}, limit=5) == []
    assert len(await store.claim_due("p1", LEASE, platforms={"discord"}, limit=5)) == 1


async def test_old_finished_jobs_are_pruned(store: SqlStore) -> None:
    await store.accept(job("done"))
    await store.claim("done", "p1", LEASE)
    await store.finish("done", "p1", "failed", "budget exhausted")
    await store.accept(job("open", OTHER))
    assert await store.prune_inbox(utcnow() + timedelta(seconds=1)) == 1
    assert await store.inbox_counts() == {"pending": 1}


async def test_installations_round_trip(store: SqlStore) -> None:
    await store.save_installation("slack", "", "T1", "U1", {"bot_token": "xoxb-1"})
    await store.save_installation("slack", "", "T1", "U2", {"bot_token": "xoxb-2"})
    assert await store.find_installation("slack", "", "T1") == {"bot_token": "xoxb-2"}
    assert await store.find_installation("slack", "", "T1", "U1") == {"bot_token": "xoxb-1"}
    await store.save_installation("slack", "", "T1", "U1", {"bot_token": "xoxb-3"})
    assert await store.find_installation("slack", "", "T1") == {"bot_token": "xoxb-3"}
    assert await store.find_installation("slack", "E1", "T1") is None
    assert await store.delete_installations("slack", "", "T1", "U1") == 1
    assert await store.delete_installations("slack", "", "T1") == 1
    assert await store.find_installation("slack", "", "T1") is None


async def test_an_oauth_state_is_consumed_once_and_expires(store: SqlStore) -> None:
    await store.save_oauth_state("s1", utcnow() + timedelta(minutes=10))
    await store.save_oauth_state("old", utcnow() - timedelta(seconds=1))
    assert await store.consume_oauth_state("s1")
    assert not await store.consume_oauth_state("s1")
    assert not await store.consume_oauth_state("old")
    assert not await store.consume_oauth_state("never")
