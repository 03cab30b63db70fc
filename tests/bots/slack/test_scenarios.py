"""The Slack adapter end to end (HTTP mode): signed recorded payloads in, fake Slack out.

Each test runs a whole ``gloo-bots slack`` process (core, SQLite, the Gloo simulator behind
the real Gloo client) and drives it like Slack: Events API, interactivity and slash command
requests signed with the signing secret, answered by the real slack_bolt/slack_sdk against
a fake Slack Web API on 127.0.0.1.
"""

from __future__ import annotations

import time

import pytest

from core import messages
from core.simulator import Simulator
from core.types import ThreadKey
from tests.bots.slack.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack, Message
from tests.bots.slack.support import (
    ALICE,
    BOB,
    CHANNEL,
    SlackProcess,
    action,
    assert_final_buttons,
    event,
    feedback_click,
    slack_process,
)
from tests.harness import expects_suggestions, question_path, simulator_api

MENTION_TS = "1700000100.000100"


async def mention(
    slack: SlackProcess, ts: str = MENTION_TS, text: str = "What is grace?"
) -> Message:
    """Mention the bot at top level and return its (one) answer in the new thread."""
    posted = await slack.event(
        event("app_mention", ts=ts, user=ALICE, text=f"<@{BOT_USER_ID}> {text}")
    )
    assert posted.status == 200
    await slack.settle()
    answers = slack.fake.in_thread(CHANNEL, ts)
    assert len(answers) == 1
    return answers[0]


def answers_started(fake: FakeSlack) -> int:
    return len(fake.calls_to("chat.postMessage", "chat.startStream"))


