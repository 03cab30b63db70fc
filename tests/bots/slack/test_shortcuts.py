""" "Ask Gloo about this": the message shortcut, its modal, and the answer in the thread,
through the running app against the fake Slack.

Payload shapes: ``payloads/message_action.json`` (docs.slack.dev/reference/
interaction-payloads/shortcuts) and ``payloads/view_submission.json`` (docs.slack.dev/
reference/interaction-payloads/view-interactions-payload); see support.PAYLOAD_SOURCES.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from bots.slack import messages as sentences
from bots.slack.commands import parse_settings_change
from bots.slack.shortcuts import (
    METADATA_LIMIT,
    QUESTION_ACTION,
    QUESTION_BLOCK,
    metadata_for,
    parse_metadata,
)
from core.quoting import DEFAULT_QUESTION
from core.simulator import Simulator
from core.types import ThreadKey
from tests.bots.slack.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack, user_object
from tests.bots.slack.support import (
    ALICE,
    BOB,
    CHANNEL,
    SlackProcess,
    assert_final_buttons,
    command,
    event,
    load,
    slack_process,
)

MESSAGE_TS = "1700000100.000100"
QUOTED = (
    "About this message:\n"
    "> We meet at the river at dawn, @bob. Bring a lantern (https://example.org/lantern).\n\n"
)


def shortcut(
    fake: FakeSlack,
    *,
    user: str = ALICE,
    channel: str = CHANNEL,
    thread_ts: str | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """A message shortcut on the recorded message (a fresh trigger and response_url)."""
    body = copy.deepcopy(load("message_action"))
    body["user"]["id"] = user
    body["channel"]["id"] = channel
    body["trigger_id"] = fake.trigger_id()
    body["response_url"] = fake.response_url(f"shortcut-{uuid.uuid4().hex[:8]}")
    if thread_ts is not None:
        body["message"]["thread_ts"] = thread_ts
    if text is not None:
        body["message"]["text"] = text
    return body


def submission(modal: dict[str, Any], question: str, *, user: str = ALICE) -> dict[str, Any]:
    """The view_submission of ``modal`` (as the fake holds it) with ``question`` typed."""
    body = copy.deepcopy(load("view_submission"))
    body["user"]["id"] = user
    body["view"].update(
        id=modal["id"],
        blocks=modal["blocks"],
        private_metadata=modal["private_metadata"],
        state={
            "values": {
                QUESTION_BLOCK: {QUESTION_ACTION: {"type": "plain_text_input", "value": question}}
            }
        },
    )
    return body


async def open_modal(slack: SlackProcess, body: dict[str, Any]) -> dict[str, Any]:
    before = set(slack.fake.modals)
    assert (await slack.action(body)).status == 200
    await slack.settle()
    (new,) = set(slack.fake.modals) - before
    return slack.fake.modals[new]


def ephemerals(fake: FakeSlack) -> list[str]:
    return [str(r.get("text")) for r in fake.responses if r.get("response_type") == "ephemeral"]


async def test_the_shortcut_answers_in_the_messages_thread_with_the_quote_sent_to_gloo(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        modal = await open_modal(slack, shortcut(fake_slack))
        shown = json.dumps(modal["blocks"])
        assert "We meet at the river at dawn" in shown
        assert "<@U0BOB0001" not in shown
        assert "<https://" not in shown
        assert f'"initial_value": "{DEFAULT_QUESTION}"' in shown
        assert len(modal["private_metadata"]) <= METADATA_LIMIT
        submitted = await slack.action(submission(modal, "Why a lantern?"))
        assert submitted.status == 200
        assert submitted.text in ("", "{}")
        await slack.settle()
        asked, answer = fake_slack.in_thread(CHANNEL, MESSAGE_TS)
        thread = ThreadKey("slack", TEAM_ID, CHANNEL, MESSAGE_TS)
        assert await slack.runtime.dispatcher.is_active(thread)
        # A reply in the thread continues the conversation the shortcut started there.
        reply = event(
            "message_channels",
            ts="1700000200.000100",
            thread_ts=MESSAGE_TS,
            user=ALICE,
            text="And at dusk?",
            channel=CHANNEL,
        )
        assert (await slack.event(reply)).status == 200
        await slack.settle()
    assert f"<@{ALICE}> asked" in asked.text
    assert "Why a lantern?" in asked.text
    assert_final_buttons(answer)
    first, second = sim.asked
    assert first.query == QUOTED + "Why a lantern?"
    assert second.query == "And at dusk?"
    assert second.chat_id


async def test_a_message_inside_a_thread_is_answered_in_that_thread(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    root = "1700000050.000100"
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        modal = await open_modal(slack, shortcut(fake_slack, thread_ts=root))
        await slack.action(submission(modal, ""))  # an empty question asks the default
        await slack.settle()
        _asked, answer = fake_slack.in_thread(CHANNEL, root)
    assert_final_buttons(answer)
    (request,) = sim.asked
    assert request.query == QUOTED + DEFAULT_QUESTION


async def test_where_the_bot_cannot_post_the_person_gets_one_ephemeral_sentence(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        modal = await open_modal(slack, shortcut(fake_slack))
        fake_slack.fail("chat.postMessage", "not_in_channel")
        await slack.action(submission(modal, "Explain this"))
        await slack.settle()
    assert ephemerals(fake_slack) == [sentences.SHORTCUT_CANNOT_POST]
    assert fake_slack.in_thread(CHANNEL, MESSAGE_TS) == []
    assert sim.asked == []


async def test_an_expired_trigger_is_explained_not_lost(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    body = shortcut(fake_slack)
    fake_slack.issued_triggers[body["trigger_id"]] -= 10  # issued 10 s ago: past Slack's 3 s
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        assert (await slack.action(body)).status == 200
        await slack.settle()
    assert fake_slack.modals == {}
    (call,) = fake_slack.calls_to("views.open")
    assert call.error == "expired_trigger_id"
    assert ephemerals(fake_slack) == [sentences.SHORTCUT_EXPIRED]


async def test_the_shortcut_can_be_turned_off_for_a_channel(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    assert parse_settings_change("shortcut off") == {"enable_shortcuts": False}
    assert parse_settings_change("shortcuts on") == {"enable_shortcuts": True}
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await slack.command(command(fake_slack, "settings shortcut off"))
        await slack.settle()
        assert "Ask about a message: off" in json.dumps(fake_slack.responses[-1])
        assert (await slack.action(shortcut(fake_slack))).status == 200
        await slack.settle()
    assert fake_slack.modals == {}
    assert ephemerals(fake_slack)[-1] == sentences.SHORTCUT_OFF
    assert sim.asked == []


async def test_a_blocked_person_is_refused_before_and_after_the_modal(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        opened = await open_modal(slack, shortcut(fake_slack, user=BOB))
        await slack.command(command(fake_slack, f"access block <@{BOB}|bob>"))
        await slack.settle()
        # The modal was opened before the block: its submission is refused in the modal.
        refused = await slack.action(submission(opened, "Explain this", user=BOB))
        await slack.settle()
        # A new shortcut is refused before any modal opens.
        before = len(fake_slack.modals)
        assert (await slack.action(shortcut(fake_slack, user=BOB))).status == 200
        await slack.settle()
        assert len(fake_slack.modals) == before
    answer = json.loads(refused.text)
    assert answer["response_action"] == "errors"
    assert "can't answer you here" in answer["errors"][QUESTION_BLOCK]
    assert ephemerals(fake_slack)[-1] == answer["errors"][QUESTION_BLOCK]
    assert sim.asked == []
    assert fake_slack.in_thread(CHANNEL, MESSAGE_TS) == []


async def test_the_daily_quota_applies_as_for_mentions(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, quota_user_per_day=1) as slack:
        mention = event(
            "app_mention", ts="1700000090.000100", user=ALICE, text=f"<@{BOT_USER_ID}> Grace?"
        )
        await slack.event(mention)
        await slack.settle()
        modal = await open_modal(slack, shortcut(fake_slack))
        await slack.action(submission(modal, "Explain this"))
        await slack.settle()
        _asked, refusal = fake_slack.in_thread(CHANNEL, MESSAGE_TS)
    assert "limit of 1 question" in refusal.markdown
    assert [r.query for r in sim.asked] == ["Grace?"]


async def test_a_question_over_the_cap_is_refused_in_the_modal(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, question_max_chars=50) as slack:
        modal = await open_modal(slack, shortcut(fake_slack))
        refused = await slack.action(submission(modal, "x" * 80))
        await slack.settle()
    answer = json.loads(refused.text)
    assert "at most 50" in answer["errors"][QUESTION_BLOCK]
    assert sim.asked == []


def test_the_metadata_keeps_where_the_message_is_and_fits_slacks_limit() -> None:
    url = "https://hooks.slack.com/app/T0TEAM001/1/abc"
    quote = 'He said "come" \\ ' * 600  # escapes grow under JSON
    raw = metadata_for(CHANNEL, MESSAGE_TS, "1700000050.000100", url, quote)
    assert len(raw) <= METADATA_LIMIT
    parsed = parse_metadata(raw)
    assert parsed is not None
    assert (parsed["channel"], parsed["ts"], parsed["thread_ts"]) == (
        CHANNEL,
        MESSAGE_TS,
        "1700000050.000100",
    )
    assert parsed["response_url"] == url
    assert quote.startswith(parsed["quote"][:-1])
    assert parsed["quote"].endswith("…")
    assert parse_metadata("not json") is None
    assert parse_metadata(json.dumps({"c": "C 1", "ts": "1", "q": ""})) is None
