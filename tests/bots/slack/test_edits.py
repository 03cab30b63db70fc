"""Edits and deletions of asked messages on Slack (core/edits.py), through the fake Slack.

Events are the recorded ``message_changed`` (docs.slack.dev/reference/events/message/
message_changed: ``message`` is the message now, ``previous_message`` as it was) and
``message_deleted`` (docs.slack.dev/reference/events/message/message_deleted: ``deleted_ts``
and ``previous_message``) payloads in tests/bots/slack/payloads, with their messages' fields
set for each scenario.
"""

from __future__ import annotations

import functools
from typing import Any

from bots.slack.adapter import SlackAdapter
from core import messages
from core.simulator import Simulator
from core.types import ThreadKey
from tests.bots.slack.fake_slack import BOT_ID, BOT_USER_ID, TEAM_ID, Call, FakeSlack, Message
from tests.bots.slack.support import (
    ALICE,
    CHANNEL,
    DM,
    SlackProcess,
    action,
    event,
    no_sleep,
    slack_process,
)
from tests.bots.slack.test_scenarios import MENTION_TS, answers_started, mention
from tests.clock import FakeTimers

FIRST = "1700000300.000100"
SECOND = "1700000301.000100"
WINDOW = 60.0
BURSTS = {"burst_window_dm_seconds": WINDOW}


def changed(
    ts: str, text: str, before: str, *, channel: str = CHANNEL, **message: Any
) -> dict[str, Any]:
    """``message_changed``: the message ``ts`` now reads ``text`` (it read ``before``)."""
    now = {"type": "message", "user": ALICE, "text": text, "ts": ts, **message}
    now["edited"] = {"user": ALICE, "ts": "1700000400.000000"}
    was = {"type": "message", "user": ALICE, "text": before, "ts": ts, **message}
    kind = "im" if channel == DM else "channel"
    return event(
        "message_changed", channel=channel, channel_type=kind, message=now, previous_message=was
    )


def deleted(ts: str, *, channel: str = CHANNEL, **previous: Any) -> dict[str, Any]:
    """``message_deleted`` of the message ``ts``."""
    was = {"type": "message", "user": ALICE, "text": "…", "ts": ts, **previous}
    kind = "im" if channel == DM else "channel"
    return event(
        "message_deleted", channel=channel, channel_type=kind, deleted_ts=ts, previous_message=was
    )


async def send(slack: SlackProcess, body: dict[str, Any]) -> None:
    assert (await slack.event(body)).status == 200
    await slack.adapter.background.wait()


