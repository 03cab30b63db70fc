"""Slack's HTTP requests checked before bolt parses anything (HTTP mode, ``/slack/events``).

bolt parses a request body before its own signature check, so an unsigned body of
malformed JSON, a bad form ``payload`` or a timestamp of ``abc`` raised inside bolt (500 and
a traceback), and its failed check logs the whole body at INFO. This gate runs first:

1. **Headers** (Slack's published v0 scheme, docs.slack.dev "Verifying requests from
   Slack"; slack_sdk's ``SignatureVerifier``): ``X-Slack-Request-Timestamp`` must be a whole
   number of seconds within five minutes of now, ``X-Slack-Signature`` ``v0=`` and 64 hex
   digits. Otherwise **401**, before the body is read.
2. **Size**: a body over :data:`MAX_BODY_BYTES` is refused with **413** without reading it
   all (at once when its ``Content-Length`` says so).
3. **Room and time**: the bodies being read at a time may declare at most
   ``MAX_CONCURRENT_READS × MAX_BODY_BYTES`` in all (their ``Content-Length``, or
   :data:`MAX_BODY_BYTES` when none is given; the headers above are no proof: anyone can
   send a fresh timestamp and 64 hex digits); over that **503** at once, unread. Slack's own
   events are a few KB, so a burst of them never meets the cap (a count of readers would
   refuse a burst of 33 small events). The whole body must arrive within
   :data:`BODY_READ_TIMEOUT_S` seconds, else **408** and the connection is closed. So
   unsigned requests can hold at most that much memory, each for at most the deadline.
   The three limits are settings: ``SLACK_MAX_BODY_BYTES``, ``SLACK_MAX_BODY_READS``,
   ``SLACK_BODY_TIMEOUT``.
4. **Signature**: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing
   secret, compared in constant time. Otherwise **401**.
5. **Shape** (the request is signed, so it is Slack's or the secret leaked): the body must be
   UTF-8, parse the way bolt parses it (JSON object; a form whose ``payload`` is a JSON
   object; or a plain form), and the fields bolt and our listeners read must have the types
   of Slack's published payloads. Otherwise **400**.

Only then is the request handed to bolt (whose own verification stays on). Every refusal is
one log line with the status and the reason: never the body, never the signature.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

__all__ = [
    "BODY_READ_TIMEOUT_S",
    "MAX_BODY_BYTES",
    "MAX_CONCURRENT_READS",
    "Refusal",
    "SlackRequestVerifier",
]

log = structlog.get_logger(__name__)

#: The largest request body accepted (``SLACK_MAX_BODY_BYTES``). Slack publishes no size for
#: its requests. Events are a few KB (a message's text is cut at 40,000 characters). The
#: largest are interaction payloads, which echo the message or view clicked: this app's
#: messages with buttons hold at most 12,000 characters of markdown and a 3,000-character
#: preview beside the buttons (bots/slack/render.py); its Home view at most 100 blocks of
#: short text (docs.slack.dev "Home tab views"); its modals have no inputs, so no
#: ``view_submission`` comes. Such a payload is tens of KB: 1 MiB leaves a wide margin.
MAX_BODY_BYTES: Final = 1024 * 1024
#: Seconds the whole body may take to arrive once the headers are in (``SLACK_BODY_TIMEOUT``).
#: Slack sends the event at once and counts a delivery as failed when no answer came within
#: 3 s (docs.slack.dev, Bolt for Python "Acknowledging requests": "you only have 3 seconds to
#: respond before Slack registers a timeout error"; Java Slack SDK "Events": "Your app has to
#: respond to the request within 3 seconds"); a body still arriving after that is no use.
BODY_READ_TIMEOUT_S: Final = 5.0
#: Full-size bodies read at the same time, before their signature can be checked
#: (``SLACK_MAX_BODY_READS``): the bytes being read may declare at most this ×
#: MAX_BODY_BYTES in all; more get 503 unread.
MAX_CONCURRENT_READS: Final = 32
#: Slack: reject a request whose timestamp is more than five minutes from local time.
TOLERANCE_S: Final = 5 * 60
#: A request this close to the edge is refused here, so bolt's own check of the same
#: request a moment later can never disagree (and log the body).
EDGE_S: Final = 2
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE: Final = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)
_CHUNK: Final = 64 * 1024

BoltDispatch = Callable[[AsyncBoltRequest], Awaitable[BoltResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Fields bolt or our listeners read, with the JSON types Slack's payloads give them
# (docs.slack.dev: Events API envelope, app_mention / message events, block_actions).
_STR: Final = (str, type(None))
_OBJ: Final = (dict, type(None))
_DICT: Final = (dict,)
_ENVELOPE_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "type": _STR,
    "token": _STR,
    "team_id": _STR,
    "api_app_id": _STR,
    "enterprise_id": _STR,
    "event_id": _STR,
    "challenge": _STR,
    "event": _DICT,
    "authorizations": (list,),
    "is_enterprise_install": (bool, str, type(None)),
    "event_context": _STR,
}
_EVENT_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "type": _STR,
    "subtype": _STR,
    "channel": _STR,
    "channel_type": _STR,
    "user": _STR,
    "text": _STR,
    "ts": _STR,
    "thread_ts": _STR,
    "event_ts": _STR,
    "bot_id": _STR,
    "team": _STR,
    "message": _DICT,
    "previous_message": _DICT,
    "assistant_thread": _DICT,
}
#: Events whose listeners need where and when the message is.
_MESSAGE_EVENTS: Final = frozenset({"app_mention", "message"})
_PAYLOAD_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "type": _STR,
    "token": _STR,
    "api_app_id": _STR,
    "trigger_id": _STR,
    "response_url": _STR,
    "user": _OBJ,
    "team": _OBJ,
    "enterprise": _OBJ,
    "channel": _OBJ,
    "container": _OBJ,
    "message": _OBJ,
    "view": _OBJ,
    "actions": (list, type(None)),
    "is_enterprise_install": (bool, str, type(None)),
}
_NESTED_ID_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "id": _STR,
    "ts": _STR,
    "thread_ts": _STR,
    "message_ts": _STR,
    "channel_id": _STR,
    "team_id": _STR,
    "enterprise_id": _STR,
    "name": _STR,
}
_ACTION_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "type": _STR,
    "action_id": _STR,
    "block_id": _STR,
    "value": _STR,
    "action_ts": _STR,
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request not passed to bolt: the HTTP status and why (for the log, not the body)."""

    status: int
    reason: str


