"""The framework-neutral Gloo simulator: requests in, responses (or dropped connections) out.

:class:`Simulator` implements the parts of the Gloo API the product uses:

* ``POST /oauth2/token`` (client credentials, HTTP Basic or form fields),
* ``POST /ai/v1/message`` (JSON or a stream of SSE/NDJSON chunks, with real chat memory),
* ``GET /ai/v1/chat?chat_id=...`` (the chat history),
* ``POST /ai/v2/chat/completions`` and ``.../grounded`` (Completions V2, stateless; the
  V2 wire lives in :mod:`core.simulator.completions`),
* ``GET /healthz``.

Faults are decided per authenticated message or completion request: first from the
deterministic queue filled by :meth:`Simulator.inject`, otherwise by a seeded RNG from the
configured rates. The V2-only kinds ``stream_error`` and ``content_filter`` act as a ``500``
on a V1 message request.
The HTTP front ends (:mod:`core.simulator.transport` for httpx in-process,
:mod:`core.simulator.server` for aiohttp on a port) only translate requests and responses.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import hashlib
import hmac
import json
import math
import random
import re
import secrets
import uuid
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, Literal, cast, get_args
from urllib.parse import parse_qs

import structlog

from core.simulator import completions, content
from core.simulator.config import SimulatorConfig, parse_flag

__all__ = [
    "FAULT_KINDS",
    "FaultKind",
    "Headers",
    "RequestRecord",
    "SimRequest",
    "SimResponse",
    "Simulator",
    "StreamDropped",
]

log = structlog.get_logger(__name__)

FaultKind = Literal[
    "500",
    "502",
    "408",
    "429",
    "drop",
    "hang",
    "stream_error",
    "content_filter",
    "usage_limit",
    "blocked",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
#: Faults only Completions V2 can express; a V1 message request gets a 500 instead.
_V2_ONLY_FAULTS: Final = frozenset({"stream_error", "content_filter"})

#: Which fault each rate field produces, in the order the RNG checks them.
_RATE_FAULTS: tuple[tuple[str, FaultKind], ...] = (
    ("error_500", "500"),
    ("error_502", "502"),
    ("error_408", "408"),
    ("error_429", "429"),
    ("drop_stream", "drop"),
    ("hang", "hang"),
)

TOKEN_PATH: Final = "/oauth2/token"  # noqa: S105 - a URL path, not a secret
HEALTH_PATH: Final = "/healthz"
DEFAULT_SCOPE: Final = "api/access"
DEFAULT_SOURCES_LIMIT: Final = content.MAX_SOURCES
_API_PATH_RE = re.compile(r"^/ai/(?P<version>[^/]+)/(?P<endpoint>message|chat)$")
_USER_NAMESPACE = uuid.UUID("6f1c2a7e-3b0d-4c55-9a39-1d5e0b7c9f21")
_EXPIRED_TOKEN_GRACE = 86_400.0  # keep expired tokens a day, so they answer "token_expired"

_JSON = "application/json"
_CONTENT_TYPES: Final[dict[str, str]] = {
    "sse": "text/event-stream; charset=utf-8",
    "sse-nodone": "text/event-stream; charset=utf-8",
    "ndjson": "application/x-ndjson",
}


class StreamDropped(Exception):
    """The simulated server drops the connection now.

    Raised by :meth:`Simulator.handle` for a drop before any response, or by a
    :attr:`SimResponse.stream` iterator part-way through a streamed body.
    """


class Headers(Mapping[str, str]):
    """A case-insensitive, read-only header mapping (repeated headers joined with ``", "``)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        pairs: Iterable[tuple[str, str]]
        if items is None:
            pairs = ()
        elif isinstance(items, Mapping):
            pairs = items.items()
        else:
            pairs = items
        for name, value in pairs:
            key = name.lower()
            if key in self._items:
                original, previous = self._items[key]
                self._items[key] = (original, f"{previous}, {value}")
            else:
                self._items[key] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        shown = {
            name: ("<redacted>" if name.lower() == "authorization" else value)
            for name, value in self._items.values()
        }
        return f"Headers({shown!r})"


@dataclass(frozen=True, slots=True)
class SimRequest:
    """One HTTP request, independent of any web framework.

    ``path`` is the decoded path without the query string; ``query`` holds the query
    parameters (first value wins); ``headers`` may be any mapping or sequence of pairs and
    is stored as case-insensitive :class:`Headers`.
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method.upper())
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))
        object.__setattr__(self, "query", dict(self.query))

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass(slots=True)
class SimResponse:
    """A response: a whole ``body``, or a ``stream`` of byte chunks produced over time.

    A stream may raise :class:`StreamDropped` part-way: the front end must then break the
    connection so the client sees an incomplete body.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None

    @property
    def is_stream(self) -> bool:
        return self.stream is not None

    def json(self) -> Any:
        """The decoded JSON body of a non-streamed response."""
        return json.loads(self.body)

    async def aclose(self) -> None:
        """Release a stream that will not be read to the end."""
        if isinstance(self.stream, AsyncGenerator):
            await self.stream.aclose()


