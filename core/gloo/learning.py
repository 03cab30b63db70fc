"""Whether a new Message API chat is asked with ``stream: true``, learned once per deployment.

What a Message API stream carries is unpublished: the API reference documents ``chat_id``
only on the non-streamed answer. A new chat whose stream ends without one is completed from a
non-streamed answer (:class:`core.gloo.client.MessageBackend`), so a wrong guess costs one
extra Gloo call, never a conversation. Every stream also tells whether it named its chat;
:class:`NewChatStreaming` turns that into the choice for the next new chat:

* ``auto`` (the default): new chats stream unless a stream was seen without a ``chat_id``.
  What was seen is recorded in the store (shared by every process of the deployment, kept
  across restarts, with when it was seen); each process reads it at start and again every
  few minutes, so a stream without a ``chat_id`` seen by one process sends every process's
  new chats back to unstreamed, and a later stream that names its chat brings them back.
* ``learn``: pessimistic and per process: new chats are asked unstreamed until this process
  has seen a stream carry a ``chat_id``.
* ``always``: new chats always stream (each stream without a ``chat_id`` asks Gloo twice).

Observations are recorded in every mode (``gloo-bots doctor`` shows them); only ``auto``
follows the record. A record that cannot be read or written is logged and the process goes
on with what it knows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Final, Literal, Protocol

import structlog

__all__ = [
    "CARRIED",
    "MISSING",
    "NewChatMode",
    "NewChatStreaming",
    "stream_fact_name",
]

log = structlog.get_logger(__name__)

NewChatMode = Literal["auto", "learn", "always"]

#: The recorded values: the latest stream named its chat, or it did not.
CARRIED: Final = "carried"
MISSING: Final = "missing"
#: How often (seconds) an ``auto`` process reads the record again.
REFRESH_AFTER_S: Final = 300.0


def stream_fact_name(api_url: str) -> str:
    """The record's name for one Gloo: a staging and a production Gloo may differ."""
    return f"gloo.message.stream_chat_id {api_url.rstrip('/')}"[:255]


class RecordedFact(Protocol):
    @property
    def value(self) -> str: ...

    @property
    def seen_at(self) -> datetime: ...


class FactRecords(Protocol):
    """What this needs of :class:`core.ports.FactStore`."""

    async def read_fact(self, name: str) -> RecordedFact | None: ...

    async def record_fact(self, name: str, value: str, seen_at: datetime | None = None) -> None: ...


class NewChatStreaming:
    """The choice for new chats, and what the process has seen (see the module docs)."""

    def __init__(
        self,
        mode: NewChatMode = "learn",
        *,
        facts: FactRecords | None = None,
        fact_name: str = stream_fact_name("gloo"),
        clock: Callable[[], float] = time.monotonic,
        refresh_after: float = REFRESH_AFTER_S,
    ) -> None:
        self.mode: NewChatMode = mode
        self.fact_name = fact_name
        self._facts = facts
        self._clock = clock
        self._refresh_after = refresh_after
        self._streams = mode != "learn"
        #: The value this process last read from the record or wrote to it.
        self._recorded: str | None = None
        self._loaded_at: float | None = None
        self._refreshing = False
        self._tasks: set[asyncio.Task[None]] = set()
        #: What the latest stream of this process showed: True when it named its chat.
        self.last_observed: bool | None = None

    @property
    def streams(self) -> bool:
        """Whether the next new chat is asked streamed."""
        return self.mode == "always" or self._streams

    @streams.setter
    def streams(self, value: bool) -> None:
        self._streams = value

    def new_chat_streams(self) -> bool:
        """:attr:`streams`, reading the record again (in the background) when it is old."""
        if self.mode == "auto":
            self._refresh_if_old()
        return self.streams

    async def load(self) -> RecordedFact | None:
        """Read the record; in ``auto`` mode follow it (no record: new chats stream)."""
        if self._facts is None:
            return None
        self._loaded_at = self._clock()
        try:
            fact = await self._facts.read_fact(self.fact_name)
        except Exception as exc:  # a store that cannot be read: go on with what we know
            log.warning("gloo.stream.fact_unread", reason=str(exc)[:200])
            return None
        if fact is None:
            return None
        self._recorded = fact.value
        if self.mode == "auto":
            self._streams = fact.value != MISSING
        return fact

    def observed(self, carried: bool) -> None:
        """A stream ended; ``carried``: it named its chat. Followed at once (unless
        ``always``), recorded in the background when it differs from the record."""
        self._streams = carried
        self.last_observed = carried
        value = CARRIED if carried else MISSING
        if self._facts is None or value == self._recorded:
            return
        self._recorded = value
        self._spawn(self._record(value))

    async def aclose(self) -> None:
        """Wait for the records being written (the store closes after this)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- background work -------------------------------------------------------------

    async def _record(self, value: str) -> None:
        assert self._facts is not None
        try:
            await self._facts.record_fact(self.fact_name, value)
        except Exception as exc:
            self._recorded = None  # written again at the next observation
            log.warning("gloo.stream.fact_unrecorded", value=value, reason=str(exc)[:200])
            return
        log.info("gloo.stream.fact_recorded", value=value, mode=self.mode)

    def _refresh_if_old(self) -> None:
        if self._facts is None or self._loaded_at is None or self._refreshing:
            return
        if self._clock() - self._loaded_at < self._refresh_after:
            return
        self._refreshing = True

        async def refresh() -> None:
            try:
                await self.load()
            finally:
                self._refreshing = False

        self._spawn(refresh())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
