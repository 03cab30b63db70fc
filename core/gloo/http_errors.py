"""Gloo's error answers read into the Gloo error tree (:mod:`core.gloo.errors`).

:func:`http_error` turns an error response (status, headers, body) into its exception,
reading the body's FastAPI / OAuth shapes (:func:`parse_error_body`);
:func:`transport_errors` turns httpx's request failures into the matching Gloo errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx

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
from core.gloo.retry import parse_retry_after
from core.gloo.wire import as_mapping, decode_json, get_str

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
