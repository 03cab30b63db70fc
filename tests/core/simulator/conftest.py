"""Fixtures: every HTTP-level test runs against the in-process transport and a real server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from core.simulator import Simulator, SimulatorConfig, simulator_client, start_server
from tests.core.simulator.support import Harness

HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture(params=["transport", "server"])
def mode(request: pytest.FixtureRequest) -> str:
    value = request.param
    assert isinstance(value, str)
    return value


@pytest.fixture
async def make_harness(mode: str) -> AsyncIterator[HarnessFactory]:
    """Build harnesses (a fresh simulator each, unless one is passed) torn down at test end."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(
            config: SimulatorConfig | Simulator | None = None, **client_kwargs: Any
        ) -> Harness:
            simulator = config if isinstance(config, Simulator) else Simulator(config)
            client: httpx.AsyncClient
            if mode == "transport":
                client = simulator_client(simulator, **client_kwargs)
            else:
                server = await start_server(simulator, "127.0.0.1", 0)
                stack.push_async_callback(server.close)
                client = httpx.AsyncClient(base_url=server.url, **client_kwargs)
            await stack.enter_async_context(client)
            return Harness(mode=mode, simulator=simulator, client=client)

        yield make


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    return await make_harness()
