"""Threads this process knows the bot is in, so a follow-up needs no database read to tell.

A thread is active from its first accepted question on, and stays so while its questions are
kept in the inbox (``RETENTION_DAYS``; ``/reset`` forgets the thread's chat, not its
questions). The dispatcher remembers the threads it accepted a question in, and those the
inbox confirmed, for a while (``ttl``, far below the retention) and up to ``size`` threads,
the least recently seen dropped first; a thread it does not hold is asked of the inbox.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Final

__all__ = ["ActiveThreads"]

DEFAULT_SIZE: Final = 10_000
DEFAULT_TTL_S: Final = 3600.0


class ActiveThreads:
    """A bounded, expiring set of thread keys (``ThreadKey.as_str()``)."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        size: int = DEFAULT_SIZE,
        ttl: float = DEFAULT_TTL_S,
    ) -> None:
        if size < 1 or ttl <= 0:
            raise ValueError("size and ttl must be positive")
        self._clock = clock
        self._size = size
        self._ttl = ttl
        self._seen: collections.OrderedDict[str, float] = collections.OrderedDict()

    def add(self, thread: str) -> None:
        self._seen[thread] = self._clock()
        self._seen.move_to_end(thread)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)

    def __contains__(self, thread: object) -> bool:
        if not isinstance(thread, str):
            return False
        seen = self._seen.get(thread)
        if seen is None:
            return False
        if self._clock() - seen > self._ttl:
            del self._seen[thread]
            return False
        self._seen.move_to_end(thread)
        return True

    def __len__(self) -> int:
        return len(self._seen)
