"""Bursts: messages one person sends in quick succession in one conversation are one question.

People often split a question over several messages ("hi" / "how do I …" / "in Python").
Each would be answered on its own; instead, the messages of one person in one conversation
that arrive within a short window of each other are joined, in order, into one question
(the window starts again with each message, like Chat SDK's debounce strategy: the burst is
answered once the person has paused for the window).

* The first message's question is stored at once as ``gathering`` (so a crash inside the
  window loses nothing) and the sign of work shows on it at once; each later message is
  stored as a part of it (:mod:`core.store.bursts`) and moves the window's end.
* When the window closes the joined question becomes pending and is answered like any
  other, in the first message's thread; a message arriving after that is the next question.
* After a crash, any process's re-drive opens the bursts whose window has passed.

The window is a setting per kind of conversation: direct messages (where people write as
they think) and channels (where each mention is explicit; off by default). This module keeps
each open window in memory with a timer; the timers come from an injectable
:class:`Timers` (tests pass fake ones).

Known limits: a window is known only to the process that received the burst's first
message, so with several processes a later message received elsewhere is a question of its
own; two first messages arriving at the same moment both open a burst (the later becomes a
part only once the earlier's window is known); a burst's title and the message it answers
are the first message's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Burst", "BurstWindows", "LoopTimers", "TimerHandle", "Timers", "burst_scope"]


@dataclass(frozen=True, slots=True)
class Burst:
    """Where a message may join a burst: ``scope`` names the conversation and the person
    (:func:`burst_scope`); ``direct`` is True in a direct message (its own window)."""

    scope: str
    direct: bool


def burst_scope(platform: str, workspace: str, conversation: str, user_id: str) -> str:
    """The scope of one person's burst in one conversation (a thread, or a DM's top level)."""
    return f"{platform}:{workspace}:{conversation}:{user_id}"


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Timers(Protocol):
    """Calls ``callback`` after ``delay`` seconds (asyncio's ``call_later``)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...


class LoopTimers:
    """:class:`Timers` on the running asyncio loop."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)


@dataclass(slots=True)
class _Window:
    key: str
    close: Callable[[], None]
    handle: TimerHandle
    parts: int = 0


class BurstWindows:
    """The bursts whose window is open in this process, by scope."""

    def __init__(self, timers: Timers | None = None) -> None:
        self.timers: Timers = timers or LoopTimers()
        self._open: dict[str, _Window] = {}

    def __len__(self) -> int:
        return len(self._open)

    def key_of(self, scope: str) -> str | None:
        """The key of the burst open in ``scope``, if any."""
        window = self._open.get(scope)
        return None if window is None else window.key

    def parts_of(self, scope: str) -> int:
        """How many later messages joined the burst open in ``scope`` (0 when none is open)."""
        window = self._open.get(scope)
        return 0 if window is None else window.parts

    def open(self, scope: str, key: str, seconds: float, close: Callable[[], None]) -> None:
        """Open the window of burst ``key`` in ``scope``; ``close`` is called when it closes."""
        self.drop(scope)
        window = _Window(key, close, self._timer(scope, key, seconds, close))
        self._open[scope] = window

    def extend(self, scope: str, seconds: float) -> int:
        """A part joined the burst in ``scope``: its window ends ``seconds`` from now; how
        many parts it has."""
        window = self._open[scope]
        window.handle.cancel()
        window.handle = self._timer(scope, window.key, seconds, window.close)
        window.parts += 1
        return window.parts

    def drop(self, scope: str) -> None:
        """Forget the window of ``scope`` without closing it (it closed elsewhere)."""
        window = self._open.pop(scope, None)
        if window is not None:
            window.handle.cancel()

    def drop_key(self, key: str) -> None:
        """Forget the window of burst ``key``, wherever it is (a re-drive opened it)."""
        for scope, window in list(self._open.items()):
            if window.key == key:
                self.drop(scope)

    def cancel_all(self) -> None:
        """Shutting down: stop every timer (the bursts stay gathering in the inbox, and a
        re-drive opens them once their window has passed)."""
        for scope in list(self._open):
            self.drop(scope)

    def _timer(
        self, scope: str, key: str, seconds: float, close: Callable[[], None]
    ) -> TimerHandle:
        def fire() -> None:
            window = self._open.get(scope)
            if window is not None and window.key == key:
                del self._open[scope]
                close()

        return self.timers.call_later(seconds, fire)
