"""The backend seam: what the conversation service needs from any Gloo API.

The Message API backend (``/ai/v1/message``) and the Completions V2 backend
(``/ai/v2/chat/completions``) implement it. Backends hold no conversation state of ours: one
whose API keeps no chats (V2, ``keeps_chats`` false) says how many earlier turns it wants
(``history_turns``), and the conversation service hands them over in
:attr:`GlooRequest.history`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.types import ChatHistory, Source


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier exchange of a chat: the question asked and the answer given."""

    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class GlooRequest:
    query: str
    chat_id: str | None = None
    #: Earlier turns of the chat, oldest first (only for a backend with ``history_turns``).
    history: tuple[Turn, ...] = ()
    character_limit: int | None = None
    sources_limit: int | None = None
    publishers: tuple[str, ...] = ()
    intent: int | None = None
    enable_sources: bool | None = None
    enable_suggestions: bool | None = None
    #: Completions V2 only: ``tradition`` and ``model_family`` routing.
    tradition: str | None = None
    model_family: str | None = None


@dataclass(frozen=True, slots=True)
class GlooAnswer:
    """A complete answer from Gloo."""

    chat_id: str
    text: str
    sources: tuple[Source, ...] = ()
    suggestions: tuple[str, ...] = ()
    message_id: str | None = None
    query_id: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class GlooDelta:
    """New answer text from a stream (always a delta, whatever the wire carried)."""

    text: str


GlooEvent = GlooDelta | GlooAnswer


class GlooBackend(Protocol):
    #: Whether answers can carry suggested follow-up questions (Completions V2's never do).
    offers_suggestions: bool
    #: Whether Gloo keeps the chat (the Message API): then :meth:`history` reads it there.
    #: Otherwise (Completions V2) the service shows the chat from its own records.
    keeps_chats: bool

    @property
    def history_turns(self) -> int:
        """How many earlier turns of a chat the backend wants in :attr:`GlooRequest.history`
        (0 when Gloo keeps the chat itself, as on the Message API)."""
        ...

    async def send(self, request: GlooRequest) -> GlooAnswer:
        """Ask and wait for the whole answer (retries included)."""
        ...

    def stream(self, request: GlooRequest) -> AsyncIterator[GlooEvent]:
        """Ask and yield :class:`GlooDelta` pieces, then exactly one final :class:`GlooAnswer`.

        Retries happen only before the first delta is yielded; afterwards a failure raises
        :class:`core.gloo.errors.GlooStreamInterrupted` with the partial text.
        """
        ...

    async def history(self, chat_id: str) -> ChatHistory:
        """The chat's messages as Gloo keeps them (``GET /ai/v1/chat``)."""
        ...


@runtime_checkable
class SearchesSources(Protocol):
    """An optional capability of a backend: whether a request makes Gloo search its sources
    beyond what the request names (Completions V2's grounded route, with Gloo's default
    publisher). A request that names publishers always does, on any backend."""

    def searches_sources(self, request: GlooRequest) -> bool: ...
