"""Learned facts in SQL (SQLite and PostgreSQL): one row a name, the newest wins."""

from __future__ import annotations

from datetime import UTC, datetime

from core.store.sql import SqlStore


async def test_nothing_recorded_reads_as_none(store: SqlStore) -> None:
    assert await store.read_fact("gloo.message.stream_chat_id x") is None


async def test_a_recorded_fact_reads_back_with_when_it_was_seen(store: SqlStore) -> None:
    seen = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
    await store.record_fact("a", "missing", seen)
    fact = await store.read_fact("a")
    assert fact is not None
    assert (fact.name, fact.value, fact.seen_at) == ("a", "missing", seen)


async def test_the_newest_observation_replaces_the_old(store: SqlStore) -> None:
    await store.record_fact("a", "missing", datetime(2026, 12, 1, tzinfo=UTC))
    await store.record_fact("b", "carried")
    await store.record_fact("a", "carried")
    fact = await store.read_fact("a")
    assert fact is not None
    assert fact.value == "carried"
    assert fact.seen_at > datetime(2026, 12, 1, tzinfo=UTC)
    assert fact.seen_at.tzinfo is not None
    other = await store.read_fact("b")
    assert other is not None
    assert other.value == "carried"
