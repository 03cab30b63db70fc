"""Streaming and its fallbacks: chat.update placeholders (throttled), refused blocks, 429s."""

from __future__ import annotations

from datetime import timedelta

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.adapter import SlackAdapter
from bots.slack.handlers import message_job_key
from core.simulator import Simulator
from core.store.sql import SqlStore
from core.types import Job, Question, ThreadKey
from tests.bots.slack.fake_slack import BOT_TOKEN, TEAM_ID, FakeSlack
from tests.bots.slack.support import (
    CHANNEL,
    DM,
    SlackProcess,
    assert_final_buttons,
    event,
    no_sleep,
    slack_process,
)

MENTION_TS = "1700000100.000100"
DM_TS = "1700000300.000100"


def adapter(**kwargs: object) -> SlackAdapter:
    values: dict[str, object] = {
        "update_interval": 0.0,
        "retry_sleep": no_sleep,
    }
    values.update(kwargs)
    return SlackAdapter(**values)  # type: ignore[arg-type]


async def test_a_stream_that_breaks_continues_as_one_edited_message(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.fail("chat.appendStream", "message_not_in_streaming_state")
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await slack.event(event("app_mention", ts=MENTION_TS))
        await slack.settle()
    (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert fake_slack.calls_to("chat.startStream")
    assert not fake_slack.calls_to("chat.stopStream")
    assert fake_slack.calls_to("chat.update")
    assert "grace" in answer.markdown.lower()
    assert answer.buttons("gloo_source")
    assert_final_buttons(answer)


async def test_without_streaming_support_a_placeholder_is_edited(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.fail("chat.startStream", "feature_not_enabled")
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await slack.event(event("app_mention", ts=MENTION_TS))
        await slack.settle()
    (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert answer.edits >= 1
    assert_final_buttons(answer)


async def test_placeholder_edits_are_throttled(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # One edit per hour at most: only the placeholder post and the final edit happen.
    async with slack_process(
        sqlite_url, fake_slack, sim, adapter(update_interval=3600, streaming=False)
    ) as slack:
        await slack.event(event("message_im", ts=DM_TS))
        await slack.settle()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert len(fake_slack.calls_to("chat.update")) == 1
    (answer,) = fake_slack.in_thread(DM, DM_TS)  # agent view: in the DM message's thread
    assert_final_buttons(answer)


async def test_unthrottled_placeholder_shows_progress(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(
        sqlite_url, fake_slack, sim, adapter(update_interval=0, streaming=False)
    ) as slack:
        await slack.event(event("message_im", ts=DM_TS))
        await slack.settle()
    updates = fake_slack.calls_to("chat.update")
    assert len(updates) > 2
    assert updates[0].args["blocks"][0]["text"].endswith(" …")  # still being written
    assert not updates[-1].args["blocks"][0]["text"].endswith(" …")


async def test_refused_blocks_fall_back_to_plain_text_then_buttons(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # Two answers in one DM within a second: 4 chat.postMessage, over 1 a second after 2
    # (devtools.slack.fake.SlackLimits); not what this test checks, so the limits are off.
    fake_slack.limits = None
    for error in ("invalid_blocks", "msg_too_long"):
        fake_slack.fail("chat.update", error)
        async with slack_process(
            sqlite_url, fake_slack, sim, adapter(update_interval=3600, streaming=False)
        ) as slack:
            ts = f"17000003{len(error):02d}.000100"
            await slack.event(event("message_im", ts=ts))
            await slack.settle()
        text_only, buttons = fake_slack.in_thread(DM, ts)[-2:]
        assert not text_only.blocks
        assert len(text_only.text) > 100  # the answer, as plain text
        assert_final_buttons(buttons)
        fake_slack.messages.clear()


async def test_refused_stream_blocks_fall_back_too(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.fail("chat.stopStream", "invalid_blocks")
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await slack.event(event("app_mention", ts=MENTION_TS))
        await slack.settle()
    (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert_final_buttons(answer)  # rewritten with chat.update
    assert "grace" in answer.markdown.lower()


async def test_rate_limited_calls_wait_for_retry_after_and_succeed(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    fake_slack.rate_limit("chat.postMessage", retry_after=7, times=2)
    async with slack_process(
        sqlite_url,
        fake_slack,
        sim,
        adapter(update_interval=3600, retry_sleep=record, streaming=False),
    ) as slack:
        await slack.event(event("message_im", ts=DM_TS))
        await slack.settle()
    assert len(waits) == 2
    assert all(7 <= w < 8 for w in waits)
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [429, 429, 200]
    (answer,) = fake_slack.in_thread(DM, DM_TS)  # agent view: in the DM message's thread
    assert_final_buttons(answer)


async def test_answer_cut_off_mid_stream_stays_readable_and_says_why(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    sim.inject("drop")
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await slack.event(event("app_mention", ts=MENTION_TS))
        await slack.settle()
    partial, notice = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert partial.streamed  # what had streamed is still there
    assert not partial.streaming  # and the stream was closed
    assert "cut off" in notice.markdown


async def test_a_redriven_answer_finishes_the_message_its_dead_attempt_left_unrecorded(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    """The process died after posting the answer's message and before recording it."""
    thread = ThreadKey("slack", TEAM_ID, CHANNEL, MENTION_TS)
    job = Job(
        key=message_job_key(TEAM_ID, CHANNEL, MENTION_TS),
        question=Question(thread, "What is grace?", user_id="U0ALICE01", message_ref=MENTION_TS),
    )
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        # What the dead attempt had shown, then its claim (the scheduler may re-drive at once).
        client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
        await client.chat_postMessage(channel=CHANNEL, thread_ts=MENTION_TS, text="Grace is …")
        store = slack.runtime.container.store
        await store.accept(job)
        await store.claim(job.key, "dead-process", timedelta(seconds=-1))
        await slack.runtime.dispatcher.redrive()  # (or the scheduler's re-drive takes it)
        await slack.settle()
        await fake_slack.wait_for(lambda: fake_slack.in_thread(CHANNEL, MENTION_TS)[0].blocks)
    (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)  # one message: the same one
    assert "grace" in answer.markdown.lower()
    assert answer.edits >= 1
    assert_final_buttons(answer)


async def dead_claims(database_url: str, *jobs: Job) -> None:
    """Questions a process claimed and died on before recording any posted message (stored
    before the serving process starts, so its re-drive takes them at their second attempt)."""
    store = await SqlStore.open(database_url)
    try:
        for job in jobs:
            await store.accept(job)
            await store.claim(job.key, "dead-process", timedelta(seconds=-1))
    finally:
        await store.close()


async def redrive(slack: SlackProcess) -> None:
    await slack.runtime.dispatcher.redrive()  # (or the scheduler's first re-drive took them)
    await slack.settle()


def mention_job(ts: str = MENTION_TS) -> Job:
    thread = ThreadKey("slack", TEAM_ID, CHANNEL, ts)
    return Job(
        key=message_job_key(TEAM_ID, CHANNEL, ts),
        question=Question(thread, "What is grace?", user_id="U0ALICE01", message_ref=ts),
    )


async def test_recovery_asks_for_at_most_15_messages(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    """Apps outside the Marketplace get at most 15 results (docs.slack.dev changelog
    2025-05-29, "Rate limit changes for non-Marketplace apps"); the fake caps at 15 too."""
    await dead_claims(sqlite_url, mention_job())
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await redrive(slack)
    (replies,) = fake_slack.calls_to("conversations.replies")
    assert int(replies.args["limit"]) == 15
    (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert_final_buttons(answer)


async def test_a_refused_recovery_posts_the_answer_again_once(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    """Slack allows such apps one conversations.replies call a minute: the second recovery
    within the minute is not asked at all (the workspace's budget knows the limit; before
    it did, Slack answered 429) and that question is answered at once with a new message:
    not lost, not held up waiting a minute, and posted once."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    first, second = mention_job(), mention_job("1700000200.000100")
    await dead_claims(sqlite_url, first, second)
    async with slack_process(sqlite_url, fake_slack, sim, adapter(retry_sleep=record)) as slack:
        await redrive(slack)
    calls = fake_slack.calls_to("conversations.replies")
    assert [c.status for c in calls] == [200], [
        (c.method, c.status) for c in fake_slack.calls
    ]  # asked once: the second would be over the published limit
    assert not waits
    for ts in (MENTION_TS, "1700000200.000100"):
        (answer,) = fake_slack.in_thread(CHANNEL, ts)
        assert_final_buttons(answer)


async def test_a_recovery_error_posts_the_answer_again_once(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.fail("conversations.history", "internal_error")
    dm = ThreadKey("slack", TEAM_ID, DM, "")
    job = Job(
        key=message_job_key(TEAM_ID, DM, DM_TS),
        question=Question(dm, "What is grace?", user_id="U0ALICE01", message_ref=DM_TS),
    )
    await dead_claims(sqlite_url, job)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await redrive(slack)
    (history,) = fake_slack.calls_to("conversations.history")
    assert history.error == "internal_error"
    assert int(history.args["limit"]) == 15
    (answer,) = fake_slack.in_thread(DM, None)
    assert_final_buttons(answer)


async def test_the_fake_caps_history_at_15_and_one_call_a_minute(
    fake_slack: FakeSlack,
) -> None:
    # 20 chat.postMessage at once in one channel: over 1 a second (the history limit stays)
    # (devtools.slack.fake.SlackLimits); not what this test checks, so the limits are off.
    fake_slack.limits = None
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url, retry_handlers=[])
    for i in range(20):
        await client.chat_postMessage(channel=CHANNEL, thread_ts=MENTION_TS, text=f"m{i}")
    page = await client.conversations_replies(channel=CHANNEL, ts=MENTION_TS, limit=200)
    assert len(page["messages"]) == 15
    assert page["has_more"] is True
    with pytest.raises(SlackApiError) as refused:
        await client.conversations_replies(channel=CHANNEL, ts=MENTION_TS, limit=15)
    assert refused.value.response.status_code == 429
    assert 0 < int(refused.value.response.headers["Retry-After"]) <= 60
    # conversations.history has its own minute.
    assert (await client.conversations_history(channel=DM))["ok"]
