"""Bursts: one person's quick messages in one conversation become one question."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.bursts import Burst, BurstWindows, burst_scope
from core.ports import utcnow
from core.store.sql import SqlStore
from core.types import Job, Question, ThreadKey
from tests.clock import FakeTimers
from tests.core.test_delivery import RecordingResponder
from tests.harness import core_on_simulator, wait_until

THREAD = ThreadKey("test", "W1", "D1", "")
SCOPE = burst_scope("test", "W1", "D1", "U1")
DM = Burst(SCOPE, direct=True)
BURSTS: dict[str, Any] = {"burst_window_dm_seconds": 1.5, "inbox_retry_base": 0.0}


def message(key: str, text: str, *, user: str = "U1", thread: ThreadKey = THREAD) -> Job:
    return Job(key=key, question=Question(thread, text, user_id=user, message_ref=key))


# --- the windows --------------------------------------------------------------------------


def test_a_window_closes_once_the_person_has_paused_for_it() -> None:
    timers = FakeTimers()
    windows = BurstWindows(timers)
    closed: list[str] = []
    windows.open("s", "k1", 1.5, lambda: closed.append("k1"))
    timers.advance(1.0)
    assert windows.extend("s", 1.5) == 1  # a part: the window starts again
    timers.advance(1.0)
    assert closed == []
    assert windows.key_of("s") == "k1"
    timers.advance(0.5)
    assert closed == ["k1"]
    assert windows.key_of("s") is None
    assert len(windows) == 0


def test_a_dropped_window_never_closes() -> None:
    timers = FakeTimers()
    windows = BurstWindows(timers)
    closed: list[str] = []
    windows.open("a", "k1", 1.0, lambda: closed.append("k1"))
    windows.open("b", "k2", 1.0, lambda: closed.append("k2"))
    windows.drop_key("k1")
    windows.cancel_all()
    timers.advance(5.0)
    assert closed == []
    assert timers.pending == []


# --- the store ----------------------------------------------------------------------------


async def test_parts_join_the_first_message_in_order_when_the_window_closes(
    store: SqlStore,
) -> None:
    until = utcnow() + timedelta(seconds=60)
    assert await store.accept(message("k1", "hi"), gathering_until=until)
    assert await store.add_burst_part("k1", message("k2", "how do I pray"), until) is True
    assert await store.add_burst_part("k1", message("k3", "in the morning?"), until) is True
    assert await store.add_burst_part("k1", message("k2", "how do I pray"), until) is None
    assert await store.add_burst_part("k1", message("k1", "hi"), until) is None
    assert not await store.accept(message("k2", "how do I pray"))  # redelivered elsewhere
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.status == "gathering"
    assert await store.claim("k1", "me", timedelta(seconds=30)) is None  # not while gathering
    assert await store.open_burst("k1") is True
    assert await store.open_burst("k1") is False
    job = await store.claim("k1", "me", timedelta(seconds=30))
    assert job is not None
    assert job.question.text == "hi\nhow do I pray\nin the morning?"
    assert job.question.message_ref == "k1"
    # The window closed: a later message is not a part of it.
    assert await store.add_burst_part("k1", message("k4", "thanks"), until) is False


async def test_a_gathering_burst_holds_back_later_questions_of_its_thread(
    store: SqlStore,
) -> None:
    until = utcnow() + timedelta(seconds=60)
    assert await store.accept(message("k1", "hi"), gathering_until=until)
    assert await store.accept(message("k2", "another person", user="U2"))
    assert await store.claim("k2", "me", timedelta(seconds=30)) is None
    assert await store.open_burst("k1")
    assert await store.next_in_thread(THREAD) == "k1"


async def test_only_bursts_whose_window_passed_are_opened_by_a_redrive(store: SqlStore) -> None:
    passed = utcnow() - timedelta(seconds=1)
    assert await store.accept(message("old", "a"), gathering_until=passed)
    assert await store.add_burst_part("old", message("old2", "b"), passed)
    assert await store.accept(
        message("new", "c", thread=ThreadKey("test", "W1", "D2", "")),
        gathering_until=utcnow() + timedelta(seconds=60),
    )
    assert await store.open_due_bursts({"other"}) == []
    assert await store.open_due_bursts({"test"}) == ["old"]
    counts = await store.inbox_counts()
    assert counts == {"pending": 1, "gathering": 1}
    entry = await store.inbox_entry("old")
    assert entry is not None
    assert entry.job.question.text == "a\nb"


async def test_pruning_a_burst_prunes_its_parts(store: SqlStore) -> None:
    until = utcnow() + timedelta(seconds=60)
    assert await store.accept(message("k1", "hi"), gathering_until=until)
    assert await store.add_burst_part("k1", message("k2", "there"), until)
    assert await store.open_burst("k1")
    job = await store.claim("k1", "me", timedelta(seconds=30))
    assert job is not None
    assert await store.finish("k1", "me", "answered")
    assert await store.prune_inbox(utcnow() + timedelta(seconds=1)) == 1
    # The part's key is free again only once its burst is gone.
    assert await store.accept(message("k2", "there"))


# --- the dispatcher -----------------------------------------------------------------------


async def test_a_burst_is_one_question_answered_once_with_the_sign_of_work_at_once(
    store: SqlStore,
) -> None:
    async with core_on_simulator(store, **BURSTS) as (c, sim):
        timers = FakeTimers()
        c.dispatcher.bursts.timers = timers
        responder = RecordingResponder()
        c.dispatcher.register("test", responder)
        assert await c.dispatcher.submit(message("k1", "hi"), burst=DM)
        await wait_until(lambda: responder.signalled == ["k1"])  # at once, on the first
        timers.advance(1.0)
        assert await c.dispatcher.submit(message("k2", "how do I pray"), burst=DM)
        assert not await c.dispatcher.submit(message("k2", "how do I pray"), burst=DM)
        timers.advance(1.0)
        assert await c.dispatcher.submit(message("k3", "in the morning?"), burst=DM)
        assert responder.delivered == []
        timers.advance(1.5)
        await c.dispatcher.drain()
        # After the answer started, a message is the next question.
        assert await c.dispatcher.submit(message("k4", "thanks"), burst=DM)
        timers.advance(1.5)
        await c.dispatcher.drain()
    assert [d.job.key for d in responder.delivered] == ["k1", "k4"]
    assert responder.delivered[0].job.question.text == "hi\nhow do I pray\nin the morning?"
    assert responder.signalled == ["k1", "k4"]  # once per question
    assert [r.query for r in sim.message_records] == [
        "hi\nhow do I pray\nin the morning?",
        "thanks",
    ]


async def test_other_people_and_conversations_have_their_own_bursts(store: SqlStore) -> None:
    async with core_on_simulator(store, **BURSTS) as (c, _):
        timers = FakeTimers()
        c.dispatcher.bursts.timers = timers
        responder = RecordingResponder()
        c.dispatcher.register("test", responder)
        other_dm = ThreadKey("test", "W1", "D9", "")
        await c.dispatcher.submit(message("a1", "mine"), burst=DM)
        await c.dispatcher.submit(
            message("b1", "theirs", user="U2"),
            burst=Burst(burst_scope("test", "W1", "D1", "U2"), True),
        )
        await c.dispatcher.submit(
            message("c1", "elsewhere", thread=other_dm),
            burst=Burst(burst_scope("test", "W1", "D9", "U1"), True),
        )
        timers.advance(1.5)
        await c.dispatcher.drain()
    assert sorted(d.job.key for d in responder.delivered) == ["a1", "b1", "c1"]


async def test_without_a_window_a_message_is_answered_at_once(store: SqlStore) -> None:
    channel = Burst(burst_scope("test", "W1", "C1", "U1"), direct=False)
    async with core_on_simulator(store, **BURSTS) as (c, _):
        responder = RecordingResponder()
        c.dispatcher.register("test", responder)
        assert c.dispatcher.policy.burst_window(channel) == 0.0  # off in channels by default
        await c.dispatcher.submit(message("k1", "one"), burst=channel)
        await c.dispatcher.submit(message("k2", "two"), burst=channel)
        await c.dispatcher.drain()
    assert [d.job.question.text for d in responder.delivered] == ["one", "two"]


async def test_a_window_left_open_at_shutdown_is_opened_by_the_next_redrive(
    store: SqlStore,
) -> None:
    async with core_on_simulator(store, **BURSTS) as (c, _):
        c.dispatcher.bursts.timers = FakeTimers()
        c.dispatcher.register("test", RecordingResponder())
        await c.dispatcher.submit(message("k1", "hi"), burst=DM)
        await c.dispatcher.submit(message("k2", "there"), burst=DM)
        await c.dispatcher.close()
    assert (await store.inbox_counts()) == {"gathering": 1}
    async with core_on_simulator(store, **BURSTS) as (c, _):
        responder = RecordingResponder()
        c.dispatcher.register("test", responder)
        assert await c.dispatcher.redrive() == 0  # its window has not passed yet
        async with store.engine.begin() as conn:  # time passes
            await conn.exec_driver_sql(
                "UPDATE inbox SET next_attempt_at = accepted_at WHERE status = 'gathering'"
            )
        assert await c.dispatcher.redrive() == 1
        await c.dispatcher.drain()
    assert [d.job.question.text for d in responder.delivered] == ["hi\nthere"]
