"""The fake Discord enforces Discord's REST rate limits and answers their headers.

discord-api-docs, topics/rate-limits: a global limit of 50 requests a second per bot
(interaction endpoints excepted), per-route buckets per top-level resource, the headers
``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``, ``-Reset-After``, ``-Bucket`` (and
``-Scope``, ``-Global`` on a 429), and the 429 body ``{message, retry_after, global}``.
Per-route limits are not published: message create and edit are 5 per 5 s per channel as
observed (discord/discord-api-docs#20; discord-relay-chat/drc#17).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from devtools.discord.fake import DiscordLimits, FakeDiscord, RouteLimit
from tests.clock import FakeClock

GUILD = 1_800_000_000_000_000_000
CHANNELS = [GUILD + n + 1 for n in range(60)]

Answer = tuple[int, dict[str, str], Any]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def discord(clock: FakeClock) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(clock=clock) as fake:
        fake.add_guild(GUILD, CHANNELS)
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def rest(
    http: aiohttp.ClientSession, fake: FakeDiscord, method: str, path: str, body: Any = None
) -> Answer:
    """One REST call as the bot: its status, headers and JSON body (``None`` for 204)."""
    async with http.request(
        method,
        fake.api_url + path,
        json=body,
        headers={"Authorization": f"Bot {fake.token}"},
    ) as response:
        data = await response.json() if response.status != 204 else None
        return response.status, dict(response.headers), data


def assert_route_429(answer: Answer, retry_after: float) -> None:
    status, headers, body = answer
    assert status == 429
    assert body == {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": False,
    }
    assert headers["X-RateLimit-Scope"] == "user"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert float(headers["X-RateLimit-Reset-After"]) == pytest.approx(retry_after)
    assert headers["Retry-After"] == str(int(-(-retry_after // 1)))  # whole seconds, up
    assert headers["Via"]  # discord.py takes a 429 without Via for a Cloudflare ban


async def test_message_create_allows_five_per_five_seconds_per_channel(
    discord: FakeDiscord, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    # Observed, not published: 5 messages per 5 s per channel (discord-api-docs#20, drc#17).
    path = f"/channels/{CHANNELS[0]}/messages"
    buckets = set()
    for n in range(5):
        status, headers, _ = await rest(http, discord, "POST", path, {"content": f"m{n}"})
        assert status == 200  # the 5th passes
        assert headers["X-RateLimit-Limit"] == "5"
        assert headers["X-RateLimit-Remaining"] == str(4 - n)
        assert float(headers["X-RateLimit-Reset-After"]) == pytest.approx(5.0 - n)
        assert float(headers["X-RateLimit-Reset"]) > 0  # an epoch time
        buckets.add(headers["X-RateLimit-Bucket"])
        clock.advance(1.0)
    assert len(buckets) == 1
    clock.advance(-1.0)  # the 6th at 4 s
    assert_route_429(await rest(http, discord, "POST", path, {"content": "m5"}), 1.0)

    other = await rest(http, discord, "POST", f"/channels/{CHANNELS[1]}/messages", {"content": "x"})
    assert other[0] == 200  # per channel
    assert other[1]["X-RateLimit-Bucket"] in buckets  # the same bucket, another resource

    clock.advance(1.0)  # the window of 5 s is over
    status, headers, _ = await rest(http, discord, "POST", path, {"content": "m6"})
    assert status == 200
    assert headers["X-RateLimit-Remaining"] == "4"
    assert len(discord.channel_messages(CHANNELS[0])) == 6
    assert discord.count_429() == 1


async def test_message_edit_allows_five_per_five_seconds_per_channel(
    discord: FakeDiscord, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    # Observed, not published: edits 5 per 5 s per channel, a bucket of their own.
    _, _, posted = await rest(
        http, discord, "POST", f"/channels/{CHANNELS[0]}/messages", {"content": "a"}
    )
    path = f"/channels/{CHANNELS[0]}/messages/{posted['id']}"
    for n in range(5):
        status, headers, _ = await rest(http, discord, "PATCH", path, {"content": f"e{n}"})
        assert status == 200
        assert headers["X-RateLimit-Remaining"] == str(4 - n)
    assert_route_429(await rest(http, discord, "PATCH", path, {"content": "e5"}), 5.0)
    clock.advance(5.0)
    assert (await rest(http, discord, "PATCH", path, {"content": "e6"}))[0] == 200
    assert discord.messages[int(posted["id"])]["content"] == "e6"


async def test_the_global_limit_is_fifty_requests_a_second(
    discord: FakeDiscord, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    # topics/rate-limits: "All bots can make up to 50 requests per second to our API".
    for channel in CHANNELS[:50]:  # fifty routes' buckets, none of them full
        status, headers, _ = await rest(http, discord, "GET", f"/channels/{channel}")
        assert status == 200
        assert "X-RateLimit-Bucket" in headers
    status, headers, body = await rest(http, discord, "GET", f"/channels/{CHANNELS[50]}")
    assert status == 429
    assert body["global"] is True
    assert body["retry_after"] == pytest.approx(1.0)
    assert headers["X-RateLimit-Global"] == "true"
    assert headers["X-RateLimit-Scope"] == "global"
    assert headers["Retry-After"] == "1"

    # "Interaction endpoints are not bound to the bot's Global Rate Limit."
    callback = await rest(http, discord, "POST", "/interactions/123/no-token/callback", {"type": 1})
    assert callback[0] == 404  # unknown interaction, but not refused for the global limit

    clock.advance(1.0)
    assert (await rest(http, discord, "GET", f"/channels/{CHANNELS[50]}"))[0] == 200


async def test_limits_can_be_changed_or_lifted(http: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    narrow = DiscordLimits(
        global_per_second=None,
        routes={("POST", r"/channels/(\d+)/messages"): RouteLimit(limit=1, per=2.0)},
        other_routes=None,
    )
    async with FakeDiscord(limits=narrow, clock=clock) as fake, FakeDiscord(limits=None) as free:
        for each in (fake, free):
            each.add_guild(GUILD, CHANNELS[:1])
        path = f"/channels/{CHANNELS[0]}/messages"
        assert (await rest(http, fake, "POST", path, {"content": "a"}))[0] == 200
        assert_route_429(await rest(http, fake, "POST", path, {"content": "b"}), 2.0)
        status, headers, _ = await rest(http, fake, "GET", f"/channels/{CHANNELS[0]}")
        assert status == 200
        assert "X-RateLimit-Bucket" not in headers  # no bucket for other routes
        for n in range(8):
            status, headers, _ = await rest(http, free, "POST", path, {"content": str(n)})
            assert status == 200
            assert "X-RateLimit-Limit" not in headers
            assert headers["Via"]
