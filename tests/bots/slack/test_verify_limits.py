"""Unauthenticated requests cannot pin memory or connections (issue 24, finding 1).

Before: any fresh ``X-Slack-Request-Timestamp`` and any ``v0=`` + 64 hex digits passed the
header check, the body was then read (up to 1 MiB) with no deadline before its HMAC could be
checked, and aiohttp kept connections for its default 3,630 s: 150 stalled bodies took the
process from 56 to 206 MiB and were all still open 20 s later.

Now (bots/slack/verify.py, core/web.py): the whole body must arrive within the read deadline
(408, connection closed), at most ``max_concurrent_reads`` bodies are read at once (more get
503 at once, unread), a missing or stale timestamp or a ``Content-Length`` over the cap is
refused before a byte of the body is read, and an idle connection is closed after the
keepalive timeout.

These tests talk raw HTTP/1.1 over real sockets to a server on an ephemeral port, with
deadlines injected through the constructors (or the settings ``SLACK_BODY_TIMEOUT``,
``SLACK_MAX_BODY_READS``, ``SLACK_MAX_BODY_BYTES`` and ``WEB_KEEPALIVE_TIMEOUT`` of a whole
served process) so they take well under 2 s. The headers are Slack's v0 scheme
(docs.slack.dev "Verifying requests from Slack"); the signature is well formed but wrong, as
an attacker's would be.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bots.slack.verify import (
    BODY_READ_TIMEOUT_S,
    MAX_BODY_BYTES,
    MAX_CONCURRENT_READS,
    SlackRequestVerifier,
)
from core.settings import Settings
from core.simulator import Simulator
from core.web import WebServer, start_web
from tests.bots.slack.fake_slack import FakeSlack
from tests.bots.slack.support import SIGNING_SECRET, slack_process

EVENTS = "/slack/events"
#: The deadlines the servers under test are given (seconds).
READ_DEADLINE = 0.4
LINGER = 0.2
KEEPALIVE = 0.4
#: Generous upper bound for "closed promptly after the deadline" on a loaded machine.
SLACK = 1.0
#: How long one wait on a socket may take; it paces the trickle, too.
TICK = 0.05
#: How long :func:`watch` waits after an answer to see whether the server closes at once.
CLOSE_WAIT = 0.3
FORGED_SIGNATURE = "v0=" + "0" * 64


@dataclass
class Outcome:
    """What one connection saw: the response bytes, when they began to arrive and when the
    server closed the connection."""

    response: bytes
    closed_after: float | None  # None: still open when the test gave up
    answered_after: float | None = None  # None: no byte of a response came


class Bolt:
    """Stands in for bolt's dispatch: the tests only need to know it is never reached."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, request: AsyncBoltRequest) -> BoltResponse:
        self.calls += 1
        return BoltResponse(status=200, body="")


@asynccontextmanager
async def events_server(bolt: Bolt, *, max_concurrent_reads: int = 32) -> AsyncIterator[WebServer]:
    verifier = SlackRequestVerifier(
        SIGNING_SECRET, read_timeout=READ_DEADLINE, max_concurrent_reads=max_concurrent_reads
    )
    app = web.Application()
    app.router.add_post(EVENTS, verifier.handler(bolt))
    async with await start_web(
        app, "127.0.0.1", 0, keepalive_timeout=KEEPALIVE, lingering_time=LINGER
    ) as server:
        yield server


