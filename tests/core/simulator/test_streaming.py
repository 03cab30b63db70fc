"""Streamed answers: every wire format and text mode, latency, early close."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest

from core.simulator import SimulatorConfig
from tests.core.simulator.conftest import HarnessFactory
from tests.core.simulator.support import QUESTIONS, Harness, StreamResult

_FINAL_KEYS = {"chat_id", "message_id", "query_id", "sources", "suggestions", "success"}
_CONTENT_TYPES = {
    "sse": "text/event-stream",
    "sse-nodone": "text/event-stream",
    "ndjson": "application/x-ndjson",
}


def _check_stream_shape(result: StreamResult, stream_format: str, text_mode: str) -> None:
    assert result.status == 200
    assert result.headers["content-type"].startswith(_CONTENT_TYPES[stream_format])
    assert result.done is (stream_format == "sse")
    events = result.events
    assert len(events) >= 2
    assert events[0]["chat_id"]
    assert set(events[-1]) >= _FINAL_KEYS
    assert events[-1]["chat_id"] == events[0]["chat_id"]
    assert events[-1]["success"] is True
    assert all(set(e) == {"message"} for e in events[1:-1])
    if text_mode == "cumulative":
        messages = [e["message"] for e in events]
        assert all(b.startswith(a) and len(b) > len(a) for a, b in itertools.pairwise(messages))


@pytest.mark.parametrize(
    ("stream_format", "text_mode"),
    list(itertools.product(["sse", "sse-nodone", "ndjson"], ["delta", "cumulative"])),
)
async def test_streams_carry_the_same_answer_as_non_stream(
    make_harness: HarnessFactory, stream_format: str, text_mode: str
) -> None:
    config = SimulatorConfig.from_mapping(
        {
            "seed": 5,
            "stream_format": stream_format,
            "text_mode": text_mode,
            "deterministic_ids": True,
        }
    )
    plain = await make_harness(config)
    streamed = await make_harness(config.replace())

    expected: list[dict[str, Any]] = []
    chat_id: str | None = None
    for question in QUESTIONS[:2]:
        body = (await plain.ask(question, chat_id=chat_id)).json()
        chat_id = body["chat_id"]
        expected.append(body)

    chat_id = None
    for question, want in zip(QUESTIONS[:2], expected, strict=True):
        result = await streamed.ask_stream(question, chat_id=chat_id)
        _check_stream_shape(result, stream_format, text_mode)
        final = result.events[-1]
        chat_id = final["chat_id"]
        assert result.text(text_mode) == want["message"]
        for key in ("chat_id", "query_id", "message_id", "sources", "suggestions", "intent"):
            assert final[key] == want[key], key

    assert chat_id is not None
    streamed_chat = streamed.simulator.chats[chat_id]
    plain_chat = plain.simulator.chats[chat_id]
    assert [m["message"] for m in streamed_chat] == [m["message"] for m in plain_chat]
    assert [m["message_id"] for m in streamed_chat] == [m["message_id"] for m in plain_chat]
    assert [m.get("stream") for m in streamed_chat[::2]] == [True, True]
    assert "Earlier you asked" in streamed_chat[3]["message"]


async def test_chunks_hold_words_per_chunk_words(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(words_per_chunk=5))
    result = await h.ask_stream(QUESTIONS[0])
    words = [len(e["message"].split()) for e in result.events]
    assert all(n == 5 for n in words[:-1])
    assert 1 <= words[-1] <= 5
    assert sum(words) == len(result.text().split())


async def test_stream_options_apply_to_the_final_chunk(harness: Harness) -> None:
    result = await harness.ask_stream(
        QUESTIONS[1],
        character_limit=90,
        params={"enable_suggestions": "0", "enable_sources": "0"},
    )
    assert len(result.text()) <= 90
    assert result.events[-1]["suggestions"] == []
    assert result.events[-1]["sources"] == []


async def test_first_chunk_latency_is_observable(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(first_chunk_latency=0.05))
    result = await h.ask_stream(QUESTIONS[2])
    assert result.first_event_after is not None
    assert result.first_event_after >= 0.045
    assert result.headers_after < result.first_event_after


async def test_chunk_latency_spaces_the_chunks(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(chunk_latency=0.004, words_per_chunk=25))
    result = await h.ask_stream(QUESTIONS[3])
    gaps = len(result.events) - 1
    assert gaps >= 2
    assert result.event_times[-1] - result.event_times[0] >= gaps * 0.004 * 0.9


async def test_slow_first_chunk_hits_the_read_timeout(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(first_chunk_latency=5.0))
    with pytest.raises(httpx.ReadTimeout):
        await h.ask_stream(QUESTIONS[4], http_timeout=httpx.Timeout(5.0, read=0.1))
    assert h.simulator.chats == {}


async def test_client_closing_early_leaves_memory_unchanged(make_harness: HarnessFactory) -> None:
    harness = await make_harness(SimulatorConfig(chunk_latency=0.01))
    first = (await harness.ask(QUESTIONS[0])).json()
    chat_id = first["chat_id"]
    async with harness.client.stream(
        "POST",
        "/ai/v1/message",
        json={"query": QUESTIONS[1], "chat_id": chat_id, "stream": True},
        headers=await harness.headers(),
    ) as response:
        lines = response.aiter_lines()
        assert (await anext(lines)).startswith("data: ")
    # Give a real server the moment it needs to notice the closed connection.
    await asyncio.sleep(0.05)
    assert len(harness.simulator.chats[chat_id]) == 2
    assert harness.simulator.message_records[-1].completed is False

    after = (await harness.ask(QUESTIONS[2], chat_id=chat_id)).json()
    assert "question 3" not in after["message"]
    assert len(harness.simulator.chats[chat_id]) == 4
