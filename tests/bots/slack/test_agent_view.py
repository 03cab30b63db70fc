"""Agent view (the default, config/slack-manifest.yaml) and the App Home, through the fake Slack.

Contracts (docs.slack.dev/ai/migrating-to-agent-messaging/): each top-level DM message is a
thread root and the answer goes in that thread (``thread_ts = event.thread_ts or event.ts``);
``app_home_opened`` with ``tab == "messages"`` replaces ``assistant_thread_started``, and
``assistant.threads.setSuggestedPrompts`` takes ``channel_id`` alone there; no greeting is
posted. The Home tab is ``views.publish`` (reference/methods/views.publish), History a modal
(``views.open`` with the click's ``trigger_id``, then ``views.update``).
"""

from __future__ import annotations

from typing import Any

from bots.slack.adapter import SlackAdapter
from core.budget import Rate
from core.simulator import Simulator
from core.types import ThreadKey
from tests.bots.slack.fake_slack import TEAM_ID, FakeSlack, user_object
from tests.bots.slack.support import (
    ALICE,
    CHANNEL,
    DM,
    PAYLOAD_SOURCES,
    PAYLOADS,
    SlackProcess,
    assert_final_buttons,
    event,
    home_click,
    no_sleep,
    slack_process,
)

FIRST = "1700000300.000100"
FOLLOW_UP = "1700000310.000100"
SECOND = "1700000320.000100"


def test_every_recorded_payload_names_its_published_source() -> None:
    recorded = {p.stem for p in PAYLOADS.glob("*.json")}
    assert recorded == set(PAYLOAD_SOURCES)
    assert all("docs.slack.dev" in source for source in PAYLOAD_SOURCES.values())


async def ask_in_dm(slack: SlackProcess, ts: str, text: str, thread_ts: str | None = None) -> None:
    body = event("message_im", ts=ts, text=text, thread_ts=thread_ts)
    assert (await slack.event(body)).status == 200
    await slack.settle()


