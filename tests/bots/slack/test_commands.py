"""``/gloo``: parsing, and each sub-command through the running app."""

from __future__ import annotations

import pytest

from bots.slack.commands import Command, parse_command, parse_settings_change, readable_question
from core.simulator import Simulator
from core.types import ThreadKey
from tests.bots.slack.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack, user_object
from tests.bots.slack.support import (
    ALICE,
    CHANNEL,
    DM,
    assert_final_buttons,
    command,
    event,
    slack_process,
)
from tests.harness import simulator_api


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", Command("help", "")),
        ("help", Command("help", "")),
        ("ask What is grace?", Command("ask", "What is grace?")),
        ("What is grace?", Command("ask", "What is grace?")),
        ("RESET", Command("reset", "")),
        ("settings sources off", Command("settings", "sources off")),
    ],
)
def test_parse_command(text: str, parsed: Command) -> None:
    assert parse_command(text) == parsed


# With ``should_escape`` on, command text carries people, channels and links as Slack's
# escaped tokens (docs.slack.dev/interactivity/implementing-slash-commands; their format:
# docs.slack.dev/messaging/formatting-message-text, "Linking to channels and users").
@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("What does <@U0BOB0001|bob> mean?", "What does @bob mean?"),
        ("Ask <@U0BOB0001>", "Ask @U0BOB0001"),
        ("In <#C0GENERAL1|general> today", "In #general today"),
        ("In <#C0GENERAL1> today", "In #C0GENERAL1 today"),
        ("Read <https://x.example/a|the guide>", "Read the guide (https://x.example/a)"),
        ("Read <https://x.example/a>", "Read https://x.example/a"),
        ("Is <http://x.example|x.example> safe?", "Is x.example safe?"),
        ("Write <mailto:b@x.example|Bob>", "Write Bob (mailto:b@x.example)"),
        ("Tell <!here> and <!subteam^S0DEVS|@devs>", "Tell @here and @devs"),
        ("a &amp; b &lt;@U1&gt;", "a & b <@U1>"),
        ("plain text", "plain text"),
    ],
)
def test_command_text_is_read_as_a_person_reads_it(text: str, question: str) -> None:
    assert readable_question(text) == question


@pytest.mark.parametrize(
    ("text", "changes"),
    [
        ("sources off", {"enable_sources": False}),
        ("sources on", {"enable_sources": True}),
        ("sources 3", {"sources_limit": 3}),
        ("suggestions off", {"enable_suggestions": False}),
        ("characters 500", {"character_limit": 500}),
        ("characters none", {"character_limit": None}),
        ("publishers A, B ", {"publishers": ("A", "B")}),
        ("publishers none", {"publishers": ()}),
    ],
)
def test_parse_settings_change(text: str, changes: dict[str, object]) -> None:
    assert parse_settings_change(text) == changes


@pytest.mark.parametrize(
    ("text", "range_"),
    [
        ("characters 3000000000", "from 1 to 100,000 characters"),
        ("characters 100000000000000000000", "from 1 to 100,000 characters"),
        ("characters 1e20", "from 1 to 100,000 characters"),
        ("characters -4", "from 1 to 100,000 characters"),
        ("characters \u00b2", "from 1 to 100,000 characters"),
        ("characters 2.5", "from 1 to 100,000 characters"),
        ("characters 0", "from 1 to 100,000 characters"),
        ("sources 30", "from 0 to 25"),
        ("sources -1", "from 0 to 25"),
        ("sources 2.5", "from 0 to 25"),
        ("sources 1e20", "from 0 to 25"),
        ("sources \u00b2", "from 0 to 25"),
    ],
)
def test_numbers_past_the_core_range_say_the_range(text: str, range_: str) -> None:
    # Before: 3000000000 passed (DataError on PostgreSQL), "sources ²" raised int()'s error.
    with pytest.raises(ValueError, match="must be a whole number") as info:
        parse_settings_change(text)
    assert range_ in str(info.value)


