"""Gloo wire formats: TypedDicts for the JSON payloads, and tolerant readers for them.

The TypedDicts document what Gloo sends and receives (see the Message, Chat and token
endpoints). Everything read from the network is still untrusted ``object`` data: the small
helpers below pick typed values out of it without ever assuming a shape.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Required, TypedDict

import httpx
import structlog

from core.gloo.errors import (
    GlooConfigError,
    GlooConnectionError,
    GlooHTTPError,
    GlooProtocolError,
    GlooRequestBlocked,
    GlooTimeout,
    GlooUsageLimited,
    error_for_status,
)
from core.gloo.retry import RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    from core.gloo.auth import Authenticator

log = structlog.get_logger(__name__)

# --- request / response bodies -------------------------------------------------------------


class MessageRequestBody(TypedDict, total=False):
    """``POST /ai/v1/message`` JSON body. ``chat_id`` is omitted to start a new chat."""

    query: Required[str]
    chat_id: str
    character_limit: int
    sources_limit: int
    stream: bool
    publishers: list[str]


class WireSource(TypedDict, total=False):
    """A source as Gloo may send it; the field names vary, see :mod:`core.gloo.sources`."""

    item_title: str
    item_url: str
    snippets: list[str]
    publication_date: str
    title: str
    name: str
    url: str
    link: str
    uri: str
    publisher: str
    author: str | list[str]
    snippet: str
    text: str


class MessageResponse(TypedDict, total=False):
    """``POST /ai/v1/message`` answer (also the shape of most stream chunks)."""

    chat_id: str
    query_id: str
    message_id: str
    timestamp: str
    success: bool
    message: str
    model: str
    sources: list[WireSource]
    sources_limit: int
    suggestions: list[str]
    intent: int


class TokenResponse(TypedDict, total=False):
    """OAuth2 client-credentials token endpoint answer."""

    access_token: Required[str]
    token_type: str
    expires_in: int


ChatRole = Literal["user", "kallm"]


class ChatHistoryMessage(TypedDict, total=False):
    """One message in ``GET /ai/v1/chat``; ``role`` is ``"user"`` or ``"kallm"`` (the AI)."""

    query_id: str
    message_id: str
    timestamp: str
    role: ChatRole
    character_limit: int
    stream: bool
    intent: int
    message: str
    model: str
    publishers: list[str]
    sources_limit: int
    sources: list[WireSource]
    success: bool
    suggestions: list[str]


class ChatHistoryResponse(TypedDict, total=False):
    """``GET /ai/v1/chat?chat_id=...`` answer."""

    user_id: str
    chat_id: str
    created_at: str
    updated_at: str
    messages: list[ChatHistoryMessage]
    pin: bool
    summary: str | None
    title: str | None


class ValidationIssue(TypedDict, total=False):
    """One entry of a FastAPI 422 ``detail`` list."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(TypedDict, total=False):
    """Error bodies seen from Gloo and its OAuth server."""

    detail: str | list[ValidationIssue]
    error: str
    error_description: str
    code: str | int
    message: str


# --- tolerant readers ----------------------------------------------------------------------


def decode_json(raw: bytes | str) -> object:
    """Parse JSON; raises :class:`ValueError` (``json.JSONDecodeError``) when it is not."""
    return json.loads(raw)


def as_mapping(value: object) -> Mapping[str, object] | None:
    """``value`` when it is a JSON object (string keys), else ``None``."""
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return value
    return None


def get_str(obj: Mapping[str, object], *keys: str) -> str | None:
    """The first of ``keys`` holding a non-empty string (returned unstripped)."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def str_tuple(value: object) -> tuple[str, ...]:
    """A list of strings as a tuple of its non-blank items (stripped); anything else -> ()."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item.strip() for item in value if isinstance(item, str) and item.strip())


