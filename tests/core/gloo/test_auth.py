"""Authenticators: token caching, refresh margin, single-flight, invalidation, failures."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from core.gloo.auth import (
    DEFAULT_EXPIRES_IN,
    ClientCredentialsAuth,
    StaticKeyAuth,
    build_authenticator,
)
from core.gloo.errors import (
    GlooAuthError,
    GlooConfigError,
    GlooConnectionError,
    GlooNotFound,
    GlooProtocolError,
    GlooRateLimited,
    GlooServerError,
    GlooTimeout,
)
from core.settings import Settings
from tests.clock import FakeClock
from tests.core.gloo.fakes import (
    TOKEN_URL,
    FakeGloo,
    json_reply,
    raise_error,
    text_reply,
)


def make_settings(**values: object) -> Settings:
    base: dict[str, object] = {
        "gloo_api_key": None,
        "gloo_client_id": None,
        "gloo_client_secret": None,
    }
    base.update(values)
    return Settings(_env_file=None, **base)  # type: ignore[arg-type]


async def test_token_request_shape(auth: ClientCredentialsAuth, gloo: FakeGloo) -> None:
    assert await auth.token() == "tok-1"

    [request] = gloo.token.calls
    assert request.method == "POST"
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["api/access"],
    }
    expected = base64.b64encode(b"client-id:client-secret").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


async def test_custom_scope(http: httpx.AsyncClient, gloo: FakeGloo) -> None:
    auth = ClientCredentialsAuth(http, TOKEN_URL, "id", "secret", scope="api/other")
    await auth.token()
    assert parse_qs(gloo.token.calls[0].content.decode())["scope"] == ["api/other"]


async def test_token_is_cached(auth: ClientCredentialsAuth, gloo: FakeGloo) -> None:
    assert await auth.token() == "tok-1"
    assert await auth.token() == "tok-1"
    assert gloo.token.count == 1


async def test_refreshes_sixty_seconds_before_expiry(
    auth: ClientCredentialsAuth, gloo: FakeGloo, clock: FakeClock
) -> None:
    await auth.token()
    assert auth.expires_at == clock.now + 3600
    assert auth.refresh_at == clock.now + 3600 - 60

    clock.advance(3600 - 60 - 1)  # 61 s before expiry: still good
    assert await auth.token() == "tok-1"
    clock.advance(1)  # exactly 60 s before expiry: refresh
    assert await auth.token() == "tok-2"
    assert gloo.token.count == 2


async def test_short_lived_token_uses_half_its_life_as_margin(
    auth: ClientCredentialsAuth, gloo: FakeGloo, clock: FakeClock
) -> None:
    gloo.expires_in = 30  # shorter than the 60 s margin: must still be cached
    await auth.token()
    clock.advance(14)
    assert await auth.token() == "tok-1"
    clock.advance(1)
    assert await auth.token() == "tok-2"


@pytest.mark.parametrize("expires_in", [None, "soon", 0, -5])
async def test_missing_or_bad_expires_in_defaults_to_an_hour(
    auth: ClientCredentialsAuth, gloo: FakeGloo, clock: FakeClock, expires_in: object
) -> None:
    gloo.expires_in = expires_in
    await auth.token()
    assert auth.expires_at == clock.now + DEFAULT_EXPIRES_IN


async def test_expires_in_as_numeric_string(
    auth: ClientCredentialsAuth, gloo: FakeGloo, clock: FakeClock
) -> None:
    gloo.expires_in = "1200"
    await auth.token()
    assert auth.expires_at == clock.now + 1200


async def test_fifty_concurrent_callers_with_expired_token_make_one_request(
    auth: ClientCredentialsAuth, gloo: FakeGloo, clock: FakeClock
) -> None:
    await auth.token()
    clock.advance(3600)  # expired

    tokens = await asyncio.gather(*(auth.token() for _ in range(50)))

    assert set(tokens) == {"tok-2"}
    assert gloo.token.count == 2  # the first one, then exactly one refresh


async def test_fifty_concurrent_callers_cold_start_make_one_request(
    auth: ClientCredentialsAuth, gloo: FakeGloo
) -> None:
    tokens = await asyncio.gather(*(auth.token() for _ in range(50)))
    assert set(tokens) == {"tok-1"}
    assert gloo.token.count == 1


async def test_invalidate_forgets_only_the_current_token(
    auth: ClientCredentialsAuth, gloo: FakeGloo
) -> None:
    await auth.token()
    auth.invalidate("some-older-token")
    assert await auth.token() == "tok-1"
    assert gloo.token.count == 1

    auth.invalidate("tok-1")
    assert auth.expires_at is None
    assert await auth.token() == "tok-2"
    # Late callers reporting the old token do not throw the new one away.
    auth.invalidate("tok-1")
    assert await auth.token() == "tok-2"
    assert gloo.token.count == 2


async def test_fifty_invalidations_of_the_same_token_cause_one_refresh(
    auth: ClientCredentialsAuth, gloo: FakeGloo
) -> None:
    old = await auth.token()

    async def reauth() -> str:
        auth.invalidate(old)
        return await auth.token()

    tokens = await asyncio.gather(*(reauth() for _ in range(50)))
    assert set(tokens) == {"tok-2"}
    assert gloo.token.count == 2


async def test_refresh_fetches_a_new_token(
    auth: ClientCredentialsAuth, gloo: FakeGloo, clock: FakeClock
) -> None:
    await auth.token()
    clock.advance(100)
    await auth.refresh()
    assert await auth.token() == "tok-2"
    assert auth.expires_at == clock.now + 3600


async def test_concurrent_refreshes_make_one_request(
    auth: ClientCredentialsAuth, gloo: FakeGloo
) -> None:
    await auth.token()
    await asyncio.gather(*(auth.refresh() for _ in range(10)))
    assert gloo.token.count == 2


@pytest.mark.parametrize("status", [400, 401, 403])
async def test_refused_credentials_raise_auth_error(
    auth: ClientCredentialsAuth, gloo: FakeGloo, status: int
) -> None:
    gloo.token.script(
        json_reply(
            {"error": "invalid_client", "error_description": "Client authentication failed"},
            status=status,
        )
    )
    with pytest.raises(GlooAuthError) as info:
        await auth.token()
    error = info.value
    assert error.status_code == status
    assert error.retryable is False
    assert error.code == "invalid_client"
    assert error.message == (
        f"Gloo refused the client ID/secret ({status}): Client authentication failed"
    )
    assert error.detail == {
        "error": "invalid_client",
        "error_description": "Client authentication failed",
    }
    assert "client-secret" not in str(error)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(500, GlooServerError), (503, GlooServerError), (429, GlooRateLimited), (404, GlooNotFound)],
)
async def test_token_endpoint_http_failures(
    auth: ClientCredentialsAuth, gloo: FakeGloo, status: int, error_type: type[Exception]
) -> None:
    gloo.token.script(text_reply("nope", status=status, headers={"Retry-After": "3"}))
    with pytest.raises(error_type) as info:
        await auth.token()
    assert getattr(info.value, "status_code", None) == status
    if status == 429:
        assert getattr(info.value, "retry_after", None) == 3.0
        assert getattr(info.value, "retryable", None) is True


@pytest.mark.parametrize(
    ("exc", "error_type"),
    [
        (httpx.ConnectTimeout, GlooTimeout),
        (httpx.ReadTimeout, GlooTimeout),
        (httpx.ConnectError, GlooConnectionError),
        (httpx.RemoteProtocolError, GlooConnectionError),
    ],
)
async def test_token_endpoint_transport_failures(
    auth: ClientCredentialsAuth,
    gloo: FakeGloo,
    exc: type[httpx.RequestError],
    error_type: type[Exception],
) -> None:
    gloo.token.script(raise_error(exc))
    with pytest.raises(error_type) as info:
        await auth.token()
    assert getattr(info.value, "retryable", None) is True


@pytest.mark.parametrize("body", ["not json", '{"token_type": "Bearer"}', '["x"]'])
async def test_token_response_without_token(
    auth: ClientCredentialsAuth, gloo: FakeGloo, body: str
) -> None:
    gloo.token.script(text_reply(body))
    with pytest.raises(GlooProtocolError):
        await auth.token()


async def test_failed_refresh_keeps_no_stale_state(
    auth: ClientCredentialsAuth, gloo: FakeGloo, clock: FakeClock
) -> None:
    await auth.token()
    clock.advance(4000)
    gloo.token.script(text_reply("down", status=503), gloo.issue_token)
    with pytest.raises(GlooServerError):
        await auth.token()
    assert await auth.token() == "tok-2"


async def test_static_key_auth() -> None:
    auth = StaticKeyAuth(" key-123 ")
    assert await auth.token() == "key-123"
    assert auth.expires_at is None
    auth.invalidate("key-123")
    await auth.refresh()
    assert await auth.token() == "key-123"
    assert "key-123" not in repr(auth)


def test_static_key_must_not_be_empty() -> None:
    with pytest.raises(GlooConfigError):
        StaticKeyAuth("  ")


def test_client_credentials_repr_hides_secret(auth: ClientCredentialsAuth) -> None:
    assert "client-secret" not in repr(auth)
    assert "client-id" in repr(auth)


def test_build_authenticator_prefers_api_key(http: httpx.AsyncClient) -> None:
    settings = make_settings(
        gloo_api_key=SecretStr("key-1"),
        gloo_client_id="id",
        gloo_client_secret=SecretStr("secret"),
    )
    assert isinstance(build_authenticator(http, settings), StaticKeyAuth)


async def test_build_authenticator_client_credentials(
    http: httpx.AsyncClient, gloo: FakeGloo
) -> None:
    settings = make_settings(
        gloo_client_id="id",
        gloo_client_secret=SecretStr("secret"),
        gloo_token_url=TOKEN_URL,
        gloo_token_scope="api/custom",
    )
    auth = build_authenticator(http, settings)
    assert isinstance(auth, ClientCredentialsAuth)
    assert await auth.token() == "tok-1"
    request = gloo.token.calls[0]
    assert parse_qs(request.content.decode())["scope"] == ["api/custom"]
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"id:secret").decode()


def test_build_authenticator_without_credentials(http: httpx.AsyncClient) -> None:
    with pytest.raises(GlooConfigError):
        build_authenticator(http, make_settings())
