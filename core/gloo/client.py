"""The Message API backend: ``POST /ai/v1/message`` and ``GET /ai/v1/chat``.

* Every call carries ``Authorization: Bearer <token>`` from the :class:`Authenticator`.
  A 401 invalidates that token and the request is sent once more with a fresh one
  (outside the retry budget); a second 401 is a :class:`GlooAuthError`.
* Error statuses become the matching exception from :mod:`core.gloo.errors`, with the
  parsed ``detail``, ``code`` and ``retry_after``; httpx timeouts become
  :class:`GlooTimeout`, other transport failures :class:`GlooConnectionError`.
* :meth:`MessageBackend.send` and :meth:`MessageBackend.history` retry under the
  :class:`RetryPolicy`. :meth:`MessageBackend.stream` retries only until the first text is
  yielded; after that a failure is a :class:`GlooStreamInterrupted` and is never retried.

The HTTP and streaming machinery is shared with the Completions V2 backend
(:class:`core.gloo.http_backend.HttpBackendBase`, :func:`core.gloo.stream.relay_stream`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable
from contextlib import AsyncExitStack, aclosing
from functools import partial

import httpx
import structlog

from core.gloo.auth import Authenticator
from core.gloo.backend import GlooAnswer, GlooEvent, GlooRequest
from core.gloo.errors import GlooMissingChatId, GlooProtocolError
from core.gloo.http_backend import HttpBackendBase
from core.gloo.http_errors import transport_errors
from core.gloo.learning import NewChatStreaming
from core.gloo.retry import RetryPolicy
from core.gloo.sources import normalize_sources
from core.gloo.stream import StreamAccumulator, relay_stream, single_answer
from core.gloo.wire import (
    MessageRequestBody,
    as_mapping,
    decode_json,
    get_str,
    json_object,
    parse_timestamp,
    str_tuple,
)
from core.types import ChatHistory, HistoryMessage

log = structlog.get_logger(__name__)

_JSON_ACCEPT = "application/json"
_STREAM_ACCEPT = "text/event-stream, application/x-ndjson, application/json"
_ROLES = {
    "user": "user",
    "human": "user",
    "kallm": "assistant",
    "assistant": "assistant",
    "ai": "assistant",
}


def build_message_body(request: GlooRequest, *, stream: bool) -> MessageRequestBody:
    """The JSON body: ``chat_id`` only when continuing a chat, no ``None``/empty fields."""
    body: MessageRequestBody = {"query": request.query, "stream": stream}
    if request.chat_id:
        body["chat_id"] = request.chat_id
    if request.character_limit is not None:
        body["character_limit"] = request.character_limit
    if request.sources_limit is not None:
        body["sources_limit"] = request.sources_limit
    publishers = [p for p in request.publishers if p]
    if publishers:
        body["publishers"] = publishers
    return body


def build_message_params(request: GlooRequest, *, sources_level: int = 1) -> dict[str, str]:
    """Query parameters ``intent``, ``enable_sources``, ``enable_suggestions``, each only
    when set; booleans as ``0``/``1``. ``enable_sources`` on is sent as ``sources_level``
    (the API reference lists 0, 1 and 2; ``GLOO_ENABLE_SOURCES=2`` asks for 2)."""
    params: dict[str, str] = {}
    if request.intent is not None:
        params["intent"] = str(request.intent)
    if request.enable_sources is not None:
        level = sources_level if sources_level in (1, 2) else 1
        params["enable_sources"] = str(level) if request.enable_sources else "0"
    if request.enable_suggestions is not None:
        params["enable_suggestions"] = "1" if request.enable_suggestions else "0"
    return params


class MessageBackend(HttpBackendBase):
    """:class:`~core.gloo.backend.GlooBackend` for Gloo's Message API."""

    offers_suggestions = True
    #: Gloo keeps Message API chats: no earlier turns are sent, the chat is read there.
    keeps_chats = True
    history_turns = 0

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: Authenticator,
        api_url: str,
        *,
        retry: RetryPolicy | None = None,
        stream_enabled: bool = True,
        sources_level: int = 1,
        stream_new_chats: bool = False,
        new_chats: NewChatStreaming | None = None,
    ) -> None:
        super().__init__(http, auth, api_url, retry=retry, stream_enabled=stream_enabled)
        self._message_url = f"{self._base_url}/ai/v1/message"
        self._chat_url = f"{self._base_url}/ai/v1/chat"
        self._sources_level = sources_level
        #: Whether a new chat is asked streamed (:mod:`core.gloo.learning`). Without one,
        #: this process learns alone, starting from ``stream_new_chats``.
        self.new_chats = new_chats or NewChatStreaming("auto" if stream_new_chats else "learn")
        self._warned_no_chat_id = False

    @property
    def streams_carry_chat_id(self) -> bool:
        """Whether the next new chat is asked streamed."""
        return self.new_chats.streams

    @streams_carry_chat_id.setter
    def streams_carry_chat_id(self, value: bool) -> None:
        self.new_chats.streams = value

    # --- GlooBackend -------------------------------------------------------------------

    async def send(self, request: GlooRequest) -> GlooAnswer:
        """Ask and wait for the whole answer; retried under the policy (deadline included)."""
        return await self._retry.run(lambda: self._send_once(request), operation="message")

    async def stream(self, request: GlooRequest) -> AsyncGenerator[GlooEvent, None]:
        """Yield :class:`GlooDelta` pieces as text arrives, then one :class:`GlooAnswer`.

        Opening the stream and reading up to its first text is retried under the policy
        (its deadline bounds that phase only; afterwards the HTTP client's read timeout
        applies). Once text was yielded, any failure -- a broken connection, a malformed
        end, a failure chunk -- raises :class:`GlooStreamInterrupted` with the partial
        text, chained to the cause, and is never retried.

        A stream can never lose a conversation. What ``stream: true`` sends is documented
        nowhere (every public caller sends ``stream: false``), so whether a *new* chat
        streams is learned (:class:`~core.gloo.learning.NewChatStreaming`: by default new
        chats stream until a stream is seen without a ``chat_id``); and a new chat's stream
        that ends without one is completed from a non-streamed answer (whose ``chat_id``
        the API reference documents) instead of failing.
        """
        if not self._stream_enabled:
            async with aclosing(single_answer(lambda: self.send(request))) as answered:
                async for event in answered:
                    yield event
            return
        if request.chat_id is None and not self.new_chats.new_chat_streams():
            log.debug("gloo.stream.new_chat_unstreamed")
            async with aclosing(single_answer(lambda: self.send(request))) as answered:
                async for event in answered:
                    yield event
            return
        open_attempt = partial(self._post_message, request=request, stream=True)
        builders: list[StreamAccumulator] = []

        def new_accumulator() -> StreamAccumulator:
            builder = _ChatIdRequired(
                fallback_chat_id=request.chat_id, sources_limit=request.sources_limit
            )
            builders.append(builder)
            return builder

        relay = relay_stream(
            self._retry, open_attempt, new_accumulator, final_errors=(GlooMissingChatId,)
        )
        # aclosing: a consumer that stops early closes the HTTP response at once.
        try:
            async with aclosing(relay) as events:
                async for event in events:
                    if isinstance(event, GlooAnswer):
                        self._learn(builders[-1])
                    yield event
        except GlooMissingChatId as exc:
            log.warning(
                "gloo.stream.no_chat_id_new_chat",
                streamed_chars=len(exc.partial_text),
                action="completing from a non-streamed answer",
            )
            self.new_chats.observed(False)
            self._warned_no_chat_id = True
            yield await self.send(request)

    def _learn(self, builder: StreamAccumulator) -> None:
        """Tell :attr:`new_chats` whether the latest stream carried a chat id. Each change
        of the choice is logged."""
        before = self.new_chats.streams
        if builder.chat_id:
            self.new_chats.observed(True)
            if not before and self.new_chats.streams:
                log.info("gloo.stream.carries_chat_id", action="new chats stream")
            return
        self.new_chats.observed(False)
        if before or not self._warned_no_chat_id:
            action = (
                "new chats still stream (GLOO_STREAM_NEW_CHATS=always)"
                if self.new_chats.streams
                else "new chats are asked unstreamed"
            )
            log.warning("gloo.stream.no_chat_id", action=action)
        self._warned_no_chat_id = True

    async def history(self, chat_id: str) -> ChatHistory:
        """The chat's messages (``kallm`` becomes ``assistant``); retried under the policy."""
        if not chat_id:
            raise ValueError("history() needs a chat_id")
        return await self._retry.run(lambda: self._history_once(chat_id), operation="history")

    # --- one attempt each --------------------------------------------------------------

    async def _send_once(self, request: GlooRequest) -> GlooAnswer:
        async with AsyncExitStack() as stack:
            response = await self._post_message(stack, request=request, stream=False)
            with transport_errors("message"):
                content = await response.aread()
        payload = json_object(content, "message")
        accumulator = StreamAccumulator()
        accumulator.add(payload)
        return accumulator.finish(
            fallback_chat_id=request.chat_id, sources_limit=request.sources_limit
        )

    def _post_message(
        self, stack: AsyncExitStack, *, request: GlooRequest, stream: bool
    ) -> Awaitable[httpx.Response]:
        return self._open(
            stack,
            method="POST",
            url=self._message_url,
            params=build_message_params(request, sources_level=self._sources_level),
            json=dict(build_message_body(request, stream=stream)),
            accept=_STREAM_ACCEPT if stream else _JSON_ACCEPT,
            action="stream" if stream else "message",
        )

    async def _history_once(self, chat_id: str) -> ChatHistory:
        async with AsyncExitStack() as stack:
            response = await self._open(
                stack,
                method="GET",
                url=self._chat_url,
                params={"chat_id": chat_id},
                json=None,
                accept=_JSON_ACCEPT,
                action="history",
            )
            with transport_errors("history"):
                content = await response.aread()
        return _parse_history(content, chat_id)


