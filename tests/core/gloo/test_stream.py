"""StreamParser and StreamAccumulator on every wire variant we tolerate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence

import httpx
import pytest
from structlog.testing import capture_logs

from core.bootstrap import network_transport
from core.gloo import stream
from core.gloo.backend import GlooAnswer
from core.gloo.errors import GlooProtocolError
from core.gloo.stream import StreamAccumulator, StreamParser, StreamPayload, parse_lines
from core.settings import Settings
from core.types import Source


def parse(lines: Iterable[str]) -> list[StreamPayload]:
    parser = StreamParser()
    payloads: list[StreamPayload] = []
    for line in lines:
        payloads.extend(parser.feed_line(line))
    payloads.extend(parser.finish())
    return payloads


def accumulate(
    payloads: Sequence[StreamPayload], fallback_chat_id: str | None = None
) -> tuple[list[str], GlooAnswer]:
    acc = StreamAccumulator()
    deltas = [d for d in (acc.add(p) for p in payloads) if d]
    return deltas, acc.finish(fallback_chat_id=fallback_chat_id)


# --- parser --------------------------------------------------------------------------------


def test_sse_with_done() -> None:
    lines = ['data: {"delta": "Hel"}', "", 'data: {"delta": "lo"}', "", "data: [DONE]", ""]
    parser = StreamParser()
    out = [p for line in lines for p in parser.feed_line(line)]
    assert out == [{"delta": "Hel"}, {"delta": "lo"}]
    assert parser.mode == "sse"
    assert parser.done
    assert parser.feed_line('data: {"delta": "ignored after DONE"}') == []
    assert parser.feed_line("") == []


def test_sse_without_done_dispatches_last_event_at_end() -> None:
    assert parse(['data: {"delta": "a"}', "", 'data: {"delta": "b"}']) == [
        {"delta": "a"},
        {"delta": "b"},
    ]


def test_sse_ignores_comments_and_other_fields() -> None:
    lines = [
        ": keepalive",
        "retry: 3000",
        "id: 1",
        "event: message",
        'data: {"delta": "x"}',
        ":ping",
        "",
        "",
        "unknown-field: whatever",
        "id: 2",
        "",
    ]
    assert parse(lines) == [{"delta": "x"}]


def test_sse_multi_line_data_joined_with_newline() -> None:
    assert parse(
        ["data: first line", "data: second line", "", "data:{", 'data: "delta": "j"', "data:}"]
    ) == [
        "first line\nsecond line",
        {"delta": "j"},
    ]


def test_sse_non_json_data_is_text_and_one_leading_space_is_stripped() -> None:
    assert parse(["data: Hello", "", "data:  world", "", "data:42", "", "data: [1] cite", ""]) == [
        "Hello",
        " world",
        "42",
        "[1] cite",
    ]


def test_sse_json_string_data_is_text() -> None:
    assert parse(['data: "quoted text"', ""]) == ["quoted text"]


def test_sse_empty_data_is_nothing() -> None:
    assert parse(["data:", "", "data: ", ""]) == []


def test_sse_data_without_space_and_crlf() -> None:
    assert parse(['data:{"delta":"a"}\r', "\r"]) == [{"delta": "a"}]


def test_sse_error_event_becomes_failure_payload() -> None:
    assert parse(["event: error", 'data: {"message": "model overloaded"}', ""]) == [
        {"success": False, "message": "model overloaded"}
    ]
    assert parse(["event: error", "data: plain failure", ""]) == [
        {"success": False, "message": "plain failure"}
    ]


def test_bare_json_line_inside_sse_is_tolerated() -> None:
    assert parse(["data: a", '{"delta": "b"}', "data: c", ""]) == ["a", {"delta": "b"}, "c"]


def test_ndjson() -> None:
    lines = ['{"delta": "a"}', "", '{"delta": "b"}', '{"chat_id": "c1"}']
    parser = StreamParser()
    out = [p for line in lines for p in parser.feed_line(line)] + parser.finish()
    assert parser.mode == "json"
    assert out == [{"delta": "a"}, {"delta": "b"}, {"chat_id": "c1"}]


def test_concatenated_json_objects_on_one_line() -> None:
    assert parse(['{"delta": "a"}{"delta": "b"} {"delta": "c"}']) == [
        {"delta": "a"},
        {"delta": "b"},
        {"delta": "c"},
    ]


def test_pretty_printed_json_document() -> None:
    doc = {"chat_id": "c1", "message": "Hi there", "sources": [], "suggestions": ["a", "b"]}
    lines = json.dumps(doc, indent=2).splitlines()
    assert len(lines) > 5
    assert parse(["", *lines, ""]) == [doc]


def test_json_array_of_chunks() -> None:
    assert parse(['[{"delta": "a"}, {"delta": "b"}]']) == [{"delta": "a"}, {"delta": "b"}]


def test_truncated_json_document_is_a_protocol_error() -> None:
    parser = StreamParser()
    for line in ["{", '  "message": "Hi",', '  "chat_id": "c']:
        assert parser.feed_line(line) == []
    with pytest.raises(GlooProtocolError, match="middle of a JSON document"):
        parser.finish()


def test_byte_order_mark_and_leading_blank_lines() -> None:
    assert parse(["", "\ufeffdata: hi", ""]) == ["hi"]


def test_finish_is_idempotent() -> None:
    parser = StreamParser()
    parser.feed_line("data: x")
    assert parser.finish() == ["x"]
    assert parser.finish() == []
    assert parser.feed_line("data: y") == []


async def test_parse_lines_stops_at_done_and_reads_on_to_the_end() -> None:
    consumed: list[str] = []

    async def lines() -> AsyncIterator[str]:
        for line in ["data: a", "", "data: [DONE]", "", "data: ignored", ""]:
            consumed.append(line)
            yield line

    assert [p async for p in parse_lines(lines())] == ["a"]
    # Read (and ignored) to the body's end, so that the connection can be reused.
    assert consumed[-2:] == ["data: ignored", ""]


async def test_a_body_kept_open_after_done_does_not_hold_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "_BODY_LEFT_OPEN", stream._Once())

    async def lines() -> AsyncIterator[str]:
        yield "data: a"
        yield ""
        yield "data: [DONE]"
        yield ""
        await asyncio.Event().wait()  # the server never ends the body
        yield "never"

    with capture_logs() as logs:
        assert [p async for p in parse_lines(lines())] == ["a"]
        assert [p async for p in parse_lines(lines())] == ["a"]
    # Told once a process: the connections are not reused.
    assert [e["event"] for e in logs] == ["gloo.stream.open_after_done"]


async def test_a_body_that_ends_after_done_tells_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "_BODY_LEFT_OPEN", stream._Once())

    async def lines() -> AsyncIterator[str]:
        for line in ["data: a", "", "data: [DONE]", ""]:
            yield line

    with capture_logs() as logs:
        assert [p async for p in parse_lines(lines())] == ["a"]
    assert logs == []


async def test_an_endless_body_after_done_is_read_only_so_far() -> None:
    read = 0

    async def lines() -> AsyncIterator[str]:
        nonlocal read
        for line in ["data: a", "", "data: [DONE]", ""]:
            yield line
        while True:
            read += 1
            yield ": keepalive"

    assert [p async for p in parse_lines(lines())] == ["a"]
    assert 0 < read <= 64


async def test_a_broken_connection_after_done_keeps_the_answer() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in ["data: a", "", "data: [DONE]", ""]:
            yield line
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")

    assert [p async for p in parse_lines(lines())] == ["a"]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One HTTP/1.1 request off ``reader``: its head, its body read as Content-Length says."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    await reader.readexactly(length)
    return head


@pytest.mark.parametrize("carrier", ["httpcore", "aiohttp"])
async def test_a_stream_read_to_its_end_leaves_its_connection_for_the_next(carrier: str) -> None:
    """Over a real socket, on each GLOO_HTTP_TRANSPORT: two streamed answers that end in
    ``[DONE]`` share one connection (one closed before its body's end would open a second)."""
    connections = 0
    body = b'data: {"delta": "Grace"}\n\ndata: [DONE]\n\n'
    chunk = f"{len(body):x}\r\n".encode() + body + b"\r\n"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while await read_request(reader):
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            writer.write(chunk)
            await writer.drain()
            writer.write(b"0\r\n\r\n")  # the body's end, just after [DONE]
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = Settings(_env_file=None, gloo_http_transport=carrier)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", transport=network_transport(settings)
        ) as client:
            for _ in range(2):
                async with client.stream("POST", "/ai/v1/message", json={}) as response:
                    payloads = [p async for p in parse_lines(response.aiter_lines())]
                assert payloads == [{"delta": "Grace"}]
    finally:
        server.close()
    assert connections == 1


