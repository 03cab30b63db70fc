"""Ctrl-C in the console playground: :meth:`Console.interrupt` is what the SIGINT handler
calls, driven here without signals (tests/core/test_console_signals.py sends real ones)."""

from __future__ import annotations

import asyncio
import io

import pytest

from core.console import HELP, STOPPED, THINKING, Console, LineReader
from core.simulator import SimulatorConfig
from core.store.sql import SqlStore
from tests.core.test_console import feed
from tests.harness import core_on_simulator

#: The simulator sends the first piece of every answer at once and the next one an hour
#: later: an answer is always mid-stream when the test interrupts it.
STALLED = SimulatorConfig(chunk_latency=3600.0)


class InterruptOnAnswer(io.StringIO):
    """Output that presses Ctrl-C (on the loop, as the signal handler runs) as soon as
    ``marker`` (the start of an answer) is written."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.console: Console | None = None

    def write(self, s: str) -> int:
        if self.marker in s and self.console is not None:
            asyncio.get_running_loop().call_soon(self.console.interrupt)
        return super().write(s)


async def test_ctrl_c_stops_the_answer_and_the_console_goes_on(store: SqlStore) -> None:
    out = InterruptOnAnswer("Gloo: ")
    async with core_on_simulator(store, STALLED) as (c, _):
        out.console = Console(c.service, out)
        code = await out.console.run(feed(["What is grace?", "/help", "What is hope?"]))
    text = out.getvalue()
    assert code == 0
    first, rest = text.split("You: What is grace?\n")[1].split(f"\n{STOPPED}\n", 1)
    assert first.startswith("Gloo: ")
    assert len(first) > len("Gloo: ")
    assert rest.startswith(f"> /help\n{HELP}\n")
    # The stopped answer let go of the thread: the next question is answered (and stopped).
    assert rest.endswith(f"You: What is hope?\nGloo: {rest.split('Gloo: ')[1]}")
    assert text.count(STOPPED) == 2


async def test_ctrl_c_on_a_terminal_keeps_what_was_drawn(store: SqlStore) -> None:
    out = InterruptOnAnswer("Gloo:")
    async with core_on_simulator(store, STALLED) as (c, _):
        out.console = Console(c.service, out, terminal=True)
        code = await out.console.run(feed(["What is grace?"]))
    text = out.getvalue()
    assert code == 0
    last = text.rsplit("\x1b[2K", 1)[-1]
    assert "Gloo:" in last  # the partial answer, drawn in full one last time
    assert last.endswith(f"\n\x1b[?25h{STOPPED}\n")  # the cursor shown again, then the word


async def test_ctrl_c_at_the_prompt_leaves_with_code_0() -> None:
    reads = 0
    out = io.StringIO()
    console = Console(None, out)  # type: ignore[arg-type] # no question is asked

    async def read(prompt: str) -> str | None:
        nonlocal reads
        reads += 1
        if reads == 1:
            return "/help"
        asyncio.get_running_loop().call_soon(console.interrupt)
        never: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        return await never  # no line ever comes

    assert await console.run(read) == 0
    assert reads == 2
    assert out.getvalue().count(HELP) == 1
    assert STOPPED not in out.getvalue()


async def test_ctrl_c_before_the_prompt_leaves_at_the_prompt() -> None:
    out = io.StringIO()
    console = Console(None, out)  # type: ignore[arg-type]
    console.interrupt()  # between steps: nothing runs to stop, so the console leaves
    read: LineReader = feed(["/help"])
    assert await console.run(read) == 0
    assert HELP not in out.getvalue()


async def test_cancelling_the_console_itself_is_not_taken_for_ctrl_c() -> None:
    console = Console(None, io.StringIO())  # type: ignore[arg-type]
    reading = asyncio.Event()

    async def read(prompt: str) -> str | None:
        reading.set()
        never: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        return await never

    task = asyncio.create_task(console.run(read))
    await reading.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_ctrl_c_while_gloo_is_thinking_takes_the_spinner_away(store: SqlStore) -> None:
    out = InterruptOnAnswer(THINKING)
    async with core_on_simulator(store, SimulatorConfig(first_chunk_latency=3600.0)) as (c, _):
        out.console = Console(c.service, out, terminal=True)
        code = await out.console.run(feed(["What is grace?", "/help"]))
    text = out.getvalue()
    assert code == 0
    assert "Gloo:" not in text
    stopped = text.index(f"{STOPPED}\n")
    assert THINKING not in text[stopped:]
    assert THINKING not in text[:stopped].rsplit("\x1b[2K", 1)[-1]  # erased before the word
    assert text.endswith(f"{HELP}\n")
