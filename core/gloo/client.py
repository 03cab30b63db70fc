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
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
import structlog

from core.gloo.auth import Authenticator
from core.gloo.backend import GlooAnswer, GlooDelta, GlooEvent, GlooRequest
from core.gloo.errors import (
    GlooConfigError,
    GlooError,
    GlooProtocolError,
    GlooStreamInterrupted,
)
from core.gloo.retry import RetryPolicy
from core.gloo.sources import normalize_sources
from core.gloo.stream import StreamAccumulator, StreamPayload, parse_lines
from core.gloo.wire import (
    MessageRequestBody,
    as_mapping,
    decode_json,
    get_str,
    http_error,
    parse_timestamp,
    str_tuple,
    transport_errors,
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


def build_message_params(request: GlooRequest) -> dict[str, str]:
    """Query parameters ``intent``, ``enable_sources``, ``enable_suggestions``, each only
    when set; booleans as ``0``/``1``."""
    params: dict[str, str] = {}
    if request.intent is not None:
        params["intent"] = str(request.intent)
    if request.enable_sources is not None:
        params["enable_sources"] = "1" if request.enable_sources else "0"
    if request.enable_suggestions is not None:
        params["enable_suggestions"] = "1" if request.enable_suggestions else "0"
    return params


@dataclass
class _OpenStream:
    """A stream that produced its first text (or ended) within the retry phase."""

    stack: AsyncExitStack
    payloads: AsyncGenerator[StreamPayload, None]
    accumulator: StreamAccumulator
    first_text: str
    ended: bool


class MessageBackend:
    """:class:`~core.gloo.backend.GlooBackend` for Gloo's Message API."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: Authenticator,
        api_url: str,
        *,
        retry: RetryPolicy | None = None,
        stream_enabled: bool = True,
    ) -> None:
        base = api_url.rstrip("/")
        if not base:
            raise GlooConfigError("The Gloo API URL is empty")
        self._http = http
        self._auth = auth
        self._message_url = f"{base}/ai/v1/message"
        self._chat_url = f"{base}/ai/v1/chat"
        self._retry = retry or RetryPolicy()
        self._stream_enabled = stream_enabled

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    @property
    def stream_enabled(self) -> bool:
        return self._stream_enabled

    # --- GlooBackend -------------------------------------------------------------------

    async def send(self, request: GlooRequest) -> GlooAnswer:
        """Ask and wait for the whole answer; retried under the policy (deadline included)."""
        return await self._retry.run(lambda: self._send_once(request), operation="message")

    async def stream(self, request: GlooRequest) -> AsyncGenerator[GlooEvent, None]:
        """Yield :class:`GlooDelta` pieces as text arrives, then one :class:`GlooAnswer`.

        Opening the stream and reading up to its first text is retried under the policy
        (its deadline bounds that phase only; afterwards the HTTP client's read timeout
        applies). Once text was yielded, any failure -- a broken connection, a malformed
        end, a failure chunk, a missing chat id -- raises :class:`GlooStreamInterrupted`
        with the partial text, chained to the cause, and is never retried.
        """
        if not self._stream_enabled:
            answer = await self.send(request)
            if answer.text:
                yield GlooDelta(answer.text)
            yield answer
            return

        opened = await self._retry.run(lambda: self._open_stream(request), operation="stream")
        async with opened.stack:
            accumulator = opened.accumulator
            if opened.first_text:
                yield GlooDelta(opened.first_text)
            try:
                if not opened.ended:
                    async for payload in opened.payloads:
                        delta = accumulator.add(payload)
                        if delta:
                            yield GlooDelta(delta)
                answer = accumulator.finish(
                    fallback_chat_id=request.chat_id, sources_limit=request.sources_limit
                )
            except GlooError as exc:
                if not accumulator.text:
                    raise  # nothing reached the user yet (an empty stream): not interrupted
                log.warning(
                    "gloo.stream.interrupted",
                    error=type(exc).__name__,
                    chars=len(accumulator.text),
                    chunks=accumulator.chunks,
                )
                raise GlooStreamInterrupted(
                    f"Gloo's answer broke off after {len(accumulator.text)} characters: "
                    f"{exc.message}",
                    partial_text=accumulator.text,
                    detail=exc.detail,
                ) from exc
        yield answer

    async def history(self, chat_id: str) -> ChatHistory:
        """The chat's messages (``kallm`` becomes ``assistant``); retried under the policy."""
        if not chat_id:
            raise ValueError("history() needs a chat_id")
        return await self._retry.run(lambda: self._history_once(chat_id), operation="history")

    # --- one attempt each --------------------------------------------------------------

    async def _send_once(self, request: GlooRequest) -> GlooAnswer:
        async with AsyncExitStack() as stack:
            response = await self._open(
                stack,
                "POST",
                self._message_url,
                params=build_message_params(request),
                json=dict(build_message_body(request, stream=False)),
                accept=_JSON_ACCEPT,
                action="message",
            )
            with transport_errors("message"):
                content = await response.aread()
        payload = _json_object(content, "message")
        accumulator = StreamAccumulator()
        accumulator.add(payload)
        return accumulator.finish(
            fallback_chat_id=request.chat_id, sources_limit=request.sources_limit
        )

    async def _open_stream(self, request: GlooRequest) -> _OpenStream:
        """Open the stream and read up to its first text (or its end): the retryable part."""
        stack = AsyncExitStack()
        try:
            response = await self._open(
                stack,
                "POST",
                self._message_url,
                params=build_message_params(request),
                json=dict(build_message_body(request, stream=True)),
                accept=_STREAM_ACCEPT,
                action="stream",
            )
            raw_lines = response.aiter_lines()
            close_raw_lines = getattr(raw_lines, "aclose", None)
            if close_raw_lines is not None:
                stack.push_async_callback(close_raw_lines)
            lines = parse_lines(raw_lines)
            stack.push_async_callback(lines.aclose)
            payloads = _translated(lines)
            stack.push_async_callback(payloads.aclose)
            accumulator = StreamAccumulator()
            async for payload in payloads:
                first = accumulator.add(payload)
                if first:
                    return _OpenStream(stack, payloads, accumulator, first, ended=False)
            # The stream ended before any text: the answer (or its error) is still retryable.
            accumulator.finish(
                fallback_chat_id=request.chat_id, sources_limit=request.sources_limit
            )
            return _OpenStream(stack, payloads, accumulator, "", ended=True)
        except BaseException:
            await stack.aclose()
            raise

    async def _history_once(self, chat_id: str) -> ChatHistory:
        async with AsyncExitStack() as stack:
            response = await self._open(
                stack,
                "GET",
                self._chat_url,
                params={"chat_id": chat_id},
                json=None,
                accept=_JSON_ACCEPT,
                action="history",
            )
            with transport_errors("history"):
                content = await response.aread()
        return _parse_history(content, chat_id)

    # --- HTTP --------------------------------------------------------------------------

    async def _open(
        self,
        stack: AsyncExitStack,
        method: str,
        url: str,
        *,
        params: dict[str, str],
        json: dict[str, object] | None,
        accept: str,
        action: str,
    ) -> httpx.Response:
        """Send one request (plus one re-authenticated resend after a 401) and return the
        successful, still unread response, registered on ``stack`` for closing."""
        token = await self._auth.token()
        reauthenticated = False
        while True:
            headers = {"Authorization": f"Bearer {token}", "Accept": accept}
            started = time.monotonic()
            with transport_errors(action):
                response = await stack.enter_async_context(
                    self._http.stream(method, url, params=params, json=json, headers=headers)
                )
            log.debug(
                "gloo.response",
                action=action,
                status=response.status_code,
                elapsed_ms=round((time.monotonic() - started) * 1000),
            )
            if not response.is_error:
                return response
            with transport_errors(action):
                try:
                    body = await response.aread()
                finally:
                    await response.aclose()
            if response.status_code == 401 and not reauthenticated:
                self._auth.invalidate(token)
                fresh = await self._auth.token()
                if fresh != token:
                    log.info("gloo.reauthenticate", action=action)
                    token = fresh
                    reauthenticated = True
                    continue
            error = http_error(response.status_code, response.headers, body)
            log.warning(
                "gloo.http_error",
                action=action,
                status=response.status_code,
                code=error.code,
                retry_after=error.retry_after,
            )
            raise error


async def _translated(
    payloads: AsyncIterator[StreamPayload],
) -> AsyncGenerator[StreamPayload, None]:
    """``payloads`` with httpx failures while reading turned into Gloo errors."""
    while True:
        with transport_errors("stream"):
            try:
                payload = await anext(payloads)
            except StopAsyncIteration:
                return
        yield payload


def _json_object(content: bytes, action: str) -> dict[str, object]:
    try:
        payload = as_mapping(decode_json(content))
    except ValueError:
        payload = None
    if payload is None:
        raise GlooProtocolError(
            f"Gloo's {action} answer is not a JSON object",
            detail=content[:500].decode("utf-8", errors="replace"),
        )
    return dict(payload)


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
