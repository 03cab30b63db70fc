"""Usage limits counted from the inbox: per user per minute/day, per workspace per day."""

from __future__ import annotations

from core.quotas import QuotaLimits, Quotas
from core.store.sql import SqlStore
from core.types import Job, Question, ThreadKey


async def accepted(store: SqlStore, key: str, workspace: str, user: str) -> Job:
    job = Job(key=key, question=Question(ThreadKey("p", workspace, "C", key), "Hi?", user_id=user))
    assert await store.accept(job)
    entry = await store.inbox_entry(key)
    assert entry is not None
    return entry.job


async def test_a_workspace_limit_counts_everyone_in_it(store: SqlStore) -> None:
    quotas = Quotas(store, QuotaLimits(workspace_per_day=2))
    jobs = [await accepted(store, f"k{i}", "W1", f"U{i}") for i in range(3)]
    assert await quotas.check(jobs[0]) is None
    assert await quotas.check(jobs[1]) is None
    refusal = await quotas.check(jobs[2])
    assert refusal is not None
    assert "This workspace has reached the limit of 2 questions per day" in refusal
    assert await quotas.check(await accepted(store, "other", "W2", "U9")) is None


async def test_direct_messages_share_no_workspace_limit(store: SqlStore) -> None:
    quotas = Quotas(store, QuotaLimits(workspace_per_day=1, user_per_day=1))
    first = await accepted(store, "d1", "@dm", "U1")
    second = await accepted(store, "d2", "@dm", "U2")
    assert await quotas.check(first) is None
    assert await quotas.check(second) is None  # another person's DM: only per-user limits
    again = await accepted(store, "d3", "@dm", "U1")
    refusal = await quotas.check(again)
    assert refusal is not None
    assert refusal.startswith("You have reached the limit of 1 question per day")
