"""Streaming onto Discord: typing at once, the first chunk posts, later chunks edit no more
than once per interval per message, the final edit carries the buttons and goes at once; a
dropped stream is left readable, and a retried job edits the message an earlier attempt
posted."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

from core.simulator import Simulator, SimulatorConfig
from core.types import Job, Question, ThreadKey
from tests.bots.discord.conftest import DM_CHANNEL_ID, assert_no_pings, running
from tests.bots.discord.fake_discord import FakeDiscord

MESSAGE_PATH = rf"/channels/{DM_CHANNEL_ID}/messages"
INTERVAL = 0.25


async def test_edits_are_throttled_and_the_final_edit_carries_the_buttons(
    fake: FakeDiscord, sqlite_url: str
) -> None:
    sim = Simulator(SimulatorConfig(seed=3, words_per_chunk=2, chunk_latency=0.02))
    async with running(fake, sim, sqlite_url, edit_interval=INTERVAL) as bot:
        await bot.dm("What is grace?")
        [answer] = await bot.answered(DM_CHANNEL_ID)

    [typing] = fake.calls_to("POST", rf"/channels/{DM_CHANNEL_ID}/typing")
    [post] = fake.calls_to("POST", MESSAGE_PATH)
    edits = fake.calls_to("PATCH", MESSAGE_PATH + r"/\d+")
    assert typing.at <= post.at
    assert not post.body.get("components")  # the first chunk, without buttons
    assert len(post.body["content"]) < len(answer["content"])
    assert len(edits) >= 2, "the answer should grow by edits while it streams"
    # While streaming, at most one change per interval; the final edit (issue 15) goes at
    # once when the stream ends, so it is not part of the pacing.
    times = [post.at] + [e.at for e in edits[:-1]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= INTERVAL, gaps
    assert all(not e.body.get("components") for e in edits[:-1])
    assert edits[-1].body["components"]  # the final edit carries the buttons
    assert edits[-1].body["content"] == answer["content"]
    assert_no_pings(fake)


async def test_a_dropped_stream_leaves_the_partial_answer_and_a_sentence(
    fake: FakeDiscord, sqlite_url: str
) -> None:
    sim = Simulator(SimulatorConfig(seed=3, words_per_chunk=4))
    sim.inject("drop")
    async with running(fake, sim, sqlite_url, inbox_max_attempts=1) as bot:
        await bot.dm("What is grace?")

        async def told() -> bool:
            return any(
                "*" in m["content"] and "cut off" in m["content"]
                for m in bot.bot_messages(DM_CHANNEL_ID)
            )

        await fake.wait_for(told)
        await bot.runtime.dispatcher.drain()
    [message] = bot.bot_messages(DM_CHANNEL_ID)
    partial, _, notice = message["content"].rpartition("\n\n")
    assert partial.strip()
    assert re.fullmatch(r"\*.*cut off.*\*", notice, re.S)
    assert not message["components"]


async def test_a_retried_job_edits_the_message_an_earlier_attempt_posted(
    fake: FakeDiscord, sqlite_url: str
) -> None:
    sim = Simulator(SimulatorConfig(seed=3, words_per_chunk=4))
    sim.inject("drop")  # the first attempt streams half an answer, then fails
    async with running(
        fake, sim, sqlite_url, inbox_max_attempts=2, inbox_retry_base=0.0, inbox_retry_max=0.0
    ) as bot:
        await bot.dm("What is grace?")
        [answer] = await bot.answered(DM_CHANNEL_ID)
    assert len(sim.asked) == 2
    [message] = bot.bot_messages(DM_CHANNEL_ID)  # no second answer message
    assert message["id"] == answer["id"]
    assert len(fake.calls_to("POST", MESSAGE_PATH)) == 1
    assert answer["components"]


async def test_a_redriven_answer_finishes_the_message_its_dead_attempt_left_unrecorded(
    fake: FakeDiscord, sqlite_url: str
) -> None:
    """The process died after posting the answer's first chunk and before recording it."""
    sim = Simulator(SimulatorConfig(seed=3))
    question_id = fake.snowflake()
    job = Job(
        key=f"discord:{question_id}",
        question=Question(
            ThreadKey("discord", "@dm", str(DM_CHANNEL_ID), ""),
            "What is grace?",
            user_id="42",
            message_ref=str(question_id),
        ),
    )
    async with running(fake, sim, sqlite_url) as bot:
        # What the dead attempt had shown, then its claim (the scheduler may re-drive at once).
        channel = bot.adapter.client.get_partial_messageable(DM_CHANNEL_ID)  # type: ignore[union-attr]
        await channel.send("Grace is …")
        store = bot.runtime.container.store
        await store.accept(job)
        await store.claim(job.key, "dead-process", timedelta(seconds=-1))
        await bot.runtime.dispatcher.redrive()  # (or the scheduler's re-drive takes it)
        [answer] = await bot.answered(DM_CHANNEL_ID)
    assert len(bot.bot_messages(DM_CHANNEL_ID)) == 1  # the same message, finished
    assert "grace" in answer["content"].lower()
