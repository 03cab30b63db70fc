"""A whole core wired the production way (composition root), on the in-process simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from core.bootstrap import Container, build
from core.ports import Store
from core.settings import Settings
from core.simulator import Simulator, SimulatorConfig, SimulatorTransport


def settings_for_tests(**overrides: Any) -> Settings:
    """Settings that ignore the developer's .env and environment-provided credentials."""
    values: dict[str, Any] = {
        "gloo_backend": "simulator",
        "gloo_client_id": None,
        "gloo_client_secret": None,
        "gloo_api_key": None,
        "gloo_retry_attempts": 3,
        # Re-drives of failed questions are instant in tests (the Gloo client's retries are
        # made instant by the autouse fixture in conftest.py).
        "inbox_retry_base": 0.0,
        # No usage limits unless a test is about them.
        "quota_user_per_minute": 0,
        "quota_user_per_day": 0,
        "quota_workspace_per_day": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def core_on_simulator(
    store: Store,
    config: SimulatorConfig | None = None,
    simulator: Simulator | None = None,
    **settings: Any,
) -> AsyncIterator[tuple[Container, Simulator]]:
    sim = simulator or Simulator(config or SimulatorConfig())
    async with build(
        settings_for_tests(**settings), transport=SimulatorTransport(sim), store=store
    ) as container:
        yield container, sim


async def wait_until(condition: Callable[[], bool], *, within: float = 10.0) -> None:
    """Poll ``condition`` (state that other tasks change) until it holds, for ``within`` s."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the state has no event to wait on
            await asyncio.sleep(0.01)