@dataclass(slots=True)
class RequestRecord:
    """What the simulator saw and did for one request (for assertions in tests).

    ``chat_id`` is the chat the request continued: for the Message API the chat id the
    client sent; for stateless Completions V2, which sends no chat id, the conversation id
    the simulator derives from the history sent (see
    :func:`core.simulator.completions.conversation_ids`), ``None`` when no earlier turns
    came. ``query`` is the question text (for V2 the last user message) and ``stream`` the
    stream flag (``None`` when not given or not applicable); ``messages`` and ``body`` are
    a V2 request's messages (history included) and whole JSON body; ``status`` is ``None``
    while a request is still hanging or when its connection was dropped before any
    response. ``response_chat_id`` is the chat (V2: the conversation, this turn included)
    the answer belongs to, set once an answer is composed; ``completed`` turns true once
    the whole answer was delivered.
    """

    method: str
    path: str
    at: float
    query_params: dict[str, str] = field(default_factory=dict)
    chat_id: str | None = None
    query: str | None = None
    stream: bool | None = None
    status: int | None = None
    fault: str | None = None
    response_chat_id: str | None = None
    completed: bool = False
    messages: list[dict[str, Any]] | None = None
    body: dict[str, Any] | None = None


@dataclass(slots=True)
class _Token:
    principal: str
    scope: str
    expires_at: float


@dataclass(slots=True)
class _Chat:
    chat_id: str
    owner: str
    user_id: str
    created_at: float
    updated_at: float
    title: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "chat_id": self.chat_id,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "messages": copy.deepcopy(self.messages),
            "pin": False,
            "summary": None,
            "title": self.title,
        }


@dataclass(frozen=True, slots=True)
class _MessageParams:
    query: str
    chat_id: str | None
    character_limit: int | None
    sources_limit: int | None
    stream: bool
    publishers: tuple[str, ...]
    intent: int | None
    enable_sources: int
    enable_suggestions: int


@dataclass(slots=True)
class _Answer:
    """A composed answer, committed to chat memory only once it has been delivered."""

    principal: str
    params: _MessageParams
    chat_id: str
    new_chat: bool
    query_id: str
    user_message_id: str
    message_id: str
    asked_at: float
    text: str
    sources: list[dict[str, Any]]
    suggestions: list[str]
    intent: int
    sources_limit: int
    model: str


class _Invalid:
    """Marker for a value that failed validation."""


_INVALID: Final = _Invalid()