class SlackRequestVerifier:
    """Checks Slack's HTTP requests (see the module docstring) and hands good ones to bolt."""

    def __init__(
        self,
        signing_secret: str,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        read_timeout: float = BODY_READ_TIMEOUT_S,
        max_concurrent_reads: int = MAX_CONCURRENT_READS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = signing_secret.encode()
        self._max_body = max_body_bytes
        self._read_timeout = read_timeout
        self._max_reading = max_concurrent_reads * max_body_bytes
        self._reading = 0  # bytes declared by the bodies being read
        self._clock = clock

    def handler(self, dispatch: BoltDispatch) -> Handler:
        """An aiohttp handler: verified requests go to ``dispatch`` (bolt), others are refused."""

        async def handle(request: web.Request) -> web.StreamResponse:
            checked = await self.check(request)
            if isinstance(checked, Refusal):
                return await self._refuse(request, checked)
            try:
                bolt_request = AsyncBoltRequest(
                    body=checked,
                    query=request.query_string,
                    headers=request.headers,  # type: ignore[arg-type]
                )
            except Exception as exc:  # bolt could not make sense of a signed body
                return await self._refuse(
                    request, Refusal(400, f"bolt refused it ({type(exc).__name__})")
                )
            return await to_aiohttp_response(await dispatch(bolt_request))

        return handle

    async def check(self, request: web.Request) -> str | Refusal:
        """The verified body as text, or why the request is refused."""
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not _TIMESTAMP.fullmatch(stamp):
            return Refusal(401, "missing or malformed timestamp")
        if abs(self._clock() - int(stamp)) > TOLERANCE_S - EDGE_S:
            return Refusal(401, "stale timestamp")
        if not _SIGNATURE.fullmatch(signature):
            return Refusal(401, "missing or malformed signature")
        if request.content_length is not None and request.content_length > self._max_body:
            return Refusal(413, f"body over {self._max_body} bytes")
        declared = request.content_length
        need = self._max_body if declared is None else max(declared, 1)
        if self._reading + need > self._max_reading:
            return Refusal(503, f"{self._reading} bytes of request bodies are being read already")
        self._reading += need
        try:
            async with asyncio.timeout(self._read_timeout):
                body = await _read_at_most(request, self._max_body)
        except TimeoutError:
            return Refusal(408, f"body not received within {self._read_timeout:g} s")
        finally:
            self._reading -= need
        if body is None:
            return Refusal(413, f"body over {self._max_body} bytes")
        expected = hmac.new(self._secret, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
        if not hmac.compare_digest("v0=" + expected.hexdigest(), signature):
            return Refusal(401, "bad signature")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return Refusal(400, "signed body is not UTF-8")
        problem = malformed(text, request.headers.get("Content-Type", ""))
        if problem is not None:
            return Refusal(400, problem)
        return text

    @staticmethod
    async def _refuse(request: web.Request, refusal: Refusal) -> web.StreamResponse:
        """The refusal's answer, with ``Connection: close``. After a 408 the connection is
        closed as soon as the answer is written: the rest of that body is not waited for."""
        log.info(
            "slack.request_refused",
            status=refusal.status,
            reason=refusal.reason,
            path=request.path,
            bytes=request.content_length,
        )
        text = _REFUSAL_TEXT.get(refusal.status, "bad request")
        headers = {"Retry-After": "1"} if refusal.status == 503 else None
        response = web.json_response({"error": text}, status=refusal.status, headers=headers)
        response.force_close()
        if refusal.status == 408:
            await response.prepare(request)
            await response.write_eof()
            request.protocol.force_close()
        return response


_REFUSAL_TEXT: Final[Mapping[int, str]] = {
    401: "invalid request",
    408: "request body too slow",
    413: "request too large",
    503: "busy, try again",
}


async def _read_at_most(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or ``None`` as soon as it is known to be longer than ``limit``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def malformed(text: str, content_type: str) -> str | None:
    """Why a signed body is not a Slack request bolt can handle, or ``None`` when it is.

    Parsed the way bolt parses it (``slack_bolt.request.internals.parse_body``): JSON when the
    content type is ``application/json`` or the body starts with ``{``; else a form whose
    ``payload`` field, when there is one, is JSON.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if not text:
        return None
    if media == "application/json" or text.startswith("{"):
        return _json_object(text, "body", _envelope_problem)
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        if payload is not None:
            return _json_object(payload, "payload", _payload_problem)
    return None


def _json_object(text: str, what: str, check: Callable[[dict[str, Any]], str | None]) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return f"{what} is not JSON"
    if not isinstance(data, dict):
        return f"{what} is not a JSON object"
    return check(data)


def _wrong_types(
    data: Mapping[str, Any], types: Mapping[str, tuple[type, ...]], where: str
) -> str | None:
    for key, allowed in types.items():
        if key in data and not isinstance(data[key], allowed):
            return f"{where}.{key} has the wrong type"
    return None


def _envelope_problem(body: dict[str, Any]) -> str | None:
    problem = _wrong_types(body, _ENVELOPE_TYPES, "body")
    if problem is not None:
        return problem
    for authorization in body.get("authorizations") or []:
        if not isinstance(authorization, dict):
            return "body.authorizations has the wrong type"
    event = body.get("event")
    if event is None:
        return None
    problem = _wrong_types(event, _EVENT_TYPES, "event")
    if problem is not None:
        return problem
    for nested in ("message", "previous_message", "assistant_thread"):
        value = event.get(nested)
        if isinstance(value, dict):
            problem = _wrong_types(value, {**_EVENT_TYPES, **_NESTED_ID_TYPES}, f"event.{nested}")
            if problem is not None:
                return problem
    if event.get("type") in _MESSAGE_EVENTS and (
        not isinstance(event.get("channel"), str) or not isinstance(event.get("ts"), str)
    ):
        return "a message event without its channel or ts"
    return None


def _payload_problem(payload: dict[str, Any]) -> str | None:
    problem = _wrong_types(payload, _PAYLOAD_TYPES, "payload")
    if problem is not None:
        return problem
    for nested in ("user", "team", "enterprise", "channel", "container", "message"):
        value = payload.get(nested)
        if isinstance(value, dict):
            problem = _wrong_types(value, _NESTED_ID_TYPES, f"payload.{nested}")
            if problem is not None:
                return problem
    for action in payload.get("actions") or []:
        if not isinstance(action, dict):
            return "payload.actions has the wrong type"
        problem = _wrong_types(action, _ACTION_TYPES, "payload.actions[]")
        if problem is not None:
            return problem
    return None
