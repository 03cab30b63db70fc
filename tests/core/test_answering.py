"""The core's answer loop: what a surface is handed, and when (core.answering)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.answering import show_answer
from core.service import AnswerFailed, StreamEvent
from core.types import Reply, TextDelta


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Surface:
    clock: Clock
    interval: float = 1.0
    calls: list[tuple[str, float, str]] = field(default_factory=list)
    broken: bool = False

    def pace(self) -> float:
        return self.interval

    async def progress(self, text: str) -> None:
        if self.broken:
            raise RuntimeError("renderer bug")
        self.calls.append(("progress", self.clock.now, text))

    async def final(self, reply: Reply) -> None:
        self.calls.append(("final", self.clock.now, reply.text))

    async def halt(self) -> None:
        self.calls.append(("halt", self.clock.now, ""))

    async def failure(self, sentence: str) -> None:
        self.calls.append(("failure", self.clock.now, sentence))

    def close(self) -> None:
        self.calls.append(("close", self.clock.now, ""))


def reply(text: str) -> Reply:
    return Reply(text=text, sources=(), suggestions=(), answer_id="a1", chat_id="c1")


async def timed(
    clock: Clock, steps: list[tuple[float, str]], end: str
) -> AsyncIterator[StreamEvent]:
    """Deltas at the given clock times (the clock jumps; nothing really waits), then a reply."""
    text = ""
    for at, piece in steps:
        clock.now = at
        text += piece
        yield TextDelta(delta=piece, text=text)
    yield reply(end)


async def test_first_text_at_once_then_one_change_per_interval_and_the_final_at_once() -> None:
    clock = Clock()
    surface = Surface(clock)
    steps = [(0.5, "A"), (0.6, "B"), (0.9, "C"), (1.55, "D"), (1.6, "E"), (2.7, "F"), (2.8, "G")]
    shown = await show_answer(surface, timed(clock, steps, "ABCDEFG"), clock=clock)
    assert shown.text == "ABCDEFG"
    assert surface.calls == [
        ("progress", 0.5, "A"),  # the first text, with the first chunk
        ("progress", 1.55, "ABCD"),  # B and C were held and go together, a second later
        ("progress", 2.7, "ABCDEF"),
        ("final", 2.8, "ABCDEFG"),  # not held back by the pace
    ]


async def test_an_unpaced_surface_gets_every_delta() -> None:
    clock = Clock()
    surface = Surface(clock, interval=0.0)
    await show_answer(
        surface, timed(clock, [(0.1, "a"), (0.1, "b"), (0.1, "c")], "abc"), clock=clock
    )
    assert [text for kind, _, text in surface.calls if kind == "progress"] == ["a", "ab", "abc"]


async def test_held_text_goes_when_the_interval_ends_even_if_gloo_pauses() -> None:
    gate = asyncio.Event()
    surface = Surface(Clock(), interval=0.05)  # the real clock paces this one

    async def stalling() -> AsyncIterator[StreamEvent]:
        yield TextDelta(delta="one", text="one")
        yield TextDelta(delta=" two", text="one two")
        await gate.wait()  # Gloo stalls with "two" held back
        yield reply("one two three")

    task = asyncio.create_task(show_answer(surface, stalling()))
    for _ in range(200):
        if len(surface.calls) == 2:
            break
        await asyncio.sleep(0.01)
    assert [(kind, text) for kind, _, text in surface.calls] == [
        ("progress", "one"),
        ("progress", "one two"),  # shown while the stream was still stalled
    ]
    gate.set()
    await task
    assert surface.calls[-1][0] == "final"


async def test_a_broken_stream_shows_what_was_held_then_halts() -> None:
    clock = Clock()
    surface = Surface(clock)

    async def breaking() -> AsyncIterator[StreamEvent]:
        clock.now = 0.5
        yield TextDelta(delta="Grace", text="Grace")
        clock.now = 0.6
        yield TextDelta(delta=" is", text="Grace is")
        raise AnswerFailed("The answer was cut off.", retryable=True)

    with pytest.raises(AnswerFailed):
        await show_answer(surface, breaking(), clock=clock)
    assert [(kind, text) for kind, _, text in surface.calls] == [
        ("progress", "Grace"),
        ("progress", "Grace is"),  # held by the pace, but not lost
        ("halt", ""),
    ]


async def test_a_renderer_crash_propagates_and_no_final_is_attempted() -> None:
    clock = Clock()
    surface = Surface(clock, broken=True)
    with pytest.raises(RuntimeError, match="renderer bug"):
        await show_answer(surface, timed(clock, [(0.1, "a")], "a"), clock=clock)
    assert surface.calls == []


async def test_a_stream_without_a_reply_is_a_crash_not_an_answer() -> None:
    clock = Clock()
    surface = Surface(clock)

    async def no_reply() -> AsyncIterator[StreamEvent]:
        yield TextDelta(delta="a", text="a")

    with pytest.raises(RuntimeError, match="without a reply"):
        await show_answer(surface, no_reply(), clock=clock)
    assert [kind for kind, _, _ in surface.calls] == ["progress"]


class Counting:
    """A task factory that counts the tasks the loop creates."""

    def __init__(self) -> None:
        self.made = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, coro: Any, /) -> asyncio.Future[Any]:
        self.made += 1
        return asyncio.Task(coro, loop=loop)


async def test_one_reader_task_per_answer_however_many_chunks_are_held() -> None:
    clock = Clock()
    surface = Surface(clock)
    # 200 chunks inside the first interval: all but the first are held and coalesced.
    steps = [(0.001 * i, "x") for i in range(200)]
    loop = asyncio.get_running_loop()
    counting = Counting()
    loop.set_task_factory(counting)
    try:
        await show_answer(surface, timed(clock, steps, "x" * 200), clock=clock)
    finally:
        loop.set_task_factory(None)
    assert counting.made == 1
    assert [kind for kind, _, _ in surface.calls] == ["progress", "final"]


async def test_cancelling_the_answer_cancels_the_reader_and_closes_nothing_of_its_own() -> None:
    shown = asyncio.Event()
    closed: list[str] = []

    class Showing(Surface):
        async def progress(self, text: str) -> None:
            await super().progress(text)
            shown.set()

    surface = Showing(Clock())

    async def stalling() -> AsyncIterator[StreamEvent]:
        try:
            yield TextDelta(delta="one", text="one")
            await asyncio.Event().wait()  # Gloo never says more
            yield reply("never")
        finally:
            closed.append("stream")

    task = asyncio.create_task(show_answer(surface, stalling()))
    await shown.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):  # not swallowed by the pump
        await task
    assert closed == ["stream"]  # the reader was cancelled inside the stream and awaited
    assert asyncio.all_tasks() == {asyncio.current_task()}  # no reader left behind
    assert [kind for kind, _, _ in surface.calls] == ["progress"]


async def test_a_renderer_crash_while_the_reader_waits_leaves_no_task() -> None:
    clock = Clock()
    calls = 0

    class Breaking(Surface):
        async def progress(self, text: str) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise RuntimeError("renderer bug")
            await super().progress(text)

    surface = Breaking(clock, interval=0.0)
    gate = asyncio.Event()

    async def stream() -> AsyncIterator[StreamEvent]:
        yield TextDelta(delta="a", text="a")
        yield TextDelta(delta="b", text="ab")
        await gate.wait()  # the reader is waiting here when the surface breaks
        yield reply("ab")

    with pytest.raises(RuntimeError, match="renderer bug"):
        await show_answer(surface, stream(), clock=clock)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert [text for kind, _, text in surface.calls] == ["a"]


async def test_a_failure_while_text_is_held_ends_the_wait_at_once() -> None:
    clock = Clock()
    surface = Surface(clock, interval=3600.0)  # the pace alone would hold "b" an hour

    async def breaking() -> AsyncIterator[StreamEvent]:
        yield TextDelta(delta="a", text="a")
        yield TextDelta(delta="b", text="ab")
        await asyncio.sleep(0)  # the pacing loop is asleep on its timer when this fails
        raise AnswerFailed("The answer was cut off.", retryable=True)

    with pytest.raises(AnswerFailed):
        await show_answer(surface, breaking(), clock=clock)
    assert [(kind, text) for kind, _, text in surface.calls] == [
        ("progress", "a"),
        ("progress", "ab"),
        ("halt", ""),
    ]


async def test_posted_text_is_the_newest_when_the_change_was_asked() -> None:
    """While the surface changes, the stream waits: the next change has what came since."""
    clock = Clock()
    release, changing = asyncio.Event(), asyncio.Event()
    read_during_change: list[str] = []

    class Slow(Surface):
        async def progress(self, text: str) -> None:
            await super().progress(text)
            if text == "a":
                changing.set()
                await release.wait()

    surface = Slow(clock, interval=0.0)

    async def stream() -> AsyncIterator[StreamEvent]:
        yield TextDelta(delta="a", text="a")
        read_during_change.append("b")
        yield TextDelta(delta="b", text="ab")
        yield reply("ab")

    task = asyncio.create_task(show_answer(surface, stream(), clock=clock))
    await changing.wait()
    for _ in range(5):  # turns enough for a reader that did not wait to read on
        await asyncio.sleep(0)
    assert read_during_change == []  # the first change is still under way
    release.set()
    await task
    assert [(kind, text) for kind, _, text in surface.calls] == [
        ("progress", "a"),
        ("progress", "ab"),
        ("final", "ab"),
    ]
