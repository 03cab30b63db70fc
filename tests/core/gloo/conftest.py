"""Fixtures for the Gloo client tests: instant retries, a fake Gloo behind MockTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.gloo.auth import ClientCredentialsAuth, StaticKeyAuth
from core.gloo.client import MessageBackend
from core.gloo.retry import RetryPolicy
from tests.clock import FakeClock
from tests.core.gloo.fakes import API_URL, TOKEN_URL, FakeGloo


@pytest.fixture
def gloo() -> FakeGloo:
    return FakeGloo()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def http(gloo: FakeGloo) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(gloo.handle)) as client:
        yield client


@pytest.fixture
def auth(http: httpx.AsyncClient, clock: FakeClock) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(http, TOKEN_URL, "client-id", "client-secret", clock=clock)


@pytest.fixture
def policy() -> RetryPolicy:
    return RetryPolicy(attempts=4)


@pytest.fixture
def backend(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> MessageBackend:
    return MessageBackend(http, auth, API_URL, retry=policy)


@pytest.fixture
def static_backend(http: httpx.AsyncClient, policy: RetryPolicy) -> MessageBackend:
    return MessageBackend(http, StaticKeyAuth("static-key-123"), API_URL, retry=policy)
