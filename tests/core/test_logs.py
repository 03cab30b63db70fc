"""Secrets never reach the log output, whatever path they take into it."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Iterator

import pytest
import structlog

from core.logs import (
    LOOP_CLOSED,
    REDACTED,
    Redactor,
    configure_logging,
    log_thread_failures,
    url_passwords,
)
from tests.conftest import configure_test_logging

CLIENT_SECRET = "gloo-client-secret-9f8e7d"
API_KEY = "gk_live_4c3b2a1908"
SLACK_BOT = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"
SLACK_APP = "xapp-1-A0123456789-1234567890123-abcdef0123456789"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
DISCORD = "MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
BEARER = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

ALL_SECRETS = (CLIENT_SECRET, API_KEY, SLACK_BOT, SLACK_APP, SIGNING, DISCORD, BEARER)


@pytest.fixture(params=["console", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging(
        level="DEBUG",
        fmt=request.param,
        secrets=[CLIENT_SECRET, API_KEY, SIGNING],
        stream=out,
    )
    yield out
    configure_test_logging()


def assert_clean(text: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in text, f"secret leaked: {secret[:8]}…\n{text}"
    assert REDACTED in text


def test_structlog_event_values_are_scrubbed(captured: io.StringIO) -> None:
    log = structlog.get_logger("test")
    log.info("gloo.request", headers={"Authorization": f"Bearer {BEARER}"})
    log.info("slack.start", token=SLACK_BOT, app_token=SLACK_APP)
    log.warning("oauth", body=f"grant_type=client_credentials&client_secret={CLIENT_SECRET}")
    message = f"failed with key {API_KEY} and signing secret {SIGNING}"
    log.error(message)
    log.info("discord.login", note=f"using {DISCORD}")
    log.info("nested", payload={"inner": [{"x": f"Bearer {BEARER}"}], "list": (SLACK_APP,)})
    assert_clean(captured.getvalue())
    assert "gloo.request" in captured.getvalue()


def test_stdlib_loggers_of_libraries_are_scrubbed(captured: io.StringIO) -> None:
    logging.getLogger("slack_sdk.web").warning("Sending a request with token %s", SLACK_BOT)
    logging.getLogger("discord.http").error("Authorization: Bot %s", DISCORD)
    logging.getLogger("some.lib").warning('{"access_token": "%s", "x": 1}', BEARER)
    assert_clean(captured.getvalue())


def test_exceptions_and_tracebacks_are_scrubbed(captured: io.StringIO) -> None:
    log = structlog.get_logger("test")
    try:
        raise RuntimeError(f"token refused: Bearer {BEARER} / {CLIENT_SECRET}")
    except RuntimeError:
        log.exception("boom")
    try:
        raise ValueError(f"bad {SLACK_BOT}")
    except ValueError as exc:
        log.warning("caught", error=exc)
    assert_clean(captured.getvalue())
    assert "boom" in captured.getvalue()


def test_json_lines_stay_valid_json() -> None:
    out = io.StringIO()
    configure_logging(level="INFO", fmt="json", secrets=[CLIENT_SECRET], stream=out)
    try:
        structlog.get_logger("t").info("x", secret_value=CLIENT_SECRET, n=3)
        record = json.loads(out.getvalue().strip().splitlines()[-1])
    finally:
        configure_test_logging()
    assert record["event"] == "x"
    assert record["n"] == 3
    assert record["secret_value"] == REDACTED


def test_secret_named_keys_are_redacted_whatever_the_value() -> None:
    redactor = Redactor()
    event = redactor(None, "info", {"event": "e", "client_secret": "short", "password": "pw"})
    assert event["client_secret"] == REDACTED
    assert event["password"] == REDACTED


def test_harmless_text_is_left_alone() -> None:
    redactor = Redactor(secrets=[CLIENT_SECRET])
    text = "What is grace? The token of friendship is kindness."
    assert redactor.scrub(text) == text


def test_passwords_in_urls_and_traceback_locals_are_not_logged(captured: io.StringIO) -> None:
    log = structlog.get_logger("test")
    database_url = "postgresql+psycopg://app:s3cr3t-pw@db.internal:5432/gloo"

    def connect(url: str) -> None:
        raise ConnectionError(f"cannot reach {url}")

    try:
        connect(database_url)
    except ConnectionError:
        log.exception("store.open_failed", database=database_url)
    out = captured.getvalue()
    assert "s3cr3t-pw" not in out
    assert "postgresql+psycopg://app:[REDACTED]@db.internal:5432/gloo" in out


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql+asyncpg://app:pa/ss-w0rd@db.internal:5432/gloo", "pa/ss-w0rd"),
        ("postgresql+asyncpg://app:p@ssw0rd@db.internal:5432/gloo", "p@ssw0rd"),
        ("postgresql://app:a/b@c:d@db.internal/gloo?sslmode=require", "a/b@c:d"),
        ("postgresql://app:/leading-slash@db.internal/gloo", "/leading-slash"),
        ("postgresql://app:pct%2Fenc%40oded@db/gloo", "pct%2Fenc%40oded"),
    ],
)
def test_database_passwords_holding_slashes_or_ats_are_redacted(
    captured: io.StringIO, url: str, password: str
) -> None:
    # Issue 24 finding 9. Before: "/" stopped the URL pattern (the password was logged
    # whole), "@" ended it early (the part after the first "@" was logged).
    structlog.get_logger("test").error("store.open_failed", database=url)
    logging.getLogger("sqlalchemy.pool").debug("connecting to %s", url)
    out = captured.getvalue()
    for piece in [password, *re.split("[/@%:]", password)]:  # no part of it either
        if len(piece) >= 3:
            assert piece not in out, (piece, out)
    assert f"://app:{REDACTED}@" in out
    assert "db" in out  # the host stays readable


def test_urls_without_a_password_are_left_alone() -> None:
    redactor = Redactor()
    for text in (
        "GET http://127.0.0.1:8080/api/v10/users/@me has returned 200",
        "https://discord.com/api/v10/users/@me",
        "https://host:443/search?mail=someone@example.org",
        "postgresql://app@db.internal/gloo",
    ):
        assert redactor.scrub(text) == text


def test_slack_socket_mode_urls_keep_no_ticket(captured: io.StringIO) -> None:
    # apps.connections.open's "Common successful response" (api.slack.com/methods/
    # apps.connections.open): {"ok": true, "url": "wss://…/link/?ticket=…&app_id=…"}, which
    # slack_sdk logs at DEBUG ("Received the following response - … body: …").
    ticket = "5f3c2d1e-0a9b-4c8d-b7e6-f5a4b3c2d1e0"
    url = f"wss://wss-primary.slack.com/link/?ticket={ticket}&app_id=A0123ABCD"
    sdk = logging.getLogger("slack_sdk.web.async_base_client")
    sdk.debug("Received the following response - status: 200, body: %s", {"ok": True, "url": url})
    sdk.debug('raw: {"ok":true,"url":"%s"}', url.replace("/", "\\/"))
    structlog.get_logger("bots.slack").debug("slack.socket", url=url.replace("wss", "ws", 1))
    out = captured.getvalue()
    assert ticket not in out
    assert "wss://wss-primary.slack.com/link/?" in out


def test_settings_know_the_database_password_whatever_it_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.settings import Settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://app:12/34@x@db.internal/gloo")
    secrets = Settings(_env_file=None).secret_values()
    assert "12/34@x" in secrets
    # Digits then "/" read like a port to the URL pattern; the known secret still goes.
    redactor = Redactor(secrets)
    assert "12/34@x" not in redactor.scrub("cannot reach postgresql://app:12/34@x@db.internal")
    assert url_passwords("postgresql://app:p%40ss@db/g") == ["p%40ss", "p@ss"]
    assert url_passwords("sqlite+aiosqlite:///./gloo.db") == []
    assert url_passwords("postgresql://app@db/g") == []


# An interaction token as Discord issues them (base64url of "interaction:<id>:<random>").
INTERACTION_TOKEN = (
    "aW50ZXJhY3Rpb246MTMwMDAwMDAwMDAwMDAwMDAwMTpaWnNOM2Q0dkxmR2hUcE1xN3dYeUtiVjJlUjl1QTZjU"
    "GpIblk4dEUxb1dxTDVrRjN4Qzdt"
)
WEBHOOK_TOKEN = "Xk3vQ9rT2mYpL8wZ1cN5bH7jF0dS4gA6eU-iO_tR3yW9qE2xV5nM8kB1zC4hJ7lP0aD6"
SLACK_USER = "xoxp-2222222222-3333333333-4444444444-0123456789abcdef0123456789abcdef"


def test_discord_py_debug_lines_keep_no_interaction_or_webhook_token(
    captured: io.StringIO,
) -> None:
    # The format strings of discord.py 2.6/2.7 (discord/http.py, discord/webhook/async_.py,
    # discord/gateway.py), with the URLs Discord documents for interaction responses.
    base = "https://discord.com/api/v10"
    callback = f"{base}/interactions/1300000000000000099/{INTERACTION_TOKEN}/callback"
    original = f"{base}/webhooks/900000000000000001/{INTERACTION_TOKEN}/messages/@original"
    webhook = f"{base}/webhooks/1200000000000000777/{WEBHOOK_TOKEN}"
    http = logging.getLogger("discord.http")
    http.debug("%s %s with %s has returned %s", "POST", callback, '{"type": 5}', 204)
    http.debug("%s %s has received %s", "PATCH", original, {"id": "1"})
    hooks = logging.getLogger("discord.webhook.async_")
    hooks.debug("Webhook ID %s with %s %s has returned status code %s", "9", "PATCH", original, 200)
    hooks.debug("Webhook ID %s with %s %s has returned status code %s", "9", "POST", webhook, 200)
    event = {
        "t": "INTERACTION_CREATE",
        "d": {"id": "1300000000000000099", "token": INTERACTION_TOKEN},
    }
    logging.getLogger("discord.gateway").debug("For Shard ID %s: WebSocket Event: %s", None, event)
    structlog.get_logger("bots.discord").info("discord.followup", url=webhook)
    out = captured.getvalue()
    assert INTERACTION_TOKEN not in out
    assert INTERACTION_TOKEN[:24] not in out
    assert WEBHOOK_TOKEN not in out
    assert f"/interactions/1300000000000000099/{REDACTED}/callback" in out
    # The rest of the URL stays readable (no "password in URL" mangling of "@original").
    assert f"{base}/webhooks/900000000000000001/{REDACTED}/messages/@original" in out


def test_user_tokens_jwts_and_authorization_headers_are_scrubbed(captured: io.StringIO) -> None:
    log = logging.getLogger("some.lib")
    log.info("installed with %s", SLACK_USER)
    log.info("gloo token %s", BEARER)  # a JWT, whatever surrounds it
    log.info("headers %s", {"Authorization": f"Bot {DISCORD}", "bot_token": SLACK_BOT})
    log.info('{"interaction_token": "%s", "signing_secret": "%s"}', INTERACTION_TOKEN, SIGNING)
    out = captured.getvalue()
    for secret in (SLACK_USER, BEARER, DISCORD, SLACK_BOT, INTERACTION_TOKEN, SIGNING):
        assert secret not in out, secret[:8]


def test_slack_response_urls_and_webhooks_are_scrubbed(captured: io.StringIO) -> None:
    # response_url as in Slack's block_actions and slash-command payloads (the recorded ones
    # in tests/bots/slack/payloads), raw JSON escapes its slashes ("https:\/\/hooks...").
    action = "https://hooks.slack.com/actions/T0TEAM001/6083412345/Zk8sQw3vR2xYpL1mN0bT"
    command = "https://hooks.slack.com/commands/T0TEAM001/6083499999/Hh7gF6dS5aQ4wE3rT2yU"
    hook = "https://hooks.slack.com/services/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"
    escaped = command.replace("/", "\\/")
    logging.getLogger("slack_bolt.App").debug("payload: %s", {"response_url": action})
    logging.getLogger("slack_bolt.App").debug('body: {"response_url":"%s"}', escaped)
    structlog.get_logger("bots.slack").info("slack.notify", url=hook)
    out = captured.getvalue()
    for secret in ("Zk8sQw3vR2xYpL1mN0bT", "Hh7gF6dS5aQ4wE3rT2yU", "Xx9cV8bN7mQ6wE5rT4yU3iO2"):
        assert secret not in out
    assert f"https://hooks.slack.com/actions/{REDACTED}" in out


def _crash_in_a_thread(error: BaseException) -> None:
    def run() -> None:
        raise error

    thread = threading.Thread(target=run, name="worker")
    thread.start()
    thread.join()


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_a_thread_that_dies_is_a_log_line_with_its_traceback_at_debug_only(
    level: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)  # restored after
    out = io.StringIO()
    configure_logging(level=level, stream=out)
    log_thread_failures()
    # aiosqlite's worker answering a loop the process already closed (a failed connect's
    # stop, racing the exit): nothing to say unless debugging.
    _crash_in_a_thread(RuntimeError(LOOP_CLOSED))
    _crash_in_a_thread(ValueError("boom"))
    configure_test_logging()
    logged = out.getvalue()
    assert "Exception in thread" not in capsys.readouterr().err
    assert "thread.failed thread=worker error=ValueError('boom')" in logged
    assert ("thread.after_loop_closed" in logged) == (level == "DEBUG")
    assert ("Traceback (most recent call last)" in logged) == (level == "DEBUG")
