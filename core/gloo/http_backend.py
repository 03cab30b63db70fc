"""The base of every HTTP backend of Gloo: one authorized request, re-authenticated once."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

import httpx
import structlog

from core.gloo.auth import Authenticator
from core.gloo.errors import GlooConfigError
from core.gloo.http_errors import http_error, transport_errors
from core.gloo.retry import RetryPolicy

log = structlog.get_logger(__name__)


class HttpBackendBase:
    """What every HTTP backend holds -- the shared client, the authenticator, the API base
    URL, the retry policy and the streaming switch -- and its one way to send a request."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: Authenticator,
        api_url: str,
        *,
        retry: RetryPolicy | None,
        stream_enabled: bool,
    ) -> None:
        base = api_url.strip().rstrip("/")
        if not base:
            raise GlooConfigError("The Gloo API URL is empty")
        self._http = http
        self._auth = auth
        self._base_url = base
        self._retry = retry or RetryPolicy()
        self._stream_enabled = stream_enabled

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    @property
    def stream_enabled(self) -> bool:
        return self._stream_enabled

    async def _open(
        self,
        stack: AsyncExitStack,
        *,
        method: str,
        url: str,
        params: dict[str, str],
        json: dict[str, object] | None,
        accept: str,
        action: str,
    ) -> httpx.Response:
        """Send one authorized request and return the successful, still unread response,
        registered on ``stack`` for closing.

        Every request carries ``Authorization: Bearer <token>``. A 401 invalidates that
        token and the request is sent once more with a fresh one (outside any retry
        budget); a second 401 is a :class:`GlooAuthError`. Other error statuses raise the
        matching exception from :func:`http_error`; transport failures go through
        :func:`transport_errors`.
        """
        token = await self._auth.token()
        reauthenticated = False
        while True:
            headers = {"Authorization": f"Bearer {token}", "Accept": accept}
            started = time.monotonic()
            with transport_errors(action):
                response = await stack.enter_async_context(
                    self._http.stream(method, url, params=params, json=json, headers=headers)
                )
            log.debug(
                "gloo.response",
                action=action,
                status=response.status_code,
                elapsed_ms=round((time.monotonic() - started) * 1000),
            )
            if not response.is_error:
                return response
            with transport_errors(action):
                try:
                    body = await response.aread()
                finally:
                    await response.aclose()
            if response.status_code == 401 and not reauthenticated:
                self._auth.invalidate(token)
                fresh = await self._auth.token()
                if fresh != token:
                    log.info("gloo.reauthenticate", action=action)
                    token = fresh
                    reauthenticated = True
                    continue
            error = http_error(response.status_code, response.headers, body)
            log.warning(
                "gloo.http_error",
                action=action,
                status=response.status_code,
                code=error.code,
                retry_after=error.retry_after,
            )
            raise error
