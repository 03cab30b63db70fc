"""One refusal note per person per window (core/notices.py), on the fake clock.

Issue 24 ("Also"): a refused or over-quota person got the refusal for every message.
"""

from __future__ import annotations

from core.notices import NOTE_WINDOW_SECONDS, RefusalNotes
from core.store.sql import SqlStore
from core.types import ThreadKey
from tests.clock import FakeClock
from tests.core.test_delivery import dispatcher_for, question_job
from tests.logcapture import CapturedLogs


def test_a_person_is_told_once_per_window_and_again_after_it() -> None:
    clock = FakeClock()
    notes = RefusalNotes(clock=clock)
    assert notes.due("slack", "T1", "U1", "access")
    clock.advance(NOTE_WINDOW_SECONDS - 1)
    assert not notes.due("slack", "T1", "U1", "access")
    assert not notes.due("slack", "T1", "U1", "quota")  # per person, whatever the reason
    assert notes.due("slack", "T1", "U2", "access")  # someone else
    assert notes.due("slack", "T2", "U1", "access")  # the same id in another workspace
    assert notes.due("discord", "T1", "U1", "access")
    clock.advance(1)
    assert notes.due("slack", "T1", "U1", "access")  # the window has passed


def test_suppressed_notes_are_logged() -> None:
    notes = RefusalNotes(clock=FakeClock())
    logs = CapturedLogs()
    try:
        assert notes.due("slack", "T1", "U1", "quota")
        assert not notes.due("slack", "T1", "U1", "quota")
    finally:
        logs.close()
    [line] = [ln for ln in logs.text().splitlines() if "refusal.note_suppressed" in ln]
    assert "user=U1" in line
    assert "reason=quota" in line


def test_memory_is_bounded() -> None:
    notes = RefusalNotes(clock=FakeClock(), max_people=2)
    for user in ("U1", "U2", "U3"):
        assert notes.due("p", "W", user, "access")
    assert notes.due("p", "W", "U1", "access")  # forgotten first, so told again
    assert not notes.due("p", "W", "U3", "access")


async def test_an_over_quota_person_is_told_once_then_ignored_quietly(store: SqlStore) -> None:
    async with dispatcher_for(store, quota_user_per_minute=1) as (dispatcher, responder, sim):
        for i in range(4):
            await dispatcher.submit(
                question_job(f"k{i}", thread=ThreadKey("test", "W1", "C", str(i)))
            )
        await dispatcher.drain(retries=True)
    [answered] = responder.delivered
    [(job, message)] = responder.failures  # before: all three over the quota got it
    assert "limit of 1 question per minute" in message
    refused = {f"k{i}" for i in range(4)} - {answered.job.key}
    assert job.key in refused
    for key in refused:
        entry = await store.inbox_entry(key)
        assert entry is not None
        assert entry.status == "failed"
    assert len(sim.message_records) == 1