async def test_a_top_level_dm_is_answered_in_its_own_thread_streamed_with_status(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # chat.appendStream per chunk of a zero-latency Gloo: over Tier 4 (SlackLimits);
    # the limits are not what this test checks, so they are off (in the fake and in the
    # adapter's budget: three new messages in one DM within 2 s would otherwise queue).
    fake_slack.limits = None
    adapter = SlackAdapter(update_interval=0.0, retry_sleep=no_sleep, rates={})
    async with slack_process(sqlite_url, fake_slack, sim, adapter) as slack:
        await ask_in_dm(slack, FIRST, "Tell me about hope")
        await ask_in_dm(slack, FOLLOW_UP, "And about joy?", thread_ts=FIRST)
        await ask_in_dm(slack, SECOND, "What is grace?")
        store = slack.runtime.container.store
        chat_of_first = await store.get_chat_id(ThreadKey("slack", TEAM_ID, DM, FIRST))

    assert not fake_slack.in_thread(DM, None)  # nothing at the DM's top level
    (answer, follow_up_answer) = fake_slack.in_thread(DM, FIRST)
    (second_answer,) = fake_slack.in_thread(DM, SECOND)
    assert "hope" in answer.markdown.lower()
    for message in (answer, follow_up_answer, second_answer):
        assert_final_buttons(message)
    # Native streaming in the DM thread, with the assistant status while it works.
    starts = fake_slack.calls_to("chat.startStream")
    assert [c.args["thread_ts"] for c in starts] == [FIRST, FIRST, SECOND]
    assert all(c.args["channel"] == DM for c in starts)
    assert all(c.args["recipient_user_id"] == ALICE for c in starts)
    statuses = fake_slack.calls_to("assistant.threads.setStatus")
    assert [(s.args["channel_id"], s.args["thread_ts"]) for s in statuses] == [
        (DM, FIRST),
        (DM, FIRST),
        (DM, SECOND),
    ]
    assert not fake_slack.calls_to("chat.update")  # no placeholder edits
    # The follow-up continues the thread's chat; the next top-level DM starts a new one.
    first, follow_up, second = sim.asked
    assert follow_up.chat_id == first.response_chat_id
    assert chat_of_first is not None  # the thread is bound to its chat
    assert second.chat_id is None


async def test_opening_the_messages_tab_sets_the_prompts_and_posts_nothing(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        assert (await slack.event(event("app_home_opened_messages"))).status == 200
        await slack.settle()
    (prompts,) = fake_slack.calls_to("assistant.threads.setSuggestedPrompts")
    assert set(prompts.args) == {"channel_id", "prompts"}  # channel_id only: no thread_ts
    assert prompts.args["channel_id"] == DM
    assert 1 <= len(prompts.args["prompts"]) <= 4
    assert prompts.error is None
    assert not fake_slack.messages  # no greeting
    assert not fake_slack.calls_to("views.publish")


async def test_the_assistant_view_sets_no_prompts_on_the_messages_tab(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, slack_messaging="assistant") as slack:
        assert (await slack.event(event("app_home_opened_messages"))).status == 200
        await slack.settle()
    assert not fake_slack.calls_to("assistant.threads.setSuggestedPrompts")
    assert not fake_slack.messages


def home_buttons(view: dict[str, Any], action_id: str) -> list[dict[str, Any]]:
    return [
        element
        for block in view["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    ]


def home_text(view: dict[str, Any]) -> str:
    parts = []
    for block in view["blocks"]:
        if block["type"] in ("section", "header"):
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(e["text"] for e in block["elements"])
    return "\n".join(parts)


async def open_home(slack: SlackProcess) -> dict[str, Any]:
    before = len(slack.fake.calls_to("views.publish"))
    assert (await slack.event(event("app_home_opened_home"))).status == 200
    await slack.settle()
    assert len(slack.fake.calls_to("views.publish")) == before + 1
    return slack.fake.home_views[ALICE]


async def test_the_home_tab_lists_conversations_with_history_and_start_over(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        empty = await open_home(slack)
        assert "no conversations yet" in home_text(empty)

        await ask_in_dm(slack, FIRST, "Tell me about hope")
        await ask_in_dm(slack, FOLLOW_UP, "And about joy?", thread_ts=FIRST)
        mention = event("app_mention", ts="1700000400.000100", text="<@U0GLOOBOT> What is grace?")
        mention["event"]["user"] = ALICE
        await slack.event(mention)
        await slack.settle()

        home = await open_home(slack)
        text = home_text(home)
        # Newest first: the channel question, then the DM thread (first question shown).
        assert text.index("What is grace?") < text.index("Tell me about hope")
        assert "And about joy?" not in text
        assert "2 questions" in text
        assert f"<https://fake.slack.test/archives/{DM}/p{FIRST.replace('.', '')}|" in text
        assert f"In <#{CHANNEL}>" in text
        assert "Workspace settings" not in text  # Alice is no admin
        (permalinks) = fake_slack.calls_to("chat.getPermalink")
        assert {c.args["message_ts"] for c in permalinks} >= {FIRST, "1700000400.000100"}

        # History: a modal opened at once with the click's trigger, then the conversation.
        dm_history = next(b for b in home_buttons(home, "gloo_home_history") if DM in b["value"])
        click = home_click(dm_history)
        assert (await slack.action(click)).status == 200
        await slack.settle()
        (opened,) = fake_slack.calls_to("views.open")
        assert opened.args["trigger_id"] == click["trigger_id"]
        (updated,) = fake_slack.calls_to("views.update")
        modal = fake_slack.modals[updated.args["view_id"]]
        shown = "\n".join(b["text"]["text"] for b in modal["blocks"] if b["type"] == "section")
        assert "Tell me about hope" in shown
        assert "And about joy?" in shown
        assert "*Gloo*:" in shown

        # Start over: the thread's chat is forgotten, the Home tab is published again.
        dm_reset = next(b for b in home_buttons(home, "gloo_home_reset") if DM in b["value"])
        assert dm_reset["confirm"]["style"] == "danger"
        assert (await slack.action(home_click(dm_reset))).status == 200
        await slack.settle()
        after = fake_slack.home_views[ALICE]
        assert "Started over" in home_text(after)
        assert "Tell me about hope" not in home_text(after)
        assert "What is grace?" in home_text(after)
        store = slack.runtime.container.store
        assert await store.get_chat_id(ThreadKey("slack", TEAM_ID, DM, FIRST)) is None

        # The next message in that thread starts a new chat; History of the old one is gone.
        await ask_in_dm(slack, "1700000500.000100", "Once more", thread_ts=FIRST)
        stale = home_click(dm_history)
        await slack.action(stale)
        await slack.settle()
    assert sim.asked[-1].chat_id is None
    last_modal = fake_slack.modals[fake_slack.calls_to("views.update")[-1].args["view_id"]]
    assert "Once more" in str(last_modal["blocks"])  # the thread's current conversation
    assert sim.asked[1].chat_id == sim.asked[0].response_chat_id  # the follow-up, before


async def test_someone_elses_conversation_is_not_shown_or_reset(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await ask_in_dm(slack, FIRST, "Tell me about hope")
        home = await open_home(slack)
        (history,) = home_buttons(home, "gloo_home_history")
        (reset,) = home_buttons(home, "gloo_home_reset")
        for button in (history, reset):
            await slack.action(home_click(button, user="U0MALLORY"))
        forged = dict(history, value="C0NOTHERS|not-a-ts")
        await slack.action(home_click(forged))
        await slack.settle()
        assert await slack.runtime.container.store.get_chat_id(
            ThreadKey("slack", TEAM_ID, DM, FIRST)
        )
    modals = [fake_slack.modals[c.args["view_id"]] for c in fake_slack.calls_to("views.update")]
    assert len(modals) == 2
    assert all("can't find that conversation" in str(m["blocks"]) for m in modals)
    assert "Tell me about hope" not in str(fake_slack.home_views["U0MALLORY"]["blocks"])


async def test_admins_also_see_the_workspace_settings(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        service = slack.runtime.container.service
        await service.update_settings("slack", TEAM_ID, CHANNEL, sources_limit=2)
        text = home_text(await open_home(slack))
    (info,) = fake_slack.calls_to("users.info")
    assert info.args["user"] == ALICE
    assert "Workspace settings" in text
    assert "Whole workspace (defaults)" in text
    assert f"<#{CHANNEL}>" in text
    assert "at most 2" in text


async def test_a_home_tab_without_users_info_or_permalinks_still_publishes(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        # Failing from the start: a users.info answered earlier (the question's language)
        # would be reused for a minute.
        fake_slack.fail("users.info", "missing_scope", times=5)
        await ask_in_dm(slack, FIRST, "Tell me about hope")
        fake_slack.fail("chat.getPermalink", "message_not_found")
        text = home_text(await open_home(slack))
    assert "*Tell me about hope*" in text  # no link, still listed
    assert "Workspace settings" not in text


# assistant.threads.setTitle (docs.slack.dev/reference/methods/assistant.threads.setTitle):
# channel_id, thread_ts and title; "shown when a user views the DM history with your app";
# Tier 4, bot scope assistant:write. Slack's template titles the thread with the user's
# message (slack-samples/bolt-js-assistant-template, listeners/assistant/message.js).
LONG_QUESTION = "How do I start praying every day when my mornings are already far too busy?"


async def test_the_first_dm_question_titles_its_thread_and_the_follow_up_does_not(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.limits = None
    adapter = SlackAdapter(update_interval=0.0, retry_sleep=no_sleep, rates={})
    async with slack_process(sqlite_url, fake_slack, sim, adapter) as slack:
        await ask_in_dm(slack, FIRST, f"<@U0BOB0001> {LONG_QUESTION}")
        await ask_in_dm(slack, FOLLOW_UP, "And about joy?", thread_ts=FIRST)
        await ask_in_dm(slack, SECOND, "What is grace?")
    titles = fake_slack.calls_to("assistant.threads.setTitle")
    assert [(c.args["channel_id"], c.args["thread_ts"]) for c in titles] == [
        (DM, FIRST),
        (DM, SECOND),
    ]
    first_title = fake_slack.titles[(DM, FIRST)]
    assert first_title == "How do I start praying every day when my mornings are…"
    assert len(first_title) <= 60
    assert fake_slack.titles[(DM, SECOND)] == "What is grace?"


async def test_no_title_when_the_budget_has_no_room(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # One title a minute in this budget: the second thread's title is skipped, not waited
    # for, and its answer still comes.
    fake_slack.limits = None
    rates = {"assistant.threads.setTitle": Rate(1, 60.0)}
    adapter = SlackAdapter(update_interval=0.0, retry_sleep=no_sleep, rates=rates)
    async with slack_process(sqlite_url, fake_slack, sim, adapter) as slack:
        await ask_in_dm(slack, FIRST, "Tell me about hope")
        await ask_in_dm(slack, SECOND, "What is grace?")
    (title,) = fake_slack.calls_to("assistant.threads.setTitle")
    assert title.args["thread_ts"] == FIRST
    (answer,) = fake_slack.in_thread(DM, SECOND)
    assert_final_buttons(answer)


async def test_a_refused_title_is_remembered_for_the_workspace(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # A token without assistant:write: Slack answers missing_scope (the method's "Errors").
    fake_slack.limits = None
    fake_slack.fail("assistant.threads.setTitle", "missing_scope")
    adapter = SlackAdapter(update_interval=0.0, retry_sleep=no_sleep, rates={})
    async with slack_process(sqlite_url, fake_slack, sim, adapter) as slack:
        await ask_in_dm(slack, FIRST, "Tell me about hope")
        await ask_in_dm(slack, SECOND, "What is grace?")
    assert len(fake_slack.calls_to("assistant.threads.setTitle")) == 1
    assert not fake_slack.titles
    assert len(fake_slack.in_thread(DM, SECOND)) == 1  # answered all the same
