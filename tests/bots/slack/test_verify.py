"""Slack HTTP requests are verified before bolt parses them (bots/slack/verify.py).

Issue 14, finding 5: bolt logged the whole body of every unsigned request at INFO (a 900 KB
line from one POST), and an unsigned body of malformed JSON, a bad form ``payload`` or a
timestamp of ``abc`` got 500 and a traceback, because bolt parses before it checks the
signature. The contract is Slack's v0 scheme (docs.slack.dev "Verifying requests from
Slack": ``v0=`` + hex HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{raw body}`` with the
signing secret; refuse a timestamp more than five minutes from now), the same one slack_sdk's
``SignatureVerifier`` implements — the tests sign with it.

Each request goes to a whole ``gloo-bots slack`` process; the log output of the process is
captured and checked for the body (a marker) and for tracebacks.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from core.simulator import Simulator
from tests.bots.slack.fake_slack import BOT_USER_ID, FakeSlack
from tests.bots.slack.support import ALICE, CHANNEL, SIGNING_SECRET, event, slack_process
from tests.logcapture import CapturedLogs

MARKER = "BODY-MARKER-5f1c9e"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Answer:
    status: int
    text: str


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything the process logs at any level, rendered as in production."""
    logs = CapturedLogs()
    try:
        yield logs.stream
    finally:
        logs.close()


def signed(
    body: bytes, *, timestamp: str | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    """Slack's v0 signature of raw ``body`` bytes (the docs' formula; slack_sdk's
    ``SignatureVerifier.generate_signature`` gives the same for UTF-8 bodies)."""
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def test_the_signature_is_the_one_slack_sdk_makes() -> None:
    body = b'{"type": "url_verification"}'
    expected = SignatureVerifier(SIGNING_SECRET).generate_signature(
        timestamp="1531420618", body=body
    )
    assert signed(body, timestamp="1531420618")["X-Slack-Signature"] == expected


async def post(url: str, body: bytes, content_type: str, headers: dict[str, str]) -> Answer:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers={"Content-Type": content_type, **headers}) as r,
    ):
        return Answer(r.status, await r.text())


def malformed_json() -> bytes:
    return ('{"type": "event_callback", "event": {"text": "' + MARKER).encode()


def bad_payload_form() -> bytes:
    return ("payload=%7Bnot+json+" + MARKER).encode()


def now() -> str:
    return str(int(time.time()))


