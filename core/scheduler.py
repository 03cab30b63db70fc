"""Background jobs on APScheduler 3 (``AsyncIOScheduler``), in the process's event loop.

Every serving process runs the jobs that concern its own work: re-driving due and abandoned
questions of the platforms it serves (claims make this safe from several processes at
once), and refreshing its own Gloo token ahead of expiry (tokens live in its memory). The
once-per-deployment job — retention pruning — runs only in the leader
(:class:`core.leader.Leadership`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.bootstrap import Container
from core.leader import Leadership
from core.ports import utcnow

__all__ = ["HEARTBEAT_LOGGER", "Jobs", "Scheduler", "build_scheduler", "quiet_heartbeat"]

log = structlog.get_logger(__name__)

#: Refresh a token this long before it expires (the request path refreshes at 60 s).
TOKEN_REFRESH_AHEAD_S: Final = 120.0
TOKEN_CHECK_INTERVAL_S: Final = 30.0
PRUNE_INTERVAL_S: Final = 3600.0
INBOX_GAUGE_INTERVAL_S: Final = 15.0
#: Where APScheduler's executors log every run: "Running job …" and "… executed
#: successfully" at INFO (apscheduler/executors/base.py, run_job / run_coroutine_job), its
#: missed runs at WARNING and a job's exception at ERROR.
HEARTBEAT_LOGGER: Final = "apscheduler.executors"


def quiet_heartbeat() -> None:
    """At INFO an operator sees our events, not two lines per job run every 2 s.

    APScheduler's executors keep their warnings and errors; at DEBUG (``LOG_LEVEL=DEBUG``)
    the heartbeat shows again.
    """
    debugging = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    logging.getLogger(HEARTBEAT_LOGGER).setLevel(logging.NOTSET if debugging else logging.WARNING)


class Jobs:
    """The job functions, separate from the scheduler so tests can run them directly."""

    def __init__(self, container: Container, leadership: Leadership | None) -> None:
        self._container = container
        self._leadership = leadership
        self._running: set[asyncio.Task[Any]] = set()

    def run(self, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        """``job`` as APScheduler runs it: in a task of its own that a shutdown cannot cancel."""

        async def shielded() -> None:
            task = asyncio.ensure_future(job())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                # APScheduler's shutdown cancels the job it runs (executors/asyncio.py,
                # shutdown) and would log the cancellation as the job's exception, with a
                # traceback: the work goes on in its task, and stop() waits for it.
                return

        shielded.__name__ = getattr(job, "__name__", "job")
        return shielded

    async def wait_idle(self) -> None:
        """Wait for the jobs that are running to finish."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def redrive(self) -> None:
        try:
            await self._container.dispatcher.redrive()
        except Exception:
            log.warning("scheduler.redrive_failed", exc_info=True)

    async def refresh_token(self) -> None:
        expires_at = self._container.auth.expires_at
        if expires_at is None or expires_at - time.monotonic() > TOKEN_REFRESH_AHEAD_S:
            return
        try:
            await self._container.auth.refresh()
            log.info("scheduler.token_refreshed")
        except Exception:
            log.warning("scheduler.token_refresh_failed", exc_info=True)

    async def measure_inbox(self) -> None:
        try:
            self._container.metrics.set_inbox_counts(await self._container.store.inbox_counts())
        except Exception:
            log.warning("scheduler.inbox_count_failed", exc_info=True)

    async def prune(self) -> dict[str, int]:
        """Delete finished questions and answers older than the retention, and expired
        OAuth states (install pages opened and never finished), in the leader only."""
        if self._leadership is not None and not await self._leadership.try_acquire():
            return {}
        store = self._container.store
        cutoff = utcnow() - timedelta(days=self._container.settings.retention_days)
        try:
            pruned = {
                "inbox": await store.prune_inbox(cutoff),
                "answers": await store.prune_answers(cutoff),
                "oauth_states": await store.prune_oauth_states(),
            }
        except Exception:
            log.warning("scheduler.prune_failed", exc_info=True)
            return {}
        log.info("scheduler.pruned", before=cutoff.isoformat(), **pruned)
        return pruned


class Scheduler:
    """The process's APScheduler with its jobs; ``stop()`` lets running jobs finish.

    APScheduler cancels running coroutine jobs when it shuts down; a job cancelled inside a
    database transaction can leave the connection unable to close. So each job's work runs
    in a task of its own, shielded from that cancellation, and :meth:`stop` waits for it
    before the store is closed.
    """

    def __init__(self, aps: AsyncIOScheduler, jobs: Jobs) -> None:
        self.aps = aps
        self.jobs = jobs

    def job_ids(self) -> set[str]:
        return {job.id for job in self.aps.get_jobs()}

    def start(self) -> None:
        self.aps.start()

    async def stop(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
        await self.jobs.wait_idle()


def build_scheduler(
    container: Container, leadership: Leadership | None, *, serving: bool = True
) -> Scheduler:
    """A scheduler with this process's jobs (call ``start()`` inside the event loop).

    A serving process re-drives its questions, keeps its Gloo token fresh and measures the
    inbox for its ``/metrics``; every process may prune, and only the leader does.
    """
    quiet_heartbeat()
    jobs = Jobs(container, leadership)
    scheduler = AsyncIOScheduler(timezone=UTC)
    now = datetime.now(UTC)
    common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    if serving:
        _add_serving_jobs(scheduler, jobs, container, now, common)
    scheduler.add_job(
        jobs.run(jobs.prune),
        "interval",
        seconds=PRUNE_INTERVAL_S,
        id="prune",
        next_run_time=now,
        **common,
    )
    return Scheduler(scheduler, jobs)


def _add_serving_jobs(
    scheduler: AsyncIOScheduler,
    jobs: Jobs,
    container: Container,
    now: datetime,
    common: dict[str, Any],
) -> None:
    scheduler.add_job(
        jobs.run(jobs.redrive),
        "interval",
        seconds=container.settings.inbox_poll_interval,
        id="redrive",
        next_run_time=now,
        **common,
    )
    scheduler.add_job(
        jobs.run(jobs.refresh_token),
        "interval",
        seconds=TOKEN_CHECK_INTERVAL_S,
        id="refresh_token",
        **common,
    )
    scheduler.add_job(
        jobs.run(jobs.measure_inbox),
        "interval",
        seconds=INBOX_GAUGE_INTERVAL_S,
        id="measure_inbox",
        next_run_time=now,
        **common,
    )
