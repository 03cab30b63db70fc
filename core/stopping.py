"""Stopping an answer in progress: its question was withdrawn (its asker deleted it).

The dispatcher runs each answer under a :class:`StopSwitches` switch keyed by the job; when
a deletion withdraws a question this process is answering, :meth:`StopSwitches.stop` ends
that answer at once and the attempt sees :class:`AnswerStopped`. The surface then halts
(what was shown stays readable) and, if it can (:class:`StopsAnswers`), says in one short
sentence why the answer ends there. Nothing is finished in the inbox: the question is
``withdrawn`` already and its claim cleared.

Only the process answering the question can stop it; in another process its finish simply
no longer counts (the claim is gone), see :mod:`core.store.changes`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["AnswerStopped", "StopSwitches", "StopsAnswers"]

T = TypeVar("T")


class AnswerStopped(Exception):
    """The answer was stopped: its question was withdrawn while it was being written."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the answer to {key!r} was stopped")
        self.key = key


@runtime_checkable
class StopsAnswers(Protocol):
    """The optional capability of an answer surface that can say why an answer stopped."""

    async def stopped(self) -> None:
        """The question was deleted: end the answer in place of
        :meth:`~core.answering.AnswerSurface.halt`, what was shown readable and, where it
        can, with one short sentence saying why it ends there."""
        ...


class StopSwitches:
    """The answers running in this process that a withdrawal may stop, by job key."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._stopped: set[str] = set()

    def __contains__(self, key: object) -> bool:
        return key in self._running

    async def run(self, key: str, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` as the answer to ``key``; raises :class:`AnswerStopped` when
        :meth:`stop` was called for ``key`` meanwhile. A cancellation of the caller still
        propagates as it is."""
        task = asyncio.create_task(work)
        self._running[key] = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if key in self._stopped and not (current is not None and current.cancelling()):
                raise AnswerStopped(key) from None
            raise
        finally:
            self._running.pop(key, None)
            self._stopped.discard(key)

    def stop(self, key: str) -> bool:
        """Stop the answer to ``key`` if it runs here; False when it does not."""
        task = self._running.get(key)
        if task is None or task.done():
            return False
        self._stopped.add(key)
        task.cancel()
        return True