class Simulator:
    """An in-memory Gloo: tokens, chats, deterministic answers, latency and faults."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config if config is not None else SimulatorConfig()
        # Fresh uuid4s unless asked to replay the seed's id sequence (see SimulatorConfig).
        self._ids: random.Random = (
            random.Random(f"{self.config.seed}:ids")
            if self.config.deterministic_ids
            else random.SystemRandom()
        )
        self._fault_rng = random.Random(f"{self.config.seed}:faults")
        self._fault_queue: deque[FaultKind] = deque()
        self._tokens: dict[str, _Token] = {}
        self._chats: dict[str, _Chat] = {}
        self.token_requests = 0
        self.message_requests = 0
        self.chat_requests = 0
        self.completion_requests = 0
        self.requests: list[RequestRecord] = []

    # --- introspection and control (for tests) -------------------------------------------

    @property
    def chats(self) -> dict[str, list[dict[str, Any]]]:
        """chat_id → its messages (user and ``kallm`` turns, oldest first); a copy."""
        return {chat_id: copy.deepcopy(chat.messages) for chat_id, chat in self._chats.items()}

    def chat_document(self, chat_id: str) -> dict[str, Any] | None:
        """The chat exactly as ``GET /ai/v1/chat`` returns it, or ``None``."""
        chat = self._chats.get(chat_id)
        return chat.document() if chat is not None else None

    @property
    def message_records(self) -> list[RequestRecord]:
        """The records of ``POST /ai/{v}/message`` requests, oldest first."""
        return [r for r in self.requests if _is_message_request(r)]

    @property
    def completion_records(self) -> list[RequestRecord]:
        """The records of Completions V2 requests (both routes), oldest first."""
        return [
            r
            for r in self.requests
            if r.method == "POST" and r.path in completions.COMPLETION_PATHS
        ]

    @property
    def asked(self) -> list[RequestRecord]:
        """The records of every question asked, on either API, oldest first.

        Message API (``POST /ai/{v}/message``) and Completions V2 requests alike, so a test
        can assert what was asked and which chat it continued (``chat_id`` against an
        earlier ``response_chat_id``) whichever API the client speaks.
        """
        return [r for r in self.requests if _is_question(r)]

    @property
    def pending_faults(self) -> tuple[str, ...]:
        return tuple(self._fault_queue)

    def inject(self, *kinds: str | int) -> None:
        """Apply these faults, in order, to the next authenticated message or completion
        requests.

        Kinds: ``"500"``, ``"502"``, ``"408"``, ``"429"`` (ints work too), ``"drop"``,
        ``"hang"``, and for Completions V2 ``"stream_error"`` and ``"content_filter"``.
        Queued faults take precedence over the configured rates.
        """
        parsed: list[FaultKind] = []
        for kind in kinds:
            name = str(kind).strip().lower()
            if name not in FAULT_KINDS:
                raise ValueError(
                    f"unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}"
                )
            parsed.append(cast(FaultKind, name))
        self._fault_queue.extend(parsed)

    def clear_faults(self) -> None:
        self._fault_queue.clear()

    def reset_stats(self) -> None:
        """Zero the counters and forget the request records (chats and tokens stay)."""
        self.token_requests = 0
        self.message_requests = 0
        self.chat_requests = 0
        self.completion_requests = 0
        self.requests.clear()

    def issue_token(self, client_id: str = "simulator-client", scope: str = DEFAULT_SCOPE) -> str:
        """Mint an access token directly, as if ``client_id`` had called the token endpoint."""
        now = self.config.clock()
        self._purge_tokens(now)
        token = "sim_" + secrets.token_urlsafe(32)
        self._tokens[token] = _Token(f"client:{client_id}", scope, now + self.config.token_ttl)
        return token

    def expire_tokens(self) -> None:
        """Make every issued token expired now (the next use answers 401 token_expired)."""
        now = self.config.clock()
        for token in self._tokens.values():
            token.expires_at = min(token.expires_at, now)

    def revoke_tokens(self) -> None:
        """Forget every issued token (the next use answers 401 invalid_token)."""
        self._tokens.clear()

    # --- request handling ----------------------------------------------------------------

    async def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request. Raises :class:`StreamDropped` to drop before any response."""
        path = request.path.rstrip("/") or "/"
        record = RequestRecord(
            method=request.method,
            path=path,
            at=self.config.clock(),
            query_params=dict(request.query),
        )
        self.requests.append(record)
        response = await self._route(request, path, record)
        record.status = response.status
        if not response.is_stream:
            record.completed = record.completed or response.status < 400
        return response

    async def _route(self, request: SimRequest, path: str, record: RequestRecord) -> SimResponse:
        if path == HEALTH_PATH:
            if request.method not in ("GET", "HEAD"):
                return _method_not_allowed("GET, HEAD")
            return _json_response(200, {"ok": True})
        if path == TOKEN_PATH:
            if request.method != "POST":
                return _method_not_allowed("POST")
            self.token_requests += 1
            return self._token(request)
        if path == completions.MODELS_PATH:
            # The V2 model registry answers without authentication.
            if request.method != "GET":
                return _method_not_allowed("GET")
            return _json_response(200, completions.models_body(self.config.model))
        if path in completions.COMPLETION_PATHS and self._route_answers(path):
            if request.method != "POST":
                return _method_not_allowed("POST")
            self.completion_requests += 1
            return await self._completion(
                request, record, grounded=path in completions.GROUNDED_PATHS
            )
        match = _API_PATH_RE.match(path)
        if match is None:
            return _json_response(404, {"detail": "Not Found"})
        endpoint = match.group("endpoint")
        expected = "POST" if endpoint == "message" else "GET"
        if request.method != expected:
            return _method_not_allowed(expected)
        if endpoint == "message":
            self.message_requests += 1
        else:
            self.chat_requests += 1
        if match.group("version") != "v1":
            return _validation_error(
                [
                    {
                        "type": "enum",
                        "loc": ["path", "v"],
                        "msg": "Input should be 'v1'",
                        "input": match.group("version"),
                        "ctx": {"expected": "'v1'"},
                    }
                ]
            )
        if endpoint == "message":
            return await self._message(request, record)
        return self._chat(request, record)

    # --- POST /oauth2/token --------------------------------------------------------------

    def _token(self, request: SimRequest) -> SimResponse:
        form = _parse_token_body(request)
        client_id, client_secret = _basic_credentials(request.header("authorization"))
        if client_id is None:
            client_id = form.get("client_id") or None
            client_secret = form.get("client_secret") or None
        if not client_id or not client_secret:
            return _oauth_error(
                401,
                "invalid_client",
                "missing_credentials",
                "Client authentication failed: no client credentials were sent.",
            )
        clients = self.config.clients
        if clients is not None:
            expected = clients.get(client_id)
            if expected is None or not hmac.compare_digest(
                expected.encode("utf-8"), client_secret.encode("utf-8")
            ):
                log.info("simulator.token_refused", reason="invalid_credentials")
                return _oauth_error(
                    401,
                    "invalid_client",
                    "invalid_credentials",
                    "Client authentication failed: unknown client or wrong secret.",
                )
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error(
                400, "invalid_request", "missing_grant_type", "grant_type is required."
            )
        if grant_type != "client_credentials":
            return _oauth_error(
                400,
                "unsupported_grant_type",
                "unsupported_grant_type",
                f"Unsupported grant_type {grant_type!r}; use client_credentials.",
            )
        scope = form.get("scope") or DEFAULT_SCOPE
        token = self.issue_token(client_id, scope)
        log.debug("simulator.token_issued", scope=scope, ttl=self.config.token_ttl)
        return _json_response(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": _number(self.config.token_ttl),
                "scope": scope,
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _purge_tokens(self, now: float) -> None:
        stale = [
            t for t, info in self._tokens.items() if info.expires_at + _EXPIRED_TOKEN_GRACE < now
        ]
        for token in stale:
            del self._tokens[token]

    # --- bearer authentication -----------------------------------------------------------

    def _authenticate(self, request: SimRequest) -> str | SimResponse:
        """The caller's principal, or the 401 response to send."""
        header = request.header("authorization")
        if not header or not header.strip():
            return _unauthorized("not_authenticated", "Not authenticated.", bearer_error=None)
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return _unauthorized(
                "invalid_token", "Authorization must be 'Bearer <token>'.", "invalid_request"
            )
        for key in self.config.api_keys:
            if hmac.compare_digest(key.encode("utf-8"), credential.encode("utf-8")):
                digest = hashlib.sha256(credential.encode("utf-8")).hexdigest()[:16]
                return f"key:{digest}"
        token = self._tokens.get(credential)
        if token is None:
            return _unauthorized("invalid_token", "The access token is invalid.", "invalid_token")
        if self.config.clock() >= token.expires_at:
            return _unauthorized("token_expired", "The access token has expired.", "invalid_token")
        return token.principal

    def _user_id(self, principal: str) -> str:
        return "u" + str(uuid.uuid5(_USER_NAMESPACE, f"{self.config.seed}:{principal}"))

    def _new_id(self, prefix: str) -> str:
        return prefix + str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    # --- faults --------------------------------------------------------------------------

    def _next_fault(self) -> FaultKind | None:
        # One draw per authenticated message request, whether or not the queue supplies the
        # fault, so the n-th request always sees the n-th random number.
        roll = self._fault_rng.random()
        if self._fault_queue:
            return self._fault_queue.popleft()
        threshold = 0.0
        for rate_field, kind in _RATE_FAULTS:
            threshold += float(getattr(self.config, rate_field))
            if roll < threshold:
                return kind
        return None

    def _route_answers(self, path: str) -> bool:
        """Whether this V2 route form answers (``v2_routes``); the others 404."""
        routes = self.config.v2_routes
        if routes == "documented":
            return path in completions.DOCUMENTED_PATHS
        if routes == "newer":
            return path in completions.NEWER_PATHS
        return True

    def _fault_response(self, fault: FaultKind) -> SimResponse:
        if fault == "usage_limit":
            # Gloo documents 429 for "request rate or spending limit for your plan" but
            # publishes no spending-limit body: this one is our stand-in (no Retry-After).
            return _json_response(
                429,
                {
                    "error": "Spending limit reached for your organization's plan",
                    "code": "spending_limit_exceeded",
                },
            )
        if fault == "blocked":
            # A 403 for a request the guardrails blocked: Gloo publishes no body either.
            return _json_response(
                403,
                {
                    "detail": "Request blocked by content guardrails",
                    "code": "guardrail_blocked",
                },
            )
        if fault == "429":
            reset = self.config.rate_limit_reset
            reset_at = math.ceil(self.config.clock() + reset)
            return _json_response(
                429,
                # The documented example (docs.gloo.com, API reference: Rate limits).
                {"error": "Rate limit exceeded", "code": "too_many_requests"},
                headers={
                    "Retry-After": _format_seconds(reset),
                    "X-RateLimit-Reset": str(reset_at),
                    "X-RateLimit-Remaining": "0",
                },
            )
        if fault == "500":
            return _json_response(
                500,
                {
                    "detail": "Internal Server Error",
                    "error": "internal_error",
                    "code": "internal_server_error",
                },
            )
        if fault == "502":
            return _json_response(
                502,
                {
                    "detail": "Bad Gateway: the upstream model did not answer.",
                    "error": "bad_gateway",
                    "code": "upstream_unavailable",
                },
            )
        return _json_response(
            408,
            {
                "detail": "Request Timeout: the model took too long to answer.",
                "error": "request_timeout",
                "code": "request_timeout",
            },
        )

    async def _admit(
        self, request: SimRequest, record: RequestRecord, *, v2: bool
    ) -> tuple[str, FaultKind | None] | SimResponse:
        """Authenticate an answer request and draw its fault: the principal and the fault
        still to act on, or the response that ends the request (a 401 or an HTTP fault).
        A hang fault waits here."""
        principal = self._authenticate(request)
        if isinstance(principal, SimResponse):
            return principal
        fault = self._next_fault()
        if fault in _V2_ONLY_FAULTS and not v2:
            fault = "500"
        record.fault = fault
        if fault is not None:
            log.info("simulator.fault", fault=fault, path=record.path, stream=record.stream)
        if fault in ("500", "502", "408", "429", "usage_limit", "blocked"):
            return self._fault_response(cast(FaultKind, fault))
        if fault == "hang":
            await asyncio.sleep(self.config.hang_seconds)
        return principal, fault

    async def _paced(
        self,
        frames: Sequence[Callable[[], bytes]],
        *,
        drop_at: int | None,
        chat_id: str | None,
        tail: bytes = b"",
    ) -> AsyncGenerator[bytes, None]:
        """Write ``frames`` with the configured latencies, then ``tail`` (if any); drop
        the connection at ``drop_at`` (a frame index) when given."""
        config = self.config
        if config.first_chunk_latency > 0:
            await asyncio.sleep(config.first_chunk_latency)
        for index, frame in enumerate(frames):
            if index > 0 and config.chunk_latency > 0:
                await asyncio.sleep(config.chunk_latency)
            if index == drop_at:
                log.info("simulator.stream_dropped", chat_id=chat_id, chunks_sent=index)
                raise StreamDropped(f"connection dropped after {index} of {len(frames)} chunks")
            yield frame()
        if tail:
            yield tail

    # --- POST /ai/v1/message -------------------------------------------------------------

    async def _message(self, request: SimRequest, record: RequestRecord) -> SimResponse:
        payload, json_error = _parse_json(request.body)
        if isinstance(payload, dict):
            record.chat_id = _str_or_none(payload.get("chat_id")) or request.query.get("chat_id")
            record.query = _str_or_none(payload.get("query"))
            stream_value = _as_bool(payload.get("stream", False))
            record.stream = stream_value if isinstance(stream_value, bool) else None

        admitted = await self._admit(request, record, v2=False)
        if isinstance(admitted, SimResponse):
            return admitted
        principal, fault = admitted

        params = json_error or _validate_message(payload, request.query)
        if isinstance(params, SimResponse):
            if fault == "drop":
                raise StreamDropped("connection dropped before the response")
            return params
        if fault == "drop" and not params.stream:
            raise StreamDropped("connection dropped before the response")

        chat: _Chat | None = None
        if params.chat_id:
            chat = self._chats.get(params.chat_id)
            if chat is None or chat.owner != principal:
                return _json_response(404, {"detail": "Chat not found"})

        answer = self._compose(principal, params, chat)
        record.response_chat_id = answer.chat_id
        if not params.stream:
            # A whole answer takes at least as long as a stream's first chunk.
            if self.config.first_chunk_latency > 0:
                await asyncio.sleep(self.config.first_chunk_latency)
            answered_at = self.config.clock()
            self._commit(answer, answered_at)
            return _json_response(200, self._final_payload(answer, answer.text, answered_at))
        return SimResponse(
            status=200,
            headers={
                "Content-Type": _CONTENT_TYPES[self.config.stream_format],
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            },
            stream=self._stream(answer, record, drop=fault == "drop"),
        )

    def _compose(self, principal: str, params: _MessageParams, chat: _Chat | None) -> _Answer:
        chat_id = chat.chat_id if chat is not None else self._new_id("c")
        previous = list(chat.questions) if chat is not None else []
        turn = len(previous) + 1
        rng = random.Random(f"{self.config.seed}:{chat_id}:{turn}")
        text = content.compose_answer(rng, params.query, previous)
        if params.character_limit:
            text = content.truncate(text, params.character_limit)

        sources_limit = (
            params.sources_limit if params.sources_limit is not None else DEFAULT_SOURCES_LIMIT
        )
        count = rng.choices(range(content.MAX_SOURCES + 1), weights=(1, 2, 3, 4, 3, 2))[0]
        if params.intent == 1 or params.enable_sources == 2:
            count = max(count, 3)
        if params.enable_sources == 0:
            count = 0
        count = min(count, sources_limit)
        sources = content.compose_sources(
            rng, params.query, count=count, publishers=params.publishers
        )
        suggestions = (
            content.compose_suggestions(rng, params.query) if params.enable_suggestions else []
        )
        intent = params.intent if params.intent is not None else (1 if sources else 0)
        return _Answer(
            principal=principal,
            params=params,
            chat_id=chat_id,
            new_chat=chat is None,
            query_id=self._new_id("q"),
            user_message_id=self._new_id("m"),
            message_id=self._new_id("m"),
            asked_at=self.config.clock(),
            text=text,
            sources=sources,
            suggestions=suggestions,
            intent=intent,
            sources_limit=sources_limit,
            model=self.config.model,
        )

    def _commit(self, answer: _Answer, answered_at: float) -> None:
        chat = self._chats.get(answer.chat_id)
        if chat is None:
            chat = _Chat(
                chat_id=answer.chat_id,
                owner=answer.principal,
                user_id=self._user_id(answer.principal),
                created_at=answer.asked_at,
                updated_at=answered_at,
                title=content.chat_title(answer.params.query),
            )
            self._chats[answer.chat_id] = chat
        params = answer.params
        chat.messages.append(
            {
                "query_id": answer.query_id,
                "message_id": answer.user_message_id,
                "timestamp": _iso(answer.asked_at),
                "role": "user",
                "character_limit": params.character_limit or 0,
                "stream": params.stream,
                "intent": answer.intent,
                "message": params.query,
                "model": answer.model,
                "publishers": list(params.publishers),
            }
        )
        chat.messages.append(
            {
                "query_id": answer.query_id,
                "message_id": answer.message_id,
                "timestamp": _iso(answered_at),
                "role": "kallm",
                "intent": answer.intent,
                "sources_limit": answer.sources_limit,
                "sources": copy.deepcopy(answer.sources),
                "success": True,
                "suggestions": list(answer.suggestions),
                "message": answer.text,
                "model": answer.model,
            }
        )
        chat.questions.append(params.query)
        chat.updated_at = answered_at
        log.debug(
            "simulator.answered",
            chat_id=answer.chat_id,
            turn=len(chat.questions),
            stream=params.stream,
            chars=len(answer.text),
            sources=len(answer.sources),
        )

    @staticmethod
    def _final_payload(answer: _Answer, message: str, answered_at: float) -> dict[str, Any]:
        return {
            "chat_id": answer.chat_id,
            "query_id": answer.query_id,
            "message_id": answer.message_id,
            "timestamp": _iso(answered_at),
            "success": True,
            "message": message,
            "model": answer.model,
            "sources": copy.deepcopy(answer.sources),
            "sources_limit": answer.sources_limit,
            "suggestions": list(answer.suggestions),
            "intent": answer.intent,
        }

    def _stream(
        self, answer: _Answer, record: RequestRecord, *, drop: bool
    ) -> AsyncGenerator[bytes, None]:
        config = self.config
        stream_format = config.stream_format
        cumulative = config.text_mode == "cumulative"
        pieces = content.split_chunks(answer.text, config.words_per_chunk)
        sent: list[str] = []

        def frame(index: int, piece: str) -> bytes:
            sent.append(piece)
            message = "".join(sent) if cumulative else piece
            event: dict[str, Any]
            if index == len(pieces) - 1:
                answered_at = config.clock()
                self._commit(answer, answered_at)
                record.completed = True
                event = self._final_payload(answer, message, answered_at)
            elif index == 0:
                event = {"chat_id": answer.chat_id, "message": message}
            else:
                event = {"message": message}
            if not config.stream_chat_id:
                event.pop("chat_id", None)
            return _encode_event(event, stream_format)

        return self._paced(
            [partial(frame, index, piece) for index, piece in enumerate(pieces)],
            drop_at=len(pieces) // 2 if drop else None,
            chat_id=answer.chat_id,
            tail=b"data: [DONE]\n\n" if stream_format == "sse" else b"",
        )

    # --- POST /ai/v2/chat/completions[/grounded] -------------------------------------------

    async def _completion(
        self, request: SimRequest, record: RequestRecord, *, grounded: bool
    ) -> SimResponse:
        payload, json_error = _parse_json(request.body)
        conversation: str | None = None
        if isinstance(payload, dict):
            record.body = copy.deepcopy(payload)
            record.messages, record.query = completions.request_summary(payload)
            record.chat_id, conversation = completions.conversation_ids(record.messages)
            stream_value = payload.get("stream", False)
            record.stream = stream_value if isinstance(stream_value, bool) else None

        admitted = await self._admit(request, record, v2=True)
        if isinstance(admitted, SimResponse):
            return admitted
        _, fault = admitted

        if json_error is not None:
            if fault == "drop":
                raise StreamDropped("connection dropped before the response")
            return json_error
        params = completions.validate(payload, grounded=grounded)
        if isinstance(params, completions.Invalid):
            if fault == "drop":
                raise StreamDropped("connection dropped before the response")
            return _json_response(params.status, params.body)
        if fault == "drop" and not params.stream:
            raise StreamDropped("connection dropped before the response")

        answer = completions.compose(
            params,
            seed=self.config.seed,
            default_model=self.config.model,
            new_id=self._new_id,
            now=self.config.clock(),
            citation_style=self.config.citation_style,
        )
        record.response_chat_id = conversation
        outcome: completions.Outcome = "stop"
        if fault == "stream_error":
            outcome = "error"
        elif fault == "content_filter":
            outcome = "content_filter"
        if not params.stream:
            if self.config.first_chunk_latency > 0:
                await asyncio.sleep(self.config.first_chunk_latency)
            return _json_response(200, completions.response_body(answer, outcome))
        frames = completions.stream_frames(answer, self.config.words_per_chunk, outcome)

        def frame(index: int) -> bytes:
            if index == len(frames) - 1:
                record.completed = True
            return completions.encode_frame(frames[index])

        return SimResponse(
            status=200,
            headers={
                "Content-Type": _CONTENT_TYPES["sse"],
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            },
            stream=self._paced(
                [partial(frame, index) for index in range(len(frames))],
                drop_at=len(frames) // 2 if fault == "drop" else None,
                chat_id=None,
            ),
        )

    # --- GET /ai/v1/chat -----------------------------------------------------------------

    def _chat(self, request: SimRequest, record: RequestRecord) -> SimResponse:
        principal = self._authenticate(request)
        if isinstance(principal, SimResponse):
            return principal
        chat_id = request.query.get("chat_id", "").strip()
        record.chat_id = chat_id or None
        if not chat_id:
            return _validation_error(
                [
                    {
                        "type": "missing",
                        "loc": ["query", "chat_id"],
                        "msg": "Field required",
                        "input": None,
                    }
                ]
            )
        chat = self._chats.get(chat_id)
        if chat is None or chat.owner != principal:
            return _json_response(404, {"detail": "Chat not found"})
        record.response_chat_id = chat_id
        return _json_response(200, chat.document())


# --- request records ------------------------------------------------------------------------


def _is_message_request(record: RequestRecord) -> bool:
    match = _API_PATH_RE.match(record.path)
    return record.method == "POST" and match is not None and match["endpoint"] == "message"


def _is_question(record: RequestRecord) -> bool:
    """A Message API or Completions V2 request: one question asked."""
    return _is_message_request(record) or (
        record.method == "POST" and record.path in completions.COMPLETION_PATHS
    )


# --- validation -----------------------------------------------------------------------------


def _validate_message(payload: Any, query: Mapping[str, str]) -> _MessageParams | SimResponse:
    """FastAPI-style validation of the message body and query parameters."""
    errors: list[dict[str, Any]] = []
    if not isinstance(payload, dict):
        errors.append(
            {
                "type": "model_attributes_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": payload,
            }
        )
        return _validation_error(errors)

    text = payload.get("query", _INVALID)
    if text is _INVALID:
        errors.append(_error("missing", ["body", "query"], "Field required", payload))
    elif not isinstance(text, str):
        errors.append(
            _error("string_type", ["body", "query"], "Input should be a valid string", text)
        )
    elif not text.strip():
        errors.append(
            _error(
                "string_too_short",
                ["body", "query"],
                "String should have at least 1 character",
                text,
                {"min_length": 1},
            )
        )

    chat_id = payload.get("chat_id")
    if chat_id is not None and not isinstance(chat_id, str):
        errors.append(
            _error("string_type", ["body", "chat_id"], "Input should be a valid string", chat_id)
        )
    character_limit = _optional_non_negative_int(payload, "character_limit", errors)
    sources_limit = _optional_non_negative_int(payload, "sources_limit", errors)

    stream = _as_bool(payload.get("stream", False))
    if isinstance(stream, _Invalid):
        errors.append(
            _error(
                "bool_type",
                ["body", "stream"],
                "Input should be a valid boolean",
                payload.get("stream"),
            )
        )

    publishers: list[str] = []
    raw_publishers = payload.get("publishers")
    if raw_publishers is not None:
        if not isinstance(raw_publishers, list):
            errors.append(
                _error(
                    "list_type",
                    ["body", "publishers"],
                    "Input should be a valid list",
                    raw_publishers,
                )
            )
        else:
            for index, item in enumerate(raw_publishers):
                if isinstance(item, str):
                    if item.strip():
                        publishers.append(item.strip())
                else:
                    errors.append(
                        _error(
                            "string_type",
                            ["body", "publishers", index],
                            "Input should be a valid string",
                            item,
                        )
                    )

    intent = _enum_param(query, "intent", ("0", "1"), errors)
    enable_sources = _enum_param(query, "enable_sources", ("0", "1", "2"), errors)
    enable_suggestions = _enum_param(query, "enable_suggestions", ("0", "1"), errors)

    if errors or not isinstance(text, str) or not isinstance(stream, bool):
        return _validation_error(errors)
    query_chat_id = query.get("chat_id", "").strip() or None
    return _MessageParams(
        query=text,
        chat_id=(chat_id.strip() if isinstance(chat_id, str) else None) or query_chat_id,
        character_limit=character_limit,
        sources_limit=sources_limit,
        stream=stream,
        publishers=tuple(dict.fromkeys(publishers)),
        intent=intent,
        enable_sources=1 if enable_sources is None else enable_sources,
        enable_suggestions=1 if enable_suggestions is None else enable_suggestions,
    )


def _error(
    kind: str,
    loc: list[str | int],
    msg: str,
    value: Any,
    ctx: dict[str, Any] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx:
        error["ctx"] = ctx
    return error


def _optional_non_negative_int(
    payload: Mapping[str, Any], name: str, errors: list[dict[str, Any]]
) -> int | None:
    raw = payload.get(name)
    if raw is None:
        return None
    value = _as_int(raw)
    if value is None:
        errors.append(
            _error(
                "int_type",
                ["body", name],
                "Input should be a valid integer",
                raw,
            )
        )
        return None
    if value < 0:
        errors.append(
            _error(
                "greater_than_equal",
                ["body", name],
                "Input should be greater than or equal to 0",
                raw,
                {"ge": 0},
            )
        )
        return None
    return value


def _enum_param(
    query: Mapping[str, str], name: str, allowed: tuple[str, ...], errors: list[dict[str, Any]]
) -> int | None:
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return None
    if raw.strip() not in allowed:
        expected = " or ".join(allowed) if len(allowed) == 2 else ", ".join(allowed)
        errors.append(
            _error(
                "enum",
                ["query", name],
                f"Input should be {expected}",
                raw,
                {"expected": expected},
            )
        )
        return None
    return int(raw.strip())


def _as_int(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
        return int(raw)
    return None


def _as_bool(raw: Any) -> bool | _Invalid:
    if raw is None:
        return False
    flag = parse_flag(raw)
    return _INVALID if flag is None else flag


def _str_or_none(raw: Any) -> str | None:
    return raw if isinstance(raw, str) and raw else None


def _parse_json(body: bytes) -> tuple[Any, SimResponse | None]:
    try:
        return json.loads(body.decode("utf-8")), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else exc.start
        return None, _validation_error(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", position],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": str(exc)},
                }
            ]
        )