@pytest.mark.parametrize("carrier", ["httpcore", "aiohttp"])
async def test_a_stream_reaches_the_client_chunk_by_chunk(carrier: str) -> None:
    """Over a real socket, on each GLOO_HTTP_TRANSPORT: the server sends its second chunk only
    once the client has parsed the first, so a transport that buffered the body would hang."""
    first_seen = asyncio.Event()

    def chunk(body: bytes) -> bytes:
        return f"{len(body):x}\r\n".encode() + body + b"\r\n"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        writer.write(chunk(b'data: {"delta": "Grace"}\n\n'))
        await writer.drain()
        await first_seen.wait()
        writer.write(chunk(b'data: {"delta": " abounds"}\n\ndata: [DONE]\n\n') + b"0\r\n\r\n")
        await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    payloads: list[StreamPayload] = []
    try:
        settings = Settings(_env_file=None, gloo_http_transport=carrier)
        async with (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", transport=network_transport(settings)
            ) as client,
            client.stream("POST", "/ai/v1/message", json={}) as response,
        ):
            async for payload in parse_lines(response.aiter_lines()):
                payloads.append(payload)
                first_seen.set()
    finally:
        server.close()
    assert payloads == [{"delta": "Grace"}, {"delta": " abounds"}]


async def test_parse_lines_flushes_at_end() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in ['{"delta": "a"}', "{", '"delta": "b"', "}"]:
            yield line

    assert [p async for p in parse_lines(lines())] == [{"delta": "a"}, {"delta": "b"}]


