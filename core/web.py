"""The process's HTTP side: starting an aiohttp application on a port, health and metrics.

Every serving process (``gloo-bots run``, ``slack``, ``discord``) serves one application on
``$PORT``: ``/healthz`` (alive), ``/readyz`` (store, schema, Gloo token and the adapters'
platform connections), ``/metrics`` (Prometheus), plus whatever the adapters add (Slack's
``/slack/events``). The simulator and the test suite's fake platforms use
:func:`start_web` too.

``/readyz`` is safe to poll by anyone: its result is reused for :data:`READY_CACHE_S`
seconds (concurrent probes share one evaluation), a Gloo token refusal is not retried for a
growing back-off, and what it shows names the failing check, never a host or a port (the
detail goes to the log). With ``METRICS_TOKEN`` set, ``/readyz`` and ``/metrics`` answer only
requests with ``Authorization: Bearer <METRICS_TOKEN>``; ``/healthz`` stays open.

Connections are not kept for free: an idle one (also one that never finishes its headers) is
closed after ``keepalive_timeout`` seconds (``WEB_KEEPALIVE_TIMEOUT``, above the 90 s idle
timeout of Heroku's router and the 60 s of AWS's load balancers, so the proxy is the one that
closes), and a body a handler did not read is drained for at most :data:`LINGERING_S` seconds
before the connection is closed (aiohttp's ``keepalive_timeout`` and ``lingering_time``).

A client's address (for rate limits) is the TCP peer, unless the peer is one of the
``TRUSTED_PROXIES``: then it is the right-most ``X-Forwarded-For`` entry that is not a
trusted proxy (:func:`client_address`).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Final

import structlog
from aiohttp import web

from core.gloo.errors import GlooAuthError
from core.metrics import CONTENT_TYPE, Metrics

if TYPE_CHECKING:
    from core.bootstrap import Container

__all__ = [
    "KEEPALIVE_TIMEOUT_S",
    "LINGERING_S",
    "GlooTokenCheck",
    "Handler",
    "ProxyNetwork",
    "RateLimiter",
    "Readiness",
    "ReadinessCheck",
    "WebServer",
    "build_web_app",
    "client_address",
    "dialable_url",
    "rate_limited",
    "start_web",
]

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


#: Seconds an idle connection is kept open (aiohttp's default is 3,630). Above the idle timeout
#: of the proxies in front (Heroku's router: 90 s; AWS load balancers: 60 s by default), so a
#: proxy never sends a request on a connection this side is closing.
KEEPALIVE_TIMEOUT_S: Final = 95.0
#: Seconds a request body no handler read is drained after the response before the connection
#: is closed (aiohttp's default is 10): enough for a client to finish sending a small body and
#: read the answer, short for one that trickles.
LINGERING_S: Final = 2.0


async def start_web(
    app: web.Application,
    host: str,
    port: int,
    *,
    shutdown_timeout: float = 5.0,
    keepalive_timeout: float = KEEPALIVE_TIMEOUT_S,
    lingering_time: float = LINGERING_S,
) -> WebServer:
    """Serve ``app`` on ``host:port`` (``0`` picks a free port) and return at once.

    Handlers of clients that disconnect are cancelled, so a hanging request ends when its
    client gives up; an idle connection, or one that has not finished its headers, is closed
    after ``keepalive_timeout`` seconds; a body no handler read is drained for at most
    ``lingering_time`` seconds.
    """
    runner = web.AppRunner(
        app,
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=shutdown_timeout,
        keepalive_timeout=keepalive_timeout,
        lingering_time=lingering_time,
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
Clock = Callable[[], float]

_METRICS_KEY: Final = web.AppKey("metrics", Metrics)
_TOKEN_KEY: Final = web.AppKey("access_token", str)
#: Seconds one readiness check may take before it counts as failed.
CHECK_TIMEOUT_S: Final = 3.0
#: Seconds a ``/readyz`` result is reused, whoever asks and however often; a "not ready"
#: result for :data:`NOT_READY_CACHE_S` only, so a process that becomes ready is seen soon
#: (the costly failing check, Gloo's token, has its own back-off).
READY_CACHE_S: Final = 5.0
NOT_READY_CACHE_S: Final = 1.0
#: After Gloo refused the credentials, seconds before the token check asks again (doubling
#: with each further refusal, up to :data:`TOKEN_BACKOFF_MAX_S`).
TOKEN_BACKOFF_S: Final = 30.0
TOKEN_BACKOFF_MAX_S: Final = 600.0
GLOO_REFUSED: Final = (
    "Gloo refused the credentials (GLOO_CLIENT_ID/GLOO_CLIENT_SECRET or GLOO_API_KEY)"
)


def build_web_app(
    container: Container,
    checks: dict[str, ReadinessCheck] | None = None,
    *,
    clock: Clock = time.monotonic,
) -> web.Application:
    """The serving process's application: ``/healthz``, ``/readyz`` and ``/metrics``.

    ``checks`` is read at every ``/readyz`` evaluation, so adapters can add theirs (platform
    connections) after the app is built; the store, its schema and the Gloo token are
    always checked.
    """
    all_checks: dict[str, ReadinessCheck] = {
        "database": _database_check(container),
        "migrations": _migrations_check(container),
        "gloo_token": GlooTokenCheck(container, clock=clock),
    }
    if checks is not None:
        # Shared, not copied: adapters register theirs in prepare().
        checks.update({k: v for k, v in all_checks.items() if k not in checks})
        all_checks = checks
    token = container.settings.metrics_token
    app = web.Application(middlewares=[_protect] if token else [])
    app[_READINESS_KEY] = Readiness(all_checks, clock=clock)
    app[_METRICS_KEY] = container.metrics
    if token:
        app[_TOKEN_KEY] = token.get_secret_value()
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return app


#: The paths ``METRICS_TOKEN`` protects.
PROTECTED_PATHS: Final = frozenset({"/readyz", "/metrics"})


@web.middleware
async def _protect(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """``/readyz`` and ``/metrics`` only with ``Authorization: Bearer <METRICS_TOKEN>``."""
    if request.path in PROTECTED_PATHS:
        expected = request.app[_TOKEN_KEY]
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), expected.encode()
        ):
            return web.json_response(
                {"status": "unauthorized", "error": "send Authorization: Bearer <METRICS_TOKEN>"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="gloo-bots"'},
            )
    return await handler(request)


async def _healthz(request: web.Request) -> web.Response:
    """Alive: the process answers HTTP. (Readiness is a separate question.)"""
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    """Ready: every check passes (200), or which ones do not (503)."""
    results = await request.app[_READINESS_KEY].results()
    problems = {name: problem for name, problem in results.items() if problem}
    body = {
        "status": "ready" if not problems else "not ready",
        "checks": {name: problem or "ok" for name, problem in results.items()},
    }
    return web.json_response(body, status=200 if not problems else 503)


async def _metrics(request: web.Request) -> web.Response:
    metrics: Metrics = request.app[_METRICS_KEY]
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})


class Readiness:
    """The checks' results, evaluated at most once per :data:`READY_CACHE_S` (or
    :data:`NOT_READY_CACHE_S` while something is wrong).

    Probes that arrive while an evaluation runs wait for it instead of starting their own,
    and a check's failure is logged when it starts failing (and its recovery), not once
    per probe.
    """

    def __init__(self, checks: dict[str, ReadinessCheck], *, clock: Clock = time.monotonic):
        self._checks = checks
        self._clock = clock
        self._lock = asyncio.Lock()
        self._results: dict[str, str | None] | None = None
        self._fresh_until = 0.0
        self._logged: set[str] = set()

    async def results(self) -> dict[str, str | None]:
        if self._results is not None and self._clock() < self._fresh_until:
            return self._results
        async with self._lock:
            if self._results is not None and self._clock() < self._fresh_until:
                return self._results
            names = list(self._checks)
            found = await asyncio.gather(*(_run_check(n, self._checks[n]) for n in names))
            results = dict(zip(names, found, strict=True))
            problems = {name: problem for name, problem in results.items() if problem}
            failing = set(problems)
            if failing != self._logged:
                for name in sorted(failing - self._logged):
                    log.warning("readiness.failed", check=name, problem=problems[name])
                for name in sorted(self._logged - failing):
                    log.info("readiness.recovered", check=name)
            self._logged = failing
            self._results = results
            self._fresh_until = self._clock() + (NOT_READY_CACHE_S if problems else READY_CACHE_S)
            return results


_READINESS_KEY: Final = web.AppKey("readiness", Readiness)


async def _run_check(name: str, check: ReadinessCheck) -> str | None:
    """The check's problem; an exception becomes a sentence naming the check (its text, which
    may hold hosts and ports, goes only to the log)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await check()
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:
        log.warning("readiness.check_error", check=name, error=f"{type(exc).__name__}: {exc}")
        return f"the {name} check failed ({type(exc).__name__}); the log has the details"


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


