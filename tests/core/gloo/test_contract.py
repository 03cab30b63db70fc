"""The Gloo clients against response bodies recorded from Gloo's public material.

Sources (each body below names the one it comes from):

* docs.gloo.com API reference, Completions V2 / Grounded Completions
  (docs.gloo.com/api-reference/completions/v2/grounded): ``rag_publisher`` "Defaults to
  GlooGrounded when omitted", ``sources_limit`` 1-10, ``tradition`` one of evangelical,
  catholic, mainline, not_faith_specific; "For streaming responses, citations are prepended
  as the first SSE event before any content chunks".
* docs.gloo.com Errors (docs.gloo.com/api-reference/general/errors): 429 is "Exceeded
  request rate or spending limit for your plan"; the AI error object's ``error.code`` is
  numeric (2001) and ``error.name`` symbolic (PROVIDER_TIMEOUT).
* docs.gloo.com Rate limits (docs.gloo.com/api-reference/general/limits): the example body
  ``{"error": "Rate limit exceeded", "code": "too_many_requests"}`` and X-RateLimit-Reset.
* docs.gloo.com Completions streaming failures
  (docs.gloo.com/best-practices/completions-streaming-failures): ``finish_reason: "error"``
  with a structured error object is the retryable signal; ``finish_reason:
  "content_filter"`` with no error object is terminal, never retried.
* GlooDeveloper/gloo-ai-docs-cookbook, completions-grounded recipes: the documented
  ``/ai/v2/chat/completions/grounded`` and, in newer versions, ``/ai/v2/grounded/chat/
  completions`` and ``/ai/v2/guarded/chat/completions``; the response's
  ``sources_returned``.
* glooai/typescript-example: the Completions V2 guide (.context/guides/gloo/api/
  completions-v2.md: the response envelope with ``model``, ``provider``,
  ``routing_mechanism``; ``model_family`` as a routing mechanism), and canary ADRs for the
  observed error envelope ``{"error": {"type", "code", "fault", "retryable"}}``.
* A public Gloo client's ``GlooCitation`` (search tool: find_string "item_url"): citations
  are ``{item_title, item_url, author[], publisher, publication_date, snippets[]}``; it
  also reports the 422 "Model is required when tradition is set to not_faith_specific".

Gloo publishes no body for a spending-limit 429 or a guardrail 403; those two bodies are
our stand-ins, and the classification is checked to fall back safely on the documented
ones.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from core import messages
from core.gloo.auth import ClientCredentialsAuth
from core.gloo.backend import GlooAnswer, GlooDelta, GlooEvent, GlooRequest
from core.gloo.client import MessageBackend, build_message_params
from core.gloo.completions import (
    CompletionsBackend,
    build_completion_body,
    build_completions_backend,
)
from core.gloo.errors import (
    GlooContentFiltered,
    GlooPermissionDenied,
    GlooRateLimited,
    GlooRequestBlocked,
    GlooRouteNotFound,
    GlooStreamInterrupted,
    GlooUsageLimited,
)
from core.gloo.retry import RetryPolicy
from tests.core.gloo.fakes import (
    API_URL,
    SEED_ANSWER,
    FakeGloo,
    Route,
    json_reply,
    sse,
    stream_reply,
)

DOCUMENTED = f"{API_URL}/ai/v2/chat/completions"
DOCUMENTED_GROUNDED = f"{API_URL}/ai/v2/chat/completions/grounded"
GUARDED = f"{API_URL}/ai/v2/guarded/chat/completions"
GROUNDED_NEWER = f"{API_URL}/ai/v2/grounded/chat/completions"

# The grounded response envelope (Grounded Completions reference; the V2 guide's metadata
# example) with citations as public clients read them.
CITATION = {
    "item_title": "Grace in the Psalms",
    "item_url": "https://content.gloo.example/items/grace-in-the-psalms",
    "author": ["Ann Lee", "Sam Ortiz"],
    "publisher": "GlooGrounded",
    "publication_date": "2024-05-01",
    "snippets": ["Grace is favour freely given.", "A second excerpt."],
}
LEGACY_CITATION = {
    "title": "Mercy Today",
    "url": "https://content.gloo.example/mercy",
    "snippet": "Mercy is compassion shown.",
}
GROUNDED_ANSWER: dict[str, Any] = {
    "id": "gen-1768500882-56HaBYeuAb4pLpv8PXqh",
    "object": "chat.completion",
    "created": 1768500882,
    "model": "gloo-openai-gpt-5.2",
    "provider": "Gloo AI",
    "model_family": "OpenAI",
    "auto_routing": True,
    "routing_mechanism": "auto_routing",
    "routing_tier": "tier_2",
    "routing_confidence": 0.557,
    "sources_returned": True,
    "citations": [CITATION, LEGACY_CITATION],
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Grace is a gift."},
        }
    ],
    "usage": {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45},
}
# Rate limits reference: the example error body.
RATE_LIMITED = {"error": "Rate limit exceeded", "code": "too_many_requests"}
# Our stand-ins for the unpublished bodies.
SPENDING_LIMITED = {"error": "Spending limit reached for your organization's plan"}
GUARDRAIL_BLOCKED = {"detail": "Request blocked by content guardrails"}
# The public client above: an unknown publisher name is this 403 (a permission problem).
FORBIDDEN = {"detail": "Forbidden - insufficient permissions"}
# The canary ADRs' observed provider error envelope (a 503).
PROVIDER_ERROR = {"error": {"type": "service_unavailable_error", "code": 2006, "fault": "provider"}}


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    """A V2 stream chunk (Completions streaming tutorial, docs.gloo.com)."""
    delta: dict[str, Any] = {} if content is None else {"content": content}
    return {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "model": "gloo-openai-gpt-5-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


class FakeGlooV2(FakeGloo):
    """FakeGloo with every known V2 route form; an unscripted form answers 404."""

    def __init__(self) -> None:
        super().__init__()
        not_found = json_reply({"detail": "Not Found"}, status=404)
        self.routes: dict[str, Route] = {
            url: Route(not_found) for url in (DOCUMENTED, DOCUMENTED_GROUNDED, GUARDED)
        }
        self.routes[GROUNDED_NEWER] = Route(not_found)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url.copy_with(query=None))
        if url in self.routes:
            return await self.routes[url](request)
        return await super().handle(request)


@pytest.fixture
def gloo() -> FakeGlooV2:
    return FakeGlooV2()


def v2_backend(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy, **options: Any
) -> CompletionsBackend:
    values: dict[str, Any] = {
        "retry": policy,
        "model": None,
        "history_chars": 1_000,
        "stream_enabled": True,
        "grounded_by_default": True,
    }
    values.update(options)
    return build_completions_backend(http, auth, API_URL, **values)


async def collect(backend: CompletionsBackend | MessageBackend, request: GlooRequest) -> list[Any]:
    return [event async for event in backend.stream(request)]


def answer_of(events: list[GlooEvent]) -> GlooAnswer:
    assert isinstance(events[-1], GlooAnswer)
    return events[-1]


def bodies(route: Route) -> list[dict[str, Any]]:
    return [json.loads(call.content) for call in route.calls]


# --- citations ----------------------------------------------------------------------------


async def test_grounded_citations_keep_title_link_author_and_snippet(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    gloo.routes[DOCUMENTED_GROUNDED].script(json_reply(GROUNDED_ANSWER))
    backend = v2_backend(http, auth, policy, stream_enabled=False)
    answer = answer_of(await collect(backend, GlooRequest(query="What is grace?")))
    first, legacy = answer.sources
    assert first.title == "Grace in the Psalms"
    assert first.url == CITATION["item_url"]
    assert first.author == "Ann Lee, Sam Ortiz"
    assert first.publisher == "GlooGrounded"
    assert first.snippet == "Grace is favour freely given."
    assert (legacy.title, legacy.url, legacy.snippet) == (
        "Mercy Today",
        LEGACY_CITATION["url"],
        "Mercy is compassion shown.",
    )


async def test_streamed_citations_arrive_first_and_survive(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    lead = {"id": "gen-1", "object": "chat.completion.citations", "citations": [CITATION]}
    lead["choices"] = []
    gloo.routes[DOCUMENTED_GROUNDED].script(
        stream_reply(
            sse(lead, chunk("Grace "), chunk("abounds."), chunk(finish="stop"), done=False)
        )
    )
    backend = v2_backend(http, auth, policy)
    events = await collect(backend, GlooRequest(query="What is grace?"))
    assert [e.text for e in events if isinstance(e, GlooDelta)] == ["Grace ", "abounds."]
    [source] = answer_of(events).sources
    assert source.url == CITATION["item_url"]


# --- grounded by default, tradition, routing ------------------------------------------------


def test_a_channel_without_publishers_is_grounded_on_gloos_default_publisher() -> None:
    body = build_completion_body(
        GlooRequest(query="Q", sources_limit=5, enable_sources=True),
        [],
        model=None,
        stream=True,
        grounded_by_default=True,
    )
    assert body["rag_publisher"] == "GlooGrounded"
    assert body["include_citations"] is True
    assert body["sources_limit"] == 5
    assert body["auto_routing"] is True


def test_grounding_by_default_can_be_turned_off_and_follows_the_sources_switch() -> None:
    off = build_completion_body(GlooRequest(query="Q"), [], model=None, stream=True)
    assert "rag_publisher" not in off
    no_sources = build_completion_body(
        GlooRequest(query="Q", enable_sources=False), [], model=None, stream=True,
        grounded_by_default=True,
    )  # fmt: skip
    assert "rag_publisher" not in no_sources


def test_tradition_model_family_temperature_and_max_tokens_are_sent() -> None:
    body = build_completion_body(
        GlooRequest(query="Q", tradition="catholic", model_family="anthropic"),
        [],
        model="gloo-openai-gpt-5-mini",
        stream=False,
        temperature=0.3,
        max_tokens=800,
    )
    # Exactly one routing mechanism: the channel's model_family wins over the model.
    assert body["model_family"] == "anthropic"
    assert "model" not in body
    assert "auto_routing" not in body
    assert body["tradition"] == "catholic"
    assert (body["temperature"], body["max_tokens"]) == (0.3, 800)


def test_not_faith_specific_goes_only_with_a_named_model() -> None:
    request = GlooRequest(query="Q", tradition="not_faith_specific")
    auto = build_completion_body(request, [], model=None, stream=False)
    assert "tradition" not in auto
    assert auto["auto_routing"] is True
    named = build_completion_body(request, [], model="gloo-deepseek-v3.2", stream=False)
    assert named["tradition"] == "not_faith_specific"


# --- routes -------------------------------------------------------------------------------


async def test_a_404_on_the_documented_route_falls_back_to_the_newer_form_for_good(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    gloo.routes[GROUNDED_NEWER].script(json_reply(GROUNDED_ANSWER))
    gloo.routes[GUARDED].script(json_reply({**GROUNDED_ANSWER, "citations": []}))
    backend = v2_backend(http, auth, policy, stream_enabled=False)
    with capture_logs() as logs:
        for _ in range(3):
            answer = answer_of(await collect(backend, GlooRequest(query="Q")))
            assert answer.text == "Grace is a gift."
        plain = answer_of(await collect(backend, GlooRequest(query="Q", enable_sources=False)))
    assert plain.text == "Grace is a gift."
    assert gloo.routes[DOCUMENTED_GROUNDED].count == 1  # tried once, then remembered
    assert gloo.routes[GROUNDED_NEWER].count == 3
    assert (gloo.routes[DOCUMENTED].count, gloo.routes[GUARDED].count) == (1, 1)
    fallbacks = [e for e in logs if e["event"] == "gloo.route.fallback"]
    assert [(e["kind"], e["using"]) for e in fallbacks] == [
        ("grounded", "/ai/v2/grounded/chat/completions"),
        ("completions", "/ai/v2/guarded/chat/completions"),
    ]


async def test_a_configured_newer_route_falls_back_to_the_documented_one(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    gloo.routes[DOCUMENTED_GROUNDED].script(json_reply(GROUNDED_ANSWER))
    backend = v2_backend(
        http, auth, policy, stream_enabled=False, grounded_path="/ai/v2/grounded/chat/completions"
    )
    answer_of(await collect(backend, GlooRequest(query="Q")))
    assert backend.routes["grounded"] == "/ai/v2/chat/completions/grounded"


async def test_no_known_route_is_its_own_error_and_not_retried(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    backend = v2_backend(http, auth, policy, stream_enabled=False)
    with pytest.raises(GlooRouteNotFound) as caught:
        await collect(backend, GlooRequest(query="Q"))
    assert not caught.value.retryable
    assert gloo.routes[DOCUMENTED_GROUNDED].count == gloo.routes[GROUNDED_NEWER].count == 1
    assert "sign in" not in messages.for_error(caught.value)


# --- errors -------------------------------------------------------------------------------


async def test_a_documented_rate_limit_is_retried_and_then_answers(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    gloo.routes[DOCUMENTED_GROUNDED].script(
        json_reply(RATE_LIMITED, status=429, headers={"X-RateLimit-Reset": "1"}),
        json_reply(GROUNDED_ANSWER),
    )
    backend = v2_backend(http, auth, policy, stream_enabled=False)
    answer_of(await collect(backend, GlooRequest(query="Q")))
    assert gloo.routes[DOCUMENTED_GROUNDED].count == 2


async def test_a_rate_limit_that_outlasts_the_retries_is_the_usage_limit(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    gloo.routes[DOCUMENTED_GROUNDED].script(json_reply(RATE_LIMITED, status=429))
    backend = v2_backend(http, auth, policy, stream_enabled=False)
    with pytest.raises(GlooUsageLimited) as caught:
        await collect(backend, GlooRequest(query="Q"))
    assert gloo.routes[DOCUMENTED_GROUNDED].count == policy.attempts  # not one more
    assert not caught.value.retryable
    assert messages.for_error(caught.value) == messages.USAGE_LIMIT
    assert isinstance(caught.value.__cause__, GlooRateLimited)


@pytest.mark.parametrize("stream", [True, False])
async def test_a_spending_limit_429_is_told_at_once(
    stream: bool,
    gloo: FakeGlooV2,
    http: httpx.AsyncClient,
    auth: ClientCredentialsAuth,
    policy: RetryPolicy,
) -> None:
    gloo.routes[DOCUMENTED_GROUNDED].script(json_reply(SPENDING_LIMITED, status=429))
    backend = v2_backend(http, auth, policy, stream_enabled=stream)
    with pytest.raises(GlooUsageLimited) as caught:
        await collect(backend, GlooRequest(query="Q"))
    assert gloo.routes[DOCUMENTED_GROUNDED].count == 1
    assert messages.for_error(caught.value) == messages.USAGE_LIMIT


async def test_the_message_api_tells_a_spending_limit_too(
    gloo: FakeGlooV2, backend: MessageBackend
) -> None:
    gloo.message.script(json_reply(SPENDING_LIMITED, status=429))
    with pytest.raises(GlooUsageLimited):
        await backend.send(GlooRequest(query="Q"))
    assert gloo.message.count == 1


async def test_a_guardrail_403_is_declined_not_a_sign_in_problem(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    gloo.routes[DOCUMENTED_GROUNDED].script(json_reply(GUARDRAIL_BLOCKED, status=403))
    backend = v2_backend(http, auth, policy)
    with pytest.raises(GlooRequestBlocked) as caught:
        await collect(backend, GlooRequest(query="Q"))
    assert gloo.routes[DOCUMENTED_GROUNDED].count == 1
    assert messages.for_error(caught.value) == messages.DECLINED
    assert "sign in" not in messages.for_error(caught.value)


async def test_a_plain_403_stays_a_permission_problem(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    gloo.routes[DOCUMENTED_GROUNDED].script(json_reply(FORBIDDEN, status=403))
    backend = v2_backend(http, auth, policy)
    with pytest.raises(GlooPermissionDenied) as caught:
        await collect(backend, GlooRequest(query="Q"))
    assert not isinstance(caught.value, GlooRequestBlocked)


async def test_a_content_filter_is_declined_and_not_retried(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    gloo.routes[DOCUMENTED_GROUNDED].script(
        stream_reply(sse(chunk(finish="content_filter"), done=False))
    )
    backend = v2_backend(http, auth, policy)
    with pytest.raises(GlooContentFiltered) as caught:
        await collect(backend, GlooRequest(query="Q"))
    assert gloo.routes[DOCUMENTED_GROUNDED].count == 1
    assert messages.for_error(caught.value) == messages.DECLINED


async def test_a_provider_timeout_is_retried_before_text_and_interrupts_after(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    error = {"code": 2001, "name": "PROVIDER_TIMEOUT", "message": "The provider timed out."}
    gloo.routes[DOCUMENTED_GROUNDED].script(
        stream_reply(sse(chunk(finish="error", error=error), done=False)),
        stream_reply(sse(chunk("Half "), chunk(finish="error", error=error), done=False)),
    )
    backend = v2_backend(http, auth, policy)
    with pytest.raises(GlooStreamInterrupted) as caught:
        await collect(backend, GlooRequest(query="Q"))
    assert caught.value.partial_text == "Half "
    assert gloo.routes[DOCUMENTED_GROUNDED].count == 2  # retried once, before any text


async def test_the_observed_provider_error_envelope_is_a_retried_server_error(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    gloo.routes[DOCUMENTED_GROUNDED].script(
        json_reply(PROVIDER_ERROR, status=503), json_reply(GROUNDED_ANSWER)
    )
    backend = v2_backend(http, auth, policy, stream_enabled=False)
    answer_of(await collect(backend, GlooRequest(query="Q")))
    assert gloo.routes[DOCUMENTED_GROUNDED].count == 2


# --- Message API streams that must not lose the chat ---------------------------------------


async def test_a_new_chat_is_asked_unstreamed_until_a_stream_shows_its_chat_id(
    gloo: FakeGlooV2, backend: MessageBackend
) -> None:
    # The documented non-streamed answer (seed: POST /ai/{v}/message) names the chat.
    gloo.message.script(
        json_reply(SEED_ANSWER),
        stream_reply(sse({"chat_id": SEED_ANSWER["chat_id"], "message": "Go on."})),
        stream_reply(sse({"chat_id": "c-new", "message": "Hello."})),
    )
    first = answer_of(await collect(backend, GlooRequest(query="What is your name?")))
    assert first.chat_id == SEED_ANSWER["chat_id"]
    follow = answer_of(await collect(backend, GlooRequest(query="And?", chat_id=first.chat_id)))
    assert follow.chat_id == first.chat_id
    fresh = answer_of(await collect(backend, GlooRequest(query="Hi")))
    assert fresh.chat_id == "c-new"
    assert [body["stream"] for body in bodies(gloo.message)] == [False, True, True]


async def test_streams_without_a_chat_id_keep_new_chats_unstreamed(
    gloo: FakeGlooV2, backend: MessageBackend
) -> None:
    gloo.message.script(
        json_reply(SEED_ANSWER),
        stream_reply(sse({"message": "Go on."})),
        json_reply({**SEED_ANSWER, "chat_id": "c-second"}),
    )
    first = answer_of(await collect(backend, GlooRequest(query="Q1")))
    with capture_logs() as logs:
        follow = answer_of(await collect(backend, GlooRequest(query="Q2", chat_id=first.chat_id)))
    assert follow.chat_id == first.chat_id  # the chat we continued
    assert "gloo.stream.no_chat_id" in [e["event"] for e in logs]
    second = answer_of(await collect(backend, GlooRequest(query="Q3")))
    assert second.chat_id == "c-second"
    assert [body["stream"] for body in bodies(gloo.message)] == [False, True, False]


def test_enable_sources_sends_the_documented_levels() -> None:
    # Seed API reference: enable_sources is one of 0, 1, 2 (default 1).
    on = GlooRequest(query="q", enable_sources=True)
    assert build_message_params(on)["enable_sources"] == "1"
    assert build_message_params(on, sources_level=2)["enable_sources"] == "2"
    off = GlooRequest(query="q", enable_sources=False)
    assert build_message_params(off, sources_level=2)["enable_sources"] == "0"


async def test_stream_new_chats_always_streams_the_first_question_and_still_keeps_the_chat(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    backend = MessageBackend(http, auth, API_URL, retry=policy, stream_new_chats=True)
    gloo.message.script(stream_reply(sse({"message": "Streamed."})), json_reply(SEED_ANSWER))
    with capture_logs() as logs:
        answer = answer_of(await collect(backend, GlooRequest(query="What is your name?")))
    # The stream named no chat: completed from the documented non-streamed answer.
    assert answer.chat_id == SEED_ANSWER["chat_id"]
    assert [body["stream"] for body in bodies(gloo.message)] == [True, False]
    assert "gloo.stream.no_chat_id_new_chat" in [e["event"] for e in logs]


async def test_a_stream_without_chat_id_sends_new_chats_back_to_unstreamed(
    gloo: FakeGlooV2, http: httpx.AsyncClient, auth: ClientCredentialsAuth, policy: RetryPolicy
) -> None:
    backend = MessageBackend(http, auth, API_URL, retry=policy, stream_new_chats=True)
    gloo.message.script(
        stream_reply(sse({"message": "Go on."})),  # a follow-up's stream names no chat
        json_reply(SEED_ANSWER),
    )
    await collect(backend, GlooRequest(query="And?", chat_id="chat-1"))
    assert backend.streams_carry_chat_id is False
    answer = answer_of(await collect(backend, GlooRequest(query="New question")))
    assert answer.chat_id == SEED_ANSWER["chat_id"]
    assert [body["stream"] for body in bodies(gloo.message)] == [True, False]
