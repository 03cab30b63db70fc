"""Forgetting a workspace's tokens when Slack says they are gone.

Slack sends ``app_uninstalled`` when the app is removed from a workspace and
``tokens_revoked`` when some of its tokens are revoked (docs.slack.dev/reference/events/
app_uninstalled and .../tokens_revoked). Both are Events API events that need no scope and
no auth.test (bolt skips authorisation for them), and their order is not guaranteed. The
``tokens_revoked`` event lists user ids, not tokens: ``tokens.oauth`` the users whose user
tokens were revoked, ``tokens.bot`` the bot users whose bot tokens were.

Here both delete what the installation store keeps: ``app_uninstalled`` every installation
of the workspace, ``tokens_revoked`` the installations of the listed users and, for a bot
token, the workspace's bot installation. Nothing stays that could be used again. A process
with a single ``SLACK_BOT_TOKEN`` stores nothing, so it only logs that the token is dead.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

__all__ = ["Lifecycle"]

log = structlog.get_logger(__name__)


class Lifecycle:
    """The ``app_uninstalled`` and ``tokens_revoked`` listeners."""

    def __init__(self, installations: AsyncInstallationStore | None) -> None:
        self._installations = installations

    def register(self, app: AsyncApp) -> None:
        app.event("app_uninstalled")(self.on_app_uninstalled)
        app.event("tokens_revoked")(self.on_tokens_revoked)

    async def on_app_uninstalled(self, context: AsyncBoltContext) -> None:
        where = _where(context)
        if self._installations is None:
            log.warning("slack.app_uninstalled", stored=False, note="SLACK_BOT_TOKEN is now dead")
            return
        await self._installations.async_delete_all(**where)
        log.info("slack.app_uninstalled", deleted="all installations", **where)

    async def on_tokens_revoked(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        where = _where(context)
        tokens = event.get("tokens") or {}
        users = [u for u in tokens.get("oauth") or [] if isinstance(u, str) and u]
        bots = [u for u in tokens.get("bot") or [] if isinstance(u, str) and u]
        if self._installations is None:
            log.warning("slack.tokens_revoked", stored=False, bot=bool(bots), users=len(users))
            return
        for user_id in users:
            await self._installations.async_delete_installation(user_id=user_id, **where)
        if bots:
            await self._installations.async_delete_bot(**where)
        log.info("slack.tokens_revoked", users=users, bots=bots, **where)


def _where(context: AsyncBoltContext) -> dict[str, str | None]:
    """The workspace the event is about; an org-wide install is kept under no team."""
    team_id = None if context.is_enterprise_install else context.team_id
    return {"enterprise_id": context.enterprise_id, "team_id": team_id}
