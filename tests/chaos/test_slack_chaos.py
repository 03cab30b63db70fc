"""Chaos through the Slack adapter: redeliveries (R1) and a killed process (R3).

R1 drives a whole ``gloo-bots slack`` process in this event loop with Events API traffic as
Slack sends it under load: every message twice (``app_mention`` and ``message``) and many
of them again as retries (``X-Slack-Retry-Num``), in shuffled order. R3 runs the process as a
real subprocess, kills it with SIGKILL while every answer is streaming, starts another one on
the same database, and checks each question ends with exactly one complete answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from slack_sdk.signature import SignatureVerifier

from bots.slack.adapter import SlackAdapter
from bots.slack.handlers import message_job_key
from core.simulator import Simulator
from core.store.sql import SqlStore
from tests.bots.slack.conftest import fake_slack, sim  # noqa: F401 - fixtures
from tests.bots.slack.fake_slack import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack
from tests.bots.slack.support import (
    CHANNEL,
    SIGNING_SECRET,
    SlackProcess,
    event,
    no_sleep,
    slack_process,
)
from tests.chaos.conftest import report

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _ts(i: int, follow_up: int = 0) -> str:
    return f"{1_700_100_000 + i}.{follow_up:06d}"


def _deliveries(rng: random.Random, ts: str, thread_ts: str | None) -> list[tuple[Any, Any]]:
    """How Slack delivers one message that mentions the bot: twice, sometimes retried."""
    text = f"<@{BOT_USER_ID}> question {ts}?"
    as_mention = event("app_mention", ts=ts, thread_ts=thread_ts, text=text)
    as_message = event("message_channels", ts=ts, thread_ts=thread_ts, text=text)
    out: list[tuple[Any, Any]] = [(as_mention, {}), (as_message, {})]
    for retry in (1, 2, 3):
        if rng.random() < 0.6 / retry:
            out.append((as_mention, {"X-Slack-Retry-Num": str(retry)}))
    return out


async def _send_all(slack: SlackProcess, deliveries: list[tuple[Any, Any]]) -> list[int]:
    gate = asyncio.Semaphore(16)

    async def send(body: Any, headers: Any) -> int:
        async with gate:
            return (await slack.event(body, headers=headers)).status

    return await asyncio.gather(*(send(b, h) for b, h in deliveries))


async def test_r1_redeliveries_give_exactly_one_answer(
    database_url: str,
    fake_slack: FakeSlack,  # noqa: F811
    sim: Simulator,  # noqa: F811
    chaos_scale: int,
) -> None:
    # 50 answers at once in one channel: over Tier 2 for chat.startStream/stopStream and
    # over a channel's posts (SlackLimits); the limits are not what this test checks, so
    # they are off, in the fake and in the adapter's budget.
    fake_slack.limits = None
    threads = 25 * chaos_scale
    rng = random.Random(11)
    roots = [_ts(i) for i in range(threads)]
    follow_ups = [(_ts(i, 1), roots[i]) for i in range(threads)]
    first = [d for ts in roots for d in _deliveries(rng, ts, None)]
    second = [d for ts, root in follow_ups for d in _deliveries(rng, ts, root)]
    rng.shuffle(first)
    rng.shuffle(second)
    started = time.monotonic()
    unlimited = SlackAdapter(update_interval=0.0, retry_sleep=no_sleep, rates={})
    async with slack_process(
        database_url, fake_slack, sim, unlimited, inbox_max_attempts=4
    ) as slack:
        statuses = await _send_all(slack, first)
        await slack.settle()
        statuses += await _send_all(slack, second)
        await slack.settle()
    seconds = time.monotonic() - started
    questions = len(roots) + len(follow_ups)
    per_thread = [len(fake_slack.in_thread(CHANNEL, root)) for root in roots]
    asked = Counter(record.query for record in sim.message_records)
    figures = {
        "events": len(first) + len(second),
        "questions": questions,
        "answers": sum(per_thread),
        "duplicated": sum(n - 1 for n in asked.values() if n > 1),
        "missing": questions - len(asked),
        "non_200": sum(1 for status in statuses if status != 200),
        "seconds": round(seconds, 1),
    }
    report("R1", **figures)
    assert figures["non_200"] == 0
    assert figures["duplicated"] == 0
    assert figures["missing"] == 0
    assert per_thread == [2] * threads  # the root's answer and the follow-up's, no more


async def _every_answer_recorded(database_url: str, roots: list[str], within: float) -> None:
    """Until each root's question has a posted message recorded (or is answered)."""
    keys = [message_job_key(TEAM_ID, CHANNEL, ts) for ts in roots]
    store = await SqlStore.open(database_url, migrate=False)
    try:
        deadline = time.monotonic() + within
        while True:
            entries = [await store.inbox_entry(key) for key in keys]
            if all(e is not None and (e.job.posted or e.status == "answered") for e in entries):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("not every answer was showing before the kill")
            await asyncio.sleep(0.1)
    finally:
        await store.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "core", "slack", "--mode", "http"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def _ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.poll() is not None:
                raise AssertionError(f"the process exited:\n{_tail(log)}")
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"not ready:\n{_tail(log)}")


