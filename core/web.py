"""The process's HTTP side: starting an aiohttp application on a port, health and metrics.

Every serving process (``gloo-bots run``, ``slack``, ``discord``) serves one application on
``$PORT``: ``/healthz`` (alive), ``/readyz`` (store, schema, Gloo token and the adapters'
platform connections), ``/metrics`` (Prometheus), plus whatever the adapters add (Slack's
``/slack/events``). The simulator and the test suite's fake platforms use
:func:`start_web` too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Final

import structlog
from aiohttp import web

from core.metrics import CONTENT_TYPE, Metrics

if TYPE_CHECKING:
    from core.bootstrap import Container

__all__ = ["ReadinessCheck", "WebServer", "build_web_app", "dialable_url", "start_web"]

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


#: A readiness check: ``None`` when fine, else a short description of the problem.
ReadinessCheck = Callable[[], Awaitable[str | None]]

_CHECKS_KEY: Final = web.AppKey("readiness_checks", dict)
_METRICS_KEY: Final = web.AppKey("metrics", Metrics)
#: Seconds one readiness check may take before it counts as failed.
CHECK_TIMEOUT_S: Final = 3.0


def build_web_app(
    container: Container, checks: dict[str, ReadinessCheck] | None = None
) -> web.Application:
    """The serving process's application: ``/healthz``, ``/readyz`` and ``/metrics``.

    ``checks`` is read at every ``/readyz`` request, so adapters can add theirs (platform
    connections) after the app is built; the store, its schema and the Gloo token are
    always checked.
    """
    all_checks: dict[str, ReadinessCheck] = {
        "database": _database_check(container),
        "migrations": _migrations_check(container),
        "gloo_token": _gloo_check(container),
    }
    if checks is not None:
        # Shared, not copied: adapters register theirs in prepare().
        checks.update({k: v for k, v in all_checks.items() if k not in checks})
        all_checks = checks
    app = web.Application()
    app[_CHECKS_KEY] = all_checks
    app[_METRICS_KEY] = container.metrics
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return app


async def _healthz(request: web.Request) -> web.Response:
    """Alive: the process answers HTTP. (Readiness is a separate question.)"""
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    """Ready: every check passes (200), or which ones do not (503)."""
    checks: dict[str, ReadinessCheck] = request.app[_CHECKS_KEY]
    names = list(checks)
    results = await asyncio.gather(*(_run_check(checks[name]) for name in names))
    problems = {name: problem for name, problem in zip(names, results, strict=True) if problem}
    body = {
        "status": "ready" if not problems else "not ready",
        "checks": {name: problem or "ok" for name, problem in zip(names, results, strict=True)},
    }
    if problems:
        log.warning("readiness.failed", problems=problems)
    return web.json_response(body, status=200 if not problems else 503)


async def _metrics(request: web.Request) -> web.Response:
    metrics: Metrics = request.app[_METRICS_KEY]
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})


async def _run_check(check: ReadinessCheck) -> str | None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await check()
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()


def _database_check(container: Container) -> ReadinessCheck:
    async def check() -> str | None:
        await container.store.ping()
        return None

    return check


def _migrations_check(container: Container) -> ReadinessCheck:
    async def check() -> str | None:
        if await container.store.schema_is_current():
            return None
        return "the database is not at the latest migration: run 'gloo-bots db upgrade'"

    return check


def _gloo_check(container: Container) -> ReadinessCheck:
    async def check() -> str | None:
        await container.auth.token()  # cached while valid: no Gloo call on most probes
        return None

    return check
