"""The serving process's web side: starting an app, health, dialable URLs."""

from __future__ import annotations

import asyncio
import io
import ipaddress
from unittest.mock import Mock, patch

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from core.logs import configure_logging
from core.scheduler import Jobs
from core.service import AnswerFailed
from core.simulator import Simulator, SimulatorConfig
from core.store.migrate import downgrade
from core.store.sql import SqlStore
from core.types import Job, Question, ThreadKey
from core.web import (
    GLOO_REFUSED,
    READY_CACHE_S,
    TOKEN_BACKOFF_S,
    ProxyNetwork,
    RateLimiter,
    ReadinessCheck,
    WebServer,
    build_web_app,
    client_address,
    dialable_url,
    rate_limited,
    start_web,
)
from tests.conftest import configure_test_logging
from tests.core.test_delivery import RecordingResponder
from tests.harness import core_on_simulator


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0.0.0.0", "http://127.0.0.1:3000"),  # noqa: S104
        ("", "http://127.0.0.1:3000"),
        ("::", "http://[::1]:3000"),
        ("::1", "http://[::1]:3000"),
        ("10.0.0.5", "http://10.0.0.5:3000"),
    ],
)
def test_dialable_url(host: str, expected: str) -> None:
    assert dialable_url(host, 3000) == expected


async def test_start_web_picks_a_free_port_and_serves() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    async with await start_web(app, "127.0.0.1", 0) as server:
        assert server.port > 0
        async with httpx.AsyncClient() as client:
            response = await client.get(server.url + "/")
    assert response.text == "hi"


async def get(server: WebServer, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(server.url + path)


async def test_health_readiness_and_metrics(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, _):
        job = Job(key="k1", question=Question(ThreadKey("test", "W", "C", "t"), "What is grace?"))
        responder = RecordingResponder()
        c.dispatcher.register("test", responder)
        await c.dispatcher.submit(job)
        await c.dispatcher.drain()
        await Jobs(c, None).measure_inbox()
        async with await start_web(build_web_app(c), "127.0.0.1", 0) as server:
            health = await get(server, "/healthz")
            ready = await get(server, "/readyz")
            metrics = await get(server, "/metrics")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "gloo_token": "ok"}
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'gloo_bots_questions_total{platform="test"} 1.0' in text
    assert 'gloo_bots_answers_total{outcome="answered",platform="test"} 1.0' in text
    assert "gloo_bots_gloo_first_chunk_seconds_count 1.0" in text
    assert 'gloo_bots_end_to_end_seconds_count{platform="test"} 1.0' in text
    assert 'gloo_bots_inbox{status="answered"} 1.0' in text


