"""The fake Slack enforces the Web API's published rate limits, per workspace and method.

Every number comes from docs.slack.dev (see :mod:`devtools.slack.fake`): the tiers from
apis/web-api/rate-limits ("Overview": Tier 2 20+, Tier 3 50+, Tier 4 100+ per minute) and
each method's reference page (reference/methods/NAME, "Rate Limits"). Over a limit Slack
answers HTTP 429 with ``Retry-After`` (seconds) and ``{"ok": false, "error": "ratelimited"}``
(apis/web-api/rate-limits, "Responding to rate limiting conditions").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from devtools.slack.fake import (
    BOT_TOKEN,
    TEAM_ID,
    FakeSlack,
    SlackLimits,
    Team,
)
from tests.clock import FakeClock

OTHER_TOKEN = "xoxb-other-team"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def slack(clock: FakeClock) -> AsyncIterator[FakeSlack]:
    teams = {BOT_TOKEN: Team(TEAM_ID), OTHER_TOKEN: Team("T0OTHER01")}
    fake = await FakeSlack(teams, clock=clock).start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    fake: FakeSlack,
    method: str,
    args: dict[str, Any] | None = None,
    token: str = BOT_TOKEN,
) -> tuple[int, str | None, dict[str, Any]]:
    """One Web API call: its status, ``Retry-After`` and body."""
    async with http.post(
        fake.api_url + method,
        json=args or {},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        return response.status, response.headers.get("Retry-After"), await response.json()


def assert_ratelimited(answer: tuple[int, str | None, dict[str, Any]], retry_after: int) -> None:
    status, header, body = answer
    assert status == 429
    assert header == str(retry_after)
    assert body == {"ok": False, "error": "ratelimited"}


# method, its per-minute limit per workspace (docs.slack.dev/reference/methods/NAME), args
TIERED = [
    # chat.startStream: Tier 2 (20+ per minute)
    ("chat.startStream", 20, {"channel": "C1", "thread_ts": "1.1", "markdown_text": "hi"}),
    # chat.stopStream: Tier 2 (20+ per minute)
    ("chat.stopStream", 20, {"channel": "C1", "ts": "9.9"}),
    # chat.update: Tier 3 (50+ per minute)
    ("chat.update", 50, {"channel": "C1", "ts": "9.9", "text": "x"}),
    # reactions.add: Tier 3 (50+ per minute)
    ("reactions.add", 50, {"channel": "C1", "timestamp": "1.1", "name": "eyes"}),
    # conversations.info: Tier 3 (50+ per minute)
    ("conversations.info", 50, {"channel": "C1"}),
    # assistant.threads.setTitle: Tier 4 (100+ per minute)
    (
        "assistant.threads.setTitle",
        100,
        {"channel_id": "D1", "thread_ts": "1.1", "title": "Hope"},
    ),
    # chat.appendStream: Tier 4 (100+ per minute)
    ("chat.appendStream", 100, {"channel": "C1", "ts": "9.9", "markdown_text": "x"}),
]


@pytest.mark.parametrize(("method", "limit", "args"), TIERED, ids=[t[0] for t in TIERED])
async def test_a_tiered_method_allows_its_limit_a_minute_per_workspace(
    slack: FakeSlack,
    http: aiohttp.ClientSession,
    clock: FakeClock,
    method: str,
    limit: int,
    args: dict[str, Any],
) -> None:
    for n in range(limit):
        status, _, _ = await call(http, slack, method, args)
        assert status == 200, n  # the Nth call passes (whatever its own answer)
        clock.advance(0.5)
    waited = 0.5 * limit
    assert_ratelimited(await call(http, slack, method, args), 60 - int(waited))

    other_workspace = await call(http, slack, method, args, token=OTHER_TOKEN)
    assert other_workspace[0] == 200  # the limit is per workspace
    another_method = await call(http, slack, "chat.postEphemeral", {"channel": "C1"})
    assert another_method[0] == 200  # and per method

    clock.advance(60 - waited)  # the first call leaves the window
    assert (await call(http, slack, method, args))[0] == 200
    assert_ratelimited(await call(http, slack, method, args), 1)  # the second one: 0.5 s more

    use = slack.usage[(TEAM_ID, method)]
    assert (use.calls, use.rate_limited) == (limit + 3, 2)
    assert slack.count_429(method) == 2
    assert slack.calls_by_method()[method] == limit + 4


async def test_post_message_allows_one_a_second_per_channel_after_a_burst_of_two(
    slack: FakeSlack, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    # docs.slack.dev/apis/web-api/rate-limits: chat.postMessage "one message per second per
    # channel"; "Posting messages: 1 per second; short bursts >1 allowed" (no size named:
    # the smallest such burst, 2).
    post = {"channel": "C1", "text": "hello"}
    assert (await call(http, slack, "chat.postMessage", post))[0] == 200
    assert (await call(http, slack, "chat.postMessage", post))[0] == 200
    assert_ratelimited(await call(http, slack, "chat.postMessage", post), 1)
    other_channel = await call(http, slack, "chat.postMessage", {**post, "channel": "C2"})
    assert other_channel[0] == 200

    clock.advance(1.0)
    assert (await call(http, slack, "chat.postMessage", post))[0] == 200
    assert_ratelimited(await call(http, slack, "chat.postMessage", post), 1)
    clock.advance(0.5)
    assert_ratelimited(await call(http, slack, "chat.postMessage", post), 1)
    clock.advance(0.5)
    assert (await call(http, slack, "chat.postMessage", post))[0] == 200
    assert len([m for m in slack.messages.values() if m.channel == "C1"]) == 4


async def test_set_status_allows_sixty_a_minute_per_channel(
    slack: FakeSlack, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    # reference/methods/assistant.threads.setStatus: "Special rate limits apply"; the Java
    # SDK keys them per workspace and channel, slack-morphism allows 1 a second: 60 a minute.
    status = {"channel_id": "D1", "thread_ts": "1.1", "status": "is thinking..."}
    for _ in range(60):
        assert (await call(http, slack, "assistant.threads.setStatus", status))[0] == 200
    assert_ratelimited(await call(http, slack, "assistant.threads.setStatus", status), 60)
    other = await call(http, slack, "assistant.threads.setStatus", {**status, "channel_id": "D2"})
    assert other[0] == 200
    clock.advance(60)
    assert (await call(http, slack, "assistant.threads.setStatus", status))[0] == 200


async def test_history_keeps_one_call_a_minute_for_apps_outside_the_marketplace(
    slack: FakeSlack, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    # changelog 2025-05-29, "Rate limit changes for non-Marketplace apps": 1 request a minute.
    replies = {"channel": "C1", "ts": "1.1"}
    assert (await call(http, slack, "conversations.replies", replies))[0] == 200
    clock.advance(59.5)
    assert_ratelimited(await call(http, slack, "conversations.replies", replies), 1)
    clock.advance(0.5)
    assert (await call(http, slack, "conversations.replies", replies))[0] == 200


async def test_history_of_a_marketplace_app_is_tier_3(http: aiohttp.ClientSession) -> None:
    # reference/methods/conversations.replies: Tier 3 (50+ per minute) for Marketplace apps.
    clock = FakeClock()
    fake = await FakeSlack(history_per_minute=None, clock=clock).start()
    try:
        replies = {"channel": "C1", "ts": "1.1"}
        for _ in range(50):
            assert (await call(http, fake, "conversations.replies", replies))[0] == 200
        assert_ratelimited(await call(http, fake, "conversations.replies", replies), 60)
    finally:
        await fake.close()


async def test_limits_can_be_changed_or_lifted(http: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    lifted = await FakeSlack(limits=None, clock=clock).start()
    narrow = await FakeSlack(
        limits=SlackLimits(per_minute={"chat.startStream": 1}, post_message=None), clock=clock
    ).start()
    try:
        start = {"channel": "C1", "thread_ts": "1.1", "markdown_text": "hi"}
        for _ in range(25):
            assert (await call(http, lifted, "chat.startStream", start))[0] == 200
        assert lifted.count_429() == 0

        assert (await call(http, narrow, "chat.startStream", start))[0] == 200
        assert_ratelimited(await call(http, narrow, "chat.startStream", start), 60)
        for _ in range(5):  # chat.postMessage unlimited, chat.update now unlisted
            assert (await call(http, narrow, "chat.postMessage", {"channel": "C1", "text": "x"}))[
                0
            ] == 200
    finally:
        await lifted.close()
        await narrow.close()


async def test_a_refused_call_spends_nothing(
    slack: FakeSlack, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    start = {"channel": "C1", "thread_ts": "1.1", "markdown_text": "hi"}
    for _ in range(20):
        await call(http, slack, "chat.startStream", start)
    for _ in range(10):  # refused while the window is full...
        assert (await call(http, slack, "chat.startStream", start))[0] == 429
    clock.advance(60)
    for _ in range(20):  # ...so a whole new minute's worth passes after it
        assert (await call(http, slack, "chat.startStream", start))[0] == 200
    assert slack.usage[(TEAM_ID, "chat.startStream")].rate_limited == 10
