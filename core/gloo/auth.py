"""Access tokens for Gloo: a static API key, or OAuth2 client credentials.

:class:`ClientCredentialsAuth` caches its token in memory, refreshes it ``refresh_margin``
seconds before it expires and is single-flight: however many coroutines ask at once, one
token request is made. After a 401, callers :meth:`~Authenticator.invalidate` the token they
used; only the first such call for a given token forgets it, so a burst of 401s causes one
refresh.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Protocol

import httpx
import structlog

from core.gloo.errors import (
    GlooAuthError,
    GlooConfigError,
    GlooConnectionError,
    GlooProtocolError,
    GlooTimeout,
)
from core.gloo.http_errors import http_error, transport_errors
from core.gloo.wire import as_mapping, decode_json, get_str
from core.settings import Settings

log = structlog.get_logger(__name__)

DEFAULT_EXPIRES_IN = 3600.0
_REFUSED_STATUSES = frozenset({400, 401, 403})


class Authenticator(Protocol):
    @property
    def expires_at(self) -> float | None:
        """When the current token expires (``time.monotonic`` seconds); ``None`` for a
        static key or when no token is cached."""
        ...

    async def token(self) -> str:
        """A valid access token (fetched or refreshed when needed)."""
        ...

    def invalidate(self, token: str) -> None:
        """Forget ``token`` if it is still the current one (it was refused with a 401)."""
        ...

    async def refresh(self) -> None:
        """Get a new token now (a scheduler calls this ahead of expiry)."""
        ...


class StaticKeyAuth:
    """A fixed API key used as the bearer token. It never expires and cannot be refreshed."""

    def __init__(self, api_key: str) -> None:
        key = api_key.strip()
        if not key:
            raise GlooConfigError("The Gloo API key is empty")
        self._key = key

    def __repr__(self) -> str:
        return "StaticKeyAuth(api_key=***)"

    @property
    def expires_at(self) -> float | None:
        return None

    async def token(self) -> str:
        return self._key

    def invalidate(self, token: str) -> None:
        """Nothing to forget: the same key is all we have (a second 401 ends the call)."""

    async def refresh(self) -> None:
        """Nothing to refresh for a static key."""


class ClientCredentialsAuth:
    """OAuth2 client-credentials flow against Gloo's token endpoint."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str = "api/access",
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client_id or not client_secret:
            raise GlooConfigError("The Gloo client ID and client secret must both be set")
        if refresh_margin < 0:
            raise ValueError("refresh_margin must not be negative")
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._expires_at: float | None = None
        self._refresh_at: float | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return (
            f"ClientCredentialsAuth(token_url={self._token_url!r}, "
            f"client_id={self._client_id!r}, client_secret=***)"
        )

    @property
    def expires_at(self) -> float | None:
        return self._expires_at if self._token is not None else None

    @property
    def refresh_at(self) -> float | None:
        """When the cached token stops being handed out (``expires_at`` minus the margin)."""
        return self._refresh_at if self._token is not None else None

    async def token(self) -> str:
        current = self._fresh_token()
        if current is not None:
            return current
        async with self._lock:
            # Whoever held the lock before us may have fetched one already.
            current = self._fresh_token()
            if current is not None:
                return current
            return await self._fetch()

    def invalidate(self, token: str) -> None:
        if self._token is not None and token == self._token:
            log.info("gloo.token.invalidated")
            self._token = None
            self._expires_at = None
            self._refresh_at = None

    async def refresh(self) -> None:
        seen = self._token
        async with self._lock:
            if self._token is not None and self._token != seen:
                return  # refreshed by someone else while we waited
            await self._fetch()

    def _fresh_token(self) -> str | None:
        if self._token is None or self._refresh_at is None:
            return None
        if self._clock() >= self._refresh_at:
            return None
        return self._token

    async def _fetch(self) -> str:
        """POST the token request (caller holds the lock) and cache the result."""
        try:
            with transport_errors("token"):
                response = await self._http.post(
                    self._token_url,
                    data={"grant_type": "client_credentials", "scope": self._scope},
                    auth=httpx.BasicAuth(self._client_id, self._client_secret),
                    headers={"Accept": "application/json"},
                )
        except (GlooTimeout, GlooConnectionError) as exc:
            log.warning("gloo.token.unreachable", error=type(exc.__cause__).__name__)
            raise

        if response.status_code in _REFUSED_STATUSES:
            error = http_error(
                response.status_code,
                response.headers,
                response.content,
                what="Gloo refused the client ID/secret",
            )
            log.error("gloo.token.refused", status=response.status_code, code=error.code)
            raise GlooAuthError(
                error.message,
                status_code=error.status_code,
                detail=error.detail,
                code=error.code,
            )
        if response.is_error:
            error = http_error(
                response.status_code,
                response.headers,
                response.content,
                what="Gloo's token endpoint failed",
            )
            log.warning("gloo.token.failed", status=response.status_code)
            raise error

        token, expires_in = _parse_token_response(response.content)
        now = self._clock()
        margin = min(self._refresh_margin, expires_in / 2)
        self._token = token
        self._expires_at = now + expires_in
        self._refresh_at = now + expires_in - margin
        log.info("gloo.token.refreshed", expires_in=expires_in)
        return token


def _parse_token_response(body: bytes) -> tuple[str, float]:
    try:
        payload = as_mapping(decode_json(body))
    except ValueError:
        payload = None
    if payload is None:
        raise GlooProtocolError("Gloo's token endpoint answered with something that is not JSON")
    token = get_str(payload, "access_token")
    if token is None:
        raise GlooProtocolError(
            "Gloo's token endpoint answered without an access_token",
            detail=sorted(payload),
        )
    return token.strip(), _expires_in(payload.get("expires_in"))


def _expires_in(value: object) -> float:
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip())
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return DEFAULT_EXPIRES_IN
    return seconds


def build_authenticator(http: httpx.AsyncClient, settings: Settings) -> Authenticator:
    """A static-key authenticator when ``GLOO_API_KEY`` is set, else client credentials."""
    if settings.gloo_api_key is not None and settings.gloo_api_key.get_secret_value().strip():
        return StaticKeyAuth(settings.gloo_api_key.get_secret_value())
    secret = settings.gloo_client_secret
    if settings.gloo_client_id and secret is not None and secret.get_secret_value():
        return ClientCredentialsAuth(
            http,
            settings.token_url,
            settings.gloo_client_id,
            secret.get_secret_value(),
            scope=settings.gloo_token_scope,
        )
    raise GlooConfigError(
        "No Gloo credentials: set GLOO_API_KEY, or GLOO_CLIENT_ID and GLOO_CLIENT_SECRET"
    )
