"""Injected and seeded faults, over both front ends; faulted requests never touch memory."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest

from core.simulator import SimulatorConfig
from tests.clock import FakeClock
from tests.core.simulator.conftest import HarnessFactory
from tests.core.simulator.support import QUESTIONS, Harness

_ERROR_CODES = {
    "500": "internal_server_error",
    "502": "upstream_unavailable",
    "408": "request_timeout",
}


async def _chat_with_one_turn(h: Harness) -> str:
    body = (await h.ask(QUESTIONS[0])).json()
    chat_id = body["chat_id"]
    assert isinstance(chat_id, str)
    return chat_id


@pytest.mark.parametrize("kind", ["500", "502", "408"])
@pytest.mark.parametrize("stream", [False, True])
async def test_error_faults(harness: Harness, kind: str, stream: bool) -> None:
    chat_id = await _chat_with_one_turn(harness)
    harness.simulator.inject(kind)
    response = await harness.ask(QUESTIONS[1], chat_id=chat_id, stream=stream)
    assert response.status_code == int(kind)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == _ERROR_CODES[kind]
    assert body["error"]
    assert body["detail"]
    assert len(harness.simulator.chats[chat_id]) == 2
    record = harness.simulator.message_records[-1]
    assert (record.status, record.fault, record.completed) == (int(kind), kind, False)

    retry = await harness.ask(QUESTIONS[1], chat_id=chat_id)
    assert retry.status_code == 200
    assert len(harness.simulator.chats[chat_id]) == 4


async def test_rate_limit_fault_headers(make_harness: HarnessFactory) -> None:
    clock = FakeClock(1_752_500_000.4)
    h = await make_harness(SimulatorConfig(clock=clock, rate_limit_reset=2))
    chat_id = await _chat_with_one_turn(h)
    h.simulator.inject(429)
    response = await h.ask(QUESTIONS[1], chat_id=chat_id, stream=True)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.headers["x-ratelimit-reset"] == str(math.ceil(clock.now + 2))
    # The example body of docs.gloo.com's API reference, Rate limits.
    assert response.json() == {"error": "Rate limit exceeded", "code": "too_many_requests"}
    assert len(h.simulator.chats[chat_id]) == 2


async def test_fractional_rate_limit_reset(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(rate_limit_reset=0.25))
    h.simulator.inject("429")
    response = await h.ask("Hello?")
    assert response.headers["retry-after"] == "0.25"
    assert float(response.headers["x-ratelimit-reset"]) >= time.time()


async def test_drop_mid_stream_after_some_text(harness: Harness) -> None:
    chat_id = await _chat_with_one_turn(harness)
    harness.simulator.inject("drop")
    received: list[dict[str, Any]] = []
    with pytest.raises(httpx.RemoteProtocolError):
        await harness.ask_stream(QUESTIONS[1], chat_id=chat_id, received=received)
    partial = "".join(e["message"] for e in received)
    assert len(received) >= 2
    assert received[0]["chat_id"] == chat_id
    assert all("message_id" not in e for e in received)
    assert len(harness.simulator.chats[chat_id]) == 2
    record = harness.simulator.message_records[-1]
    assert (record.status, record.fault, record.completed) == (200, "drop", False)

    # Memory did not move, so the retry is the very same turn: the partial text is its prefix.
    retry = (await harness.ask(QUESTIONS[1], chat_id=chat_id)).json()
    assert retry["message"].startswith(partial)
    assert len(partial) < len(retry["message"])
    assert 0.3 < len(partial.split()) / len(retry["message"].split()) < 0.7
    assert len(harness.simulator.chats[chat_id]) == 4


async def test_drop_before_a_non_stream_response(harness: Harness) -> None:
    chat_id = await _chat_with_one_turn(harness)
    harness.simulator.inject("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        await harness.ask(QUESTIONS[1], chat_id=chat_id)
    assert len(harness.simulator.chats[chat_id]) == 2
    record = harness.simulator.message_records[-1]
    assert (record.status, record.fault) == (None, "drop")
    assert (await harness.ask(QUESTIONS[1], chat_id=chat_id)).status_code == 200


@pytest.mark.parametrize("stream", [False, True])
async def test_hang_hits_the_read_timeout(harness: Harness, stream: bool) -> None:
    chat_id = await _chat_with_one_turn(harness)
    harness.simulator.inject("hang")
    timeout = httpx.Timeout(5.0, read=0.2)
    started = time.perf_counter()
    call: Awaitable[object] = (
        harness.ask_stream(QUESTIONS[1], chat_id=chat_id, http_timeout=timeout)
        if stream
        else harness.ask(QUESTIONS[1], chat_id=chat_id, http_timeout=timeout)
    )
    with pytest.raises(httpx.ReadTimeout):
        await call
    elapsed = time.perf_counter() - started
    assert 0.18 <= elapsed < 2.0
    assert len(harness.simulator.chats[chat_id]) == 2
    record = harness.simulator.message_records[-1]
    assert (record.status, record.fault) == (None, "hang")
    assert (await harness.ask(QUESTIONS[1], chat_id=chat_id)).status_code == 200


async def test_a_hang_that_ends_answers_normally(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(hang_seconds=0.03))
    h.simulator.inject("hang")
    started = time.perf_counter()
    response = await h.ask(QUESTIONS[2])
    assert time.perf_counter() - started >= 0.025
    assert response.status_code == 200
    assert h.simulator.message_records[-1].fault == "hang"
    assert response.json()["chat_id"] in h.simulator.chats


@pytest.mark.parametrize("kind", ["500", "502", "408", "429", "drop"])
async def test_faulted_new_chats_are_never_created(harness: Harness, kind: str) -> None:
    harness.simulator.inject(kind)
    try:
        await harness.ask_stream(QUESTIONS[3])
    except httpx.RemoteProtocolError:
        assert kind == "drop"
    assert harness.simulator.chats == {}
    assert harness.simulator.message_records[-1].fault == kind


async def test_injected_faults_apply_in_order_to_authenticated_message_requests(
    harness: Harness,
) -> None:
    sim = harness.simulator
    sim.inject("429", 500)
    assert sim.pending_faults == ("429", "500")

    unauthenticated = await harness.client.post("/ai/v1/message", json={"query": "Hi?"})
    assert unauthenticated.status_code == 401
    await harness.token()
    assert (await harness.client.get("/healthz")).status_code == 200
    assert sim.pending_faults == ("429", "500")

    statuses = [(await harness.ask(q)).status_code for q in QUESTIONS[:3]]
    assert statuses == [429, 500, 200]
    assert not sim.pending_faults
    assert [r.fault for r in sim.message_records] == [None, "429", "500", None]

    sim.inject("502", "408")
    sim.clear_faults()
    assert (await harness.ask(QUESTIONS[3])).status_code == 200


def test_inject_rejects_unknown_kinds() -> None:
    from core.simulator import Simulator

    sim = Simulator()
    with pytest.raises(ValueError, match="unknown fault"):
        sim.inject("404")
    with pytest.raises(ValueError, match="unknown fault"):
        sim.inject("500", "teapot")
    assert not sim.pending_faults
    sim.inject(" HANG ", 408)
    assert sim.pending_faults == ("hang", "408")


async def test_configured_rates_fault_every_request(make_harness: HarnessFactory) -> None:
    h = await make_harness(SimulatorConfig(error_502=1.0))
    assert [(await h.ask(q)).status_code for q in QUESTIONS[:3]] == [502, 502, 502]
    assert h.simulator.chats == {}