def parse_timestamp(value: object) -> datetime | None:
    """An ISO-8601 string (naive = UTC) or a Unix timestamp as an aware datetime."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# --- error bodies --------------------------------------------------------------------------

_SUMMARY_MAX = 300

_WHAT_BY_STATUS: dict[int, str] = {
    401: "Gloo refused the access token",
    403: "Gloo denied permission",
    404: "Gloo did not find it",
    408: "Gloo timed out waiting for the request",
    429: "Gloo is rate limiting us",
}


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1] + "…"


def _issue_summary(issue: object) -> str | None:
    entry = as_mapping(issue)
    if entry is None:
        return issue.strip() if isinstance(issue, str) and issue.strip() else None
    msg = get_str(entry, "msg", "message") or ""
    loc = entry.get("loc")
    where = ".".join(str(part) for part in loc) if isinstance(loc, list | tuple) else ""
    if where and msg:
        return f"{where}: {msg}"
    return msg or where or None


def parse_error_body(raw: bytes | str) -> tuple[object, str | None, str | None]:
    """Read an error body into ``(detail, summary, code)``.

    * FastAPI: ``{"detail": [{"loc": [...], "msg": ...}, ...]}`` or ``{"detail": "text"}``;
      ``detail`` is the list (or string), the summary joins ``loc: msg`` pairs.
    * ``{"error", "code", "message"}`` (also OAuth's ``error_description`` and a nested
      ``{"error": {...}}``): ``detail`` is the whole object.
    * Anything else: the (shortened) text, unless it is HTML.
    """
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        body = decode_json(text) if text.strip() else None
    except ValueError:
        stripped = text.strip()
        if not stripped or stripped.startswith("<"):
            return (stripped or None), None, None
        return stripped, _short(stripped), None
    obj = as_mapping(body)
    if obj is None:
        if isinstance(body, str) and body.strip():
            return body, _short(body), None
        return body, None, None
    if "detail" in obj and not ("error" in obj or "code" in obj):
        detail = obj["detail"]
        if isinstance(detail, list):
            parts = [part for part in (_issue_summary(item) for item in detail) if part]
            return detail, (_short("; ".join(parts)) if parts else None), None
        if isinstance(detail, str):
            return detail, (_short(detail) if detail.strip() else None), None
        nested = as_mapping(detail)
        if nested is not None:
            summary, code = _error_object_summary(nested)
            return detail, summary, code
        return detail, None, None
    return obj, *_error_object_summary(obj)


def _error_object_summary(obj: Mapping[str, object]) -> tuple[str | None, str | None]:
    nested = as_mapping(obj.get("error"))
    if nested is not None:
        return _error_object_summary(nested)
    code_value = obj.get("code")
    code: str | None = None
    if isinstance(code_value, str) and code_value.strip():
        code = code_value.strip()
    elif isinstance(code_value, int) and not isinstance(code_value, bool):
        code = str(code_value)
    error = get_str(obj, "error")
    if code is None and error is not None and len(error.split()) == 1:
        code = error.strip()  # OAuth style: {"error": "invalid_client"}
    summary = get_str(obj, "message", "error_description", "detail", "msg") or error
    return (_short(summary) if summary else None), code


# Gloo documents that a 429 is either the request rate or the plan's spending limit, and
# that a 403 is a permission problem, but publishes no body for a spending limit or for a
# request its guardrails blocked. These read the body's words: a 429 that speaks of a
# budget, quota, spending, billing, credits or a limit other than the *rate* limit is the
# usage limit; a 403 that speaks of blocking, guardrails or a content/safety policy is a
# refusal, not a sign-in problem. A wrong guess degrades to the plain 429/403 handling and
# the body is logged (``gloo.http_error``) so it can be checked.
_USAGE_WORDS = re.compile(
    r"\b(budget|quota|spend\w*|billing|credits?|usage[ _-]?limit)\b"
    r"|(?<!rate )(?<!rate_)(?<!rate-)\blimit\b",
    re.IGNORECASE,
)
_BLOCKED_WORDS = re.compile(
    r"\b(block\w*|guardrails?|content[ _-]?polic\w*|safety|moderat\w*|flagged|refus\w*)\b",
    re.IGNORECASE,
)


def _body_words(body: bytes | str) -> str:
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return text[:4000]


def speaks_of_usage_limit(text: str) -> bool:
    """True when an error text speaks of a spending/usage limit rather than the rate."""
    return _USAGE_WORDS.search(text) is not None


def speaks_of_blocking(text: str) -> bool:
    """True when an error text says the request was blocked by a guardrail or policy."""
    return _BLOCKED_WORDS.search(text) is not None


def http_error(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    what: str | None = None,
) -> GlooHTTPError:
    """The exception for an error response, from :func:`error_for_status`.

    ``what`` replaces the default start of the message (e.g. "Gloo rejected the request").
    The message never includes request headers, so no token can leak through it.
    """
    detail, summary, code = parse_error_body(body)
    if what is None:
        if status_code >= 500:
            what = "Gloo had a server error"
        else:
            what = _WHAT_BY_STATUS.get(status_code, "Gloo rejected the request")
    cls = error_for_status(status_code)
    words = _body_words(body)
    if status_code == 429 and speaks_of_usage_limit(words):
        cls, what = GlooUsageLimited, "Gloo's usage limit for this organisation was reached"
    elif status_code == 403 and speaks_of_blocking(words):
        cls, what = GlooRequestBlocked, "Gloo declined the request"
    message = f"{what} ({status_code})"
    if summary:
        message = f"{message}: {summary}"
    return cls(
        message,
        status_code=status_code,
        detail=detail,
        code=code,
        retry_after=parse_retry_after(headers),
    )


@contextmanager
def transport_errors(action: str) -> Iterator[None]:
    """Translate httpx request failures into the Gloo tree."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise GlooTimeout(f"Gloo timed out ({action}): {type(exc).__name__}") from exc
    except httpx.UnsupportedProtocol as exc:
        raise GlooConfigError(f"The Gloo API URL is not usable: {exc}") from exc
    except httpx.DecodingError as exc:
        raise GlooProtocolError(f"Gloo sent an undecodable body ({action})") from exc
    except httpx.RequestError as exc:
        raise GlooConnectionError(
            f"Connection to Gloo failed ({action}): {type(exc).__name__}"
        ) from exc


