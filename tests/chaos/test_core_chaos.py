"""Chaos at the core: Gloo faults (R2), two processes on one Postgres (R4), a database that
drops every connection mid-run (R5). The promise under test: every accepted question is
answered exactly once, or its asker is told in plain words; none is lost or doubled.

Platform-level chaos (R1 redeliveries, R3 kill -9) drives the Slack adapter: see
``tests/chaos/test_slack_chaos.py``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import psycopg
import pytest
from sqlalchemy import select
from sqlmodel import col

from core.simulator import Simulator, SimulatorConfig
from core.store.sql import SqlStore
from core.store.tables import InboxRow
from core.types import Job, Question, ThreadKey
from tests.chaos.conftest import report
from tests.core.test_delivery import RecordingResponder
from tests.harness import core_on_simulator

# Short Gloo timeouts so hangs become timeouts quickly; instant re-drives (harness).
FAULTY: dict[str, Any] = {
    "gloo_timeout": 0.5,
    "gloo_retry_attempts": 3,
    "inbox_max_attempts": 6,
    "inbox_lease": 5.0,
}


def job(i: int, thread: ThreadKey, text: str | None = None) -> Job:
    return Job(key=f"q{i:05}", question=Question(thread, text or f"Question {i}?", user_id="U"))


def outcome(responder: RecordingResponder, keys: list[str]) -> dict[str, int]:
    answered = Counter(d.job.key for d in responder.delivered)
    told = Counter(job.key for job, _ in responder.failures)
    finished = answered + told
    return {
        "questions": len(keys),
        "answered": len(answered),
        "told_error": len(told),
        "duplicated": sum(n - 1 for n in finished.values() if n > 1),
        "lost": sum(1 for key in keys if key not in finished),
    }


async def test_r2_gloo_faults_lose_and_double_nothing(store: SqlStore, chaos_scale: int) -> None:
    questions = 40 * chaos_scale
    config = SimulatorConfig(
        seed=7,
        error_500=0.06,
        error_502=0.06,
        error_408=0.05,
        error_429=0.05,
        drop_stream=0.04,
        hang=0.04,
        rate_limit_reset=0.05,
        hang_seconds=30,
    )
    sim = Simulator(config)
    threads = [ThreadKey("test", "W", "C", f"t{i}") for i in range(max(4, questions // 4))]
    async with core_on_simulator(store, simulator=sim, **FAULTY) as (c, _):
        responder = RecordingResponder()
        c.dispatcher.register("test", responder)
        jobs = [job(i, threads[i % len(threads)]) for i in range(questions)]
        await asyncio.gather(*(c.dispatcher.submit(j) for j in jobs))
        await c.dispatcher.drain(retries=True)
        counts = await store.inbox_counts()
    figures = outcome(responder, [j.key for j in jobs])
    faults = Counter(r.fault for r in sim.message_records if r.fault)
    report("R2", **figures, faults_injected=sum(faults.values()), inbox=counts)
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["answered"] + figures["told_error"] == questions
    assert set(counts) <= {"answered", "failed"}
    assert sum(faults.values()) > 0
    for failed_job, message in responder.failures:
        assert message.startswith("Sorry, I tried"), (failed_job.key, message)


@pytest.mark.postgres
async def test_r4_two_processes_one_thread_one_chat_in_order(
    postgres_url: str, chaos_scale: int
) -> None:
    """Two serving processes (own pools, own owners) take messages of one thread at once."""
    per_process = 6 * chaos_scale
    thread = ThreadKey("test", "W", "C", "shared")
    sim = Simulator(SimulatorConfig(first_chunk_latency=0.005))
    stores = [await SqlStore.open(postgres_url) for _ in range(2)]
    try:
        async with (
            core_on_simulator(stores[0], simulator=sim) as (a, _),
            core_on_simulator(stores[1], simulator=sim) as (b, _),
        ):
            responders = [RecordingResponder(), RecordingResponder()]
            a.dispatcher.register("test", responders[0])
            b.dispatcher.register("test", responders[1])
            jobs = [job(i, thread, f"Message {i} of the thread") for i in range(2 * per_process)]

            async def arrive(i: int) -> None:
                # Messages arrive at both processes interleaved, a moment apart.
                await asyncio.sleep(i * 0.002)
                dispatcher = (a, b)[i % 2].dispatcher
                await dispatcher.submit(jobs[i])

            await asyncio.gather(*(arrive(i) for i in range(len(jobs))))
            while sum(len(r.delivered) for r in responders) < len(jobs):
                # The follower of each finished answer may sit in the other process.
                await a.dispatcher.redrive()
                await b.dispatcher.redrive()
                await asyncio.sleep(0.01)
            await asyncio.gather(a.dispatcher.drain(), b.dispatcher.drain())
            # In the order the inbox accepted them: under load a message sent later can
            # reach its process first.
            async with stores[0].engine.connect() as conn:
                accepted = (
                    await conn.execute(
                        select(col(InboxRow.text)).order_by(
                            col(InboxRow.accepted_at), col(InboxRow.key)
                        )
                    )
                ).scalars()
                expected = list(accepted)
    finally:
        for s in stores:
            await s.close()
    order = [r.query for r in sim.message_records]
    chats = {r.response_chat_id for r in sim.message_records}
    figures = {
        "questions": len(jobs),
        "chat_ids": len(chats),
        "in_order": order == expected,
        "answered_by_a": len(responders[0].delivered),
        "answered_by_b": len(responders[1].delivered),
    }
    report("R4", **figures)
    assert len(chats) == 1
    assert order == expected
    assert sim.message_records[0].chat_id is None
    assert all(r.chat_id is not None for r in sim.message_records[1:])


@pytest.mark.postgres
async def test_r5_database_connections_dropped_mid_run(postgres_url: str, chaos_scale: int) -> None:
    """Every connection of the database is killed while questions are being answered."""
    questions = 30 * chaos_scale
    store = await SqlStore.open(postgres_url)
    sim = Simulator(SimulatorConfig(first_chunk_latency=0.01))
    threads = [ThreadKey("test", "W", "C", f"t{i}") for i in range(10)]
    jobs = [job(i, threads[i % len(threads)]) for i in range(questions)]
    kills = 0
    try:
        # A short lease: a claim whose owner lost its writes is taken over quickly.
        async with core_on_simulator(store, simulator=sim, **{**FAULTY, "inbox_lease": 1.0}) as (
            c,
            _,
        ):
            responder = RecordingResponder()
            c.dispatcher.register("test", responder)

            async def accept(j: Job) -> None:
                # A platform redelivers what was not acknowledged: so does this test.
                for _ in range(20):
                    try:
                        await c.dispatcher.submit(j)
                        return
                    except Exception:
                        await asyncio.sleep(0.05)
                raise AssertionError(f"{j.key} was never accepted")

            first, rest = jobs[: questions // 2], jobs[questions // 2 :]
            await asyncio.gather(*(accept(j) for j in first))
            kills += _kill_connections(postgres_url)
            await asyncio.gather(*(accept(j) for j in rest))
            kills += _kill_connections(postgres_url)
            # The dispatcher re-drives what the dead connections interrupted.
            for _ in range(300):
                await c.dispatcher.drain(retries=True)
                await c.dispatcher.redrive()
                counts = await store.inbox_counts()
                if set(counts) <= {"answered", "failed"}:
                    break
                await asyncio.sleep(0.05)
    finally:
        await store.close()
    figures = outcome(responder, [j.key for j in jobs])
    report("R5", **figures, connections_killed=kills)
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0


def _kill_connections(url: str) -> int:
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)
