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

A surface keeps only what one attempt shows (what it streamed, which message is which); the
messages earlier attempts posted come in with the job (``job.posted``), so any process can
open a surface for a re-driven job and edit them instead of posting again. Nothing is kept
in the platform's responder between attempts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from core.service import AnswerFailed, StreamEvent
from core.types import Reply, TextDelta

__all__ = ["AnswerSurface", "Clock", "show_answer"]

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


async def show_answer(
    surface: AnswerSurface,
    answer: AsyncIterator[StreamEvent],
    *,
    clock: Clock = time.monotonic,
    on_event: Callable[[], None] | None = None,
) -> Reply:
    """Stream ``answer`` into ``surface`` at its pace, then show the final reply; return it.

    ``on_event`` is called for every event (the dispatcher's "Gloo has started" signal).
    Raises :class:`~core.service.AnswerFailed` from ``answer`` (after showing the held text
    and halting the surface); other exceptions (a renderer's) propagate as they are.
    """
    pump = _Pump(surface, answer, clock, on_event)
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
    """Reads the stream while holding back text the surface's pace does not allow yet."""

    def __init__(
        self,
        surface: AnswerSurface,
        answer: AsyncIterator[StreamEvent],
        clock: Clock,
        on_event: Callable[[], None] | None,
    ) -> None:
        self._surface = surface
        self._answer = answer
        self._clock = clock
        self._on_event = on_event
        self._latest: str | None = None  # the newest text streamed
        self._shown: str | None = None  # the text last handed to the surface
        self._changed_at = float("-inf")
        self._next: asyncio.Future[StreamEvent] | None = None

    async def run(self) -> Reply:
        reply: Reply | None = None
        while reply is None:
            wait = self._wait()
            if wait is not None and wait <= 0:
                await self._show()
                continue
            try:
                event = await self._read(wait)
            except StopAsyncIteration:
                break
            if event is None:  # the interval ended first: show what is held
                continue
            if self._on_event is not None:
                self._on_event()
            if isinstance(event, TextDelta):
                self._latest = event.text
            else:
                reply = event
        if reply is None:  # the service always ends with a Reply or raises
            raise RuntimeError("the answer stream ended without a reply")
        return reply

    def _wait(self) -> float | None:
        """Seconds until held text may go (0: now); None when nothing is held."""
        if self._latest is None or self._latest == self._shown:
            return None
        if self._shown is None:
            return 0.0  # the first text goes at once
        return self._changed_at + self._surface.pace() - self._clock()

    async def _read(self, wait: float | None) -> StreamEvent | None:
        """The next event; None when ``wait`` seconds pass first (the event stays due)."""
        if wait is None and self._next is None:
            return await anext(self._answer)  # nothing held: no timer needed
        if self._next is None:
            self._next = asyncio.ensure_future(anext(self._answer))
        done, _ = await asyncio.wait((self._next,), timeout=wait)
        if not done:
            return None
        pending, self._next = self._next, None
        return pending.result()

    async def _show(self) -> None:
        assert self._latest is not None
        text = self._latest
        await self._surface.progress(text)
        self._shown = text
        self._changed_at = self._clock()

    async def flush(self) -> None:
        """Show held text now (the stream broke; what arrived stays readable)."""
        if self._wait() is not None:
            await self._show()

    async def close(self) -> None:
        if self._next is not None:
            self._next.cancel()
            # Whatever the read ended with (cancelled, the stream's own failure), the
            # attempt is over; the stream is closed by its owner.
            await asyncio.gather(self._next, return_exceptions=True)
            self._next = None