def request_head(
    *, length: int, timestamp: str | None = None, signature: str = FORGED_SIGNATURE
) -> bytes:
    stamp = str(int(time.time())) if timestamp is None else timestamp
    lines = [
        f"POST {EVENTS} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {length}",
    ]
    if stamp:
        lines.append(f"X-Slack-Request-Timestamp: {stamp}")
    lines.append(f"X-Slack-Signature: {signature}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def watch(
    port: int, head: bytes, *, trickle: bool, give_up: float, until_answer: bool = False
) -> Outcome:
    """Send ``head`` (then one body byte per :data:`TICK` when ``trickle``) and read until the
    server closes the connection (or, with ``until_answer``, until the response's head is in)
    or ``give_up`` seconds pass."""
    started = time.monotonic()  # before the server's timers start
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    response = b""
    answered: float | None = None

    def outcome(closed: bool) -> Outcome:
        return Outcome(response, time.monotonic() - started if closed else None, answered)

    try:
        writer.write(head)
        await writer.drain()
        while time.monotonic() - started < give_up:
            if trickle:
                try:
                    writer.write(b"{")
                    await writer.drain()
                except ConnectionError:
                    return outcome(closed=True)
            try:
                data = await asyncio.wait_for(reader.read(65536), TICK)
            except TimeoutError:
                continue
            except ConnectionError:
                return outcome(closed=True)
            if not data:
                return outcome(closed=True)
            if answered is None:
                answered = time.monotonic() - started
            response += data
            if until_answer and b"\r\n\r\n" in response:
                # A connection closed right after its answer is seen closed; one the server
                # keeps draining is left before the drain ends.
                try:
                    closed = not await asyncio.wait_for(reader.read(65536), CLOSE_WAIT)
                except TimeoutError:
                    closed = False
                except ConnectionError:
                    closed = True
                return outcome(closed=closed)
        return outcome(closed=False)
    finally:
        writer.close()


def status(outcome: Outcome) -> int:
    line = outcome.response.split(b"\r\n", 1)[0].decode()
    return int(line.split()[1]) if line.startswith("HTTP/1.1 ") else 0


async def test_trickled_bodies_get_408_and_are_closed_at_the_deadline() -> None:
    bolt = Bolt()
    async with events_server(bolt) as server:
        outcomes = await asyncio.gather(
            *(
                watch(server.port, request_head(length=100_000), trickle=True, give_up=3.0)
                for _ in range(20)
            )
        )
    assert {status(o) for o in outcomes} == {408}
    closed = [o.closed_after for o in outcomes]
    assert None not in closed, "a trickling connection was still open after 3 s"
    assert all(c is not None and READ_DEADLINE <= c < READ_DEADLINE + SLACK for c in closed)
    assert all(b"connection: close" in o.response.lower() for o in outcomes)
    assert bolt.calls == 0


async def test_bodies_beyond_the_read_cap_get_503_at_once_unread() -> None:
    bolt = Bolt()
    async with events_server(bolt, max_concurrent_reads=4) as server:
        outcomes = await asyncio.gather(
            *(
                watch(server.port, request_head(length=1024 * 1024), trickle=True, give_up=3.0)
                for _ in range(10)
            )
        )
    statuses = sorted(status(o) for o in outcomes)
    assert statuses == [408] * 4 + [503] * 6
    for outcome in outcomes:
        assert outcome.closed_after is not None
        if status(outcome) == 503:
            # Answered without waiting for the body; closed once the short drain is over.
            assert outcome.closed_after < READ_DEADLINE + SLACK
            assert b"retry-after: 1" in outcome.response.lower()
    assert bolt.calls == 0


async def test_missing_or_stale_timestamps_and_oversized_lengths_are_refused_unread() -> None:
    stale = str(int(time.time()) - 6 * 60)
    cases = {
        "no timestamp": (request_head(length=1000, timestamp=""), 401),
        "stale timestamp": (request_head(length=1000, timestamp=stale), 401),
        "malformed signature": (request_head(length=1000, signature="v0=abc"), 401),
        "Content-Length over 1 MiB": (request_head(length=1024 * 1024 + 1), 413),
    }
    bolt = Bolt()
    async with events_server(bolt) as server:
        # Only the headers are sent: an answer at all proves the body was not waited for.
        outcomes = await asyncio.gather(
            *(watch(server.port, head, trickle=False, give_up=3.0) for head, _ in cases.values())
        )
    for (name, (_, expected)), outcome in zip(cases.items(), outcomes, strict=True):
        assert status(outcome) == expected, name
        assert outcome.closed_after is not None, name
        assert outcome.closed_after < READ_DEADLINE + SLACK, name
    assert bolt.calls == 0


