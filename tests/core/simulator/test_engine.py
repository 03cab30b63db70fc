"""The framework-neutral engine, driven directly with SimRequest objects."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from core.simulator import (
    Headers,
    SimRequest,
    SimResponse,
    Simulator,
    SimulatorConfig,
    StreamDropped,
)

_KEY = "engine-test-key"


def _message(body: dict[str, Any], **query: str) -> SimRequest:
    return SimRequest(
        method="post",
        path="/ai/v1/message",
        query=query,
        headers={"AUTHORIZATION": f"Bearer {_KEY}", "content-type": "application/json"},
        body=json.dumps(body).encode(),
    )


def _simulator(**overrides: Any) -> Simulator:
    return Simulator(SimulatorConfig(api_keys=frozenset({_KEY}), **overrides))


async def _drain(response: SimResponse) -> list[bytes]:
    received: list[bytes] = []
    await _collect(response, received)
    return received


async def _collect(response: SimResponse, into: list[bytes]) -> None:
    assert response.stream is not None
    async for chunk in response.stream:
        into.append(chunk)


def test_headers_are_case_insensitive_and_redacted() -> None:
    headers = Headers([("Authorization", "Bearer abc"), ("X-Thing", "1"), ("x-thing", "2")])
    assert headers["authorization"] == "Bearer abc"
    assert headers["X-THING"] == "1, 2"
    assert "x-Thing" in headers
    assert list(headers) == ["Authorization", "X-Thing"]
    assert len(headers) == 2
    assert "abc" not in repr(headers)
    request = SimRequest("get", "/healthz", headers={"Content-Type": "text/plain"})
    assert request.method == "GET"
    assert request.header("content-type") == "text/plain"
    assert isinstance(request.headers, Headers)


async def test_handle_answers_json_and_records() -> None:
    sim = _simulator()
    response = await sim.handle(_message({"query": "What is hope?"}))
    assert response.status == 200
    assert not response.is_stream
    assert response.json()["success"] is True
    assert sim.message_requests == 1
    assert sim.message_records[0].query == "What is hope?"


async def test_stream_iterator_yields_sse_events() -> None:
    sim = _simulator(words_per_chunk=4)
    response = await sim.handle(_message({"query": "What is hope?", "stream": True}))
    assert response.is_stream
    chunks = await _drain(response)
    assert chunks[-1] == b"data: [DONE]\n\n"
    events = [json.loads(c.removeprefix(b"data: ")) for c in chunks[:-1]]
    assert all(c.endswith(b"\n\n") for c in chunks)
    assert "".join(e["message"] for e in events) == sim.chats[events[0]["chat_id"]][1]["message"]


async def test_ndjson_stream_lines() -> None:
    sim = _simulator(stream_format="ndjson", text_mode="cumulative")
    response = await sim.handle(_message({"query": "What is hope?", "stream": True}))
    assert response.headers["Content-Type"] == "application/x-ndjson"
    chunks = await _drain(response)
    assert all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in chunks)
    events = [json.loads(c) for c in chunks]
    assert events[-1]["message"] == sim.chats[events[0]["chat_id"]][1]["message"]


async def test_drops_raise_stream_dropped() -> None:
    sim = _simulator()
    sim.inject("drop", "drop")
    with pytest.raises(StreamDropped):
        await sim.handle(_message({"query": "What is hope?"}))
    response = await sim.handle(_message({"query": "What is hope?", "stream": True}))
    received: list[bytes] = []
    with pytest.raises(StreamDropped):
        await _collect(response, received)
    assert received
    assert sim.chats == {}


async def test_an_invalid_request_with_a_drop_fault_drops_before_responding() -> None:
    sim = _simulator()
    sim.inject("drop")
    with pytest.raises(StreamDropped):
        await sim.handle(_message({"stream": True}))
    assert sim.message_records[0].status is None


async def test_closing_a_stream_early_commits_nothing() -> None:
    sim = _simulator()
    response = await sim.handle(_message({"query": "What is hope?", "stream": True}))
    assert response.stream is not None
    await anext(response.stream)
    await response.aclose()
    assert sim.chats == {}


_RATES: dict[str, Any] = {
    "error_500": 0.1,
    "error_502": 0.1,
    "error_408": 0.05,
    "error_429": 0.15,
    "drop_stream": 0.1,
    "hang": 0.05,
    "hang_seconds": 0.0,
}


async def _fault_sequence(
    seed: int, requests: int = 60, inject: tuple[str, ...] = ()
) -> list[str | None]:
    sim = _simulator(seed=seed, **_RATES)
    sim.inject(*inject)
    for index in range(requests):
        with contextlib.suppress(StreamDropped):
            await sim.handle(_message({"query": f"Question {index}?"}))
    return [r.fault for r in sim.message_records]


async def test_seeded_rates_reproduce_the_same_fault_sequence() -> None:
    first = await _fault_sequence(seed=7)
    assert first == await _fault_sequence(seed=7)
    assert first != await _fault_sequence(seed=8)
    assert {"500", "502", "408", "429", "drop", "hang", None} == set(first)
    assert 0.3 < sum(f is not None for f in first) / len(first) < 0.8


async def test_injected_faults_do_not_shift_the_seeded_sequence() -> None:
    plain = await _fault_sequence(seed=3, requests=20)
    injected = await _fault_sequence(seed=3, requests=20, inject=("500",))
    assert injected[0] == "500"
    assert injected[1:] == plain[1:]
