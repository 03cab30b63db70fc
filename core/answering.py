"""One answer on one platform: the surface a platform lends, and the loop that feeds it.

A platform's :class:`~core.delivery.Responder` opens an :class:`AnswerSurface` for each
attempt at a job: the messages that show that one answer. The core runs the answer's
stream into it (:func:`show_answer`) — which text goes when, and what happens when the
stream ends or breaks — so a surface only renders and calls its platform:

* :meth:`AnswerSurface.progress` gets everything streamed so far. The first text goes at
  once; after that, at most one change per :meth:`AnswerSurface.pace` seconds. Text that
  arrives sooner is held and coalesced, and the newest text goes when the interval ends,
  whether or not more has arrived by then;
* :meth:`AnswerSurface.final` gets the finished :class:`~core.types.Reply` at once, whatever
  the pacing clock says: it is the message's one final change, and the reader waits for it;
* when the stream breaks, the held text is shown first, then :meth:`AnswerSurface.halt`
  leaves what was shown readable; if the dispatcher gives up, :meth:`AnswerSurface.failure`
  says why in one sentence;
* :meth:`AnswerSurface.close` ends every attempt, answered, failed or crashed.

A surface that also shows the answer's steps (:class:`ShowsSteps`: Slack's task cards) gets
each :data:`~core.types.Step` at once, ahead of text held for the pace; other surfaces
(Discord, the console) never see them. Steps are not Gloo's first text: the dispatcher's
"Gloo has started" signal waits for text or the reply (``core.delivery``).

A surface keeps only what one attempt shows (what it streamed, which message is which); the
messages earlier attempts posted come in with the job (``job.posted``), so any process can
open a surface for a re-driven job and edit them instead of posting again. Nothing is kept
in the platform's responder between attempts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol, runtime_checkable

from core.service import AnswerFailed, StreamEvent
from core.types import Reply, SearchingSources, SourcesFound, Step, TextDelta

__all__ = ["AnswerSurface", "Clock", "ShowsSteps", "show_answer"]

Clock = Callable[[], float]


class AnswerSurface(Protocol):
    """The messages showing one answer on a platform, for one attempt."""

    def pace(self) -> float:
        """Seconds the platform wants between two changes of the answer while it streams
        (asked before each change, so it may grow as more answers share the platform)."""
        ...

    async def progress(self, text: str) -> None:
        """Show ``text``: everything streamed so far (post the first message, then edit or
        append). Await the ``posted`` callback the surface was opened with for every message
        posted, as soon as it is posted."""
        ...

    async def final(self, reply: Reply) -> None:
        """Show the finished answer with its buttons, in as few changes as the platform
        allows. Raises when it cannot be shown (the attempt is then tried again)."""
        ...

    async def halt(self) -> None:
        """The answer broke off: leave what was shown readable (close a stream, …)."""
        ...

    async def failure(self, sentence: str) -> None:
        """Tell the user in plain words that the question could not be answered.

        What was shown so far (by this attempt or, through ``job.posted``, by an earlier
        one) may be edited to carry the sentence or the sentence said beneath it.
        """
        ...

    def close(self) -> None:
        """The attempt is over, however it ended: give back what the surface holds (its
        share of the platform's budget, a call reserved for a final change never made)."""
        ...


@runtime_checkable
class ShowsSteps(Protocol):
    """The optional capability of a surface that shows the answer's steps."""

    async def step(self, step: Step) -> None:
        """Show ``step`` (what really happened: Gloo searches its sources, found these).
        Called at once, in order, before :meth:`AnswerSurface.final` or
        :meth:`AnswerSurface.halt`; a surface may keep a step for its next change."""
        ...


async def show_answer(
    surface: AnswerSurface,
    answer: AsyncIterator[StreamEvent],
    *,
    clock: Clock = time.monotonic,
) -> Reply:
    """Stream ``answer`` into ``surface`` at its pace, then show the final reply; return it.

    Raises :class:`~core.service.AnswerFailed` from ``answer`` (after showing the held text
    and halting the surface); other exceptions (a renderer's) propagate as they are.
    """
    pump = _Pump(surface, answer, clock)
    try:
        reply = await pump.run()
    except AnswerFailed:
        await pump.flush()
        await surface.halt()
        raise
    finally:
        await pump.close()
    await surface.final(reply)
    return reply


class _Pump:
    """Reads the stream while holding back text the surface's pace does not allow yet.

    One reader task per answer consumes the stream and records the newest text; the
    pacing loop (the caller's task, the only one that calls the surface) sleeps until the
    next change may go and wakes once per interval, or sooner when the reader has text
    that may go now, or the stream ended or failed. Chunks in between cost no task, no
    timer and no wake-up.
    """

    def __init__(
        self,
        surface: AnswerSurface,
        answer: AsyncIterator[StreamEvent],
        clock: Clock,
    ) -> None:
        self._surface = surface
        self._answer = answer
        self._clock = clock
        self._steps: list[Step] = []  # steps read, not shown yet (surfaces that show them)
        self._shows_steps = isinstance(surface, ShowsSteps)
        self._latest: str | None = None  # the newest text streamed
        self._shown: str | None = None  # the text last handed to the surface
        self._changed_at = float("-inf")
        self._due = float("-inf")  # from this clock time held text may go
        self._reader: asyncio.Task[Reply] | None = None
        self._waiter: asyncio.Future[None] | None = None  # set while the pacing loop sleeps
        self._showing: asyncio.Future[None] | None = None  # set while the surface changes

    async def run(self) -> Reply:
        reader = self._reader = asyncio.create_task(self._read())
        while True:
            if self._steps:
                await self._show_steps()
                continue
            self._due = self._next_change()
            wait = self._due - self._clock()
            if self._held() and wait <= 0:
                await self._show()
                continue
            if reader.done():
                # The reply (held text then waits for nothing: the final change goes at
                # once), or the stream's failure as it was raised.
                return reader.result()
            await self._sleep(wait if wait > 0 else None)

    def _held(self) -> bool:
        return self._latest is not None and self._latest != self._shown

    def _next_change(self) -> float:
        """The clock time from which the next change may go."""
        if self._shown is None:
            return float("-inf")  # the first text goes at once
        return self._changed_at + self._surface.pace()

    async def _read(self) -> Reply:
        """The reader task: the stream's events, up to its reply."""
        try:
            async for event in self._answer:
                if isinstance(event, SearchingSources | SourcesFound):
                    if self._shows_steps:
                        self._steps.append(event)
                        self._wake()
                    continue
                if not isinstance(event, TextDelta):
                    return event
                self._latest = event.text
                if self._waiter is not None and self._clock() >= self._due:
                    self._wake()
                    # Let the pacing loop show this text before reading on (a stream whose
                    # chunks are already buffered would otherwise run ahead of the pace).
                    await asyncio.sleep(0)
                if self._showing is not None:
                    # No reading while the surface changes (as when the two took turns):
                    # what it is shown is the newest text when it was asked, not later.
                    await self._showing
            # The service always ends with a Reply or raises.
            raise RuntimeError("the answer stream ended without a reply")
        finally:
            self._wake()

    async def _sleep(self, wait: float | None) -> None:
        """Until the reader wakes the loop, or ``wait`` seconds pass (None: no timer)."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if wait is None else loop.call_later(wait, _settle, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        if self._waiter is not None:
            _settle(self._waiter)

    async def _show(self) -> None:
        assert self._latest is not None
        text = self._latest
        showing = self._showing = asyncio.get_running_loop().create_future()
        try:
            await self._surface.progress(text)
        finally:
            self._showing = None
            _settle(showing)
        self._shown = text
        self._changed_at = self._clock()

    async def _show_steps(self) -> None:
        assert isinstance(self._surface, ShowsSteps)
        while self._steps:
            await self._surface.step(self._steps.pop(0))

    async def flush(self) -> None:
        """Show held text now (the stream broke; what arrived stays readable)."""
        if self._held():
            await self._show()

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is None:
            return
        if not reader.done():
            reader.cancel()
            # Whatever the read ended with (cancelled, the stream's own failure), the
            # attempt is over; the stream is closed by its owner. A cancellation of this
            # task while it waits still propagates.
            await asyncio.gather(reader, return_exceptions=True)
        elif not reader.cancelled():
            reader.exception()  # retrieved: an ending not reached through run() is no leak


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