def json_object(content: bytes, action: str) -> dict[str, object]:
    """A response body that must be one JSON object; :class:`GlooProtocolError` otherwise."""
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


class HttpBackendBase:
    """What every HTTP backend holds -- the shared client, the authenticator, the API base
    URL, the retry policy and the streaming switch -- and its one way to send a request."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: Authenticator,
        api_url: str,
        *,
        retry: RetryPolicy | None,
        stream_enabled: bool,
    ) -> None:
        base = api_url.strip().rstrip("/")
        if not base:
            raise GlooConfigError("The Gloo API URL is empty")
        self._http = http
        self._auth = auth
        self._base_url = base
        self._retry = retry or RetryPolicy()
        self._stream_enabled = stream_enabled

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    @property
    def stream_enabled(self) -> bool:
        return self._stream_enabled

    async def _open(
        self,
        stack: AsyncExitStack,
        *,
        method: str,
        url: str,
        params: dict[str, str],
        json: dict[str, object] | None,
        accept: str,
        action: str,
    ) -> httpx.Response:
        """Send one authorized request and return the successful, still unread response,
        registered on ``stack`` for closing.

        Every request carries ``Authorization: Bearer <token>``. A 401 invalidates that
        token and the request is sent once more with a fresh one (outside any retry
        budget); a second 401 is a :class:`GlooAuthError`. Other error statuses raise the
        matching exception from :func:`http_error`; transport failures go through
        :func:`transport_errors`.
        """
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
