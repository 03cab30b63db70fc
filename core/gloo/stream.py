"""Tolerant reading of Gloo's (undocumented) ``stream: true`` answers.

Two layers:

* :class:`StreamParser` turns decoded text lines into payloads: JSON objects, or plain
  text deltas. It understands Server-Sent Events (``data:`` lines, multi-line events,
  ``[DONE]``, comments/keepalives, ``event:``/``id:``/``retry:``), newline-delimited JSON,
  and a single JSON document (even pretty-printed over many lines) sent back to a stream
  request.
* :class:`StreamAccumulator` turns payloads into answer text, whether chunks carry deltas
  or the cumulative text so far, remembers the metadata (chat/message ids, sources,
  suggestions, model) from whichever chunk carried it, and builds the final
  :class:`~core.gloo.backend.GlooAnswer`.

:func:`relay_stream` is the streaming discipline every backend shares: open the response
and read up to the first text under the retry policy, then relay the rest; a failure after
text reached the caller becomes :class:`GlooStreamInterrupted` and is never retried. Each
backend brings its own accumulator (anything shaped like :class:`AnswerBuilder`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
)
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeAlias, TypeVar

import httpx
import structlog

from core.gloo.backend import GlooAnswer, GlooDelta, GlooEvent
from core.gloo.errors import GlooError, GlooProtocolError, GlooStreamInterrupted
from core.gloo.http_errors import transport_errors
from core.gloo.retry import RetryPolicy
from core.gloo.sources import normalize_sources
from core.gloo.wire import as_mapping, get_str, str_tuple

log = structlog.get_logger(__name__)

StreamPayload: TypeAlias = Mapping[str, object] | str
"""A JSON object from the stream, or a piece of plain answer text."""

ParserMode = Literal["unknown", "sse", "json"]

_DONE = "[DONE]"
_MAX_BUFFER_CHARS = 2_000_000
_SSE_FIELDS = frozenset({"data", "event", "id", "retry"})


class StreamParser:
    """Feed decoded lines (without their line break); collect payloads as they complete.

    The format is detected from the first non-blank line: ``{`` or ``[`` means JSON
    (NDJSON or one document), anything else is read as Server-Sent Events.
    """

    def __init__(self) -> None:
        self._mode: ParserMode = "unknown"
        self._data: list[str] = []
        self._event = ""
        self._json_lines: list[str] = []
        self._json_chars = 0
        self._done = False
        self._finished = False

    @property
    def mode(self) -> ParserMode:
        return self._mode

    @property
    def done(self) -> bool:
        """True once an SSE ``data: [DONE]`` arrived: later lines are ignored."""
        return self._done

    def feed_line(self, line: str) -> list[StreamPayload]:
        if self._done or self._finished:
            return []
        line = line.rstrip("\r\n")
        if self._mode == "unknown":
            line = line.lstrip("\ufeff")
            if not line.strip():
                return []
            self._mode = "json" if line.lstrip().startswith(("{", "[")) else "sse"
        if self._mode == "sse":
            return self._feed_sse(line)
        return self._feed_json(line)

    def finish(self) -> list[StreamPayload]:
        """The end of the stream: dispatch a pending SSE event, check for a cut-off JSON."""
        if self._finished:
            return []
        self._finished = True
        if self._done:
            return []
        if self._mode == "sse":
            return self._dispatch()
        if self._json_lines:
            text = "\n".join(self._json_lines)
            values = _parse_json_sequence(text)
            if values is None:
                raise GlooProtocolError(
                    "Gloo's stream ended in the middle of a JSON document",
                    detail=text[:500],
                )
            self._json_lines = []
            return _payloads(values) or []
        return []

    # --- Server-Sent Events ------------------------------------------------------------

    def _feed_sse(self, line: str) -> list[StreamPayload]:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []  # comment / keepalive
        if line.lstrip().startswith(("{", "[")):
            # A bare JSON line inside an SSE stream: tolerate it as a complete payload.
            values = _parse_json_sequence(line)
            payloads = _payloads(values) if values is not None else None
            if payloads is not None:
                return self._dispatch() + payloads
        name, sep, value = line.partition(":")
        if not sep or name not in _SSE_FIELDS:
            return []  # per the SSE spec, unknown fields are ignored
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._json_chars += len(value)
            if self._json_chars > _MAX_BUFFER_CHARS:
                raise GlooProtocolError("Gloo's stream sent an oversized event")
        elif name == "event":
            self._event = value.strip()
        return []

    def _dispatch(self) -> list[StreamPayload]:
        if not self._data:
            self._event = ""
            return []
        data = "\n".join(self._data)
        event = self._event
        self._data = []
        self._event = ""
        self._json_chars = 0
        if data.strip() == _DONE:
            self._done = True
            return []
        values = _parse_json_sequence(data) if data.lstrip().startswith(("{", "[", '"')) else None
        payloads = _payloads(values) if values is not None else None
        if payloads is None:
            payloads = [data] if data else []  # not JSON: plain answer text
        if event.lower() == "error":
            return [_error_payload(payloads)]
        return payloads

    # --- JSON (NDJSON or one document) -------------------------------------------------

    def _feed_json(self, line: str) -> list[StreamPayload]:
        if not self._json_lines:
            if not line.strip():
                return []
            values = _parse_json_sequence(line)
            if values is not None:
                return _payloads(values) or []
        self._json_lines.append(line)
        self._json_chars += len(line) + 1
        if self._json_chars > _MAX_BUFFER_CHARS:
            raise GlooProtocolError("Gloo's stream sent an oversized JSON document")
        if not line.rstrip().endswith(("}", "]")):
            return []
        values = _parse_json_sequence("\n".join(self._json_lines))
        if values is None:
            return []
        self._json_lines = []
        self._json_chars = 0
        return _payloads(values) or []


def _parse_json_sequence(text: str) -> list[object] | None:
    """All JSON values in ``text`` (one, or several back to back), or None if malformed."""
    decoder = json.JSONDecoder()
    values: list[object] = []
    index = 0
    length = len(text)
    while True:
        while index < length and text[index].isspace():
            index += 1
        if index >= length:
            return values if values else None
        try:
            value, index = decoder.raw_decode(text, index)
        except ValueError:
            return None
        values.append(value)


def _payloads(values: list[object]) -> list[StreamPayload] | None:
    """JSON objects (also inside top-level lists) and JSON strings as payloads; ``None``
    when some value is anything else (a bare number, a list of numbers...), so that the
    caller can treat the raw text as answer text instead."""
    payloads: list[StreamPayload] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        for item in items:
            obj = as_mapping(item)
            if obj is not None:
                payloads.append(obj)
            elif isinstance(item, str) and not isinstance(value, list):
                if item:
                    payloads.append(item)
            else:
                return None
    return payloads


def _error_payload(payloads: list[StreamPayload]) -> StreamPayload:
    message: str | None = None
    for payload in payloads:
        if isinstance(payload, str):
            message = payload
        else:
            message = get_str(payload, "message", "error", "detail")
            if message is None:
                nested = as_mapping(payload.get("error"))
                message = get_str(nested, "message") if nested is not None else None
        if message:
            break
    return {"success": False, "message": message or "Gloo sent an error event"}


async def parse_lines(lines: AsyncIterable[str]) -> AsyncGenerator[StreamPayload, None]:
    """Payloads from an async iterable of decoded lines (e.g. ``response.aiter_lines()``).

    Stops at an SSE ``[DONE]``, after reading on briefly to the body's end (see
    :func:`_read_to_end`); a JSON document cut off at the end raises
    :class:`GlooProtocolError`.
    """
    parser = StreamParser()
    iterator = aiter(lines)
    async for line in iterator:
        for payload in parser.feed_line(line):
            yield payload
        if parser.done:
            if not await _read_to_end(iterator) and _BODY_LEFT_OPEN.first():
                log.warning(
                    "gloo.stream.open_after_done",
                    within_s=_END_AFTER_DONE_S,
                    consequence="each answer's connection is closed, not reused",
                )
            break
    for payload in parser.finish():
        yield payload


#: After ``[DONE]``: how long, and for how many more lines, to read on to the body's end.
_END_AFTER_DONE_S = 0.05
_END_AFTER_DONE_LINES = 64


class _Once:
    """True the first time it is asked, then never again (a warning told once a process)."""

    def __init__(self) -> None:
        self._told = False

    def first(self) -> bool:
        told, self._told = self._told, True
        return not told


_BODY_LEFT_OPEN = _Once()


async def _read_to_end(lines: AsyncIterator[str]) -> bool:
    """Read what follows ``[DONE]`` until the body ends, for at most a moment; whether it
    ended.

    A response closed before its body's end cannot be reused: its connection is dropped
    and the next question opens a new one (to Gloo, a TLS handshake). Servers end the body
    right after ``[DONE]``, so this costs nothing; one that keeps it open, or sends more,
    is left as before (the stream format is unpublished: the first time, a warning says
    so), and the answer waits at most ``_END_AFTER_DONE_S`` longer.
    """
    try:
        async with asyncio.timeout(_END_AFTER_DONE_S):
            for _ in range(_END_AFTER_DONE_LINES):
                await anext(lines)
    except StopAsyncIteration:
        return True
    except (TimeoutError, httpx.HTTPError):
        return False
    return False


# --- accumulation --------------------------------------------------------------------------

_FULL_TEXT_KEYS = ("message", "text", "content", "answer")
_META_KEYS = ("chat_id", "message_id", "query_id", "model")


class StreamAccumulator:
    """Builds one answer from payloads; :meth:`add` returns only the new text."""

    def __init__(
        self, *, fallback_chat_id: str | None = None, sources_limit: int | None = None
    ) -> None:
        self._fallback_chat_id = fallback_chat_id
        self._sources_limit = sources_limit
        self._text = ""
        self._meta: dict[str, str] = {}
        self._sources: object = None
        self._suggestions: tuple[str, ...] = ()
        self.chunks = 0

    @property
    def text(self) -> str:
        """All answer text so far."""
        return self._text

    @property
    def chat_id(self) -> str | None:
        return self._meta.get("chat_id")

    def add(self, payload: StreamPayload) -> str:
        """Take one payload; return the text it adds ("" when none).

        Raises :class:`GlooProtocolError` for a chunk with ``success: false``.
        """
        self.chunks += 1
        if isinstance(payload, str):
            return self._append(payload)
        if payload.get("success") is False:
            message = get_str(payload, "message", "error", "detail")
            raise GlooProtocolError(message or "Gloo reported success: false", detail=dict(payload))
        self._remember(payload)
        full = _full_text(payload)
        delta = _explicit_delta(payload)
        if delta is not None:
            added = self._append(delta)
            # A chunk with a delta may also repeat the cumulative text: only take more of it.
            if full is not None and len(full) > len(self._text) and full.startswith(self._text):
                added += self._append(full[len(self._text) :])
            return added
        if full is None or full == self._text:
            return ""
        if full.startswith(self._text):
            return self._append(full[len(self._text) :])
        return self._append(full)

    def finish(
        self, *, fallback_chat_id: str | None = None, sources_limit: int | None = None
    ) -> GlooAnswer:
        """The complete answer.

        ``fallback_chat_id`` (the chat being continued) is used when no chunk carried one;
        both arguments default to the values given to the constructor.
        Raises :class:`GlooProtocolError` without any chat id, or for an answer with
        neither text nor sources.
        """
        fallback_chat_id = fallback_chat_id or self._fallback_chat_id
        if sources_limit is None:
            sources_limit = self._sources_limit
        chat_id = self._meta.get("chat_id") or fallback_chat_id
        if not chat_id:
            raise GlooProtocolError(
                "Gloo's answer carried no chat_id", detail={"chunks": self.chunks}
            )
        sources = normalize_sources(self._sources, sources_limit)
        if not self._text.strip() and not sources:
            raise GlooProtocolError("Gloo returned an empty answer", detail={"chunks": self.chunks})
        return GlooAnswer(
            chat_id=chat_id,
            text=self._text,
            sources=sources,
            suggestions=self._suggestions,
            message_id=self._meta.get("message_id"),
            query_id=self._meta.get("query_id"),
            model=self._meta.get("model"),
        )

    def _append(self, text: str) -> str:
        self._text += text
        return text

    def _remember(self, payload: Mapping[str, object]) -> None:
        for key in _META_KEYS:
            value = payload.get(key)
            if isinstance(value, str) and value.strip():
                self._meta[key] = value.strip()
        sources = payload.get("sources")
        if isinstance(sources, list) and sources:
            self._sources = sources
        suggestions = str_tuple(payload.get("suggestions"))
        if suggestions:
            self._suggestions = suggestions


def _explicit_delta(payload: Mapping[str, object]) -> str | None:
    """Text under ``delta`` (a string, or ``{"content": ...}``), also OpenAI-style
    ``choices[0].delta.content``; ``None`` when the chunk has no delta at all."""
    if "delta" in payload:
        return _content(payload["delta"]) or ""
    choices = payload.get("choices")
    if isinstance(choices, list) and choices:
        first = as_mapping(choices[0])
        if first is not None and "delta" in first:
            return _content(first["delta"]) or ""
    return None


def _full_text(payload: Mapping[str, object]) -> str | None:
    """Text under ``message``/``text``/``content``/``answer``: a delta or the cumulative
    text so far (a ``{"content": ...}`` object is accepted too)."""
    for key in _FULL_TEXT_KEYS:
        if key in payload:
            text = _content(payload[key])
            if text is not None:
                return text
    return None


def _content(value: object) -> str | None:
    if isinstance(value, str):
        return value
    obj = as_mapping(value)
    if obj is not None:
        for key in ("content", "text"):
            inner = obj.get(key)
            if isinstance(inner, str):
                return inner
    return None


# --- relaying a stream -------------------------------------------------------------------


class AnswerBuilder(Protocol):
    """What :func:`relay_stream` needs from an accumulator."""

    chunks: int

    @property
    def text(self) -> str:
        """All answer text so far."""
        ...

    def add(self, payload: StreamPayload) -> str:
        """Take one payload; return the text it adds (raise a :class:`GlooError` to fail)."""
        ...

    def finish(self) -> GlooAnswer:
        """The complete answer once the stream ended (raise a :class:`GlooError` to fail)."""
        ...


B = TypeVar("B", bound=AnswerBuilder)


@dataclass
class _OpenStream(Generic[B]):
    """A stream that produced its first text (or ended) within the retry phase."""

    stack: AsyncExitStack
    payloads: AsyncGenerator[StreamPayload, None]
    builder: B
    first_text: str
    ended: bool


async def relay_stream(
    retry: RetryPolicy,
    open_response: Callable[[AsyncExitStack], Awaitable[httpx.Response]],
    new_builder: Callable[[], B],
    *,
    final_errors: tuple[type[GlooError], ...] = (),
) -> AsyncGenerator[GlooEvent, None]:
    """Yield :class:`GlooDelta` pieces as text arrives, then one :class:`GlooAnswer`.

    ``open_response`` sends one attempt (registering the response on the stack it gets);
    ``new_builder`` makes a fresh accumulator per attempt. Opening the stream and reading
    up to its first text (or its end) is retried under ``retry``; its deadline bounds that
    phase only. Once text was yielded, any :class:`GlooError` -- a broken connection, a
    malformed end, a failure chunk -- raises :class:`GlooStreamInterrupted` with the
    partial text, chained to the cause, and is never retried; errors of the
    ``final_errors`` types are raised as they are (they are an outcome, not a breakage).
    """
    opened = await retry.run(lambda: _open_stream(open_response, new_builder), operation="stream")
    async with opened.stack:
        builder = opened.builder
        if opened.first_text:
            yield GlooDelta(opened.first_text)
        try:
            if not opened.ended:
                async for payload in opened.payloads:
                    delta = builder.add(payload)
                    if delta:
                        yield GlooDelta(delta)
            answer = builder.finish()
        except GlooError as exc:
            if not builder.text or isinstance(exc, final_errors):
                raise  # nothing reached the user yet (an empty stream): not interrupted
            log.warning(
                "gloo.stream.interrupted",
                error=type(exc).__name__,
                chars=len(builder.text),
                chunks=builder.chunks,
            )
            raise GlooStreamInterrupted(
                f"Gloo's answer broke off after {len(builder.text)} characters: {exc.message}",
                partial_text=builder.text,
                detail=exc.detail,
            ) from exc
    yield answer


async def _open_stream(
    open_response: Callable[[AsyncExitStack], Awaitable[httpx.Response]],
    new_builder: Callable[[], B],
) -> _OpenStream[B]:
    """Open the stream and read up to its first text (or its end): the retryable part."""
    stack = AsyncExitStack()
    try:
        response = await open_response(stack)
        raw_lines = response.aiter_lines()
        close_raw_lines = getattr(raw_lines, "aclose", None)
        if close_raw_lines is not None:
            stack.push_async_callback(close_raw_lines)
        lines = parse_lines(raw_lines)
        stack.push_async_callback(lines.aclose)
        payloads = _translated(lines)
        stack.push_async_callback(payloads.aclose)
        builder = new_builder()
        async for payload in payloads:
            first = builder.add(payload)
            if first:
                return _OpenStream(stack, payloads, builder, first, ended=False)
        # The stream ended before any text: the answer (or its error) is still retryable.
        builder.finish()
        return _OpenStream(stack, payloads, builder, "", ended=True)
    except BaseException:
        await stack.aclose()
        raise


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


async def single_answer(
    send: Callable[[], Awaitable[GlooAnswer]],
) -> AsyncGenerator[GlooEvent, None]:
    """The events of a non-streamed answer: its whole text as one delta, then the answer."""
    answer = await send()
    if answer.text:
        yield GlooDelta(answer.text)
    yield answer