# --- accumulator ---------------------------------------------------------------------------


def test_delta_chunks_with_metadata_last() -> None:
    deltas, answer = accumulate(
        [
            {"delta": "Hel"},
            {"delta": "lo"},
            {
                "chat_id": "c1",
                "message_id": "m1",
                "query_id": "q1",
                "model": "llama",
                "sources": [{"title": "S", "url": "https://s.example/"}],
                "suggestions": ["Next?"],
            },
        ]
    )
    assert deltas == ["Hel", "lo"]
    assert answer == GlooAnswer(
        chat_id="c1",
        text="Hello",
        sources=(Source(title="S", url="https://s.example/"),),
        suggestions=("Next?",),
        message_id="m1",
        query_id="q1",
        model="llama",
    )


def test_metadata_in_first_chunk() -> None:
    deltas, answer = accumulate(
        [{"chat_id": "c1", "message_id": "m1", "delta": ""}, {"delta": "A"}, {"delta": "B"}]
    )
    assert deltas == ["A", "B"]
    assert (answer.chat_id, answer.message_id, answer.text) == ("c1", "m1", "AB")


def test_latest_non_empty_metadata_wins() -> None:
    _, answer = accumulate(
        [
            {"chat_id": "c1", "model": "m-a", "suggestions": ["x"], "delta": "t"},
            {"chat_id": "", "model": "m-b", "suggestions": [], "sources": []},
            {"chat_id": None, "sources": "bad"},
        ]
    )
    assert (answer.chat_id, answer.model, answer.suggestions) == ("c1", "m-b", ("x",))


def test_nested_delta_content_and_openai_choices() -> None:
    deltas, answer = accumulate(
        [
            {"delta": {"content": "One"}},
            {"choices": [{"delta": {"content": " two"}}]},
            {"delta": {"role": "assistant"}},
            {"chat_id": "c"},
        ]
    )
    assert deltas == ["One", " two"]
    assert answer.text == "One two"


@pytest.mark.parametrize("key", ["message", "text", "content", "answer"])
def test_cumulative_chunks_emit_only_the_new_suffix(key: str) -> None:
    deltas, answer = accumulate(
        [{key: "Hel"}, {key: "Hello"}, {key: "Hello"}, {key: "Hello world"}, {"chat_id": "c"}]
    )
    assert deltas == ["Hel", "lo", " world"]
    assert answer.text == "Hello world"


def test_text_chunks_that_are_deltas() -> None:
    deltas, answer = accumulate(
        [{"message": "Hel"}, {"text": "lo"}, {"content": "!", "chat_id": "c"}]
    )
    assert deltas == ["Hel", "lo", "!"]
    assert answer.text == "Hello!"


