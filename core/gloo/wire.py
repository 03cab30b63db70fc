"""Gloo wire formats: the request body we build, and tolerant readers for what Gloo sends.

``MessageRequestBody`` is the one JSON payload we write (``POST /ai/v1/message``).
Everything read from the network is untrusted ``object`` data: the small helpers below
pick typed values out of it without ever assuming a shape. Error bodies are read in
:mod:`core.gloo.http_errors`; the shared HTTP request path is
:class:`core.gloo.http_backend.HttpBackendBase`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Required, TypedDict

from core.gloo.errors import GlooProtocolError

# --- request bodies ------------------------------------------------------------------------


class MessageRequestBody(TypedDict, total=False):
    """``POST /ai/v1/message`` JSON body. ``chat_id`` is omitted to start a new chat."""

    query: Required[str]
    chat_id: str
    character_limit: int
    sources_limit: int
    stream: bool
    publishers: list[str]


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
