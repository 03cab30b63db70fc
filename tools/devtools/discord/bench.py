"""``gloo-bots bench`` on Discord: the real adapter against the fake Discord (P2 and P5).

A whole ``gloo-bots discord`` process (core, inbox, the Gloo simulator behind the real Gloo
client, discord.py on the fake gateway) gets a direct message from ``conversations`` users
at once and answers them into :class:`devtools.discord.fake.FakeDiscord`, which refuses (HTTP
429) a message edited again within 1.2 seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import aiohttp
from pydantic import SecretStr

from core.adapters import serving
from core.settings import Settings
from devtools.bench import (
    PLATFORM_CHUNK_LATENCY,
    BenchResult,
    PlatformRun,
    Progress,
    bench_question,
    complete_text_lags,
    first_text_lags,
    median_round_trip,
    platform_results,
    platform_simulator,
)
from devtools.discord.fake import FakeDiscord

if TYPE_CHECKING:
    from bots.discord.adapter import DiscordAdapter

__all__ = ["measure"]

#: Discord: at most one edit of a message per 1.2 seconds.
EDIT_WINDOW = 1.2
ROUND_TRIPS = 9
#: The fake's (and Discord's) global rate-limit window, seconds.
GLOBAL_WINDOW_S = 1.0
FIRST_CHANNEL = 1_500_000_000_000_000_000
FIRST_USER = 1_600_000_000_000_000_000


async def measure(
    adapter: DiscordAdapter,
    settings: Settings,
    *,
    conversations: int,
    latency: float,
    chunk_latency: float = PLATFORM_CHUNK_LATENCY,
    progress: Progress | None = None,
) -> list[BenchResult]:
    async with FakeDiscord(edit_interval=EDIT_WINDOW) as fake:
        run = await _run(adapter, settings, fake, conversations, (latency, chunk_latency), progress)
    return platform_results(run)


async def _run(
    adapter: DiscordAdapter,
    base: Settings,
    fake: FakeDiscord,
    conversations: int,
    latencies: tuple[float, float],
    progress: Progress | None,
) -> PlatformRun:
    latency, chunk_latency = latencies
    _, clock = platform_simulator(latency, chunk_latency)
    settings = base.model_copy(
        update={
            "host": "127.0.0.1",
            "port": 0,
            "discord_bot_token": SecretStr(fake.token),
            "discord_api_url": fake.api_url,
            "discord_gateway_url": fake.gateway_url,
            "discord_shard_count": None,
            "discord_shard_ids": (),
        }
    )
    users = [fake.user(FIRST_USER + i, f"bench{i}") for i in range(conversations)]
    channels = [FIRST_CHANNEL + i for i in range(conversations)]
    for user, channel in zip(users, channels, strict=True):
        fake.add_dm(channel, user)
    async with serving(settings, [adapter], transport=clock) as runtime:
        await fake.wait_identified(1, within=30)
        round_trip = await _round_trip(fake)
        first_call = len(fake.calls)
        started = time.perf_counter()
        for index, (user, channel) in enumerate(zip(users, channels, strict=True)):
            await fake.dispatch("MESSAGE_CREATE", _direct_message(fake, index, user, channel))
        answered = await _wait_answers(fake, channels, progress, within=120 + 10 * latency)
        await runtime.dispatcher.drain()
        seconds = time.perf_counter() - started

    lags = first_text_lags(clock, lambda i: fake.first_text_at.get(channels[i]))
    complete = complete_text_lags(clock, lambda i: fake.completed_at.get(channels[i]))
    calls = fake.calls[first_call:]
    return PlatformRun(
        platform="discord",
        conversations=conversations,
        answered=answered,
        seconds=seconds,
        first_text_lag=lags,
        round_trip=round_trip,
        calls=len(calls),
        calls_by_method=dict(Counter(f"{c.method} {_route(c.path)}" for c in calls)),
        # The final change of each message is not paced (the fake lets it through).
        edits=[
            [t for t in times if t != fake.final_edits.get(message_id)]
            for message_id, times in fake.edit_times.items()
        ],
        edit_window=EDIT_WINDOW,
        rate_limited=sum(1 for call in calls if call.status == 429),
        complete_text_lag=complete,
    )


def _route(path: str) -> str:
    return re.sub(r"\d{5,}", "{id}", path)


async def _round_trip(fake: FakeDiscord) -> float:
    """The median time of ``GET /users/@me`` over aiohttp (as discord.py does it)."""
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:

        async def get_me() -> None:
            async with session.get(f"{fake.api_url}/users/@me", headers=headers) as response:
                await response.read()

        median = await median_round_trip(get_me, ROUND_TRIPS)
    del fake.calls[-ROUND_TRIPS:]
    # The probes count against the fake's global limit (50 requests a second per bot), like
    # any request with the bot's token; the bot's budget leaves only 5 of the 50 for requests
    # it does not make. Let their second pass before the questions arrive: they are the
    # bench's requests, not the bot's (they were the one global 429 P5 reported).
    await asyncio.sleep(GLOBAL_WINDOW_S)
    return median


def _direct_message(
    fake: FakeDiscord, index: int, user: dict[str, Any], channel: int
) -> dict[str, Any]:
    return {
        "type": 0,
        "tts": False,
        "timestamp": "2025-05-12T10:15:30.123000+00:00",
        "pinned": False,
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "id": str(fake.snowflake()),
        "flags": 0,
        "embeds": [],
        "edited_timestamp": None,
        "content": bench_question(index),
        "components": [],
        "channel_type": 1,
        "channel_id": str(channel),
        "author": {**user, "public_flags": 0},
        "attachments": [],
    }


async def _wait_answers(
    fake: FakeDiscord, channels: list[int], progress: Progress | None, *, within: float
) -> int:
    """Wait until every DM has its finished answer (a message with buttons); how many."""
    seen: set[int] = set()

    async def count() -> bool:
        for message in fake.messages.values():
            channel = int(message["channel_id"])
            if channel not in seen and message["components"] and channel in channels:
                seen.add(channel)
                if progress is not None:
                    progress.advance()
        return len(seen) == len(channels)

    with contextlib.suppress(TimeoutError):
        await fake.wait_for(count, within)
    return len(seen)
