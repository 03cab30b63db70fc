"""MessageBackend.stream(): every wire variant over HTTP, retries before the first text
only, interruptions after it, and the non-streaming fallback."""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx
import pytest

from core.gloo.auth import ClientCredentialsAuth
from core.gloo.backend import GlooAnswer, GlooDelta, GlooEvent, GlooRequest
from core.gloo.client import MessageBackend
from core.gloo.errors import (
    GlooConnectionError,
    GlooProtocolError,
    GlooServerError,
    GlooStreamInterrupted,
    GlooTimeout,
    GlooValidationError,
)
from tests.core.gloo.fakes import (
    API_URL,
    SEED_ANSWER,
    FakeGloo,
    Step,
    bearer,
    json_reply,
    raise_error,
    sse,
    stream_reply,
    text_reply,
)

NEW_CHAT = GlooRequest(query="Tell me a story")
CONTINUE = GlooRequest(query="And then?", chat_id="chat-1")
META = {"chat_id": "c1", "message_id": "m1", "query_id": "q1", "suggestions": ["More?"]}


@pytest.fixture(autouse=True)
def learned(backend: MessageBackend) -> None:
    """These wire tests run in a process that has already seen a stream carry a chat_id,
    so new chats stream too; test_stream_discipline.py covers the process before that."""
    backend.streams_carry_chat_id = True


async def collect(backend: MessageBackend, request: GlooRequest = NEW_CHAT) -> list[GlooEvent]:
    return [event async for event in backend.stream(request)]


def deltas(events: Sequence[GlooEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, GlooDelta)]


def final(events: Sequence[GlooEvent]) -> GlooAnswer:
    assert isinstance(events[-1], GlooAnswer)
    assert sum(isinstance(e, GlooAnswer) for e in events) == 1
    return events[-1]


