"""Background jobs on APScheduler 3 (``AsyncIOScheduler``), in the process's event loop.

Every serving process runs the jobs that concern its own work: re-driving due and abandoned
questions of the platforms it serves (claims make this safe from several processes at
once), and refreshing its own Gloo token ahead of expiry (tokens live in its memory). The
once-per-deployment job — retention pruning — runs only in the leader
(:class:`core.leader.Leadership`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.bootstrap import Container
from core.leader import Leadership
from core.ports import utcnow

__all__ = ["Jobs", "build_scheduler"]

log = structlog.get_logger(__name__)

#: Refresh a token this long before it expires (the request path refreshes at 60 s).
TOKEN_REFRESH_AHEAD_S: Final = 120.0
TOKEN_CHECK_INTERVAL_S: Final = 30.0
PRUNE_INTERVAL_S: Final = 3600.0
INBOX_GAUGE_INTERVAL_S: Final = 15.0


class Jobs:
    """The job functions, separate from the scheduler so tests can run them directly."""

    def __init__(self, container: Container, leadership: Leadership | None) -> None:
        self._container = container
        self._leadership = leadership

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
        """Delete finished questions, answers and OAuth states older than the retention."""
        if self._leadership is not None and not await self._leadership.try_acquire():
            return {}
        store = self._container.store
        cutoff = utcnow() - timedelta(days=self._container.settings.retention_days)
        try:
            pruned = {
                "inbox": await store.prune_inbox(cutoff),
                "answers": await store.prune_answers(cutoff),
            }
        except Exception:
            log.warning("scheduler.prune_failed", exc_info=True)
            return {}
        log.info("scheduler.pruned", before=cutoff.isoformat(), **pruned)
        return pruned


def build_scheduler(
    container: Container, leadership: Leadership | None, *, redrive: bool = True
) -> AsyncIOScheduler:
    """A scheduler with this process's jobs (call ``start()`` inside the event loop)."""
    jobs = Jobs(container, leadership)
    scheduler = AsyncIOScheduler(timezone=UTC)
    now = datetime.now(UTC)
    common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    if redrive:
        scheduler.add_job(
            jobs.redrive,
            "interval",
            seconds=container.settings.inbox_poll_interval,
            id="redrive",
            next_run_time=now,
            **common,
        )
    scheduler.add_job(
        jobs.refresh_token,
        "interval",
        seconds=TOKEN_CHECK_INTERVAL_S,
        id="refresh_token",
        **common,
    )
    scheduler.add_job(
        jobs.measure_inbox,
        "interval",
        seconds=INBOX_GAUGE_INTERVAL_S,
        id="measure_inbox",
        next_run_time=now,
        **common,
    )
    scheduler.add_job(
        jobs.prune, "interval", seconds=PRUNE_INTERVAL_S, id="prune", next_run_time=now, **common
    )
    return scheduler