async def test_mention_gets_a_threaded_answer_with_links_and_buttons(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await mention(slack)
        metrics = slack.runtime.container.metrics.render().decode()
    assert "grace" in answer.markdown.lower()
    # Every Web API call is counted at /metrics, by method and result.
    assert (
        'gloo_bots_platform_calls_total{method="chat.startStream",platform="slack",result="ok"} 1.0'
        in metrics
    )
    sources = answer.buttons("gloo_source")
    assert sources
    assert all(b["url"].startswith("http") for b in sources)
    assert_final_buttons(answer)
    if expects_suggestions():
        suggestions = answer.buttons("gloo_suggest")
        assert len(suggestions) == 3
        assert all(b["action_id"] == f"gloo_suggest:{b['value']}" for b in suggestions)
    # Streamed natively in the thread, finished with the full blocks.
    assert fake_slack.calls_to("chat.startStream")
    (stop,) = fake_slack.calls_to("chat.stopStream")
    assert stop.args["blocks"] == answer.blocks
    # The sign of work is the thread's status, in a channel thread too (chat:write since
    # Slack's changelog of 2026-03-05); the 👀 reaction only where the status is refused.
    (status,) = fake_slack.calls_to("assistant.threads.setStatus")
    # Titles show in the DM history only (reference/methods/assistant.threads.setTitle).
    assert not fake_slack.calls_to("assistant.threads.setTitle")
    assert status.args["channel_id"] == CHANNEL
    assert status.args["thread_ts"] == MENTION_TS
    assert status.args["status"] == "is thinking…"
    assert 1 <= len(status.args["loading_messages"]) <= 10
    assert not fake_slack.calls_to("reactions.add")
    assert (CHANNEL, MENTION_TS) not in fake_slack.statuses  # cleared by the answer
    assert [(r.path, r.chat_id) for r in sim.asked] == [(question_path(), None)]


async def test_thread_follow_up_without_mention_continues_the_chat(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await mention(slack)
        follow_up = event(
            "message_channels", ts="1700000200.000100", thread_ts=MENTION_TS, text="And mercy?"
        )
        assert (await slack.event(follow_up)).status == 200
        await slack.settle()
    first, second = sim.asked
    assert second.chat_id == first.response_chat_id
    assert second.query == "And mercy?"
    assert len(fake_slack.in_thread(CHANNEL, MENTION_TS)) == 2


async def test_edits_deletions_bots_own_and_unrelated_messages_are_ignored(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await mention(slack)
        started = answers_started(fake_slack)
        ignored = [
            event("message_changed"),
            event("message_deleted"),
            event("bot_message", thread_ts=MENTION_TS),
            # our own message in the thread
            event("message_channels", user=BOT_USER_ID, bot_id="B0GLOOBOT", thread_ts=MENTION_TS),
            # a thread the bot is not part of
            event("message_channels", ts="1700000210.000100", thread_ts="1699999999.000100"),
            # top-level chatter without a mention
            event("message_channels", ts="1700000220.000100", thread_ts=None),
            # a channel join
            event("message_channels", ts="1700000230.000100", subtype="channel_join"),
        ]
        for body in ignored:
            assert (await slack.event(body)).status == 200
        await slack.settle()
    assert answers_started(fake_slack) == started
    assert len(sim.asked) == 1


@pytest.mark.message_api
async def test_suggestion_click_asks_in_the_thread_on_the_same_chat(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await mention(slack)
        button = answer.buttons("gloo_suggest")[1]
        click = action(
            fake_slack,
            action_id=button["action_id"],
            value=button["value"],
            message_ts=answer.ts,
            thread_ts=MENTION_TS,
        )
        assert (await slack.action(click)).status == 200
        await slack.settle()
    first, second = sim.asked
    assert second.chat_id == first.response_chat_id
    assert second.query
    assert second.query.rstrip("…")[:20] in button["text"]["text"]
    thread = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert len(thread) == 3  # answer, "<@bob> asked: …", answer
    assert thread[1].markdown.startswith(f"<@{BOB}> asked: *")


@pytest.mark.message_api
async def test_old_button_works_after_a_restart(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await mention(slack)
    button = answer.buttons("gloo_suggest")[0]
    async with slack_process(sqlite_url, fake_slack, sim) as restarted:
        click = action(
            fake_slack,
            action_id=button["action_id"],
            value=button["value"],
            message_ts=answer.ts,
            thread_ts=MENTION_TS,
        )
        assert (await restarted.action(click)).status == 200
        await restarted.settle()
    first, second = sim.asked
    assert second.chat_id == first.response_chat_id
    assert len(fake_slack.in_thread(CHANNEL, MENTION_TS)) == 3


async def test_unknown_or_forged_button_gets_a_polite_ephemeral_note(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        for value in ("nope:0", "x" * 300, "no-index"):
            click = action(fake_slack, action_id=f"gloo_suggest:{value[:50]}", value=value)
            assert (await slack.action(click)).status == 200
        await slack.settle()
    assert not sim.asked
    assert len(fake_slack.responses) == 3
    for response in fake_slack.responses:
        assert response["response_type"] == "ephemeral"
        assert messages.UNKNOWN_SUGGESTION in response["text"]


@pytest.mark.message_api  # suggestions are a Message API feature
async def test_a_suggestion_ref_ending_in_a_unicode_digit_is_unknown(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # "²" made int() raise ValueError; "١" (Arabic-Indic one) was read as suggestion 1.
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await mention(slack)
        answer_id = answer.buttons("gloo_suggest")[0]["value"].rpartition(":")[0]
        for digit in ("\u00b2", "\u0661"):
            value = f"{answer_id}:{digit}"
            click = action(
                fake_slack,
                action_id=f"gloo_suggest:{value}",
                value=value,
                message_ts=answer.ts,
                thread_ts=MENTION_TS,
            )
            assert (await slack.action(click)).status == 200
        await slack.settle()
    assert len(sim.asked) == 1  # only the mention
    assert len(fake_slack.responses) == 2
    for response in fake_slack.responses:
        assert response["response_type"] == "ephemeral"
        assert messages.UNKNOWN_SUGGESTION in response["text"]


async def test_forged_or_stale_signatures_are_refused(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        forged = await slack.event(event("app_mention"), secret="not-the-signing-secret")
        stale = await slack.event(event("app_mention"), timestamp=int(time.time()) - 10 * 60)
        unsigned = await slack.post(
            '{"type": "event_callback"}', "application/json", headers={"X-Slack-Signature": ""}
        )
        await slack.settle()
    assert (forged.status, stale.status, unsigned.status) == (401, 401, 401)
    assert not sim.asked
    assert answers_started(fake_slack) == 0
    assert not fake_slack.calls_to("reactions.add")


async def test_retries_and_double_delivery_give_one_answer(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await mention(slack)
        # A mention inside the bot's thread arrives as app_mention AND as message.
        ts = "1700000500.000100"
        text = f"<@{BOT_USER_ID}> and hope?"
        as_mention = event("app_mention", ts=ts, thread_ts=MENTION_TS, text=text)
        as_message = event("message_channels", ts=ts, thread_ts=MENTION_TS, text=text)
        for body, headers in [
            (as_mention, {}),
            (as_message, {}),
            (as_mention, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}),
            (as_mention, {"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}),
        ]:
            assert (await slack.event(body, headers=headers)).status == 200
        await slack.settle()
    assert len(sim.asked) == 2
    assert len(fake_slack.in_thread(CHANNEL, MENTION_TS)) == 2


async def test_gloo_failures_are_a_plain_sentence_then_later_messages_work(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        sim.inject("429", "429", "429")
        await slack.event(event("app_mention", ts=MENTION_TS))
        await slack.settle()
        (notice,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
        # A 429 that outlasts the retries is the organisation's usage limit (issue 11).
        assert "Gloo usage limit has been reached" in notice.markdown
        assert not notice.buttons()
        # Recorded as this question's, so no later re-drive takes it for an unrecorded answer.
        known = await slack.runtime.container.store.known_messages(
            ThreadKey("slack", TEAM_ID, CHANNEL, MENTION_TS)
        )
        assert notice.ts in known

        sim.inject("500", "500", "500")
        await slack.event(event("app_mention", ts="1700000600.000100"))
        await slack.settle()
        (notice,) = fake_slack.in_thread(CHANNEL, "1700000600.000100")
        assert "couldn't get an answer from Gloo" in notice.markdown

        answer = await mention(slack, ts="1700000700.000100")
    assert "grace" in answer.markdown.lower()
    assert_final_buttons(answer)


async def test_feedback_click_is_stored_with_the_answer(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await mention(slack)
        (element,) = answer.feedback_buttons()  # Slack's native feedback_buttons
        answer_id = element["positive_button"]["value"].removeprefix("up:")
        await slack.action(feedback_click(fake_slack, answer, "up", thread_ts=MENTION_TS))
        await slack.action(
            feedback_click(fake_slack, answer, "down", user=ALICE, thread_ts=MENTION_TS)
        )
        # The 👍/👎 buttons of messages posted before the native element still count.
        await slack.action(
            action(fake_slack, action_id="gloo_feedback:up", value=answer_id, user="U0CAROL01")
        )
        unknown = feedback_click(fake_slack, answer, "up")
        unknown["actions"][0]["value"] = "up:unknown-answer"
        await slack.action(unknown)
        malformed = feedback_click(fake_slack, answer, "up")
        malformed["actions"][0]["value"] = "sideways"
        await slack.action(malformed)
        await slack.settle()
        votes = await slack.runtime.container.store.get_feedback(answer_id)
    assert votes == {BOB: 1, ALICE: -1, "U0CAROL01": 1}
    texts = [r["text"] for r in fake_slack.responses]
    assert texts.count("Thanks for the feedback!") == 3
    assert sum("couldn't record your feedback" in t for t in texts) == 2


async def test_a_slow_gloo_shows_an_hourglass_until_the_answer_starts(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    sim.config.first_chunk_latency = 0.3
    async with slack_process(sqlite_url, fake_slack, sim, slow_notice_after=0.1) as slack:
        answer = await mention(slack)
    statuses = [entry[2] for entry in fake_slack.status_history]
    assert statuses[0] == "is thinking…"
    if simulator_api() == "completions":
        # V2 answers are grounded: the task card shows Gloo searching instead of a second
        # status saying the same (tests/bots/slack/test_steps.py).
        assert statuses == ["is thinking…"]
        assert answer.tasks["gloo_sources"]["status"] == "complete"
    else:
        assert "is still working — Gloo is slow right now…" in statuses[1:]
    assert (CHANNEL, MENTION_TS) not in fake_slack.statuses  # cleared by the answer


async def test_a_refused_status_falls_back_to_reactions_and_is_remembered(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # An app whose token may not set statuses: Slack answers missing_scope
    # (docs.slack.dev/reference/methods/assistant.threads.setStatus, "Errors").
    sim.config.first_chunk_latency = 0.3
    fake_slack.fail("assistant.threads.setStatus", "missing_scope")
    async with slack_process(sqlite_url, fake_slack, sim, slow_notice_after=0.1) as slack:
        await mention(slack)
    calls = fake_slack.calls_to("reactions.add", "chat.startStream")
    reactions = [call.args["name"] for call in calls if call.method == "reactions.add"]
    assert reactions[0] == "eyes"
    if simulator_api() != "completions":
        assert "hourglass_flowing_sand" in reactions[1:]
    else:
        # On V2 (grounded) the task card says Gloo is searching: no ⏳ says it again once
        # the card is on its way. (An ⏳ before it is right: on a machine too busy to start
        # the search within slow_notice_after, nothing yet said that Gloo was at work.)
        card = next(i for i, call in enumerate(calls) if call.method == "chat.startStream")
        assert all(call.args.get("name") != "hourglass_flowing_sand" for call in calls[card:])
    # Refused once: the workspace's later signs go straight to reactions.
    assert len(fake_slack.calls_to("assistant.threads.setStatus")) == 1


async def test_a_reply_written_while_the_first_answer_streams_is_answered_next(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    sim.config.first_chunk_latency = 0.2
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        assert (await slack.event(event("app_mention", ts=MENTION_TS))).status == 200
        follow_up = event(
            "message_channels", ts="1700000200.000100", thread_ts=MENTION_TS, text="And mercy?"
        )
        assert (await slack.event(follow_up)).status == 200  # before any answer exists
        await slack.settle()
    first, second = sim.asked
    assert second.query == "And mercy?"
    assert second.chat_id == first.response_chat_id  # after the first, in the same chat
    assert len(fake_slack.in_thread(CHANNEL, MENTION_TS)) == 2
