"""The serving process's web side: starting an app, health, dialable URLs."""

from __future__ import annotations

import asyncio
from unittest.mock import patch

import httpx
import pytest
from aiohttp import web

from core.scheduler import Jobs
from core.service import AnswerFailed
from core.simulator import Simulator, SimulatorConfig
from core.store.migrate import downgrade
from core.store.sql import SqlStore
from core.types import Job, Question, ThreadKey
from core.web import ReadinessCheck, WebServer, build_web_app, dialable_url, start_web
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
            with patch("core.web.CHECK_TIMEOUT_S", 0.05):
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
