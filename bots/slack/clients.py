"""Slack Web API clients: one per bot token, all pointed at ``SLACK_API_URL`` when it is set.

Single-token mode uses ``SLACK_BOT_TOKEN`` for every workspace; OAuth mode looks the bot
token of the job's workspace up in the installation store. Rate-limited calls (HTTP 429)
are retried after ``Retry-After`` by slack_sdk's rate-limit retry handler.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from core.metrics import Metrics
from core.settings import Settings

Sleep = Callable[[float], Awaitable[Any]]


class RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, waiting ``Retry-After`` (+ jitter) through an injectable sleep."""

    def __init__(
        self,
        max_retry_count: int = 3,
        *,
        sleep: Sleep = asyncio.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self._metrics = metrics

    async def prepare_for_next_attempt_async(
        self, *, state: Any, request: Any, response: Any = None, error: Any = None
    ) -> None:
        if response is None:
            raise error
        if self._metrics is not None:
            method = str(getattr(request, "url", "")).rstrip("/").rsplit("/", 1)[-1]
            self._metrics.platform_call("slack", method or "unknown", "rate_limited")
        state.next_attempt_requested = True
        await self._sleep(retry_after_header(response.headers) + random.random())
        state.increment_current_attempt()


def retry_after_header(headers: Any) -> float:
    """The seconds of a 429's ``Retry-After`` header (1 when it is absent or unreadable)."""
    for name, values in (headers or {}).items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list) else values
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def split_workspace(workspace: str) -> tuple[str | None, str | None]:
    """``"E1:T1"`` → ``("E1", "T1")``; ``"T1"`` → ``(None, "T1")`` (see ``workspace_id``)."""
    enterprise, sep, team = workspace.partition(":")
    if not sep:
        return None, workspace or None
    return enterprise or None, team or None


def workspace_id(enterprise_id: str | None, team_id: str | None) -> str:
    """The ``ThreadKey.workspace`` of a Slack team: ``T…``, or ``E…:T…`` on Enterprise Grid."""
    if enterprise_id:
        return f"{enterprise_id}:{team_id or ''}"
    return team_id or ""


class MeteredWebClient(AsyncWebClient):
    """An ``AsyncWebClient`` that counts every call by method and result (``/metrics``)."""

    def __init__(self, *, metrics: Metrics | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metrics = metrics

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        if self._metrics is None:
            return await super().api_call(api_method, **kwargs)
        try:
            response = await super().api_call(api_method, **kwargs)
        except SlackApiError:
            self._metrics.platform_call("slack", api_method, "error")
            raise
        self._metrics.platform_call("slack", api_method, "ok")
        return response


class WebClients:
    """Hands out Web API clients for a workspace."""

    def __init__(
        self,
        settings: Settings,
        *,
        installation_store: AsyncInstallationStore | None = None,
        retry_sleep: Sleep = asyncio.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        self._base_url = settings.slack_api_url
        token = settings.slack_bot_token
        self._token = token.get_secret_value() if token else None
        self._installations = installation_store
        self._sleep = retry_sleep
        self._metrics = metrics
        self._by_token: dict[tuple[str | None, bool], AsyncWebClient] = {}

    def retry_handlers(self) -> list[AsyncRetryHandler]:
        return [
            AsyncConnectionErrorRetryHandler(),
            RateLimitRetry(sleep=self._sleep, metrics=self._metrics),
        ]

    def build(self, token: str | None = None, *, wait_on_rate_limit: bool = True) -> AsyncWebClient:
        """A new client (bolt's app client, the socket-mode client).

        ``wait_on_rate_limit=False``: a 429 is raised at once instead of waited out (for
        calls whose caller has a better plan than waiting a minute).
        """
        handlers = self.retry_handlers()
        if not wait_on_rate_limit:
            handlers = [h for h in handlers if not isinstance(h, RateLimitRetry)]
        kwargs: dict[str, Any] = {"token": token, "retry_handlers": handlers}
        if self._base_url:
            kwargs["base_url"] = self._base_url
        return MeteredWebClient(metrics=self._metrics, **kwargs)

    def _for_token(self, token: str | None, wait_on_rate_limit: bool = True) -> AsyncWebClient:
        key = (token, wait_on_rate_limit)
        client = self._by_token.get(key)
        if client is None:
            client = self._by_token[key] = self.build(token, wait_on_rate_limit=wait_on_rate_limit)
        return client

    async def for_workspace(
        self, workspace: str, *, wait_on_rate_limit: bool = True
    ) -> AsyncWebClient:
        """The bot's client for ``workspace`` (a ``ThreadKey.workspace``)."""
        return self._for_token(await self._token_for(workspace), wait_on_rate_limit)

    async def pair_for_workspace(self, workspace: str) -> tuple[AsyncWebClient, AsyncWebClient]:
        """The bot's two clients for ``workspace``, with one token lookup: one that waits
        out a 429, one that raises it at once."""
        token = await self._token_for(workspace)
        return self._for_token(token, True), self._for_token(token, False)

    async def _token_for(self, workspace: str) -> str | None:
        if self._installations is None:
            return self._token
        enterprise_id, team_id = split_workspace(workspace)
        bot = await self._installations.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=bool(enterprise_id and not team_id),
        )
        if bot is None or not bot.bot_token:
            if self._token:
                return self._token
            raise LookupError(f"the app is not installed in Slack workspace {workspace}")
        return str(bot.bot_token)
