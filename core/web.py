"""The process's HTTP side: starting an aiohttp application on a port, and the health routes.

Every serving process (``gloo-bots run``, ``slack``, ``discord``, ``web``) serves one
application on ``$PORT``: ``/healthz`` here, plus whatever the adapters add (Slack's
``/slack/events``). The simulator and the test suite's fake platforms use
:func:`start_web` too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

import structlog
from aiohttp import web

if TYPE_CHECKING:
    from core.bootstrap import Container

__all__ = ["WebServer", "build_web_app", "dialable_url", "start_web"]

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class WebServer:
    """A started aiohttp application; ``close()`` (or ``async with``) stops it."""

    host: str
    port: int
    runner: web.AppRunner

    @property
    def url(self) -> str:
        return dialable_url(self.host, self.port)

    async def close(self) -> None:
        await self.runner.cleanup()

    async def __aenter__(self) -> WebServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def dialable_url(host: str, port: int) -> str:
    """``http://host:port`` with a wildcard bind address turned into loopback."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - only turning a wildcard into a dialable host
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def start_web(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 5.0
) -> WebServer:
    """Serve ``app`` on ``host:port`` (``0`` picks a free port) and return at once.

    Handlers of clients that disconnect are cancelled, so a hanging request ends when its
    client gives up.
    """
    runner = web.AppRunner(
        app, handler_cancellation=True, access_log=None, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return WebServer(host=host, port=_bound_port(runner.addresses, port), runner=runner)


def _bound_port(addresses: Iterable[object], requested: int) -> int:
    for address in addresses:
        if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[1], int):
            return address[1]
    return requested


def build_web_app(container: Container) -> web.Application:
    """The serving process's application, with its health route."""
    app = web.Application()
    app.router.add_get("/healthz", _healthz)
    return app


async def _healthz(request: web.Request) -> web.Response:
    """Alive: the process answers HTTP. (Readiness is a separate question.)"""
    return web.json_response({"status": "ok"})