async def test_readiness_names_what_is_wrong(store: SqlStore) -> None:
    async def platform_down() -> str | None:
        return "gateway not connected"

    async def hangs() -> str | None:
        await asyncio.sleep(60)
        return None

    checks: dict[str, ReadinessCheck] = {"discord": platform_down, "slow": hangs}
    async with core_on_simulator(store) as (c, _):
        await downgrade(_url(store), "0001")
        async with await start_web(build_web_app(c, checks), "127.0.0.1", 0) as server:
            # Long enough for the real checks on a loaded machine, short for the one that hangs.
            with patch("core.web.CHECK_TIMEOUT_S", 1.0):
                ready = await get(server, "/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["checks"]["discord"] == "gateway not connected"
    assert body["checks"]["slow"].startswith("no answer within")
    assert "gloo-bots db upgrade" in body["checks"]["migrations"]
    assert body["checks"]["database"] == "ok"


async def test_gloo_errors_and_retries_are_counted(store: SqlStore) -> None:
    sim = Simulator(SimulatorConfig())
    sim.inject("429", "500", "500", "500")
    async with core_on_simulator(store, simulator=sim) as (c, _):
        with pytest.raises(AnswerFailed):
            await c.service.ask(Question(ThreadKey("test", "W", "C", "t"), "Hi?"))
        text = c.metrics.render().decode()
    assert 'gloo_bots_gloo_retries_total{code="429"} 1.0' in text
    assert 'gloo_bots_gloo_retries_total{code="500"} 1.0' in text
    assert 'gloo_bots_gloo_errors_total{code="500"} 1.0' in text


def _url(store: SqlStore) -> str:
    return store.engine.url.render_as_string(hide_password=False)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_hundred_probes_with_refused_credentials_ask_gloo_once(store: SqlStore) -> None:
    # Gloo answers a wrong client id/secret with 401 invalid_client (the simulator does so as
    # Gloo's OAuth2 token endpoint does): the process is not ready, but probes must not turn
    # into a token request and an ERROR line each.
    sim = Simulator(SimulatorConfig(clients={"the-real-client": "the-real-secret"}))
    clock = FakeClock()
    out = io.StringIO()
    async with core_on_simulator(store, simulator=sim) as (c, _):
        configure_logging(level="INFO", fmt="console", stream=out)
        try:
            async with (
                await start_web(build_web_app(c, clock=clock), "127.0.0.1", 0) as server,
                httpx.AsyncClient() as client,
            ):
                probes = await asyncio.gather(
                    *(client.get(server.url + "/readyz") for _ in range(100))
                )
                requests_at_first = sim.token_requests
                clock.now += 2  # the "not ready" result is stale, the back-off is not
                again = await client.get(server.url + "/readyz")
                requests_in_backoff = sim.token_requests
                clock.now += TOKEN_BACKOFF_S
                await client.get(server.url + "/readyz")
                requests_after_backoff = sim.token_requests
        finally:
            configure_test_logging()
    assert {p.status_code for p in probes} == {503}
    assert probes[0].json()["checks"]["gloo_token"] == GLOO_REFUSED
    assert again.json()["checks"]["gloo_token"].startswith(GLOO_REFUSED)
    assert requests_at_first == 1
    assert requests_in_backoff == 1
    assert requests_after_backoff == 2
    errors = [line for line in out.getvalue().splitlines() if "[error" in line]
    assert len(errors) == 2, errors  # one per token request: gloo.token.refused
    assert out.getvalue().count("readiness.failed") == 1  # logged when it changed, once


async def test_readiness_is_evaluated_once_per_few_seconds(store: SqlStore) -> None:
    calls = 0

    async def counted() -> str | None:
        nonlocal calls
        calls += 1
        return None

    clock = FakeClock()
    async with core_on_simulator(store) as (c, _):
        app = build_web_app(c, {"platform": counted}, clock=clock)
        async with await start_web(app, "127.0.0.1", 0) as server:
            for _ in range(20):
                assert (await get(server, "/readyz")).status_code == 200
            clock.now += READY_CACHE_S
            await get(server, "/readyz")
    assert calls == 2


async def test_readiness_errors_name_the_check_not_the_host(store: SqlStore) -> None:
    async def unreachable() -> str | None:
        # What psycopg says when PostgreSQL is down.
        raise OSError(
            'connection failed: connection to server at "10.20.30.40", port 5432 failed: '
            'Connection refused. Is the server running on host "db.internal"?'
        )

    async with core_on_simulator(store) as (c, _):
        app = build_web_app(c, {"database": unreachable})
        async with await start_web(app, "127.0.0.1", 0) as server:
            ready = await get(server, "/readyz")
    assert ready.status_code == 503
    shown = ready.json()["checks"]["database"]
    assert shown == "the database check failed (OSError); the log has the details"
    for detail in ("10.20.30.40", "5432", "db.internal"):
        assert detail not in ready.text


async def test_metrics_token_protects_readiness_and_metrics_not_health(store: SqlStore) -> None:
    token = "metrics-token-6f1c2a"
    async with (
        core_on_simulator(store, metrics_token=token) as (c, _),
        await start_web(build_web_app(c), "127.0.0.1", 0) as server,
        httpx.AsyncClient() as client,
    ):
        health = await client.get(server.url + "/healthz")
        anonymous = [await client.get(server.url + p) for p in ("/readyz", "/metrics")]
        wrong = await client.get(server.url + "/metrics", headers={"Authorization": "Bearer nope"})
        allowed = [
            await client.get(server.url + p, headers={"Authorization": f"Bearer {token}"})
            for p in ("/readyz", "/metrics")
        ]
    assert health.status_code == 200
    assert [r.status_code for r in anonymous] == [401, 401]
    assert anonymous[0].headers["WWW-Authenticate"].startswith("Bearer")
    assert "gloo_bots" not in anonymous[1].text
    assert wrong.status_code == 401
    assert [r.status_code for r in allowed] == [200, 200]
    assert "gloo_bots_questions_total" in allowed[1].text


def test_rate_limiter_counts_per_client_and_in_all_over_a_sliding_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_client=2, total=3, window=60, clock=clock)
    assert limiter.allow("a") is None
    clock.now += 10
    assert limiter.allow("a") is None
    assert limiter.allow("a") == 50  # a's first hit leaves the window in 50 s
    assert limiter.allow("b") is None
    assert limiter.allow("c") == 50  # three hits in all: the overall cap, until 1000 + 60
    clock.now += 50
    assert limiter.allow("a") is None  # the first hit has left the window
    assert limiter.allow("c") == 10  # still three in the last minute (1010, 1010, 1060)
    clock.now += 10
    assert limiter.allow("c") is None