class GlooTokenCheck:
    """A Gloo token can be had; after a refusal, Gloo is not asked again for a while.

    A token is cached while valid, so most probes make no Gloo call. Refused credentials
    stay refused until someone changes them, so asking at every probe would only add load
    on Gloo and an ERROR line per probe: the check waits :data:`TOKEN_BACKOFF_S`, doubling
    up to :data:`TOKEN_BACKOFF_MAX_S`, and reports the refusal meanwhile.
    """

    def __init__(self, container: Container, *, clock: Clock = time.monotonic) -> None:
        self._container = container
        self._clock = clock
        self._backoff = TOKEN_BACKOFF_S
        self._refused_until: float | None = None

    async def __call__(self) -> str | None:
        now = self._clock()
        if self._refused_until is not None and now < self._refused_until:
            return f"{GLOO_REFUSED}; asking again in {self._refused_until - now:.0f} s"
        try:
            await self._container.auth.token()
        except GlooAuthError:
            self._refused_until = self._clock() + self._backoff
            self._backoff = min(self._backoff * 2, TOKEN_BACKOFF_MAX_S)
            return GLOO_REFUSED
        self._refused_until = None
        self._backoff = TOKEN_BACKOFF_S
        return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RateLimiter:
    """At most ``per_client`` hits per client address and ``total`` hits overall in any
    ``window`` seconds (a sliding window, in this process's memory).

    The overall cap bounds what anonymous requests can cost even when addresses are spoofed
    or many; only allowed hits are remembered, so memory stays bounded by ``total``.
    """

    def __init__(
        self, per_client: int, total: int, window: float, *, clock: Clock = time.monotonic
    ) -> None:
        self.per_client = per_client
        self.total = total
        self.window = window
        self._clock = clock
        self._all: deque[float] = deque()
        self._by_client: dict[str, deque[float]] = {}

    def allow(self, client: str) -> float | None:
        """``None`` and the hit is counted, or the seconds until ``client`` may try again."""
        now = self._clock()
        horizon = now - self.window
        _expire(self._all, horizon)
        hits = self._by_client.get(client)
        if hits is not None:
            _expire(hits, horizon)
        if len(self._by_client) > 2 * self.total:
            for key in [k for k, v in self._by_client.items() if not v or v[-1] <= horizon]:
                del self._by_client[key]
        if hits is not None and len(hits) >= self.per_client:
            return hits[0] + self.window - now
        if len(self._all) >= self.total:
            return self._all[0] + self.window - now
        self._all.append(now)
        self._by_client.setdefault(client, hits if hits is not None else deque()).append(now)
        return None