async def test_a_served_process_closes_idle_connections_after_web_keepalive_timeout(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # The whole `gloo-bots slack` process: WEB_KEEPALIVE_TIMEOUT reaches the runner. One
    # connection never sends a byte, one sends half its headers, one is idle after an answer.
    async with slack_process(sqlite_url, fake_slack, sim, web_keepalive_timeout=KEEPALIVE) as p:
        assert p.runtime.web_url is not None
        port = int(p.runtime.web_url.rsplit(":", 1)[1])
        silent, half, idle = await asyncio.gather(
            watch(port, b"", trickle=False, give_up=3.0),
            watch(port, b"GET /healthz HTTP/1.1\r\nHost: 1", trickle=False, give_up=3.0),
            watch(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", trickle=False, give_up=3.0),
        )
    assert status(idle) == 200
    for outcome in (silent, half, idle):
        assert outcome.closed_after is not None
        assert KEEPALIVE <= outcome.closed_after < KEEPALIVE + SLACK


async def test_a_burst_of_small_events_is_never_refused_for_room() -> None:
    # 40 bodies of Slack's size (a few KB) read at once against room for 4 full-size
    # bodies: the cap is on bytes, so none of them is refused (was 503 past the 32nd).
    bolt = Bolt()
    async with events_server(bolt, max_concurrent_reads=4) as server:
        outcomes = await asyncio.gather(
            *(
                watch(server.port, request_head(length=4_000), trickle=True, give_up=3.0)
                for _ in range(40)
            )
        )
    assert sorted(status(o) for o in outcomes) == [408] * 40


async def test_a_served_process_applies_the_slack_request_limit_settings(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # The whole `gloo-bots slack` process in HTTP mode: SLACK_BODY_TIMEOUT,
    # SLACK_MAX_BODY_READS and SLACK_MAX_BODY_BYTES reach the verifier. Five bodies stall
    # after their headers against room for two: two are read and cut off at the deadline
    # (408, closed), three are answered 503 at once, before any deadline; a declared length
    # over the cap is 413 unread.
    cap = 64 * 1024
    async with slack_process(
        sqlite_url,
        fake_slack,
        sim,
        slack_body_timeout=READ_DEADLINE,
        slack_max_body_reads=2,
        slack_max_body_bytes=cap,
    ) as p:
        assert p.runtime.web_url is not None
        port = int(p.runtime.web_url.rsplit(":", 1)[1])
        stalled, (oversized,) = await asyncio.gather(
            asyncio.gather(
                *(
                    watch(
                        port,
                        request_head(length=cap),
                        trickle=False,
                        give_up=3.0,
                        until_answer=True,
                    )
                    for _ in range(5)
                )
            ),
            asyncio.gather(
                watch(
                    port,
                    request_head(length=cap + 1),
                    trickle=False,
                    give_up=3.0,
                    until_answer=True,
                )
            ),
        )
    assert sorted(status(o) for o in stalled) == [408] * 2 + [503] * 3
    for outcome in stalled:
        assert outcome.answered_after is not None
        if status(outcome) == 408:
            assert outcome.closed_after is not None
            assert READ_DEADLINE <= outcome.closed_after < READ_DEADLINE + SLACK
        else:
            assert outcome.answered_after < READ_DEADLINE
            assert b"retry-after: 1" in outcome.response.lower()
    assert status(oversized) == 413
    assert not p.fake.calls_to("chat.postMessage", "chat.startStream")


def test_the_settings_defaults_are_the_verifiers_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # core/settings.py cannot import the Slack adapter, so the defaults are written twice.
    for name in ("SLACK_BODY_TIMEOUT", "SLACK_MAX_BODY_BYTES", "SLACK_MAX_BODY_READS"):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings(_env_file=None)
    assert defaults.slack_body_timeout == BODY_READ_TIMEOUT_S
    assert defaults.slack_max_body_bytes == MAX_BODY_BYTES
    assert defaults.slack_max_body_reads == MAX_CONCURRENT_READS
    # Slack wants an answer within 3 s (docs.slack.dev, Bolt for Python "Acknowledging
    # requests"): the read deadline is a few seconds, not minutes.
    assert 3 <= BODY_READ_TIMEOUT_S <= 10