async def test_an_edit_after_the_answer_offers_the_edited_question_once(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await mention(slack)
        edit = changed(
            MENTION_TS, f"<@{BOT_USER_ID}> What is mercy?", f"<@{BOT_USER_ID}> What is grace?"
        )
        await send(slack, edit)
        await slack.settle()
        await send(slack, edit)  # Slack's redelivery: offered once
        await slack.settle()
        _answer, offer = fake_slack.in_thread(CHANNEL, MENTION_TS)
        assert offer.text == messages.EDIT_OFFER
        [button] = offer.buttons("gloo_suggest")
        assert button["text"]["text"] == "What is mercy?"
        assert len(sim.asked) == 1  # never a silent second answer
        click = action(
            fake_slack,
            action_id=button["action_id"],
            value=button["value"],
            user=ALICE,
            message_ts=offer.ts,
            thread_ts=MENTION_TS,
        )
        assert (await slack.action(click)).status == 200
        await slack.settle()
    first, second = sim.asked
    assert second.query == "What is mercy?"
    assert second.chat_id == first.response_chat_id


async def test_the_bots_own_edits_and_unchanged_text_are_ignored(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await mention(slack)
        started = answers_started(fake_slack)
        text = f"<@{BOT_USER_ID}> What is grace?"
        await send(slack, changed(MENTION_TS, "Grace is…", "Grace", bot_id=BOT_ID))
        await send(slack, changed(MENTION_TS, text, text, reply_count=1))  # a reply was added
        await slack.settle()
    assert answers_started(fake_slack) == started
    assert len(fake_slack.in_thread(CHANNEL, MENTION_TS)) == 1


async def test_an_edit_inside_a_burst_window_is_what_is_asked(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.limits = None
    adapter = SlackAdapter(update_interval=0.0, retry_sleep=no_sleep, rates={})
    async with slack_process(sqlite_url, fake_slack, sim, adapter, **BURSTS) as slack:
        timers = FakeTimers()
        slack.runtime.dispatcher.bursts.timers = timers
        await send(slack, event("message_im", ts=FIRST, text="hi"))
        await send(slack, event("message_im", ts=SECOND, text="how do I forgve?"))
        await send(slack, changed(SECOND, "how do I forgive?", "how do I forgve?", channel=DM))
        timers.advance(WINDOW)
        await slack.settle()
    assert [r.query for r in sim.asked] == ["hi\nhow do I forgive?"]


async def test_a_question_deleted_before_it_is_answered_is_not_asked(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.limits = None
    adapter = SlackAdapter(update_interval=0.0, retry_sleep=no_sleep, rates={})
    async with slack_process(sqlite_url, fake_slack, sim, adapter, **BURSTS) as slack:
        timers = FakeTimers()
        slack.runtime.dispatcher.bursts.timers = timers
        await send(slack, event("message_im", ts=FIRST, text="hi"))
        await send(slack, event("message_im", ts=SECOND, text="oops, wrong chat"))
        await send(slack, deleted(SECOND, channel=DM))  # a part leaves the burst
        timers.advance(WINDOW)
        await slack.settle()
        await send(slack, event("message_im", ts="1700000350.000100", text="What is hope?"))
        await send(slack, deleted("1700000350.000100", channel=DM))  # withdrawn
        timers.advance(WINDOW)
        await slack.settle()
        store = slack.runtime.container.store
        counts = await store.inbox_counts()
    assert [r.query for r in sim.asked] == ["hi"]
    assert counts == {"answered": 1, "withdrawn": 1}


async def test_a_deleted_bot_answer_is_forgotten(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await mention(slack)
        thread = ThreadKey("slack", TEAM_ID, CHANNEL, MENTION_TS)
        store = slack.runtime.container.store
        assert answer.ts in await store.known_messages(thread)
        body = deleted(answer.ts, user=BOT_USER_ID, bot_id=BOT_ID, thread_ts=MENTION_TS)
        await send(slack, body)
        assert answer.ts not in await store.known_messages(thread)
    assert len(sim.asked) == 1


async def test_a_root_deleted_with_replies_is_a_tombstone_and_withdraws_its_question(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # A thread root with replies is not removed but replaced: message_changed whose message
    # has subtype "tombstone" (docs.slack.dev/reference/events/message/message_changed).
    fake_slack.limits = None
    adapter = SlackAdapter(update_interval=0.0, retry_sleep=no_sleep, rates={})
    async with slack_process(sqlite_url, fake_slack, sim, adapter, **BURSTS) as slack:
        timers = FakeTimers()
        slack.runtime.dispatcher.bursts.timers = timers
        await send(slack, event("message_im", ts=FIRST, text="What is grace?"))
        await send(
            slack,
            changed(
                FIRST,
                "This message was deleted.",
                "What is grace?",
                channel=DM,
                subtype="tombstone",
            ),
        )
        timers.advance(WINDOW)
        await slack.settle()
        counts = await slack.runtime.container.store.inbox_counts()
    assert sim.asked == []
    assert counts == {"withdrawn": 1}


FOLLOW_UP = "1700000200.000100"  # the recorded message_channels reply's ts
NEXT = "1700000210.000100"


async def held_mid_answer(
    slack: SlackProcess, fake: FakeSlack, asked: dict[str, Any] | None = None
) -> Message:
    """Ask ``asked`` (the follow-up FOLLOW_UP) and return its answer's message once it has
    streamed text and its next ``chat.appendStream`` is held (``fake.hold`` set by the
    caller)."""
    seen = len(fake.calls)

    def appends(since: int) -> list[Call]:
        return [c for c in fake.calls[since:] if c.method == "chat.appendStream"]

    if asked is None:
        asked = event("message_channels", ts=FOLLOW_UP, thread_ts=MENTION_TS, text="And mercy?")
    await send(slack, asked)
    while True:  # each append held in turn until one comes after text was shown
        [*_, held] = await fake.wait_for(functools.partial(appends, seen))
        seen = fake.calls.index(held) + 1
        message = fake.messages[str(held.args["ts"])]
        if message.streamed:
            assert message.streaming
            return message
        fake.release("chat.appendStream")


async def test_a_question_deleted_while_its_answer_streams_stops_it_and_the_next_is_answered(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await mention(slack)
        # Mid-answer, deterministically: the follow-up's stream shows text and its next
        # chat.appendStream is held by the fake Slack (the chunks come a moment apart, so
        # the first text starts the stream and later text is appended).
        sim.config.chunk_latency = 0.01
        fake_slack.hold("chat.appendStream")
        try:
            streaming = await held_mid_answer(slack, fake_slack)
            # The thread's next question waits behind the one being answered.
            after_it = event("message_channels", ts=NEXT, thread_ts=MENTION_TS, text="And hope?")
            await send(slack, after_it)
            assert len(sim.asked) == 2
            deleted_at = len(fake_slack.calls)
            await send(slack, deleted(FOLLOW_UP, thread_ts=MENTION_TS, text="And mercy?"))
            # The stopped answer's stream is closed (what streamed stays readable).
            await fake_slack.wait_for(lambda: not streaming.streaming)
        finally:
            sim.config.chunk_latency = 0.0
            fake_slack.release("chat.appendStream").set()  # too late to count: it was stopped
        await slack.settle()
        counts = await slack.runtime.container.store.inbox_counts()
    later = [c for c in fake_slack.calls[deleted_at:] if c.args.get("ts") == streaming.ts]
    assert [c.method for c in later] == ["chat.stopStream"]
    assert streaming.streamed
    # What streamed stays, ended by one line saying why (the stop's last chunk).
    assert streaming.streamed.rstrip().endswith(f"_{messages.ANSWER_STOPPED}_")
    assert not streaming.feedback_buttons()  # never shown as a finished answer
    assert [r.query for r in sim.asked] == ["What is grace?", "And mercy?", "And hope?"]
    thread = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert len(thread) == 3  # the first answer, the stopped one, the next question's
    assert thread[-1].feedback_buttons()
    assert counts == {"answered": 2, "withdrawn": 1}


async def test_an_edit_while_the_answer_streams_is_offered_beneath_it_once_it_is_done(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await mention(slack)
        sim.config.chunk_latency = 0.01  # as above: the follow-up's stream is held mid-answer
        fake_slack.hold("chat.appendStream")
        try:
            streaming = await held_mid_answer(slack, fake_slack)
            edit = changed(FOLLOW_UP, "And what is mercy?", "And mercy?", thread_ts=MENTION_TS)
            await send(slack, edit)
            await send(slack, edit)  # Slack's redelivery: offered once
            assert streaming.streaming
            assert len(fake_slack.in_thread(CHANNEL, MENTION_TS)) == 2  # not offered yet
        finally:
            sim.config.chunk_latency = 0.0
            fake_slack.release("chat.appendStream").set()
        await slack.settle()
    _first, answer, offer = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert answer is streaming
    assert answer.feedback_buttons()  # the answer was finished, not stopped
    assert offer.text == messages.EDIT_OFFER
    [button] = offer.buttons("gloo_suggest")
    assert button["text"]["text"] == "And what is mercy?"
    assert [r.query for r in sim.asked] == ["What is grace?", "And mercy?"]


async def test_a_question_deleted_before_gloo_answers_clears_the_threads_status(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await mention(slack)
        # Gloo's first chunk comes only long after the test (the stop ends that wait).
        sim.config.first_chunk_latency = 30.0
        asked = event("message_channels", ts=FOLLOW_UP, thread_ts=MENTION_TS, text="And mercy?")
        await send(slack, asked)
        await fake_slack.wait_for(lambda: (CHANNEL, MENTION_TS) in fake_slack.statuses)
        await send(slack, deleted(FOLLOW_UP, thread_ts=MENTION_TS, text="And mercy?"))
        # Not "is thinking…" until Slack's timeout: cleared, or (Completions V2) replaced by
        # the search's card, closed as stopped.
        await fake_slack.wait_for(lambda: (CHANNEL, MENTION_TS) not in fake_slack.statuses)
        await slack.settle()
        counts = await slack.runtime.container.store.inbox_counts()
    assert counts == {"answered": 1, "withdrawn": 1}
    assert all(not m.feedback_buttons() for m in fake_slack.in_thread(CHANNEL, MENTION_TS)[1:])


async def test_a_thread_root_deleted_while_its_answer_streams_stops_it_and_its_thread(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # The root has a reply (the answer streaming), so Slack replaces it with a tombstone
    # (docs.slack.dev/reference/events/message/message_changed) rather than removing it.
    text = f"<@{BOT_USER_ID}> What is grace?"
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        sim.config.chunk_latency = 0.01  # as above: the answer's stream is held mid-answer
        fake_slack.hold("chat.appendStream")
        try:
            root = event("app_mention", ts=MENTION_TS, user=ALICE, text=text)
            streaming = await held_mid_answer(slack, fake_slack, root)
            after_it = event("message_channels", ts=NEXT, thread_ts=MENTION_TS, text="And hope?")
            await send(slack, after_it)  # waits behind the answer in the thread
            deleted_at = len(fake_slack.calls)
            tombstone = changed(
                MENTION_TS, "This message was deleted.", text, subtype="tombstone", reply_count=1
            )
            await send(slack, tombstone)
            await fake_slack.wait_for(lambda: not streaming.streaming)
        finally:
            sim.config.chunk_latency = 0.0
            fake_slack.release("chat.appendStream").set()
        await slack.settle()
        counts = await slack.runtime.container.store.inbox_counts()
    later = [c for c in fake_slack.calls[deleted_at:] if c.args.get("ts") == streaming.ts]
    assert [c.method for c in later] == ["chat.stopStream"]
    assert streaming.streamed
    assert [r.query for r in sim.asked] == ["What is grace?"]  # the thread's next: withdrawn
    assert fake_slack.in_thread(CHANNEL, MENTION_TS) == [streaming]
    assert counts == {"withdrawn": 2}