def _expire(hits: deque[float], horizon: float) -> None:
    while hits and hits[0] <= horizon:
        hits.popleft()


ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(request: web.Request, trusted_proxies: Iterable[ProxyNetwork] = ()) -> str:
    """The client's address, for rate limits.

    The TCP peer, unless the peer is in ``trusted_proxies``: then ``X-Forwarded-For`` is read
    from the right (each proxy appends the address it was reached from) and the first entry
    that is not a trusted proxy is the client. Entries further left were written by the client
    and are never used. With no trusted proxies (the default), the header is ignored: anyone
    can send it, so trusting it would let one client pose as many.
    """
    networks = tuple(trusted_proxies)
    peer = _parse_address(request.remote or "")
    if peer is None:
        return request.remote or "unknown"
    if not _is_trusted(peer, networks):
        return str(peer)
    hops = ",".join(request.headers.getall("X-Forwarded-For", ())).split(",")
    nearest = peer
    for entry in reversed(hops):
        if not entry.strip():
            continue
        address = _parse_address(entry)
        if address is None:
            break  # not written by a proxy we trust: the chain ends at the nearest hop
        if not _is_trusted(address, networks):
            return str(address)
        nearest = address
    return str(nearest)


def _is_trusted(address: _IPAddress, networks: tuple[ProxyNetwork, ...]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def _parse_address(text: str) -> _IPAddress | None:
    """An address as proxies write it (``203.0.113.5``, ``[2001:db8::1]:443``,
    ``203.0.113.5:443``), IPv4-mapped IPv6 read as IPv4; ``None`` when it is none."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def rate_limited(
    handler: Handler,
    limiter: RateLimiter,
    *,
    what: str,
    trusted_proxies: Iterable[ProxyNetwork] = (),
) -> Handler:
    """``handler`` behind ``limiter``: over the limit, 429 with ``Retry-After`` and a sentence.

    Clients are told apart by :func:`client_address` (``X-Forwarded-For`` only from
    ``trusted_proxies``).
    """
    networks = tuple(trusted_proxies)

    async def limited(request: web.Request) -> web.StreamResponse:
        wait = limiter.allow(client_address(request, networks))
        if wait is None:
            return await handler(request)
        seconds = max(1, int(wait + 0.999))
        log.warning("web.rate_limited", path=request.path, retry_after=seconds)
        return web.Response(
            status=429,
            text=f"Too many {what} from here. Please try again in {seconds} seconds.",
            headers={"Retry-After": str(seconds)},
        )

    return limited