def _parse_history(content: bytes, chat_id: str) -> ChatHistory:
    try:
        body = decode_json(content)
    except ValueError as exc:
        raise GlooProtocolError(
            "Gloo's chat history is not JSON",
            detail=content[:500].decode("utf-8", errors="replace"),
        ) from exc
    if isinstance(body, list):
        # Tolerate a list of chats: pick the one asked for.
        matches = [m for m in (as_mapping(item) for item in body) if m is not None]
        chat = next((m for m in matches if m.get("chat_id") == chat_id), None)
    else:
        chat = as_mapping(body)
    if chat is None:
        raise GlooProtocolError("Gloo's chat history has an unexpected shape")
    raw_messages = chat.get("messages")
    messages: list[HistoryMessage] = []
    for item in raw_messages if isinstance(raw_messages, list) else ():
        entry = as_mapping(item)
        if entry is None:
            continue
        role_value = entry.get("role")
        role = _ROLES.get(role_value.strip().lower()) if isinstance(role_value, str) else None
        if role is None:
            log.debug("gloo.history.unknown_role", role=str(role_value)[:40])
            continue
        text = entry.get("message")
        messages.append(
            HistoryMessage(
                role=role,
                text=text if isinstance(text, str) else "",
                timestamp=parse_timestamp(entry.get("timestamp")),
                sources=normalize_sources(entry.get("sources")),
                suggestions=str_tuple(entry.get("suggestions")),
            )
        )
    title = get_str(chat, "title")
    return ChatHistory(
        chat_id=get_str(chat, "chat_id") or chat_id,
        title=title.strip() if title else None,
        messages=tuple(messages),
    )


class _ChatIdRequired(StreamAccumulator):
    """An accumulator whose missing chat id is its own, non-retried outcome."""

    def finish(
        self, *, fallback_chat_id: str | None = None, sources_limit: int | None = None
    ) -> GlooAnswer:
        if not (self.chat_id or fallback_chat_id or self._fallback_chat_id):
            raise GlooMissingChatId(
                "Gloo's stream for a new chat carried no chat_id",
                partial_text=self.text,
                detail={"chunks": self.chunks},
            )
        return super().finish(fallback_chat_id=fallback_chat_id, sources_limit=sources_limit)
