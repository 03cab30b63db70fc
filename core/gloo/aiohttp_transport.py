"""Gloo's HTTP under the shared ``httpx.AsyncClient`` on aiohttp's connection pool.

httpx-aiohttp's ``AiohttpTransport`` keeps the httpx API the client and the tests use, and
costs less CPU per answer than httpcore (figures in docs/configuration.md,
``GLOO_HTTP_TRANSPORT``). One correction on top of httpx-aiohttp 0.2: it names every aiohttp
connection error a ``ConnectTimeout`` ("Gloo timed out"); a refusal is ``ConnectError`` and a
hang-up before the answer ``RemoteProtocolError``, as on httpcore.
"""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

__all__ = ["GlooAiohttpTransport", "aiohttp_transport"]


class GlooAiohttpTransport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ServerDisconnectedError):
                raise httpx.RemoteProtocolError(str(cause), request=request) from cause
            if cause is not None and not isinstance(cause, TimeoutError):
                raise httpx.ConnectError(str(cause), request=request) from cause
            raise


def aiohttp_transport(limits: httpx.Limits) -> GlooAiohttpTransport:
    """The transport, its aiohttp session made on the first request (inside the running
    loop) with ``limits``, httpx's TLS context, and cookies left to httpx."""

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry or 0,
            ssl=httpx.create_ssl_context(),
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    return GlooAiohttpTransport(limits=limits, client=session)
