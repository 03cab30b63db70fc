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


async def test_all_direct_messages_share_one_workspace_limit(store: SqlStore) -> None:
    # docs/configuration.md (Quotas): "All Discord DMs count together as one workspace."
    quotas = Quotas(store, QuotaLimits(workspace_per_day=2))
    first = await accepted(store, "d1", "@dm", "U1")
    second = await accepted(store, "d2", "@dm", "U2")
    assert await quotas.check(first) is None
    assert await quotas.check(second) is None
    third = await accepted(store, "d3", "@dm", "U3")  # a third person, in their own DM
    refusal = await quotas.check(third)
    assert refusal is not None
    assert refusal.startswith("Direct messages to me have reached the limit of 2 questions")
    # Servers keep their own limit.
    assert await quotas.check(await accepted(store, "g1", "G1", "U3")) is None


async def test_a_persons_limit_counts_across_servers_and_direct_messages(
    store: SqlStore,
) -> None:
    quotas = Quotas(store, QuotaLimits(user_per_day=2))
    assert await quotas.check(await accepted(store, "a", "G1", "U1")) is None
    assert await quotas.check(await accepted(store, "b", "G2", "U1")) is None
    refusal = await quotas.check(await accepted(store, "c", "@dm", "U1"))
    assert refusal is not None
    assert refusal.startswith("You have reached the limit of 2 questions per day")
    # Someone else in the same places is not affected.
    assert await quotas.check(await accepted(store, "d", "G1", "U2")) is None


async def test_a_persons_per_minute_limit_counts_across_servers(store: SqlStore) -> None:
    quotas = Quotas(store, QuotaLimits(user_per_minute=1))
    assert await quotas.check(await accepted(store, "a", "G1", "U1")) is None
    refusal = await quotas.check(await accepted(store, "b", "G2", "U1"))
    assert refusal is not None
    assert "1 question per minute" in refusal


async def test_the_same_user_id_on_another_platform_is_another_person(store: SqlStore) -> None:
    quotas = Quotas(store, QuotaLimits(user_per_day=1))
    job = Job(key="x", question=Question(ThreadKey("other", "G1", "C", "x"), "Hi?", user_id="U1"))
    assert await store.accept(job)
    assert await quotas.check(await accepted(store, "a", "G1", "U1")) is None
