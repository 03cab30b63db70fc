"""Stop switches: an answer in progress ends at once when its question is withdrawn."""

from __future__ import annotations

import asyncio

import pytest

from core.stopping import AnswerStopped, StopSwitches


async def test_an_answer_that_is_not_stopped_returns_its_result() -> None:
    switches = StopSwitches()

    async def answer() -> str:
        return "done"

    assert await switches.run("k1", answer()) == "done"
    assert "k1" not in switches
    assert not switches.stop("k1")  # nothing runs under that key any more


async def test_a_stopped_answer_raises_answer_stopped() -> None:
    switches = StopSwitches()
    began = asyncio.Event()

    async def answer() -> str:
        began.set()
        await asyncio.Event().wait()  # writes forever
        return "never"

    running = asyncio.create_task(switches.run("k1", answer()))
    await began.wait()
    assert "k1" in switches
    assert switches.stop("k1")
    with pytest.raises(AnswerStopped) as stopped:
        await running
    assert stopped.value.key == "k1"
    assert "k1" not in switches


async def test_cancelling_the_caller_is_not_mistaken_for_a_stop() -> None:
    switches = StopSwitches()
    began = asyncio.Event()

    async def answer() -> None:
        began.set()
        await asyncio.Event().wait()

    running = asyncio.create_task(switches.run("k1", answer()))
    await began.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