async def test_rate_limited_handler_answers_429_with_retry_after() -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="install")

    app = web.Application()
    app.router.add_get("/install", rate_limited(page, RateLimiter(1, 10, 60), what="visits"))
    async with await start_web(app, "127.0.0.1", 0) as server:
        ok, limited = await get(server, "/install"), await get(server, "/install")
    assert ok.text == "install"
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert "Too many visits" in limited.text


def _from_peer(peer: str, forwarded: str | None) -> web.Request:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    transport = Mock()
    transport.get_extra_info.return_value = (peer, 40000)
    return make_mocked_request("GET", "/install", headers=headers, transport=transport)


PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # No trusted proxies (TRUSTED_PROXIES unset): the header is never believed.
        ("192.0.2.9", "203.0.113.5", (), "192.0.2.9"),
        # A peer that is not a trusted proxy: its header is not believed either.
        ("192.0.2.9", "203.0.113.5", PROXIES, "192.0.2.9"),
        # Behind a trusted proxy: the right-most untrusted entry; the client's own are ignored.
        ("10.0.0.2", "198.51.100.1, 203.0.113.5", PROXIES, "203.0.113.5"),
        ("10.0.0.2", "198.51.100.1, 203.0.113.5, 10.1.1.1", PROXIES, "203.0.113.5"),
        ("10.0.0.2", "[2001:db8::7]:443", PROXIES, "2001:db8::7"),
        ("10.0.0.2", "203.0.113.5:5123", PROXIES, "203.0.113.5"),
        ("fd00::1", "203.0.113.5", PROXIES, "203.0.113.5"),
        ("::ffff:10.0.0.2", "203.0.113.5", PROXIES, "203.0.113.5"),
        # Junk the trusted proxy passed through: the chain ends at the nearest hop.
        ("10.0.0.2", "evil, 10.1.1.1", PROXIES, "10.1.1.1"),
        ("10.0.0.2", None, PROXIES, "10.0.0.2"),
        # Every hop a trusted proxy (a probe from inside): the farthest of them.
        ("10.0.0.2", "10.9.9.9, 10.1.1.1", PROXIES, "10.9.9.9"),
        # A client-written entry that poses as a trusted proxy is left of the real client.
        ("10.0.0.2", "10.5.5.5, 203.0.113.5", PROXIES, "203.0.113.5"),
    ],
)
def test_client_address_believes_x_forwarded_for_only_from_trusted_proxies(
    peer: str, forwarded: str | None, trusted: tuple[ProxyNetwork, ...], expected: str
) -> None:
    assert client_address(_from_peer(peer, forwarded), trusted) == expected


def test_client_address_reads_repeated_x_forwarded_for_lines_as_one_list() -> None:
    # RFC 9110 §5.3: repeated header lines are one comma-separated list, in order; the
    # right-most entry is on the last line (the one the trusted proxy appended).
    headers = CIMultiDict([("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", "203.0.113.5")])
    transport = Mock()
    transport.get_extra_info.return_value = ("10.0.0.2", 40000)
    request = make_mocked_request("GET", "/install", headers=headers, transport=transport)
    assert client_address(request, PROXIES) == "203.0.113.5"
    assert client_address(request) == "10.0.0.2"
