"""Error-body parsing and the readers for untrusted JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.gloo.errors import (
    GlooAuthError,
    GlooBadRequest,
    GlooHTTPError,
    GlooRateLimited,
    GlooServerError,
    GlooValidationError,
)
from core.gloo.http_errors import http_error, parse_error_body
from core.gloo.wire import parse_timestamp, str_tuple


def test_fastapi_detail_list() -> None:
    body = {
        "detail": [
            {"loc": ["body", "query"], "msg": "field required", "type": "value_error.missing"},
            {"loc": ["query", "intent"], "msg": "value is not a valid enum", "type": "enum"},
        ]
    }
    detail, summary, code = parse_error_body(json.dumps(body).encode())
    assert detail == body["detail"]
    assert summary == "body.query: field required; query.intent: value is not a valid enum"
    assert code is None


def test_fastapi_detail_string() -> None:
    assert parse_error_body(b'{"detail": "Chat not found"}') == (
        "Chat not found",
        "Chat not found",
        None,
    )


def test_error_code_message_body() -> None:
    body = {"error": "rate_limited", "code": "RATE_LIMIT", "message": "Too many requests"}
    assert parse_error_body(json.dumps(body)) == (body, "Too many requests", "RATE_LIMIT")


def test_oauth_style_error() -> None:
    body = {"error": "invalid_client"}
    assert parse_error_body(json.dumps(body)) == (body, "invalid_client", "invalid_client")


def test_nested_error_object_and_numeric_code() -> None:
    body = {"error": {"code": 1234, "message": "Quota exceeded"}}
    assert parse_error_body(json.dumps(body)) == (body, "Quota exceeded", "1234")


def test_plain_text_and_html_bodies() -> None:
    assert parse_error_body(b"upstream   overloaded\n") == (
        "upstream   overloaded",
        "upstream overloaded",
        None,
    )
    detail, summary, _ = parse_error_body(b"<html><body>502 Bad Gateway</body></html>")
    assert summary is None
    assert detail == "<html><body>502 Bad Gateway</body></html>"
    assert parse_error_body(b"") == (None, None, None)


def test_long_summary_is_shortened() -> None:
    _, summary, _ = parse_error_body(json.dumps({"detail": "x" * 1000}))
    assert summary is not None
    assert len(summary) == 300
    assert summary.endswith("…")


def test_http_error_for_422() -> None:
    body = {"detail": [{"loc": ["body", "query"], "msg": "field required", "type": "missing"}]}
    error = http_error(422, {}, json.dumps(body).encode())
    assert isinstance(error, GlooValidationError)
    assert error.message == "Gloo rejected the request (422): body.query: field required"
    assert str(error) == error.message
    assert error.detail == body["detail"]
    assert error.status_code == 422
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("status", "cls", "start"),
    [
        (400, GlooBadRequest, "Gloo rejected the request (400)"),
        (401, GlooAuthError, "Gloo refused the access token (401)"),
        (429, GlooRateLimited, "Gloo is rate limiting us (429)"),
        (503, GlooServerError, "Gloo had a server error (503)"),
        (418, GlooHTTPError, "Gloo rejected the request (418)"),
    ],
)
def test_http_error_classes_and_messages(status: int, cls: type[GlooHTTPError], start: str) -> None:
    error = http_error(status, {"Retry-After": "4"}, b'{"error": "x", "code": "E1"}')
    assert type(error) is cls
    assert error.message == f"{start}: x"
    assert error.code == "E1"
    assert error.retry_after == 4.0


def test_parse_timestamp() -> None:
    assert parse_timestamp("2025-07-14T19:04:58.449394") == datetime(
        2025, 7, 14, 19, 4, 58, 449394, tzinfo=UTC
    )
    assert parse_timestamp("2025-07-14T19:04:58Z") == datetime(2025, 7, 14, 19, 4, 58, tzinfo=UTC)
    assert parse_timestamp(0) == datetime(1970, 1, 1, tzinfo=UTC)
    for bad in ("yesterday", "", None, True, [1]):
        assert parse_timestamp(bad) is None


def test_str_tuple() -> None:
    assert str_tuple([" a ", "", 3, "b"]) == ("a", "b")
    assert str_tuple("ab") == ()
