"""Multi-workspace installs: bolt's OAuth flow over the project's database.

slack_sdk's ``AsyncInstallationStore`` and ``AsyncOAuthStateStore`` are implemented on the
core store's installation methods (:class:`core.ports.InstallationStore`), which keep each
installation as a JSON document keyed by platform, enterprise, team and user. An org-wide
(Enterprise Grid) install is kept under team ``""``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final

from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from core.ports import InstallationStore, utcnow
from core.settings import Settings
from core.web import Handler, ProxyNetwork, RateLimiter, rate_limited

PLATFORM: Final = "slack"
INSTALL_PATH: Final = "/slack/install"
REDIRECT_PATH: Final = "/slack/oauth_redirect"
STATE_TTL: Final = timedelta(minutes=10)
#: ``/slack/install`` writes an OAuth state row per visit, for anyone: at most this many
#: visits per client address, and in all, per minute (then 429 with Retry-After).
INSTALL_LIMIT_PER_CLIENT: Final = 5
INSTALL_LIMIT_TOTAL: Final = 120
INSTALL_LIMIT_WINDOW_S: Final = 60.0
#: The bot scopes the app asks for (the same as config/slack-manifest.yaml).
BOT_SCOPES: Final = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "chat:write",
    "commands",
    "groups:history",
    "im:history",
    "mpim:history",
    "reactions:write",
    "users:read",
)

_log = logging.getLogger(__name__)


def installation_to_data(installation: Installation) -> dict[str, Any]:
    """A JSON-serialisable document for the store (datetimes as ISO strings)."""
    data: dict[str, Any] = {}
    for key, value in installation.to_dict_for_copying().items():
        data[key] = value.isoformat() if isinstance(value, datetime) else value
    return data


def installation_from_data(data: dict[str, Any]) -> Installation:
    return Installation(**data)


def _team_key(team_id: str | None, is_enterprise_install: bool | None) -> str:
    return "" if is_enterprise_install else (team_id or "")


class SqlInstallationStore(AsyncInstallationStore):
    """slack_sdk's installation store on the project database."""

    def __init__(self, store: InstallationStore) -> None:
        self._store = store

    @property
    def logger(self) -> logging.Logger:
        return _log

    async def async_save(self, installation: Installation) -> None:
        await self._store.save_installation(
            PLATFORM,
            installation.enterprise_id or "",
            _team_key(installation.team_id, installation.is_enterprise_install),
            installation.user_id or "",
            installation_to_data(installation),
        )

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        data = await self._store.find_installation(
            PLATFORM, enterprise_id or "", _team_key(team_id, is_enterprise_install)
        )
        if data is None or not data.get("bot_token"):
            return None
        bot: Bot = installation_from_data(data).to_bot()
        return bot

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        data = await self._store.find_installation(
            PLATFORM, enterprise_id or "", _team_key(team_id, is_enterprise_install), user_id
        )
        return installation_from_data(data) if data is not None else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._store.delete_installations(PLATFORM, enterprise_id or "", team_id or "")

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await self._store.delete_installations(
            PLATFORM, enterprise_id or "", team_id or "", user_id
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._store.delete_installations(PLATFORM, enterprise_id or "", team_id or "")


class SqlOAuthStateStore(AsyncOAuthStateStore):
    """One-time OAuth ``state`` values in the project database (valid for ten minutes)."""

    def __init__(self, store: InstallationStore, ttl: timedelta = STATE_TTL) -> None:
        self._store = store
        self._ttl = ttl

    @property
    def logger(self) -> logging.Logger:
        return _log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        await self._store.save_oauth_state(state, utcnow() + self._ttl)
        return state

    async def async_consume(self, state: str) -> bool:
        return await self._store.consume_oauth_state(state)


def build_oauth_flow(settings: Settings, store: InstallationStore) -> AsyncOAuthFlow:
    """Bolt's OAuth flow (``/slack/install`` → Slack → ``/slack/oauth_redirect``)."""
    secret = settings.slack_client_secret
    assert settings.slack_client_id is not None
    assert secret is not None
    return AsyncOAuthFlow(
        settings=AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=secret.get_secret_value(),
            scopes=list(BOT_SCOPES),
            user_scopes=[],
            installation_store=SqlInstallationStore(store),
            state_store=SqlOAuthStateStore(store),
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
        )
    )


def install_rate_limit(
    handler: Handler,
    limiter: RateLimiter | None = None,
    *,
    trusted_proxies: Iterable[ProxyNetwork] = (),
) -> Handler:
    """The ``/slack/install`` handler behind its rate limit (each visit stores a state row).

    Clients are told apart by their address: ``X-Forwarded-For`` counts only from
    ``trusted_proxies`` (``TRUSTED_PROXIES``), else the TCP peer.
    """
    limiter = limiter or RateLimiter(
        INSTALL_LIMIT_PER_CLIENT, INSTALL_LIMIT_TOTAL, INSTALL_LIMIT_WINDOW_S
    )
    return rate_limited(handler, limiter, what="install attempts", trusted_proxies=trusted_proxies)