def test_final_full_message_after_deltas_is_not_duplicated() -> None:
    deltas, answer = accumulate(
        [
            {"delta": "My name"},
            {"delta": " is Gloo."},
            {"chat_id": "c", "message": "My name is Gloo."},
        ]
    )
    assert deltas == ["My name", " is Gloo."]
    assert answer.text == "My name is Gloo."


def test_chunk_with_delta_and_longer_cumulative_message() -> None:
    deltas, _ = accumulate([{"delta": "a"}, {"delta": "b", "message": "abc"}, {"chat_id": "c"}])
    assert deltas == ["a", "bc"]


def test_message_as_content_object() -> None:
    deltas, answer = accumulate(
        [{"message": {"role": "assistant", "content": "Hi"}, "chat_id": "c"}]
    )
    assert deltas == ["Hi"]
    assert answer.text == "Hi"


def test_plain_text_payloads() -> None:
    deltas, answer = accumulate(["Hello", " world"], fallback_chat_id="c9")
    assert deltas == ["Hello", " world"]
    assert (answer.text, answer.chat_id) == ("Hello world", "c9")


def test_whole_seed_answer_as_one_chunk() -> None:
    payload = {
        "chat_id": "c1",
        "message": "My name is Gloo AI Chat.",
        "success": True,
        "sources": [],
        "suggestions": ["How can I use AI?"],
    }
    deltas, answer = accumulate([payload])
    assert deltas == ["My name is Gloo AI Chat."]
    assert answer.suggestions == ("How can I use AI?",)


def test_success_false_raises_with_its_message() -> None:
    acc = StreamAccumulator()
    acc.add({"delta": "partial"})
    with pytest.raises(GlooProtocolError, match="Upstream model failed") as info:
        acc.add({"success": False, "message": "Upstream model failed"})
    assert info.value.detail == {"success": False, "message": "Upstream model failed"}


def test_success_false_without_message() -> None:
    with pytest.raises(GlooProtocolError, match="success: false"):
        StreamAccumulator().add({"success": False})


def test_missing_chat_id_uses_fallback_or_fails() -> None:
    acc = StreamAccumulator()
    acc.add({"delta": "x"})
    assert acc.finish(fallback_chat_id="existing").chat_id == "existing"
    with pytest.raises(GlooProtocolError, match="chat_id"):
        acc.finish()


def test_empty_answer_is_a_protocol_error() -> None:
    acc = StreamAccumulator()
    acc.add({"chat_id": "c", "message": "   "})
    with pytest.raises(GlooProtocolError, match="empty answer"):
        acc.finish()


def test_sources_only_answer_is_accepted_and_limited() -> None:
    acc = StreamAccumulator()
    acc.add(
        {
            "chat_id": "c",
            "message": "",
            "sources": [{"title": "A"}, {"title": "B"}, {"title": "C"}],
        }
    )
    answer = acc.finish(sources_limit=2)
    assert [s.title for s in answer.sources] == ["A", "B"]
    assert answer.text == ""


def test_end_to_end_sse_lines_to_answer() -> None:
    lines = [
        ": connected",
        'data: {"chat_id": "c1", "query_id": "q1"}',
        "",
        "data: Once",
        "",
        "data:  upon",
        "",
        'data: {"message": "Once upon a time", "message_id": "m1"}',
        "",
        "data: [DONE]",
        "",
    ]
    deltas, answer = accumulate(parse(lines))
    assert deltas == ["Once", " upon", " a time"]
    assert (answer.text, answer.chat_id, answer.query_id, answer.message_id) == (
        "Once upon a time",
        "c1",
        "q1",
        "m1",
    )


@pytest.mark.parametrize("carrier", ["httpcore", "aiohttp"])
async def test_a_refusal_and_a_disconnect_are_named_alike_on_both_transports(carrier: str) -> None:
    """A refused connection is a ConnectError and a server that hangs up before answering a
    RemoteProtocolError on either transport (httpx-aiohttp 0.2 calls both ConnectTimeout),
    so Gloo's errors and retry metrics read the same whichever is configured."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    closed = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    refused_port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    settings = Settings(_env_file=None, gloo_http_transport=carrier)
    try:
        async with httpx.AsyncClient(transport=network_transport(settings)) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(f"http://127.0.0.1:{port}/")
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{refused_port}/")
    finally:
        server.close()
