"""OAuth2 client credentials and bearer authentication, over both front ends."""

from __future__ import annotations

import base64

import structlog

from core.simulator import SimulatorConfig
from tests.clock import FakeClock
from tests.core.simulator.conftest import HarnessFactory
from tests.core.simulator.support import Harness


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


async def test_token_via_http_basic(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(token_ttl=1800, clients={"bot": "s3cret"}))
    response = await h.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "api/access"},
        headers={"Authorization": _basic("bot", "s3cret")},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    assert body["scope"] == "api/access"
    assert body["access_token"]
    assert h.simulator.token_requests == 1

    answer = await h.client.post(
        "/ai/v1/message",
        json={"query": "Hello?"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert answer.status_code == 200


async def test_token_via_form_fields_and_json(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(clients={"bot": "s3cret"}))
    form = await h.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "bot", "client_secret": "s3cret"},
    )
    assert form.status_code == 200
    assert form.json()["scope"] == "api/access"
    as_json = await h.client.post(
        "/oauth2/token",
        json={"grant_type": "client_credentials", "client_id": "bot", "client_secret": "s3cret"},
    )
    assert as_json.status_code == 200
    assert as_json.json()["access_token"] != form.json()["access_token"]
    assert h.simulator.token_requests == 2


async def test_any_non_empty_pair_is_accepted_without_a_client_list(harness: Harness) -> None:
    token = await harness.token("whoever", "whatever")
    assert token


async def test_bad_or_missing_client_credentials(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(clients={"bot": "s3cret"}))
    wrong = await h.client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=("bot", "nope")
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.json()["code"] == "invalid_credentials"

    unknown = await h.client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=("other", "s3cret")
    )
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "invalid_credentials"

    missing = await h.client.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert missing.status_code == 401
    assert missing.json()["error"] == "invalid_client"
    assert missing.json()["code"] == "missing_credentials"
    assert missing.json()["error_description"]
    assert h.simulator.token_requests == 3


async def test_wrong_or_missing_grant_type(harness: Harness) -> None:
    wrong = await harness.client.post(
        "/oauth2/token", data={"grant_type": "password"}, auth=("bot", "pw")
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "unsupported_grant_type"
    missing = await harness.client.post("/oauth2/token", data={}, auth=("bot", "pw"))
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


async def test_missing_unknown_and_malformed_bearer(harness: Harness) -> None:
    body = {"query": "Hello?"}
    missing = await harness.client.post("/ai/v1/message", json=body)
    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthorized"
    assert missing.json()["code"] == "not_authenticated"
    assert missing.headers["www-authenticate"].startswith("Bearer")

    unknown = await harness.client.post(
        "/ai/v1/message", json=body, headers={"Authorization": "Bearer not-a-token"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "invalid_token"

    wrong_scheme = await harness.client.post(
        "/ai/v1/message", json=body, headers={"Authorization": "Token abc"}
    )
    assert wrong_scheme.status_code == 401
    assert wrong_scheme.json()["code"] == "invalid_token"

    chat = await harness.client.get("/ai/v1/chat", params={"chat_id": "c1"})
    assert chat.status_code == 401
    assert harness.simulator.chats == {}
    assert [r.status for r in harness.simulator.requests] == [401, 401, 401, 401]


async def test_expired_token_with_a_fake_clock(make_harness: HarnessFactory) -> None:
    clock = FakeClock()
    h = await make_harness(SimulatorConfig(token_ttl=60, clock=clock))
    token = await h.token()
    headers = {"Authorization": f"Bearer {token}"}
    assert (await h.client.post("/ai/v1/message", json={"query": "a?"}, headers=headers)).is_success

    clock.advance(59.5)
    assert (await h.client.post("/ai/v1/message", json={"query": "b?"}, headers=headers)).is_success

    clock.advance(0.5)
    expired = await h.client.post("/ai/v1/message", json={"query": "c?"}, headers=headers)
    assert expired.status_code == 401
    assert expired.json()["code"] == "token_expired"
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]

    fresh = await h.token()
    ok = await h.client.post(
        "/ai/v1/message", json={"query": "d?"}, headers={"Authorization": f"Bearer {fresh}"}
    )
    assert ok.status_code == 200


async def test_expire_and_revoke_tokens(harness: Harness) -> None:
    token = await harness.token()
    headers = {"Authorization": f"Bearer {token}"}
    harness.simulator.expire_tokens()
    expired = await harness.client.post("/ai/v1/message", json={"query": "x?"}, headers=headers)
    assert expired.json()["code"] == "token_expired"
    harness.simulator.revoke_tokens()
    revoked = await harness.client.post("/ai/v1/message", json={"query": "x?"}, headers=headers)
    assert revoked.json()["code"] == "invalid_token"


async def test_static_api_keys(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(api_keys=frozenset({"gloo-key-1"})))
    ok = await h.client.post(
        "/ai/v1/message", json={"query": "Hi?"}, headers={"Authorization": "Bearer gloo-key-1"}
    )
    assert ok.status_code == 200
    chat = await h.client.get(
        "/ai/v1/chat",
        params={"chat_id": ok.json()["chat_id"]},
        headers={"Authorization": "Bearer gloo-key-1"},
    )
    assert chat.status_code == 200
    bad = await h.client.post(
        "/ai/v1/message", json={"query": "Hi?"}, headers={"Authorization": "Bearer gloo-key-2"}
    )
    assert bad.status_code == 401
    assert h.simulator.token_requests == 0


async def test_chats_belong_to_their_caller(harness: Harness) -> None:
    mine = await harness.ask("What is grace?")
    chat_id = mine.json()["chat_id"]
    other = {"Authorization": f"Bearer {await harness.token('another-bot', 'pw')}"}
    seen = await harness.client.get("/ai/v1/chat", params={"chat_id": chat_id}, headers=other)
    assert seen.status_code == 404
    hijack = await harness.client.post(
        "/ai/v1/message", json={"query": "More?", "chat_id": chat_id}, headers=other
    )
    assert hijack.status_code == 404
    assert len(harness.simulator.chats[chat_id]) == 2


async def test_tokens_and_secrets_never_reach_the_logs(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(clients={"bot": "very-secret-value"}))
    with structlog.testing.capture_logs() as logs:
        token = await h.token("bot", "very-secret-value")
        await h.client.post("/oauth2/token", data={"grant_type": "x"}, auth=("bot", "wrong-pw"))
        await h.client.post(
            "/ai/v1/message", json={"query": "Hi?"}, headers={"Authorization": f"Bearer {token}"}
        )
    rendered = repr(logs)
    assert logs
    assert token not in rendered
    assert "very-secret-value" not in rendered
    assert "wrong-pw" not in rendered
