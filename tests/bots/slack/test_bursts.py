"""Bursts in Slack DMs (core/bursts.py), through the fake Slack.

Contract (docs.slack.dev/ai/migrating-to-agent-messaging/): in agent view each top-level DM
message is a thread root, answered in that thread; a burst of them is one question, answered
in the first one's thread, with the assistant status (reference/methods/
assistant.threads.setStatus) set on that thread as soon as the first message is stored.
Events are the recorded ``message_im`` payload (tests/bots/slack/payloads, sources in
tests/bots/slack/support.py).
"""

from __future__ import annotations

from bots.slack.adapter import SlackAdapter
from core.simulator import Simulator
from tests.bots.slack.fake_slack import FakeSlack
from tests.bots.slack.support import DM, SlackProcess, event, no_sleep, slack_process
from tests.clock import FakeTimers
from tests.harness import wait_until

FIRST = "1700000300.000100"
SECOND = "1700000301.000100"
THIRD = "1700000302.000100"
LATER = "1700000330.000100"
#: Long in real time, so the re-drive loop (real clock) never opens a burst before the fake
#: timers close it; the tests move the fake timers by WINDOW.
WINDOW = 60.0
BURSTS = {"burst_window_dm_seconds": WINDOW}


async def send_dm(slack: SlackProcess, ts: str, text: str, thread_ts: str | None = None) -> None:
    body = event("message_im", ts=ts, text=text, thread_ts=thread_ts)
    assert (await slack.event(body)).status == 200
    await slack.adapter.background.wait()  # handled and stored; the window stays open


async def test_a_burst_of_top_level_dms_is_one_question_answered_in_the_first_thread(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.limits = None  # appendStream per chunk of a zero-latency Gloo: not checked here
    adapter = SlackAdapter(update_interval=0.0, retry_sleep=no_sleep, rates={})
    async with slack_process(sqlite_url, fake_slack, sim, adapter, **BURSTS) as slack:
        timers = FakeTimers()
        slack.runtime.dispatcher.bursts.timers = timers
        await send_dm(slack, FIRST, "hi")
        await wait_until(lambda: bool(fake_slack.calls_to("assistant.threads.setStatus")))
        statuses = fake_slack.calls_to("assistant.threads.setStatus")
        assert [(s.args["channel_id"], s.args["thread_ts"]) for s in statuses] == [(DM, FIRST)]
        timers.advance(WINDOW - 1)
        await send_dm(slack, SECOND, "how do I forgive")
        timers.advance(WINDOW - 1)
        await send_dm(slack, THIRD, "someone who hurt me?")
        assert sim.asked == []  # still gathering
        timers.advance(WINDOW)
        await slack.settle()
        # After the answer: a new question, in its own thread.
        await send_dm(slack, LATER, "Thanks! What is grace?")
        timers.advance(WINDOW)
        await slack.settle()

    assert [r.query for r in sim.asked] == [
        "hi\nhow do I forgive\nsomeone who hurt me?",
        "Thanks! What is grace?",
    ]
    (answer,) = fake_slack.in_thread(DM, FIRST)
    assert answer.markdown
    assert not fake_slack.in_thread(DM, SECOND)
    assert not fake_slack.in_thread(DM, THIRD)
    assert len(fake_slack.in_thread(DM, LATER)) == 1
    starts = fake_slack.calls_to("chat.startStream")
    assert [c.args["thread_ts"] for c in starts] == [FIRST, LATER]
    # The status on the first message at once, not again when its answer starts.
    statuses = fake_slack.calls_to("assistant.threads.setStatus")
    assert [s.args["thread_ts"] for s in statuses if s.args["status"]] == [FIRST, LATER]


async def test_replies_in_a_dm_thread_burst_in_that_thread(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.limits = None
    adapter = SlackAdapter(update_interval=0.0, retry_sleep=no_sleep, rates={})
    async with slack_process(sqlite_url, fake_slack, sim, adapter, **BURSTS) as slack:
        timers = FakeTimers()
        slack.runtime.dispatcher.bursts.timers = timers
        await send_dm(slack, FIRST, "Tell me about hope")
        timers.advance(WINDOW)
        await slack.settle()
        await send_dm(slack, SECOND, "and joy", thread_ts=FIRST)
        await send_dm(slack, THIRD, "and peace?", thread_ts=FIRST)
        timers.advance(WINDOW)
        await slack.settle()

    assert [r.query for r in sim.asked] == ["Tell me about hope", "and joy\nand peace?"]
    assert len(fake_slack.in_thread(DM, FIRST)) == 2
