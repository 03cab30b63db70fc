"""``gloo-bots bench`` on Slack: the real adapter against the fake Slack (P2 and P5).

A whole ``gloo-bots slack`` process in HTTP mode (core, inbox, the Gloo simulator behind
the real Gloo client) receives signed ``app_mention`` events for ``conversations`` users at
once, each in a channel of its own, and answers them through slack_bolt/slack_sdk into
:class:`devtools.slack.fake.FakeSlack`, which refuses (HTTP 429) a message edited again within
a second. One channel each: P2 measures what the service adds to Gloo's first chunk, not
Slack's one new message a second per channel (the W rows of :mod:`devtools.benchscale` put
many people in few channels).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import aiohttp
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

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
from devtools.slack.fake import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack

if TYPE_CHECKING:
    from bots.slack.adapter import SlackAdapter

__all__ = ["measure", "mention_event", "post_event", "post_mention"]

#: Slack: at most one update of a message per second.
EDIT_WINDOW = 1.0
CHANNEL = "C0BENCH01"
SIGNING_SECRET = "bench-signing-secret"  # noqa: S105 - the fake Slack's, for this run only
ROUND_TRIPS = 9


async def measure(
    adapter: SlackAdapter,
    settings: Settings,
    *,
    conversations: int,
    latency: float,
    chunk_latency: float = PLATFORM_CHUNK_LATENCY,
    progress: Progress | None = None,
) -> list[BenchResult]:
    fake = await FakeSlack(edit_interval=EDIT_WINDOW).start()
    try:
        run = await _run(adapter, settings, fake, conversations, (latency, chunk_latency), progress)
    finally:
        await fake.close()
    return platform_results(run)


async def _run(
    adapter: SlackAdapter,
    base: Settings,
    fake: FakeSlack,
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
            "slack_bot_token": SecretStr(BOT_TOKEN),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_app_token": None,
            "slack_client_id": None,
            "slack_client_secret": None,
            "slack_api_url": fake.api_url,
        }
    )
    async with serving(settings, [adapter], transport=clock) as runtime:
        round_trip = await _round_trip(fake)
        first_call = len(fake.calls)
        stamps = [f"1700001{i:03d}.{i:06d}" for i in range(conversations)]
        where = [(bench_channel(i), ts) for i, ts in enumerate(stamps)]
        started = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            posted = await asyncio.gather(
                *(
                    post_mention(session, f"{runtime.web_url}/slack/events", i, ts, channel=c)
                    for i, (c, ts) in enumerate(where)
                )
            )
        if any(status != 200 for status in posted):
            raise RuntimeError(f"the Slack adapter refused bench events: {posted}")
        answered = await _wait_answers(fake, where, progress, within=120 + 10 * latency)
        await asyncio.wait_for(adapter.settle(), 60)
        seconds = time.perf_counter() - started

    lags = first_text_lags(clock, lambda i: fake.first_text_at.get(where[i]))
    complete = complete_text_lags(clock, lambda i: _completed_at(fake, *where[i]))
    calls = fake.calls[first_call:]
    return PlatformRun(
        platform="slack",
        conversations=conversations,
        answered=answered,
        seconds=seconds,
        first_text_lag=lags,
        round_trip=round_trip,
        calls=len(calls),
        calls_by_method=dict(Counter(call.method for call in calls)),
        # The final change (stopStream, or the fallback's last update) is not paced.
        edits=[m.paced_edit_times for m in fake.messages.values()],
        edit_window=EDIT_WINDOW,
        rate_limited=sum(1 for call in calls if call.status == 429),
        complete_text_lag=complete,
    )


def bench_channel(index: int) -> str:
    """Conversation ``index``'s channel in the P2/P5 run."""
    return f"C0BENCH{index:03d}"


def _completed_at(fake: FakeSlack, channel: str, thread_ts: str) -> float | None:
    """When the thread's answer first showed complete (its feedback buttons)."""
    times = [m.completed_at for m in fake.in_thread(channel, thread_ts) if m.completed_at]
    return min(times, default=None)


async def _round_trip(fake: FakeSlack) -> float:
    """The median time of ``auth.test`` through slack_sdk: one fake-Slack round trip."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    median = await median_round_trip(client.auth_test, ROUND_TRIPS)
    del fake.calls[-ROUND_TRIPS:]
    return median


async def post_mention(
    session: aiohttp.ClientSession,
    url: str,
    index: int,
    ts: str,
    *,
    channel: str = CHANNEL,
    tag: str = "BENCH",
) -> int:
    """A signed ``app_mention`` of person ``index`` at ``ts`` in ``channel`` (Events API over
    HTTP); ``tag`` tells the runs' event and user ids apart. Returns the HTTP status."""
    return await post_event(session, url, mention_event(index, ts, channel=channel, tag=tag))


def mention_event(
    index: int,
    ts: str,
    *,
    channel: str = CHANNEL,
    tag: str = "BENCH",
    text: str | None = None,
) -> dict[str, Any]:
    """The Events API body of person ``index``'s ``app_mention`` at ``ts`` in ``channel``
    (docs.slack.dev/reference/events/app_mention, Events API wrapper), asking ``text``
    (default: :func:`~devtools.bench.bench_question` of ``index``)."""
    return {
        "token": "bench",
        "team_id": TEAM_ID,
        "api_app_id": "A0GLOOAPP",
        "type": "event_callback",
        "event_id": f"Ev{tag}{index:06d}",
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True, "enterprise_id": None}
        ],
        "event": {
            "type": "app_mention",
            "text": f"<@{BOT_USER_ID}> {text or bench_question(index)}",
            "user": f"U0{tag}{index:04d}",
            "ts": ts,
            "team": TEAM_ID,
            "channel": channel,
            "event_ts": ts,
            "blocks": [],
        },
    }


async def post_event(
    session: aiohttp.ClientSession,
    url: str,
    body: dict[str, Any],
    *,
    signing_secret: str = SIGNING_SECRET,
) -> int:
    """POST ``body`` to ``url`` signed as Slack signs Events API requests (v0 HMAC of the
    timestamp and body with ``signing_secret``). Returns the HTTP status."""
    raw = json.dumps(body)
    stamp = str(int(time.time()))
    headers: dict[str, Any] = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(signing_secret).generate_signature(
            timestamp=stamp, body=raw
        ),
    }
    async with session.post(url, data=raw.encode(), headers=headers) as response:
        await response.read()
        return response.status


async def _wait_answers(
    fake: FakeSlack,
    threads: list[tuple[str, str]],
    progress: Progress | None,
    *,
    within: float,
) -> int:
    """Wait until every (channel, thread) has its finished answer (or ``within`` runs out);
    how many."""
    seen: set[tuple[str, str]] = set()

    def count() -> bool:
        for where in threads:
            if where not in seen and any(m.feedback_buttons() for m in fake.in_thread(*where)):
                seen.add(where)
                if progress is not None:
                    progress.advance()
        return len(seen) == len(threads)

    with contextlib.suppress(TimeoutError):
        await fake.wait_for(count, within)
    return len(seen)
