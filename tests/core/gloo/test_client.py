"""MessageBackend.send() and history(): request shape, auth, errors, retries."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest
from structlog.testing import capture_logs

from core.gloo.auth import ClientCredentialsAuth
from core.gloo.backend import GlooAnswer, GlooBackend, GlooRequest
from core.gloo.client import MessageBackend, build_message_body, build_message_params
from core.gloo.errors import (
    GlooAuthError,
    GlooBadRequest,
    GlooConfigError,
    GlooConnectionError,
    GlooError,
    GlooNotFound,
    GlooPermissionDenied,
    GlooProtocolError,
    GlooRateLimited,
    GlooRequestTimeout,
    GlooServerError,
    GlooTimeout,
    GlooValidationError,
)
from core.gloo.retry import RetryPolicy
from core.types import ChatHistory, HistoryMessage, Source
from tests.clock import FakeClock
from tests.core.gloo.fakes import (
    API_URL,
    SEED_ANSWER,
    SEED_HISTORY,
    FakeGloo,
    bearer,
    json_reply,
    raise_error,
    text_reply,
)

QUESTION = GlooRequest(query="What is your name?")


def test_backend_satisfies_the_protocol(backend: MessageBackend) -> None:
    protocol_view: GlooBackend = backend
    assert protocol_view is backend


# --- request shape -------------------------------------------------------------------------


async def test_new_chat_request_shape(backend: MessageBackend, gloo: FakeGloo) -> None:
    answer = await backend.send(QUESTION)

    [request] = gloo.message.calls
    assert request.method == "POST"
    assert request.url.path == "/ai/v1/message"
    assert request.url.query == b""
    assert json.loads(request.content) == {"query": "What is your name?", "stream": False}
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert request.headers["Accept"] == "application/json"
    assert answer == GlooAnswer(
        chat_id=SEED_ANSWER["chat_id"],
        text="My name is Gloo AI Chat.",
        sources=(),
        suggestions=tuple(SEED_ANSWER["suggestions"]),
        message_id=SEED_ANSWER["message_id"],
        query_id=SEED_ANSWER["query_id"],
        model=SEED_ANSWER["model"],
    )


async def test_continuing_chat_with_all_options(backend: MessageBackend, gloo: FakeGloo) -> None:
    request = GlooRequest(
        query="And then?",
        chat_id="chat-1",
        character_limit=500,
        sources_limit=3,
        publishers=("Pub A", "", "Pub B"),
        intent=1,
        enable_sources=True,
        enable_suggestions=False,
    )
    await backend.send(request)

    [sent] = gloo.message.calls
    assert json.loads(sent.content) == {
        "query": "And then?",
        "chat_id": "chat-1",
        "character_limit": 500,
        "sources_limit": 3,
        "publishers": ["Pub A", "Pub B"],
        "stream": False,
    }
    assert dict(sent.url.params) == {
        "intent": "1",
        "enable_sources": "1",
        "enable_suggestions": "0",
    }


def test_body_and_params_builders() -> None:
    assert build_message_body(GlooRequest(query="q", chat_id=""), stream=True) == {
        "query": "q",
        "stream": True,
    }
    assert build_message_params(GlooRequest(query="q", intent=0, enable_sources=False)) == {
        "intent": "0",
        "enable_sources": "0",
    }
    assert build_message_params(GlooRequest(query="q")) == {}


async def test_api_url_trailing_slash(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, gloo: FakeGloo
) -> None:
    await MessageBackend(http, auth, API_URL + "/").send(QUESTION)
    assert gloo.message.count == 1


def test_empty_api_url_is_a_config_error(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth
) -> None:
    with pytest.raises(GlooConfigError):
        MessageBackend(http, auth, "/")


async def test_answer_sources_normalized_and_limited(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    payload = dict(SEED_ANSWER)
    payload["sources"] = [
        {"title": "One", "url": "https://one.example/", "author": ["A", "B"]},
        {"name": "One dup", "link": "https://one.example/"},
        {"item_title": "Two"},
        {"title": "Three"},
    ]
    gloo.message.script(json_reply(payload))
    answer = await backend.send(GlooRequest(query="q", sources_limit=2))
    assert answer.sources == (
        Source(title="One", url="https://one.example/", author="A, B"),
        Source(title="Two"),
    )


# --- auth ----------------------------------------------------------------------------------


async def test_401_reauthenticates_once_and_retries(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    gloo.message.script(
        json_reply({"detail": "Token expired"}, status=401), json_reply(SEED_ANSWER)
    )
    answer = await backend.send(QUESTION)
    assert answer.text == "My name is Gloo AI Chat."
    assert [bearer(r) for r in gloo.message.calls] == ["tok-1", "tok-2"]
    assert gloo.token.count == 2


async def test_second_401_is_an_auth_error(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(json_reply({"detail": "Not authenticated"}, status=401))
    with pytest.raises(GlooAuthError) as info:
        await backend.send(QUESTION)
    assert info.value.status_code == 401
    assert info.value.message == "Gloo refused the access token (401): Not authenticated"
    assert gloo.message.count == 2  # the re-authenticated retry is not repeated by the policy
    assert gloo.token.count == 2


async def test_401_reauth_is_outside_the_retry_budget(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, gloo: FakeGloo
) -> None:
    backend = MessageBackend(http, auth, API_URL, retry=RetryPolicy(attempts=2))
    unauthorized = json_reply({"detail": "expired"}, status=401)
    down = text_reply("down", status=503)
    gloo.message.script(down, unauthorized, json_reply(SEED_ANSWER))
    assert (await backend.send(QUESTION)).text
    assert gloo.message.count == 3  # 503, then 401 + re-authenticated success in attempt 2


async def test_static_key_401_is_not_resent(static_backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(json_reply({"detail": "bad key"}, status=401))
    with pytest.raises(GlooAuthError):
        await static_backend.send(QUESTION)
    assert gloo.message.count == 1
    assert gloo.message.calls[0].headers["Authorization"] == "Bearer static-key-123"
    assert gloo.token.count == 0


async def test_token_endpoint_refusal_is_not_retried(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    gloo.token.script(json_reply({"error": "invalid_client"}, status=401))
    with pytest.raises(GlooAuthError, match="client ID/secret"):
        await backend.send(QUESTION)
    assert gloo.token.count == 1
    assert gloo.message.count == 0


async def test_token_endpoint_outage_is_retried(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.token.script(text_reply("down", status=502), gloo.issue_token)
    assert (await backend.send(QUESTION)).text
    assert gloo.token.count == 2


async def test_fifty_concurrent_sends_with_expired_token_fetch_one_token(
    backend: MessageBackend, auth: ClientCredentialsAuth, gloo: FakeGloo, clock: FakeClock
) -> None:
    await auth.token()
    clock.advance(3600)

    answers = await asyncio.gather(*(backend.send(QUESTION) for _ in range(50)))

    assert len(answers) == 50
    assert gloo.token.count == 2
    assert {bearer(r) for r in gloo.message.calls} == {"tok-2"}
    assert gloo.message.count == 50


async def test_fifty_concurrent_401s_cause_one_refresh(
    backend: MessageBackend, auth: ClientCredentialsAuth, gloo: FakeGloo
) -> None:
    await auth.token()  # tok-1, which the server now refuses

    async def only_new_tokens(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        if bearer(request) == "tok-1":
            return httpx.Response(401, json={"detail": "revoked"})
        return httpx.Response(200, json=SEED_ANSWER)

    gloo.message.script(only_new_tokens)
    await asyncio.gather(*(backend.send(QUESTION) for _ in range(50)))

    assert gloo.token.count == 2
    assert gloo.message.count == 100


async def test_logs_never_contain_tokens_or_secrets(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    gloo.message.script(
        json_reply({"detail": "expired"}, status=401),
        text_reply("x", status=500),
        json_reply(SEED_ANSWER),
    )
    with capture_logs() as logs:
        await backend.send(QUESTION)
    assert logs  # something was logged
    dumped = repr(logs)
    for secret in ("tok-1", "tok-2", "client-secret", "Bearer", "Authorization"):
        assert secret not in dumped


# --- errors and retries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, GlooBadRequest),
        (403, GlooPermissionDenied),
        (404, GlooNotFound),
        (422, GlooValidationError),
    ],
)
async def test_client_errors_are_not_retried(
    backend: MessageBackend, gloo: FakeGloo, status: int, error_type: type[GlooError]
) -> None:
    gloo.message.script(json_reply({"detail": "nope"}, status=status))
    with pytest.raises(error_type) as info:
        await backend.send(QUESTION)
    assert gloo.message.count == 1
    assert getattr(info.value, "status_code", None) == status


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (408, GlooRequestTimeout),
        (429, GlooRateLimited),
        (500, GlooServerError),
        (502, GlooServerError),
        (503, GlooServerError),
    ],
)
async def test_retryable_statuses_use_all_attempts(
    backend: MessageBackend, gloo: FakeGloo, status: int, error_type: type[GlooError]
) -> None:
    gloo.message.script(text_reply("busy", status=status))
    with pytest.raises(error_type):
        await backend.send(QUESTION)
    assert gloo.message.count == 4


@pytest.mark.parametrize(
    ("exc", "error_type"),
    [
        (httpx.ConnectTimeout, GlooTimeout),
        (httpx.ReadTimeout, GlooTimeout),
        (httpx.PoolTimeout, GlooTimeout),
        (httpx.ConnectError, GlooConnectionError),
        (httpx.ReadError, GlooConnectionError),
        (httpx.RemoteProtocolError, GlooConnectionError),
    ],
)
async def test_transport_failures_use_all_attempts(
    backend: MessageBackend,
    gloo: FakeGloo,
    exc: type[httpx.RequestError],
    error_type: type[GlooError],
) -> None:
    gloo.message.script(raise_error(exc))
    with pytest.raises(error_type) as info:
        await backend.send(QUESTION)
    assert gloo.message.count == 4
    assert isinstance(info.value.__cause__, exc)


async def test_unsupported_protocol_is_a_config_error(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, gloo: FakeGloo
) -> None:
    gloo.message.script(raise_error(httpx.UnsupportedProtocol))
    with pytest.raises(GlooConfigError):
        await MessageBackend(http, auth, API_URL).send(QUESTION)
    assert gloo.message.count == 1


async def test_success_after_two_failures(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(
        text_reply("down", status=503), raise_error(httpx.ConnectError), json_reply(SEED_ANSWER)
    )
    assert (await backend.send(QUESTION)).text == "My name is Gloo AI Chat."
    assert gloo.message.count == 3


async def test_attempts_follow_the_policy(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, gloo: FakeGloo
) -> None:
    backend = MessageBackend(http, auth, API_URL, retry=RetryPolicy(attempts=2))
    gloo.message.script(text_reply("down", status=500))
    with pytest.raises(GlooServerError):
        await backend.send(QUESTION)
    assert gloo.message.count == 2


async def test_retry_after_header_drives_the_wait(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(
        text_reply("slow", status=429, headers={"Retry-After": "2"}),
        text_reply("slow", status=503, headers={"X-RateLimit-Reset": "5"}),
        json_reply(SEED_ANSWER),
    )
    with capture_logs() as logs:
        await backend.send(QUESTION)
    waits = [(e["status"], e["wait"]) for e in logs if e["event"] == "gloo.retry"]
    assert waits == [(429, 2.0), (503, 5.0)]


async def test_too_long_retry_after_is_not_retried(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(text_reply("slow", status=429, headers={"Retry-After": "120"}))
    with pytest.raises(GlooRateLimited) as info:
        await backend.send(QUESTION)
    assert info.value.retry_after == 120.0
    assert gloo.message.count == 1


async def test_validation_error_detail(backend: MessageBackend, gloo: FakeGloo) -> None:
    detail = [{"loc": ["body", "query"], "msg": "field required", "type": "value_error.missing"}]
    gloo.message.script(json_reply({"detail": detail}, status=422))
    with pytest.raises(GlooValidationError) as info:
        await backend.send(QUESTION)
    assert info.value.message == "Gloo rejected the request (422): body.query: field required"
    assert info.value.detail == detail


async def test_error_code_body(backend: MessageBackend, gloo: FakeGloo) -> None:
    body = {
        "error": "forbidden_publisher",
        "code": "PUBLISHER_DENIED",
        "message": "Publisher not allowed",
    }
    gloo.message.script(json_reply(body, status=403))
    with pytest.raises(GlooPermissionDenied) as info:
        await backend.send(QUESTION)
    assert info.value.code == "PUBLISHER_DENIED"
    assert info.value.detail == body
    assert info.value.message == "Gloo denied permission (403): Publisher not allowed"


@pytest.mark.parametrize(
    "body",
    [
        "<html>oops</html>",
        "[]",
        json.dumps({**SEED_ANSWER, "chat_id": None}),
        json.dumps({**SEED_ANSWER, "message": "", "sources": []}),
        json.dumps({**SEED_ANSWER, "success": False, "message": "model failed"}),
    ],
)
async def test_unusable_2xx_answers_are_protocol_errors(
    backend: MessageBackend, gloo: FakeGloo, body: str
) -> None:
    gloo.message.script(text_reply(body))
    with pytest.raises(GlooProtocolError):
        await backend.send(QUESTION)
    assert gloo.message.count == 4  # retryable


async def test_missing_chat_id_falls_back_to_the_request(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    gloo.message.script(json_reply({"message": "Sure."}))
    answer = await backend.send(GlooRequest(query="q", chat_id="chat-7"))
    assert answer.chat_id == "chat-7"


# --- history -------------------------------------------------------------------------------


async def test_history_from_seed_example(backend: MessageBackend, gloo: FakeGloo) -> None:
    history = await backend.history("c518c540a-28f1-4055-a8ed-44a5929c63f8")

    [request] = gloo.chat.calls
    assert request.method == "GET"
    assert request.url.path == "/ai/v1/chat"
    assert dict(request.url.params) == {"chat_id": "c518c540a-28f1-4055-a8ed-44a5929c63f8"}
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert history == ChatHistory(
        chat_id="c518c540a-28f1-4055-a8ed-44a5929c63f8",
        title="User Asks About AI's Name",
        messages=(
            HistoryMessage(
                role="user",
                text="What is your name?",
                timestamp=datetime(2025, 7, 14, 19, 4, 58, 449394, tzinfo=UTC),
            ),
            HistoryMessage(
                role="assistant",
                text="My name is Gloo AI Chat. How can I assist you today?",
                timestamp=datetime(2025, 7, 14, 19, 4, 59, 679262, tzinfo=UTC),
                suggestions=(
                    "How can I use AI?",
                    "What can KALLM help me with?",
                    "Can I ask you for advice?",
                ),
            ),
        ),
    )


async def test_history_tolerates_odd_entries(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.chat.script(
        json_reply(
            {
                "chat_id": "c1",
                "title": None,
                "messages": [
                    "junk",
                    {"role": "system", "message": "hidden"},
                    {
                        "role": "kallm",
                        "message": "Answer",
                        "timestamp": "bad",
                        "sources": [
                            {"title": "S", "url": "https://s.example/"},
                            {"title": "S", "url": "https://s.example/"},
                        ],
                    },
                    {"role": "USER", "message": 5},
                ],
            }
        )
    )
    history = await backend.history("c1")
    assert history.title is None
    assert history.messages == (
        HistoryMessage(
            role="assistant", text="Answer", sources=(Source(title="S", url="https://s.example/"),)
        ),
        HistoryMessage(role="user", text=""),
    )


async def test_history_list_of_chats(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.chat.script(json_reply([{"chat_id": "other", "messages": []}, SEED_HISTORY]))
    history = await backend.history(SEED_HISTORY["chat_id"])
    assert len(history.messages) == 2


async def test_history_is_retried_and_maps_errors(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.chat.script(text_reply("down", status=503), json_reply(SEED_HISTORY))
    assert len((await backend.history("c1")).messages) == 2
    assert gloo.chat.count == 2

    gloo.chat.script(json_reply({"detail": "Chat not found"}, status=404))
    with pytest.raises(GlooNotFound, match="Chat not found"):
        await backend.history("missing")
    assert gloo.chat.count == 1

    gloo.chat.script(text_reply("not json"))
    with pytest.raises(GlooProtocolError):
        await backend.history("c1")


async def test_history_needs_a_chat_id(backend: MessageBackend) -> None:
    with pytest.raises(ValueError, match="chat_id"):
        await backend.history("")