async def test_an_out_of_range_setting_gets_the_range_and_stores_nothing(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # Before: 100000000000000000000 raised OverflowError in SQLite and got no reply.
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        for text in ("settings characters 100000000000000000000", "settings characters 3000000000"):
            await slack.command(command(fake_slack, text))
            await slack.settle()
        stored = await slack.runtime.container.service.settings_for("slack", TEAM_ID, CHANNEL)
    assert len(fake_slack.responses) == 2
    for response in fake_slack.responses:
        assert response["response_type"] == "ephemeral"
        assert "from 1 to 100,000 characters" in response["text"]
    assert stored.character_limit is None


@pytest.mark.parametrize("text", ["sources maybe", "characters -4", "colour blue", "suggestions"])
def test_bad_settings_say_how(text: str) -> None:
    with pytest.raises(ValueError, match=r"Use|Settings are|must be"):
        parse_settings_change(text)


async def test_help_is_the_immediate_ephemeral_ack(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        posted = await slack.command(command(fake_slack, ""))
    assert posted.status == 200
    assert '"response_type": "ephemeral"' in posted.text
    assert "/gloo ask" in posted.text


async def test_ask_posts_the_question_and_answers_in_its_thread(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        posted = await slack.command(command(fake_slack, "ask What is grace?"))
        assert posted.status == 200
        await slack.settle()
        (question,) = fake_slack.in_thread(CHANNEL, None)
        assert question.markdown == f"<@{ALICE}> asked: *What is grace?*"
        (answer,) = fake_slack.in_thread(CHANNEL, question.ts)
        assert_final_buttons(answer)
        # the thread is a conversation: a reply without mention continues it
        await slack.event(
            event("message_channels", ts="1700009999.000100", thread_ts=question.ts, text="More?")
        )
        await slack.settle()
    first, second = sim.asked
    assert second.chat_id == first.response_chat_id


async def test_ask_sends_gloo_mentions_and_links_as_people_read_them(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    text = (
        "ask How would <@U0BOB0001|bob> read <https://x.example/p|this page> in <#C0GEN|general>?"
    )
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await slack.command(command(fake_slack, text))
        await slack.settle()
        (question,) = fake_slack.in_thread(CHANNEL, None)
    (asked,) = sim.asked
    assert asked.query == "How would @bob read this page (https://x.example/p) in #general?"
    assert "<@" not in question.markdown.split("asked:", 1)[1]


async def test_ask_echoes_and_sends_the_question_without_bidi_controls(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # U+202E reversed what followed it in the "asked" line (Trojan Source, CVE-2021-42574).
    text = "ask Is \u202egpj.exe\u202c \u2067safe\u2069\u200f?"
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await slack.command(command(fake_slack, text))
        await slack.settle()
        (question,) = fake_slack.in_thread(CHANNEL, None)
    (asked,) = sim.asked
    assert asked.query == "Is gpj.exe safe?"
    assert question.markdown == f"<@{ALICE}> asked: *Is gpj.exe safe?*"


async def test_ask_where_the_bot_cannot_post_says_how_to_fix_it(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.fail("chat.postMessage", "not_in_channel")
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await slack.command(command(fake_slack, "ask What is grace?"))
        await slack.settle()
    (response,) = fake_slack.responses
    assert "/invite" in response["text"]
    assert not sim.asked


async def test_reset_starts_a_new_dm_conversation_in_the_assistant_view(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, slack_messaging="assistant") as slack:
        await slack.event(event("message_im", ts="1700000300.000100"))
        await slack.settle()
        await slack.command(command(fake_slack, "reset", channel=DM))
        await slack.settle()
        await slack.event(event("message_im", ts="1700000310.000100"))
        await slack.settle()
    first, second = sim.asked
    assert first.chat_id is None
    assert second.chat_id is None  # a new chat
    assert "new conversation" in fake_slack.responses[0]["text"]


async def test_history_is_ephemeral_and_shows_the_conversation_in_the_assistant_view(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, slack_messaging="assistant") as slack:
        await slack.command(command(fake_slack, "history", channel=DM))
        await slack.settle()
        await slack.event(event("message_im", ts="1700000300.000100", text="Tell me about hope"))
        await slack.settle()
        await slack.command(command(fake_slack, "history", channel=DM))
        await slack.settle()
        await slack.command(command(fake_slack, "history", channel=CHANNEL))
        await slack.settle()
    empty, shown, in_channel = fake_slack.responses
    assert "no conversation here yet" in empty["text"]
    assert shown["response_type"] == "ephemeral"
    assert "Tell me about hope" in str(shown["blocks"])
    # The Message API keeps the chat at Gloo (GET /ai/v1/chat); Completions V2 is stateless,
    # so the history is the one the service stored.
    asked_gloo = any(r.method == "GET" and "chat" in r.path for r in sim.requests)
    assert asked_gloo == (simulator_api() == "message")
    assert "Home" in in_channel["text"]


async def test_in_agent_view_dm_history_and_reset_point_to_the_home_tab(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await slack.event(event("message_im", ts="1700000300.000100", text="Tell me about hope"))
        await slack.settle()
        for name in ("history", "reset"):
            await slack.command(command(fake_slack, name, channel=DM))
        await slack.settle()
        thread = ThreadKey("slack", TEAM_ID, DM, "1700000300.000100")
        still_bound = await slack.runtime.container.store.get_chat_id(thread)
    history, reset = sorted(fake_slack.responses, key=lambda r: "History" not in r["text"])
    assert "*Home* tab" in history["text"]
    assert "Start over" in reset["text"]
    assert all(r["response_type"] == "ephemeral" for r in fake_slack.responses)
    assert still_bound is not None  # /gloo reset in a DM resets no thread by itself


async def test_settings_show_change_and_persist(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)  # only admins change them
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        for text in (
            "settings",
            "settings sources off",
            "settings sources 30",
            "settings characters 300",
            "settings publishers Bible Project, Gloo",
        ):
            await slack.command(command(fake_slack, text))
            await slack.settle()
        stored = await slack.runtime.container.service.settings_for("slack", TEAM_ID, CHANNEL)
        await slack.event(
            event("app_mention", ts="1700000800.000100", text=f"<@{BOT_USER_ID}> grace?")
        )
        await slack.settle()
    shown, off, bad, chars, publishers = (r["text"] for r in fake_slack.responses)
    assert "Sources: on" in shown
    assert "Saved." in off
    assert "Sources: off" in off
    assert "didn't understand" in bad
    assert "from 0 to 25" in bad
    assert "300 characters" in chars
    assert "Bible Project, Gloo" in publishers
    assert stored.enable_sources is False
    assert stored.character_limit == 300
    assert stored.publishers == ("Bible Project", "Gloo")
    (answer,) = fake_slack.in_thread(CHANNEL, "1700000800.000100")
    assert not answer.buttons("gloo_source")  # sources off for this channel
