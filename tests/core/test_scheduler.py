"""Background jobs: re-drive, token refresh ahead of expiry, leader-only retention pruning."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.leader import Leadership
from core.ports import AnswerRecord, utcnow
from core.scheduler import HEARTBEAT_LOGGER, Jobs, build_scheduler, quiet_heartbeat
from core.simulator import Simulator, SimulatorConfig
from core.store.sql import SqlStore
from core.types import Job, Question, ThreadKey
from tests.core.test_delivery import FAST, RecordingResponder
from tests.harness import core_on_simulator, wait_until

THREAD = ThreadKey("test", "W1", "C1", "t1")


async def test_the_scheduler_redrives_an_abandoned_question(store: SqlStore) -> None:
    await store.accept(Job(key="k1", question=Question(THREAD, "What is grace?")))
    await store.claim("k1", "dead-process", timedelta(seconds=-1))
    async with core_on_simulator(store, inbox_poll_interval=0.05, **FAST) as (c, _):
        responder = RecordingResponder()
        c.dispatcher.register("test", responder)
        scheduler = build_scheduler(c, c.leadership)
        scheduler.start()
        try:
            await wait_until(lambda: bool(responder.delivered))
        finally:
            await scheduler.stop()
        await c.dispatcher.drain()
    assert [d.job.key for d in responder.delivered] == ["k1"]


async def test_serving_processes_redrive_and_the_worker_does_not(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, _):
        ids = build_scheduler(c, None).job_ids()
        worker_ids = build_scheduler(c, None, serving=False).job_ids()
    assert ids == {"redrive", "refresh_token", "measure_inbox", "prune"}
    assert worker_ids == {"prune"}


async def test_the_token_is_refreshed_ahead_of_expiry(store: SqlStore) -> None:
    sim = Simulator(SimulatorConfig(token_ttl=90))  # inside the refresh window at once
    async with core_on_simulator(store, simulator=sim) as (c, _):
        await c.auth.token()
        assert sim.token_requests == 1
        await Jobs(c, None).refresh_token()
        assert sim.token_requests == 2
    sim_long = Simulator(SimulatorConfig(token_ttl=3600))
    async with core_on_simulator(store, simulator=sim_long) as (c, _):
        await c.auth.token()
        await Jobs(c, None).refresh_token()
        assert sim_long.token_requests == 1


async def test_pruning_forgets_old_finished_work_only(store: SqlStore) -> None:
    old = utcnow() - timedelta(days=40)
    await store.save_answer(AnswerRecord("old", THREAD, "chat", "q", "t", created_at=old))
    await store.save_answer(AnswerRecord("new", THREAD, "chat", "q", "t"))
    await store.accept(Job(key="open", question=Question(THREAD, "still waiting")))
    leadership = Leadership(store.engine)
    try:
        async with core_on_simulator(store, retention_days=30) as (c, _):
            pruned = await Jobs(c, leadership).prune()
    finally:
        await leadership.release()
    assert pruned == {"inbox": 0, "answers": 1, "oauth_states": 0}
    assert await store.get_answer("old") is None
    assert await store.get_answer("new") is not None
    assert await store.inbox_counts() == {"pending": 1}


async def test_pruning_deletes_expired_oauth_states(store: SqlStore) -> None:
    # Every anonymous GET /slack/install writes one; abandoned ones must not pile up.
    await store.save_oauth_state("abandoned", utcnow() - timedelta(seconds=1))
    await store.save_oauth_state("in-progress", utcnow() + timedelta(minutes=10))
    leadership = Leadership(store.engine)
    try:
        async with core_on_simulator(store) as (c, _):
            pruned = await Jobs(c, leadership).prune()
    finally:
        await leadership.release()
    assert pruned["oauth_states"] == 1
    assert await store.consume_oauth_state("in-progress")
    assert not await store.consume_oauth_state("abandoned")


async def test_only_one_process_leads(store: SqlStore) -> None:
    first, second = Leadership(store.engine), Leadership(store.engine)
    try:
        assert await first.try_acquire()
        if store.is_postgres:
            assert not await second.try_acquire()
            assert await first.try_acquire()  # still held: stays the leader
            await first.release()
            assert await second.try_acquire()
        else:  # SQLite: one process by construction
            assert await second.try_acquire()
    finally:
        await first.release()
        await second.release()


async def test_a_follower_does_not_prune(postgres_url: str) -> None:
    leader_store = await SqlStore.open(postgres_url)
    try:
        leader = Leadership(leader_store.engine)
        assert await leader.try_acquire()
        async with core_on_simulator(leader_store) as (c, _):
            assert await Jobs(c, Leadership(leader_store.engine)).prune() == {}
        await leader.release()
    finally:
        await leader_store.close()


@pytest.fixture
def levels() -> Iterator[None]:
    """The root's and the executors' log levels are put back after the test."""
    root, executors = logging.getLogger(), logging.getLogger(HEARTBEAT_LOGGER)
    saved = root.level, executors.level
    yield
    root.setLevel(saved[0])
    executors.setLevel(saved[1])


@pytest.mark.usefixtures("levels")
async def test_at_info_the_scheduler_s_heartbeat_is_silent_and_its_errors_are_not(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    # APScheduler 3 logs 'Running job "…" (scheduled at …)' and 'Job "…" executed
    # successfully' at INFO for every run (apscheduler/executors/base.py, run_coroutine_job),
    # and 'Job "…" raised an exception' at ERROR.
    failures = 0

    async def broken() -> None:
        nonlocal failures
        failures += 1
        raise RuntimeError("the job broke")

    logging.getLogger().setLevel(logging.INFO)
    caplog.set_level(logging.INFO)
    async with core_on_simulator(store, inbox_poll_interval=0.05, **FAST) as (c, _):
        scheduler = build_scheduler(c, c.leadership)
        scheduler.aps.add_job(broken, "interval", seconds=0.05, id="broken")
        scheduler.start()
        try:
            await wait_until(lambda: failures >= 2)
        finally:
            await scheduler.stop()
    from_executors = [r for r in caplog.records if r.name.startswith(HEARTBEAT_LOGGER)]
    assert not [r for r in from_executors if r.levelno < logging.WARNING], [
        r.getMessage() for r in from_executors
    ]
    errors = [r.getMessage() for r in from_executors if r.levelno == logging.ERROR]
    assert any("raised an exception" in m for m in errors), errors


@pytest.mark.usefixtures("levels")
def test_at_debug_the_heartbeat_shows() -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    quiet_heartbeat()
    assert logging.getLogger(f"{HEARTBEAT_LOGGER}.default").isEnabledFor(logging.INFO)
    logging.getLogger().setLevel(logging.INFO)
    quiet_heartbeat()
    assert not logging.getLogger(f"{HEARTBEAT_LOGGER}.default").isEnabledFor(logging.INFO)
    assert logging.getLogger(f"{HEARTBEAT_LOGGER}.default").isEnabledFor(logging.WARNING)
