"""Usage limits, so one person (or one workspace) cannot spend the organisation's Gloo budget.

Counted from the inbox itself — every accepted question is a row with its sender and time —
so the limits hold across processes and restarts without another table. A question over a
limit is not sent to Gloo; its asker gets a plain sentence saying which limit it hit.

A person's limits count their questions everywhere on the platform: in every Slack workspace
or Discord server they share with the bot and in their DMs, so joining more servers does not
multiply anyone's allowance. Direct messages outside any server (Discord's ``"@dm"``) share one
workspace limit: they belong to no organisation, and without a ceiling of their own they would
be the one place where the deployment's daily Gloo budget had no bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from core import messages
from core.notices import RefusalNotes
from core.ports import Inbox, utcnow
from core.settings import Settings
from core.types import PERSONAL_PREFIX, Job

__all__ = ["QuotaLimits", "Quotas"]

log = structlog.get_logger(__name__)


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
    def __init__(
        self, inbox: Inbox, limits: QuotaLimits, notes: RefusalNotes | None = None
    ) -> None:
        self._inbox = inbox
        self._limits = limits
        #: Over-quota notes: one per person per window (:mod:`core.notices`).
        self.notes = notes or RefusalNotes()

    async def check(self, job: Job) -> str | None:
        """``None`` when ``job`` is within every limit, else the sentence for its asker.

        The job itself is in the inbox already, so it counts towards the limits it is
        checked against.
        """
        thread = job.question.thread
        limits = self._limits
        user = job.question.user_id
        personal = thread.workspace.startswith(PERSONAL_PREFIX)
        if not (limits.user_per_minute or limits.user_per_day or limits.workspace_per_day):
            return None
        counts = await self._inbox.quota_counts(
            thread.platform, thread.workspace, user, job.accepted_at or utcnow()
        )
        checks = (
            ("user", bool(user), limits.user_per_minute, counts.user_minute, "minute"),
            ("user", bool(user), limits.user_per_day, counts.user_day, "day"),
            # All DMs outside a server count together, as one workspace.
            (
                "dm" if personal else "workspace",
                True,
                limits.workspace_per_day,
                counts.workspace_day,
                "day",
            ),
        )
        for scope, applies, limit, count, period in checks:
            if applies and 0 < limit < count:
                log.info("quota.exceeded", scope=scope, limit=limit, period=period, count=count)
                return messages.quota_exceeded(scope, limit, period)
        return None
