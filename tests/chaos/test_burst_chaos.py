"""Chaos for bursts (core/bursts.py): the process dies inside the windows.

Process A receives bursts of DMs in many conversations and dies before any window closes
(its timers never fire; what it stored stays as it was). The platform then delivers the
messages A never saw, and redelivers some A had stored (an acknowledgement lost in the
crash), to process B on the same database. Once the windows have passed, B's re-drive opens
A's bursts. The promise: every message is in exactly one answered question, in order within
its burst; no question is answered twice; none is lost.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from core.bursts import Burst, burst_scope
from core.delivery import Dispatcher
from core.store.sql import SqlStore
from core.store.tables import InboxRow
from core.types import Job, Question, ThreadKey
from tests.chaos.conftest import report
from tests.clock import FakeTimers
from tests.core.test_delivery import RecordingResponder
from tests.harness import core_on_simulator

WINDOW = 60.0
SETTINGS: dict[str, Any] = {"burst_window_dm_seconds": WINDOW, "inbox_retry_base": 0.0}


def dm(conversation: int, index: int) -> tuple[Job, Burst]:
    thread = ThreadKey("test", "W", f"D{conversation}", "")
    text = f"c{conversation} m{index}"
    key = f"c{conversation}-m{index}"
    job = Job(key=key, question=Question(thread, text, user_id=f"U{conversation}", message_ref=key))
    return job, Burst(burst_scope("test", "W", thread.channel, f"U{conversation}"), direct=True)


async def test_bursts_survive_a_crash_inside_the_window(store: SqlStore, chaos_scale: int) -> None:
    rng = random.Random(22)
    conversations = 12 * chaos_scale
    sizes = {c: rng.randint(1, 4) for c in range(conversations)}
    # How many of each burst's messages reached A before it died (at least the first).
    reached = {c: rng.randint(1, sizes[c]) for c in range(conversations)}
    texts = [dm(c, i)[0].question.text for c in range(conversations) for i in range(sizes[c])]

    async with core_on_simulator(store, **SETTINGS) as (a, _):
        a.dispatcher.bursts.timers = FakeTimers()  # A dies before any window closes
        a.dispatcher.register("test", RecordingResponder())
        for c in range(conversations):
            for i in range(reached[c]):
                assert await send(a.dispatcher, c, i)
        gathering = await store.inbox_counts()
    assert gathering == {"gathering": conversations}

    responder = RecordingResponder()
    redelivered = duplicates = 0
    async with core_on_simulator(store, **SETTINGS) as (b, _):
        timers = FakeTimers()
        b.dispatcher.bursts.timers = timers
        b.dispatcher.register("test", responder)
        for c in range(conversations):
            for i in range(reached[c]):
                if rng.random() < 0.3:  # the platform redelivers a message A had stored
                    redelivered += 1
                    duplicates += not await send(b.dispatcher, c, i)
            for i in range(reached[c], sizes[c]):  # arrived after the crash: B's own burst
                assert await send(b.dispatcher, c, i)
        firsts = [f"c{c}-m0" for c in range(conversations)]
        async with store.engine.begin() as conn:  # A's windows pass
            await conn.execute(
                update(InboxRow)
                .where(col(InboxRow.key).in_(firsts))
                .values(next_attempt_at=col(InboxRow.accepted_at))
            )
        await b.dispatcher.redrive()
        timers.advance(WINDOW)  # B's windows close
        await b.dispatcher.drain(retries=True)
        await b.dispatcher.redrive()  # anything a thread's order held back
        await b.dispatcher.drain(retries=True)
        counts = await store.inbox_counts()

    answered = Counter(d.job.key for d in responder.delivered)
    joined = [line for d in responder.delivered for line in d.job.question.text.split("\n")]
    figures = {
        "conversations": conversations,
        "messages": len(texts),
        "questions": len(answered),
        "redelivered": redelivered,
        "duplicated": sum(n - 1 for n in answered.values()),
        "lost": len(set(texts) - set(joined)),
        "doubled_text": len(joined) - len(set(joined)),
    }
    report("bursts", **figures, inbox=counts)
    assert duplicates == redelivered
    assert figures["duplicated"] == 0
    assert figures["lost"] == 0
    assert figures["doubled_text"] == 0
    assert counts == {"answered": len(answered)}
    # A's part of each burst is one question, in order; what came after is the next one.
    expected = conversations + sum(1 for c in range(conversations) if reached[c] < sizes[c])
    assert len(answered) == expected
    for d in responder.delivered:
        lines = d.job.question.text.split("\n")
        assert lines == sorted(lines, key=lambda line: int(line.split(" m")[1]))


async def send(dispatcher: Dispatcher, conversation: int, index: int) -> bool:
    job, burst = dm(conversation, index)
    return await dispatcher.submit(job, burst=burst)