async def _post_event(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> int:
    """POST an Events API body to a process, signed as Slack signs it."""
    raw = json.dumps(body)
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=raw)
    response = await client.post(
        f"{url}/slack/events",
        content=raw.encode(),
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or "",
        },
    )
    return response.status_code


async def test_r3_kill_9_mid_answer_then_restart_answers_each_once(
    postgres_url: str,
    fake_slack: FakeSlack,  # noqa: F811
    tmp_path: Path,
    chaos_scale: int,
) -> None:
    questions = 40 * chaos_scale
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "DATABASE_URL": postgres_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "GLOO_BACKEND": "simulator",
        # Long enough answers that every one is mid-stream when the process dies.
        "GLOO_SIMULATOR_FIRST_CHUNK_LATENCY": "0.2",
        "GLOO_SIMULATOR_CHUNK_LATENCY": "0.08",
        # The restarted process takes over abandoned answers once their lease runs out.
        "INBOX_LEASE": "6",
        "INBOX_POLL_INTERVAL": "0.2",
        "QUOTA_USER_PER_MINUTE": "0",
        "QUOTA_USER_PER_DAY": "0",
        "QUOTA_WORKSPACE_PER_DAY": "0",
        "LOG_LEVEL": "INFO",
    }
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "slack.log"
    first = _start(env, log)
    try:
        await _ready(url, first, log)
        roots = [_ts(i) for i in range(questions)]
        bodies = [
            event("app_mention", ts=ts, text=f"<@{BOT_USER_ID}> question {ts}?") for ts in roots
        ]
        async with httpx.AsyncClient() as client:
            statuses = await asyncio.gather(*(_post_event(client, url, b) for b in bodies))
        assert statuses == [200] * questions
        # Wait until every answer shows text and its message is recorded (the ones the
        # workspace's budget could not stream are posted, a channel's posts a second or so
        # apart), then kill the process without warning. A message posted and not yet
        # recorded when the process dies can be found again only by conversations.replies,
        # one call a minute: that window is R3's to avoid, not what it measures.
        await _every_answer_recorded(postgres_url, roots, within=120)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        finished_before = len(fake_slack.calls_to("chat.stopStream"))
        second = _start(env, log)
        try:
            await _ready(url, second, log)
            store = await SqlStore.open(postgres_url, migrate=False)
            try:
                for _ in range(600):
                    counts = await store.inbox_counts()
                    if counts.get("answered", 0) + counts.get("failed", 0) >= questions:
                        break
                    await asyncio.sleep(0.1)
            finally:
                await store.close()
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    per_thread = [fake_slack.in_thread(CHANNEL, ts) for ts in roots]
    complete = [msgs for msgs in per_thread if len(msgs) == 1 and msgs[0].buttons()]
    figures = {
        "questions": questions,
        "finished_before_kill": finished_before,
        "answered_once": len(complete),
        "duplicated": sum(1 for msgs in per_thread if len(msgs) > 1),
        "lost": sum(1 for msgs in per_thread if not msgs),
        "inbox": counts,
        "second_exit": second.returncode,
    }
    report("R3", **figures)
    assert figures["duplicated"] == 0
    assert figures["lost"] == 0
    assert len(complete) == questions, _tail(log)
    assert second.returncode == 0
