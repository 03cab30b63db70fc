"""CompletionsBackend: the V2 wire (body, routing, grounding), streaming outcomes, retries,
the history budget applied to the turns a request carries, against a fake Gloo behind
MockTransport. Reading the turns from the store is the service's (test_service_completions)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from core.gloo.auth import ClientCredentialsAuth
from core.gloo.backend import GlooAnswer, GlooBackend, GlooDelta, GlooEvent, GlooRequest, Turn
from core.gloo.completions import (
    HISTORY_TURNS,
    CompletionsBackend,
    build_completions_backend,
    select_turns,
)
from core.gloo.errors import (
    GlooCompletionError,
    GlooConfigError,
    GlooContentFiltered,
    GlooProtocolError,
    GlooRateLimited,
    GlooStreamInterrupted,
)
from core.gloo.retry import RetryPolicy
from core.types import Source
from tests.core.gloo.fakes import (
    API_URL,
    FakeGloo,
    Route,
    bearer,
    json_reply,
    sse,
    stream_reply,
)

COMPLETIONS_URL = f"{API_URL}/ai/v2/chat/completions"
GROUNDED_URL = f"{API_URL}/ai/v2/chat/completions/grounded"


class FakeGlooV2(FakeGloo):
    """FakeGloo plus the two Completions V2 routes."""

    def __init__(self) -> None:
        super().__init__()
        self.completions = Route(stream_reply(sse(*chunks("Hello", " world"), done=False)))
        self.grounded = Route(stream_reply(sse(*chunks("Grounded."), done=False)))

    async def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url.copy_with(query=None))
        if url == COMPLETIONS_URL:
            return await self.completions(request)
        if url == GROUNDED_URL:
            return await self.grounded(request)
        return await super().handle(request)


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta: dict[str, Any] = {} if content is None else {"content": content}
    return {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "model": "gloo-anthropic-claude-sonnet-4.5",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def chunks(*pieces: str, finish: str = "stop") -> list[dict[str, Any]]:
    """One chunk per piece, then the finish_reason chunk (the V2 shape: no [DONE])."""
    return [chunk(piece) for piece in pieces] + [chunk(finish=finish)]


def completion_json(text: str, finish: str = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "id": "gen-9",
        "object": "chat.completion",
        "model": "gloo-openai-gpt-5-mini",
        "choices": [
            {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": text}}
        ],
        **extra,
    }


CITATIONS = [
    {"title": "Grace Explained", "url": "https://pub.example/grace", "publisher": "Pub A"},
    {"title": "Mercy Today", "url": "https://pub.example/mercy", "author": ["A", "B"]},
    {"title": "Not a link", "url": "ftp://pub.example/x"},
    {"title": "Third", "url": "https://pub.example/third"},
]


@pytest.fixture
def gloo() -> FakeGlooV2:
    return FakeGlooV2()


@pytest.fixture
def v2(
    http: httpx.AsyncClient,
    auth: ClientCredentialsAuth,
    policy: RetryPolicy,
) -> CompletionsBackend:
    return build_completions_backend(
        http,
        auth,
        API_URL,
        retry=policy,
        model=None,
        history_chars=1_000,
        stream_enabled=True,
    )


async def collect(backend: CompletionsBackend, request: GlooRequest) -> list[GlooEvent]:
    return [event async for event in backend.stream(request)]


def answer_of(events: Sequence[GlooEvent]) -> GlooAnswer:
    assert isinstance(events[-1], GlooAnswer)
    assert all(isinstance(e, GlooDelta) for e in events[:-1])
    return events[-1]


def bodies(route: Route) -> list[dict[str, Any]]:
    return [json.loads(call.content) for call in route.calls]


# --- the request -----------------------------------------------------------------------------


async def test_a_new_chat_gets_a_local_id_and_auto_routing(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    events = await collect(v2, GlooRequest(query="What is grace?"))
    assert events[:-1] == [GlooDelta("Hello"), GlooDelta(" world")]
    answer = answer_of(events)
    assert answer.text == "Hello world"
    assert uuid.UUID(answer.chat_id).version == 4
    assert answer.sources == ()
    assert answer.suggestions == ()
    assert answer.model == "gloo-anthropic-claude-sonnet-4.5"
    assert answer.message_id == "gen-1"
    assert bodies(gloo.completions) == [
        {
            "messages": [{"role": "user", "content": "What is grace?"}],
            "stream": True,
            "auto_routing": True,
        }
    ]
    assert gloo.completions.calls[0].headers["Accept"].startswith("text/event-stream")
    assert bearer(gloo.completions.calls[0]) == "tok-1"


async def test_a_configured_model_replaces_auto_routing(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, gloo: FakeGlooV2
) -> None:
    backend = CompletionsBackend(http, auth, API_URL, model="gloo-openai-gpt-5-mini")
    await collect(backend, GlooRequest(query="Hi"))
    body = bodies(gloo.completions)[0]
    assert body["model"] == "gloo-openai-gpt-5-mini"
    assert "auto_routing" not in body


async def test_follow_ups_send_the_given_turns_oldest_first(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    history = (
        Turn("What is grace?", "Grace is a gift."),
        Turn("And mercy?", "Mercy is kindness."),
    )
    request = GlooRequest(query="How are they related?", chat_id="chat-1", history=history)
    answer = answer_of(await collect(v2, request))
    assert answer.chat_id == "chat-1"
    assert bodies(gloo.completions)[0]["messages"] == [
        {"role": "user", "content": "What is grace?"},
        {"role": "assistant", "content": "Grace is a gift."},
        {"role": "user", "content": "And mercy?"},
        {"role": "assistant", "content": "Mercy is kindness."},
        {"role": "user", "content": "How are they related?"},
    ]


def test_the_backend_asks_for_fifty_turns_and_none_without_a_budget(
    v2: CompletionsBackend, http: httpx.AsyncClient, auth: ClientCredentialsAuth
) -> None:
    assert v2.history_turns == HISTORY_TURNS == 50
    assert CompletionsBackend(http, auth, API_URL, history_chars=0).history_turns == 0


async def test_the_history_budget_drops_the_oldest_turns_first(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, gloo: FakeGlooV2
) -> None:
    turns = tuple(Turn(f"q{i}", "a" * 40) for i in range(5))  # 42 characters a turn
    backend = CompletionsBackend(http, auth, API_URL, history_chars=100 + len("next"))
    await collect(backend, GlooRequest(query="next", chat_id="c", history=turns))
    sent = [m["content"] for m in bodies(gloo.completions)[0]["messages"]]
    assert sent == ["q3", "a" * 40, "q4", "a" * 40, "next"]


async def test_the_current_question_is_never_cut(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, gloo: FakeGlooV2
) -> None:
    backend = CompletionsBackend(http, auth, API_URL, history_chars=10)
    question = "a long question " * 10
    history = (Turn("old", "answer"),)
    await collect(backend, GlooRequest(query=question, chat_id="c", history=history))
    assert bodies(gloo.completions)[0]["messages"] == [{"role": "user", "content": question}]


async def test_a_zero_budget_sends_no_history_even_when_given(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, gloo: FakeGlooV2
) -> None:
    backend = CompletionsBackend(http, auth, API_URL, history_chars=0)
    history = (Turn("old", "answer"),)
    await collect(backend, GlooRequest(query="Q", chat_id="c", history=history))
    assert bodies(gloo.completions)[0]["messages"] == [{"role": "user", "content": "Q"}]


def test_select_turns_keeps_whole_recent_turns() -> None:
    turns = [Turn("q1", "x" * 10), Turn("q2", "y" * 10), Turn("q3", "z")]
    assert select_turns(turns, "Q", 100) == turns
    assert select_turns(turns, "Q", 1 + 3 + 12) == turns[1:]
    assert select_turns(turns, "Q", 1 + 3) == turns[2:]
    assert select_turns(turns, "Q", 3) == []
    assert select_turns([], "Q", 0) == []


async def test_a_character_limit_becomes_a_system_instruction(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    await collect(v2, GlooRequest(query="Q", character_limit=300))
    assert bodies(gloo.completions)[0]["messages"][0] == {
        "role": "system",
        "content": "Keep the answer under 300 characters.",
    }


def test_an_empty_api_url_is_a_config_error(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth
) -> None:
    with pytest.raises(GlooConfigError):
        CompletionsBackend(http, auth, " / ")


def test_the_factory_builds_a_gloo_backend(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth
) -> None:
    backend: GlooBackend = build_completions_backend(
        http,
        auth,
        API_URL + "/",
        retry=RetryPolicy(attempts=2),
        model=" ",
        history_chars=5,
        stream_enabled=False,
    )
    assert isinstance(backend, CompletionsBackend)
    assert backend.model is None
    assert backend.retry_policy.attempts == 2
    assert backend.stream_enabled is False


# --- grounded ----------------------------------------------------------------------------------


async def test_publishers_use_the_grounded_route_with_citations_first(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.grounded.script(
        stream_reply(
            sse({"id": "gen-2", "citations": CITATIONS, "choices": []}, *chunks("Grounded."))
        )
    )
    request = GlooRequest(query="Q", publishers=(" Pub A ", "Pub B"), sources_limit=2)
    answer = answer_of(await collect(v2, request))
    assert answer.text == "Grounded."
    assert answer.sources == (
        Source(title="Grace Explained", url="https://pub.example/grace", publisher="Pub A"),
        Source(title="Mercy Today", url="https://pub.example/mercy", author="A, B"),
    )
    assert gloo.completions.count == 0
    body = bodies(gloo.grounded)[0]
    assert body["rag_publisher"] == "Pub A"
    assert body["include_citations"] is True
    assert body["sources_limit"] == 2


@pytest.mark.parametrize(("limit", "sent"), [(25, 10), (None, None)])
async def test_the_sources_limit_is_clamped_to_glooss_range(
    v2: CompletionsBackend, gloo: FakeGlooV2, limit: int | None, sent: int | None
) -> None:
    await collect(v2, GlooRequest(query="Q", publishers=("P",), sources_limit=limit))
    assert bodies(gloo.grounded)[0].get("sources_limit") == sent


@pytest.mark.parametrize(
    "request_",
    [
        GlooRequest(query="Q", publishers=("P",), enable_sources=False),
        GlooRequest(query="Q", publishers=("P",), sources_limit=0),
    ],
)
async def test_no_sources_wanted_asks_for_no_citations_and_shows_none(
    v2: CompletionsBackend, gloo: FakeGlooV2, request_: GlooRequest
) -> None:
    gloo.grounded.script(stream_reply(sse({"citations": CITATIONS}, *chunks("A."), done=False)))
    answer = answer_of(await collect(v2, request_))
    assert answer.sources == ()
    body = bodies(gloo.grounded)[0]
    assert "include_citations" not in body
    assert "sources_limit" not in body


# --- stream outcomes -------------------------------------------------------------------------


@pytest.mark.parametrize("done", [False, True])
async def test_a_done_marker_is_accepted_but_not_needed(
    v2: CompletionsBackend, gloo: FakeGlooV2, done: bool
) -> None:
    gloo.completions.script(stream_reply(sse(*chunks("A", "B"), done=done)))
    assert answer_of(await collect(v2, GlooRequest(query="Q"))).text == "AB"


async def test_a_length_finish_keeps_the_text_and_logs(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.completions.script(stream_reply(sse(*chunks("Cut", " short", finish="length"))))
    with capture_logs() as logs:
        answer = answer_of(await collect(v2, GlooRequest(query="Q")))
    assert answer.text == "Cut short"
    assert any(e["event"] == "gloo.completion.truncated" for e in logs)


async def test_a_content_filter_before_text_is_final_and_not_retried(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.completions.script(stream_reply(sse(chunk(finish="content_filter"), done=False)))
    with pytest.raises(GlooContentFiltered) as caught:
        await collect(v2, GlooRequest(query="Q"))
    assert gloo.completions.count == 1
    assert caught.value.retryable is False
    assert caught.value.code == "content_filter"


async def test_a_content_filter_after_text_is_not_an_interruption(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.completions.script(stream_reply(sse(chunk("Some "), chunk(finish="content_filter"))))
    stream = v2.stream(GlooRequest(query="Q"))
    assert await anext(stream) == GlooDelta("Some ")
    with pytest.raises(GlooContentFiltered) as caught:
        await anext(stream)
    assert caught.value.partial_text == "Some "
    assert gloo.completions.count == 1


ERROR_OBJECT = {"code": 2001, "name": "PROVIDER_TIMEOUT", "message": "The provider timed out."}


async def test_an_error_finish_before_text_is_retried(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.completions.script(
        stream_reply(sse(chunk(finish="error", error=ERROR_OBJECT), done=False)),
        stream_reply(sse(*chunks("Fine."), done=False)),
    )
    answer = answer_of(await collect(v2, GlooRequest(query="Q")))
    assert answer.text == "Fine."
    assert gloo.completions.count == 2


async def test_an_error_objects_retryable_field_is_not_what_decides(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    # Gloo's Errors reference documents error.code (numeric, e.g. 2001) and error.name
    # (symbolic, e.g. PROVIDER_TIMEOUT) on the AI error object; its streaming-failures
    # guide (docs.gloo.com/best-practices/completions-streaming-failures) makes
    # finish_reason "error" the retryable signal. A "retryable" key is not in that
    # contract, so "retryable": false does not stop a retry before any text was shown.
    error = {**ERROR_OBJECT, "retryable": False}
    gloo.completions.script(
        stream_reply(sse(chunk(finish="error", error=error))),
        stream_reply(sse(*chunks("Fine."), done=False)),
    )
    answer = answer_of(await collect(v2, GlooRequest(query="Q")))
    assert answer.text == "Fine."
    assert gloo.completions.count == 2


async def test_an_in_band_error_without_finish_reason_counts_as_an_error(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.completions.script(stream_reply(sse({"error": {"message": "overloaded"}}, done=False)))
    with pytest.raises(GlooCompletionError, match="overloaded"):
        await collect(v2, GlooRequest(query="Q"))
    assert gloo.completions.count == 4  # retryable: every attempt of the policy


async def test_an_error_after_text_interrupts_with_the_partial_text(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.completions.script(
        stream_reply(
            sse(chunk("Half an "), chunk("answer"), chunk(finish="error", error=ERROR_OBJECT))
        )
    )
    with pytest.raises(GlooStreamInterrupted) as caught:
        await collect(v2, GlooRequest(query="Q"))
    assert caught.value.partial_text == "Half an answer"
    assert isinstance(caught.value.__cause__, GlooCompletionError)
    assert gloo.completions.count == 1


async def test_a_stream_ending_without_finish_reason_was_cut_short(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.completions.script(stream_reply(sse(chunk("Partial"), done=False)))
    with pytest.raises(GlooStreamInterrupted) as caught:
        await collect(v2, GlooRequest(query="Q"))
    assert isinstance(caught.value.__cause__, GlooProtocolError)
    assert caught.value.partial_text == "Partial"


async def test_http_errors_before_the_stream_are_retried_like_v1(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.completions.script(
        json_reply({"detail": "slow down"}, 429, {"Retry-After": "0"}),
        json_reply({"detail": "oops"}, 500),
        stream_reply(sse(*chunks("OK"), done=False)),
    )
    answer = answer_of(await collect(v2, GlooRequest(query="Q", chat_id="c")))
    assert answer.text == "OK"
    assert gloo.completions.count == 3
    # Every attempt carries the same chat's same body.
    assert len({json.dumps(b, sort_keys=True) for b in bodies(gloo.completions)}) == 1


async def test_rate_limits_past_the_attempts_raise(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.completions.script(json_reply({"detail": "slow down"}, 429, {"Retry-After": "0"}))
    with pytest.raises(GlooRateLimited):
        await collect(v2, GlooRequest(query="Q"))
    assert gloo.completions.count == 4


async def test_a_401_reauthenticates_once(v2: CompletionsBackend, gloo: FakeGlooV2) -> None:
    gloo.completions.script(
        json_reply({"detail": "expired"}, 401), stream_reply(sse(*chunks("OK"), done=False))
    )
    answer_of(await collect(v2, GlooRequest(query="Q")))
    assert [bearer(c) for c in gloo.completions.calls] == ["tok-1", "tok-2"]


async def test_each_new_chat_gets_its_own_id_whatever_the_retries(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.completions.script(
        json_reply({"detail": "oops"}, 502), stream_reply(sse(*chunks("OK"), done=False))
    )
    first = answer_of(await collect(v2, GlooRequest(query="Q")))
    second = answer_of(await collect(v2, GlooRequest(query="Q")))
    assert first.chat_id != second.chat_id  # each new chat is new


async def test_a_consumer_stopping_early_closes_the_response(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    closed: list[bool] = []
    gloo.completions.script(stream_reply(sse(*chunks("a", "b")), closed=closed))
    stream = v2.stream(GlooRequest(query="Q"))
    assert await anext(stream) == GlooDelta("a")
    await stream.aclose()
    assert closed == [True]


# --- without streaming ---------------------------------------------------------------------


async def test_send_reads_the_json_answer_with_citations(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.grounded.script(json_reply(completion_json("Whole answer.", citations=CITATIONS)))
    answer = await v2.send(GlooRequest(query="Q", publishers=("P",), sources_limit=1))
    assert answer.text == "Whole answer."
    assert [s.title for s in answer.sources] == ["Grace Explained"]
    assert answer.model == "gloo-openai-gpt-5-mini"
    assert bodies(gloo.grounded)[0]["stream"] is False
    assert gloo.grounded.calls[0].headers["Accept"] == "application/json"


async def test_send_raises_for_a_filtered_json_answer(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    gloo.completions.script(json_reply(completion_json("", finish="content_filter")))
    with pytest.raises(GlooContentFiltered):
        await v2.send(GlooRequest(query="Q"))
    assert gloo.completions.count == 1


async def test_stream_disabled_sends_one_request_and_yields_one_delta(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, gloo: FakeGlooV2
) -> None:
    backend = CompletionsBackend(http, auth, API_URL, stream_enabled=False)
    gloo.completions.script(json_reply(completion_json("All at once.")))
    events = await collect(backend, GlooRequest(query="Q"))
    assert events[0] == GlooDelta("All at once.")
    assert answer_of(events).text == "All at once."
    assert bodies(gloo.completions)[0]["stream"] is False


# --- history -----------------------------------------------------------------------------------


async def test_history_is_empty_and_asks_gloo_nothing(
    v2: CompletionsBackend, gloo: FakeGlooV2
) -> None:
    # V2 keeps no chats at Gloo; the service shows them from its records.
    assert not v2.keeps_chats
    history = await v2.history("c")
    assert history.chat_id == "c"
    assert history.messages == ()
    assert gloo.completions.count == gloo.grounded.count == 0
    with pytest.raises(ValueError, match="chat_id"):
        await v2.history("")