def _parse_token_body(request: SimRequest) -> dict[str, str]:
    content_type = (request.header("content-type") or "").lower()
    if content_type.startswith(_JSON):
        payload, error = _parse_json(request.body)
        if error is None and isinstance(payload, dict):
            return {str(k): str(v) for k, v in payload.items() if v is not None}
        return {}
    parsed = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items() if values}


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None, None
    return client_id, secret


# --- responses ------------------------------------------------------------------------------


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_response(
    status: int, payload: Any, *, headers: Mapping[str, str] | None = None
) -> SimResponse:
    all_headers = {"Content-Type": _JSON}
    if headers:
        all_headers.update(headers)
    return SimResponse(status=status, headers=all_headers, body=_dumps(payload))


def _validation_error(errors: list[dict[str, Any]]) -> SimResponse:
    return _json_response(422, {"detail": errors})


def _method_not_allowed(allow: str) -> SimResponse:
    return _json_response(405, {"detail": "Method Not Allowed"}, headers={"Allow": allow})


def _oauth_error(status: int, error: str, code: str, description: str) -> SimResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="gloo-simulator"'
    return _json_response(
        status,
        {"error": error, "error_description": description, "code": code},
        headers=headers,
    )


def _unauthorized(code: str, message: str, bearer_error: str | None) -> SimResponse:
    challenge = "Bearer"
    if bearer_error:
        challenge += f' error="{bearer_error}"'
    return _json_response(
        401,
        {"error": "unauthorized", "code": code, "detail": message},
        headers={"WWW-Authenticate": challenge},
    )


def _encode_event(event: dict[str, Any], stream_format: str) -> bytes:
    data = _dumps(event)
    if stream_format == "ndjson":
        return data + b"\n"
    return b"data: " + data + b"\n\n"


def _iso(timestamp: float) -> str:
    """Gloo's timestamp style: naive UTC ISO 8601 with microseconds."""
    return (
        datetime.fromtimestamp(timestamp, UTC)
        .replace(tzinfo=None)
        .isoformat(timespec="microseconds")
    )


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _format_seconds(value: float) -> str:
    """Whole seconds as an integer (RFC 9110); fractions kept for millisecond test setups."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def first_values(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Flatten query items to one value per name (the first wins), as FastAPI reads them."""
    values: dict[str, str] = {}
    for key, value in items:
        values.setdefault(key, value)
    return values
