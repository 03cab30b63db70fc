"""The aiohttp front end: serve(), start_server(), URLs and a shared engine."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import structlog

from core.simulator import Simulator, SimulatorConfig, serve, simulator_client, start_server


async def test_serve_runs_until_cancelled_and_logs_its_url() -> None:
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(serve(SimulatorConfig(seed=1), "127.0.0.1", 0))
        for _ in range(200):
            if any(e["event"] == "simulator.listening" for e in logs):
                break
            await asyncio.sleep(0.01)
        url = next(e["url"] for e in logs if e["event"] == "simulator.listening")
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).json() == {"ok": True}
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert any(e["event"] == "simulator.stopped" for e in logs)
    async with httpx.AsyncClient(base_url=url) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/healthz")


async def test_start_server_shares_a_simulator_with_the_transport() -> None:
    simulator = Simulator(SimulatorConfig(api_keys=frozenset({"k"})))
    headers = {"Authorization": "Bearer k"}
    async with await start_server(simulator) as running:
        assert running.simulator is simulator
        assert running.url == f"http://127.0.0.1:{running.port}"
        assert running.port > 0
        async with httpx.AsyncClient(base_url=running.url, headers=headers) as over_http:
            first = (await over_http.post("/ai/v1/message", json={"query": "Hi?"})).json()
        async with simulator_client(simulator, headers=headers) as in_process:
            second = await in_process.post(
                "/ai/v1/message", json={"query": "And then?", "chat_id": first["chat_id"]}
            )
        assert second.status_code == 200
        assert len(simulator.chats[first["chat_id"]]) == 4
        assert simulator.message_requests == 2


async def test_a_busy_port_fails_cleanly() -> None:
    async with await start_server(SimulatorConfig()) as running:
        with pytest.raises(OSError):  # noqa: PT011 - the errno differs by platform
            await start_server(SimulatorConfig(), "127.0.0.1", running.port)
