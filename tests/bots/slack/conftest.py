"""Fixtures for the Slack adapter's tests: a fake Slack and a Gloo simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.simulator import Simulator, SimulatorConfig
from tests.bots.slack.fake_slack import FakeSlack


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=7))
