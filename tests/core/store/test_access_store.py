"""SqlStore against the AccessStore contract (access lists, audit trail), SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.ports import AccessStore
from core.store.sql import SqlStore
from core.types import AccessRule, AuditEntry


def test_sql_store_satisfies_the_port(store: SqlStore) -> None:
    port: AccessStore = store
    assert port is store


async def test_a_subject_is_on_one_list_at_most(store: SqlStore) -> None:
    await store.save_access_rule(AccessRule("slack", "T1", "user", "U1", "block", added_by="A"))
    await store.save_access_rule(AccessRule("slack", "T1", "user", "U1", "allow", added_by="B"))
    await store.save_access_rule(AccessRule("slack", "T1", "channel", "C1", "allow"))
    await store.save_access_rule(AccessRule("slack", "T2", "user", "U1", "block"))
    await store.save_access_rule(AccessRule("discord", "T1", "role", "R1", "block"))
    rules = await store.access_rules("slack", "T1")
    # Oldest first: moving U1 to the allow list made it newer, but still older than C1.
    assert [(r.kind, r.subject, r.effect, r.added_by) for r in rules] == [
        ("user", "U1", "allow", "B"),
        ("channel", "C1", "allow", ""),
    ]
    assert all(r.added_at is not None and r.added_at.tzinfo is not None for r in rules)
    assert [r.subject for r in await store.access_rules("slack", "T2")] == ["U1"]
    assert [r.kind for r in await store.access_rules("discord", "T1")] == ["role"]


async def test_deleting_a_rule_says_whether_there_was_one(store: SqlStore) -> None:
    await store.save_access_rule(AccessRule("slack", "T1", "user", "U1", "block"))
    assert await store.delete_access_rule("slack", "T1", "user", "U1") is True
    assert await store.delete_access_rule("slack", "T1", "user", "U1") is False
    assert await store.access_rules("slack", "T1") == []


async def test_audit_entries_newest_first_by_channel(store: SqlStore) -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for n, channel in enumerate(["C1", "C2", "C1", ""]):
        await store.add_audit_entry(
            AuditEntry(
                "slack",
                "T1",
                channel,
                f"U{n}",
                "settings",
                f"change {n}",
                at=start + timedelta(minutes=n),
            )
        )
    await store.add_audit_entry(AuditEntry("slack", "T2", "C1", "U9", "settings", "elsewhere"))
    found = await store.audit_entries("slack", "T1", ["C1"], 10)
    assert [e.change for e in found] == ["change 2", "change 0"]
    assert found[0].at == start + timedelta(minutes=2)
    both = await store.audit_entries("slack", "T1", ["C1", ""], 2)
    assert [e.change for e in both] == ["change 3", "change 2"]