UNAUTHENTICATED: list[Any] = [
    pytest.param(malformed_json(), JSON, {}, id="unsigned-malformed-json"),
    pytest.param(bad_payload_form(), FORM, {}, id="unsigned-bad-form-payload"),
    pytest.param(
        json.dumps({"type": "event_callback", "note": MARKER * 40_000}).encode(),
        JSON,
        {},
        id="unsigned-900kb",
    ),
    pytest.param(
        malformed_json(),
        JSON,
        {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=" + "0" * 64},
        id="timestamp-abc",
    ),
    pytest.param(
        malformed_json(),
        JSON,
        {"X-Slack-Request-Timestamp": "١٧٠٠٠٠٠٠٠٠", "X-Slack-Signature": "v0=" + "0" * 64},
        id="timestamp-not-ascii-digits",
    ),
    pytest.param(
        bad_payload_form(),
        FORM,
        {"X-Slack-Request-Timestamp": now(), "X-Slack-Signature": "v1=abc"},
        id="malformed-signature",
    ),
    pytest.param(
        bad_payload_form(),
        FORM,
        signed(bad_payload_form(), timestamp=str(int(time.time()) - 6 * 60)),
        id="stale-timestamp",
    ),
    pytest.param(
        bad_payload_form(),
        FORM,
        signed(bad_payload_form(), secret="not-the-signing-secret"),
        id="wrong-secret",
    ),
    pytest.param(
        bad_payload_form(),
        FORM,
        {"X-Slack-Request-Timestamp": now()},
        id="no-signature",
    ),
]


@pytest.mark.parametrize(("body", "content_type", "headers"), UNAUTHENTICATED)
async def test_unauthenticated_requests_get_401_and_leave_no_body_in_the_log(
    sqlite_url: str,
    fake_slack: FakeSlack,
    sim: Simulator,
    log_output: io.StringIO,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await post(slack.events_url, body, content_type, headers)
        await slack.settle()
        output = log_output.getvalue()  # (before the process stops and logs its shutdown)
    assert answer.status == 401
    assert MARKER not in answer.text
    assert "slack.request_refused" in output
    assert MARKER not in output
    assert "Traceback" not in output
    assert max(len(line) for line in output.splitlines()) < 2_000
    assert fake_slack.calls_to("chat.postMessage", "chat.startStream") == []


def _signed_case(body: bytes, content_type: str, case_id: str) -> Any:
    return pytest.param(body, content_type, id=case_id)


SIGNED_MALFORMED: list[Any] = [
    _signed_case(malformed_json(), JSON, "malformed-json"),
    _signed_case(b'["' + MARKER.encode() + b'"]', JSON, "json-array"),
    _signed_case(bad_payload_form(), FORM, "bad-form-payload"),
    _signed_case(
        ("payload=" + json.dumps(["not", "an", "object", MARKER])).encode(), FORM, "payload-array"
    ),
    _signed_case(
        ("payload=" + json.dumps({"type": "block_actions", "actions": MARKER})).encode(),
        FORM,
        "actions-not-a-list",
    ),
    _signed_case(
        ("payload=" + json.dumps({"type": "block_actions", "user": MARKER})).encode(),
        FORM,
        "user-not-an-object",
    ),
    _signed_case(
        json.dumps(
            {"type": "event_callback", "event": {"type": "app_mention", "ts": 1.5, "text": MARKER}}
        ).encode(),
        JSON,
        "event-ts-a-number",
    ),
    _signed_case(
        json.dumps(
            {"type": "event_callback", "event": {"type": "message", "text": MARKER}}
        ).encode(),
        JSON,
        "message-without-channel",
    ),
    _signed_case(
        json.dumps({"type": "event_callback", "event": MARKER}).encode(), JSON, "event-a-string"
    ),
    _signed_case(
        b'{"type": "event_callback", "x": "\xff\xfe ' + MARKER.encode() + b'"}', JSON, "not-utf8"
    ),
]


@pytest.mark.parametrize(("body", "content_type"), SIGNED_MALFORMED)
async def test_signed_but_malformed_requests_get_400_without_a_traceback(
    sqlite_url: str,
    fake_slack: FakeSlack,
    sim: Simulator,
    log_output: io.StringIO,
    body: bytes,
    content_type: str,
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await post(slack.events_url, body, content_type, signed(body))
        await slack.settle()
        output = log_output.getvalue()
    assert answer.status == 400
    assert "slack.request_refused" in output
    assert MARKER not in output
    assert "Traceback" not in output
    assert sim.asked == []


async def test_a_body_over_the_cap_gets_413_before_it_is_read(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator, log_output: io.StringIO
) -> None:
    body = json.dumps({"type": "event_callback", "note": MARKER * 70_000}).encode()  # 1.2 MB
    assert len(body) > 1024 * 1024
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await post(slack.events_url, body, JSON, signed(body))
    assert answer.status == 413
    assert MARKER not in log_output.getvalue()


async def test_signed_requests_still_work_url_verification_and_a_mention(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator, log_output: io.StringIO
) -> None:
    # The url_verification handshake Slack sends when the Request URL is set
    # (docs.slack.dev, "url_verification event"): the challenge comes back.
    challenge = {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        verified = await slack.event(challenge)
        mention = await slack.event(
            event("app_mention", ts="1700000500.000100", user=ALICE, text=f"<@{BOT_USER_ID}> Hi?")
        )
        await slack.settle()
    assert verified.status == 200
    assert challenge["challenge"] in verified.text
    assert mention.status == 200
    assert len(fake_slack.in_thread(CHANNEL, "1700000500.000100")) == 1
    assert "slack.request_refused" not in log_output.getvalue()