async def test_stream_request_shape(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(stream_reply(sse({"delta": "Hi"}, META)))
    await collect(backend, GlooRequest(query="q", chat_id="chat-1", publishers=("P",), intent=0))
    [request] = gloo.message.calls
    assert json.loads(request.content) == {
        "query": "q",
        "chat_id": "chat-1",
        "publishers": ["P"],
        "stream": True,
    }
    assert dict(request.url.params) == {"intent": "0"}
    assert "text/event-stream" in request.headers["Accept"]
    assert bearer(request) == "tok-1"


async def test_sse_with_done(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(
        stream_reply(sse({"delta": "Once"}, {"delta": " upon"}, {"delta": " a time"}, META))
    )
    events = await collect(backend)
    assert deltas(events) == ["Once", " upon", " a time"]
    assert final(events) == GlooAnswer(
        chat_id="c1",
        text="Once upon a time",
        suggestions=("More?",),
        message_id="m1",
        query_id="q1",
    )


async def test_sse_without_done_and_without_final_blank_line(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    chunks = [*sse({"delta": "A"}, done=False), f"data: {json.dumps({'delta': 'B', **META})}"]
    gloo.message.script(stream_reply(chunks))
    events = await collect(backend)
    assert deltas(events) == ["A", "B"]
    assert final(events).text == "AB"


async def test_ndjson(backend: MessageBackend, gloo: FakeGloo) -> None:
    lines = [json.dumps(c) + "\n" for c in ({"delta": "x"}, {"delta": "y"}, META)]
    gloo.message.script(stream_reply(lines, content_type="application/x-ndjson"))
    events = await collect(backend)
    assert deltas(events) == ["x", "y"]
    assert final(events).chat_id == "c1"


async def test_cumulative_chunks(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(
        stream_reply(
            sse(
                {"message": "The"},
                {"message": "The quick"},
                {"message": "The quick fox"},
                {**META, "message": "The quick fox", "success": True},
            )
        )
    )
    events = await collect(backend)
    assert deltas(events) == ["The", " quick", " fox"]
    assert final(events).text == "The quick fox"


async def test_metadata_in_the_first_chunk(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(stream_reply(sse(META, {"delta": "Hello"}, {"delta": "!"})))
    events = await collect(backend)
    assert deltas(events) == ["Hello", "!"]
    assert (final(events).chat_id, final(events).message_id) == ("c1", "m1")


async def test_metadata_and_full_message_in_the_last_chunk(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    sources = [{"title": "Source", "url": "https://src.example/"}]
    gloo.message.script(
        stream_reply(
            sse({"delta": "Hel"}, {"delta": "lo"}, {**META, "message": "Hello", "sources": sources})
        )
    )
    events = await collect(backend)
    assert deltas(events) == ["Hel", "lo"]
    answer = final(events)
    assert answer.text == "Hello"
    assert [s.url for s in answer.sources] == ["https://src.example/"]


async def test_plain_json_answer_to_a_stream_request(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    pretty = json.dumps(SEED_ANSWER, indent=2)
    # Split mid-line too: chunks do not follow line boundaries.
    gloo.message.script(stream_reply([pretty[:50], pretty[50:]], content_type="application/json"))
    events = await collect(backend)
    assert deltas(events) == ["My name is Gloo AI Chat."]
    assert final(events).chat_id == SEED_ANSWER["chat_id"]
    assert final(events).suggestions == tuple(SEED_ANSWER["suggestions"])


async def test_multi_line_data_events(backend: MessageBackend, gloo: FakeGloo) -> None:
    chunks = [
        "data: First line\ndata: second line\n\n",
        'data: {"chat_id": "c1",\ndata:  "delta": "\\nthird"}\n\n',
    ]
    gloo.message.script(stream_reply(chunks))
    events = await collect(backend)
    assert deltas(events) == ["First line\nsecond line", "\nthird"]
    assert final(events).text == "First line\nsecond line\nthird"


async def test_keepalive_comments_and_fields_are_ignored(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    chunks = [
        ": connected\n\n",
        "retry: 5000\n",
        ": keepalive\n",
        "event: message\nid: 1\n",
        'data: {"delta": "ok"}\n\n',
        ": keepalive\n\n",
        f"event: done\ndata: {json.dumps(META)}\n\n",
    ]
    gloo.message.script(stream_reply(chunks))
    events = await collect(backend)
    assert deltas(events) == ["ok"]
    assert final(events).chat_id == "c1"


async def test_non_json_data_payloads_are_text(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(stream_reply(["data: Plain\n\n", "data:  text\n\n", "data: [DONE]\n\n"]))
    events = await collect(backend, CONTINUE)
    assert deltas(events) == ["Plain", " text"]
    assert final(events).chat_id == "chat-1"  # continued chat: the request's chat_id


async def test_crlf_line_endings(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(
        stream_reply(['data: {"delta": "a"}\r\n\r\n', f"data: {json.dumps(META)}\r\n\r\n"])
    )
    events = await collect(backend)
    assert deltas(events) == ["a"]


# --- failures ------------------------------------------------------------------------------


async def test_break_after_text_is_interrupted_and_not_retried(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    gloo.message.script(
        stream_reply(
            sse({"delta": "Hello"}, {"delta": " wor"}, done=False), then_raise=httpx.ReadError
        )
    )
    seen: list[str] = []

    async def consume() -> None:
        async for event in backend.stream(NEW_CHAT):
            assert isinstance(event, GlooDelta)
            seen.append(event.text)

    with pytest.raises(GlooStreamInterrupted) as info:
        await consume()
    assert seen == ["Hello", " wor"]
    assert info.value.partial_text == "Hello wor"
    assert isinstance(info.value.__cause__, GlooConnectionError)
    assert gloo.message.count == 1


@pytest.mark.parametrize("exc", [httpx.RemoteProtocolError, httpx.ReadTimeout])
async def test_other_breaks_after_text(
    backend: MessageBackend, gloo: FakeGloo, exc: type[httpx.RequestError]
) -> None:
    gloo.message.script(stream_reply(sse({"delta": "Partial"}, done=False), then_raise=exc))
    with pytest.raises(GlooStreamInterrupted) as info:
        await collect(backend)
    assert info.value.partial_text == "Partial"
    assert gloo.message.count == 1


async def test_malformed_end_after_text_is_interrupted(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    gloo.message.script(
        stream_reply(
            ['{"delta": "Some"}\n', '{"chat_id": "c1", "delta": " te'],
            content_type="application/x-ndjson",
        )
    )
    with pytest.raises(GlooStreamInterrupted) as info:
        await collect(backend)
    assert info.value.partial_text == "Some"
    assert isinstance(info.value.__cause__, GlooProtocolError)
    assert gloo.message.count == 1


async def test_failure_chunk_after_text_is_interrupted(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    gloo.message.script(
        stream_reply(sse({"delta": "Start"}, {"success": False, "message": "model crashed"}))
    )
    with pytest.raises(GlooStreamInterrupted, match="model crashed") as info:
        await collect(backend)
    assert info.value.partial_text == "Start"
    assert gloo.message.count == 1


async def test_missing_chat_id_after_text_is_completed_unstreamed(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    # The non-streamed answer is the API reference's documented shape (SEED_ANSWER, from
    # docs.gloo.com's POST /ai/{v}/message example): it names the chat.
    gloo.message.script(stream_reply(sse({"delta": "Complete text"})), json_reply(SEED_ANSWER))
    events = await collect(backend, NEW_CHAT)
    assert final(events).chat_id == SEED_ANSWER["chat_id"]
    assert final(events).text == SEED_ANSWER["message"]
    assert [json.loads(c.content)["stream"] for c in gloo.message.calls] == [True, False]


async def test_break_before_any_text_is_retried(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(
        stream_reply(
            [": keepalive\n\n", f"data: {json.dumps(META)}\n\n"], then_raise=httpx.ReadError
        ),
        stream_reply(sse({"delta": "Fresh"}, META)),
    )
    events = await collect(backend)
    assert deltas(events) == ["Fresh"]
    assert final(events).text == "Fresh"
    assert gloo.message.count == 2


@pytest.mark.parametrize(
    ("step", "error_type"),
    [
        (text_reply("busy", status=503), GlooServerError),
        (raise_error(httpx.ConnectTimeout), GlooTimeout),
        (raise_error(httpx.ConnectError), GlooConnectionError),
        (stream_reply([], then_raise=httpx.ReadError), GlooConnectionError),
    ],
)
async def test_failures_before_text_use_all_attempts(
    backend: MessageBackend, gloo: FakeGloo, step: Step, error_type: type[Exception]
) -> None:
    gloo.message.script(step)
    with pytest.raises(error_type):
        await collect(backend)
    assert gloo.message.count == 4


async def test_stream_open_success_after_two_failures(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    gloo.message.script(
        text_reply("busy", status=502),
        raise_error(httpx.ReadTimeout),
        stream_reply(sse({"delta": "Done"}, META)),
    )
    assert deltas(await collect(backend)) == ["Done"]
    assert gloo.message.count == 3


async def test_stream_validation_error_is_not_retried(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    gloo.message.script(
        json_reply({"detail": [{"loc": ["body", "query"], "msg": "too long"}]}, status=422)
    )
    with pytest.raises(GlooValidationError, match=r"body\.query: too long"):
        await collect(backend)
    assert gloo.message.count == 1


async def test_stream_401_reauthenticates(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(
        json_reply({"detail": "expired"}, status=401), stream_reply(sse({"delta": "Hi"}, META))
    )
    assert deltas(await collect(backend)) == ["Hi"]
    assert [bearer(r) for r in gloo.message.calls] == ["tok-1", "tok-2"]


async def test_empty_stream_is_a_retried_protocol_error(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    gloo.message.script(stream_reply(sse(META)))
    with pytest.raises(GlooProtocolError, match="empty answer"):
        await collect(backend)
    assert gloo.message.count == 4


async def test_failure_chunk_before_text_is_retried(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    gloo.message.script(
        stream_reply(["event: error\ndata: overloaded\n\n"]),
        stream_reply(sse({"delta": "Recovered"}, META)),
    )
    assert deltas(await collect(backend)) == ["Recovered"]
    assert gloo.message.count == 2


async def test_sources_only_stream(backend: MessageBackend, gloo: FakeGloo) -> None:
    gloo.message.script(stream_reply(sse({**META, "sources": [{"title": "Only a source"}]})))
    events = await collect(backend)
    assert deltas(events) == []
    assert [s.title for s in final(events).sources] == ["Only a source"]


async def test_consumer_stopping_early_closes_the_response(
    backend: MessageBackend, gloo: FakeGloo
) -> None:
    closed: list[bool] = []
    gloo.message.script(stream_reply(sse({"delta": "a"}, {"delta": "b"}, META), closed=closed))
    stream = backend.stream(NEW_CHAT)
    first = await anext(stream)
    assert first == GlooDelta("a")
    await stream.aclose()
    assert closed == [True]


# --- stream_enabled=False ------------------------------------------------------------------


async def test_stream_disabled_uses_send(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, gloo: FakeGloo
) -> None:
    backend = MessageBackend(http, auth, API_URL, stream_enabled=False)
    events = await collect(backend)
    assert events == [
        GlooDelta("My name is Gloo AI Chat."),
        GlooAnswer(
            chat_id=SEED_ANSWER["chat_id"],
            text="My name is Gloo AI Chat.",
            suggestions=tuple(SEED_ANSWER["suggestions"]),
            message_id=SEED_ANSWER["message_id"],
            query_id=SEED_ANSWER["query_id"],
            model=SEED_ANSWER["model"],
        ),
    ]
    [request] = gloo.message.calls
    assert json.loads(request.content)["stream"] is False
    assert backend.stream_enabled is False


async def test_stream_disabled_retries_like_send(
    http: httpx.AsyncClient, auth: ClientCredentialsAuth, gloo: FakeGloo
) -> None:
    backend = MessageBackend(http, auth, API_URL, stream_enabled=False)
    gloo.message.script(text_reply("busy", status=503), json_reply(SEED_ANSWER))
    assert deltas(await collect(backend)) == ["My name is Gloo AI Chat."]
    assert gloo.message.count == 2
