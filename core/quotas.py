"""Usage limits, so one person (or one workspace) cannot spend the organisation's Gloo budget.

Counted from the inbox itself — every accepted question is a row with its sender and time —
so the limits hold across processes and restarts without another table. A question over a
limit is not sent to Gloo; its asker gets a plain sentence saying which limit it hit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import structlog

from core import messages
from core.ports import Inbox, utcnow
from core.settings import Settings
from core.types import PERSONAL_PREFIX, Job

__all__ = ["QuotaLimits", "Quotas"]

log = structlog.get_logger(__name__)

_MINUTE: Final = timedelta(minutes=1)
_DAY: Final = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """Questions allowed per window; 0 means unlimited."""

    user_per_minute: int = 0
    user_per_day: int = 0
    workspace_per_day: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> QuotaLimits:
        return cls(
            user_per_minute=settings.quota_user_per_minute,
            user_per_day=settings.quota_user_per_day,
            workspace_per_day=settings.quota_workspace_per_day,
        )


class Quotas:
    def __init__(self, inbox: Inbox, limits: QuotaLimits) -> None:
        self._inbox = inbox
        self._limits = limits

    async def check(self, job: Job) -> str | None:
        """``None`` when ``job`` is within every limit, else the sentence for its asker.

        The job itself is in the inbox already, so it counts towards the limits it is
        checked against.
        """
        thread = job.question.thread
        until = job.accepted_at or utcnow()
        checks = (
            ("user", job.question.user_id or None, self._limits.user_per_minute, _MINUTE, "minute"),
            ("user", job.question.user_id or None, self._limits.user_per_day, _DAY, "day"),
            ("workspace", None, self._limits.workspace_per_day, _DAY, "day"),
        )
        for scope, user_id, limit, window, period in checks:
            if limit <= 0 or (scope == "user" and user_id is None):
                continue
            if scope == "workspace" and thread.workspace.startswith(PERSONAL_PREFIX):
                continue  # direct messages belong to no organisation: only per-user limits
            count = await self._inbox.count_accepted(
                thread.platform, thread.workspace, user_id, until - window, until
            )
            if count > limit:
                log.info("quota.exceeded", scope=scope, limit=limit, period=period, count=count)
                return messages.quota_exceeded(scope, limit, period)
        return None
