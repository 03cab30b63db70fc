"""Who may change and use what, through the whole Slack app (issue 14, findings 1-3).

Recorded payloads: ``slash_command.json`` (a ``/gloo`` request), ``app_mention.json``,
``message_im.json`` and ``block_actions.json`` (Events API and interactivity bodies). The
fake Slack answers ``users.info`` with the user object of the published example response
(docs.slack.dev/reference/methods/users.info, "Common successful response": ``is_admin``,
``is_owner``, ``is_primary_owner`` …) and takes ``chat.postEphemeral`` as documented at
docs.slack.dev/reference/methods/chat.postEphemeral (``channel`` and ``user`` required).
With ``should_escape`` on, slash command text carries people as ``<@U…|name>`` and
channels as ``<#C…|name>`` (docs.slack.dev/interactivity/implementing-slash-commands).
"""

from __future__ import annotations

import pytest

from bots.slack.access import SHOWN_PER_LIST, access_message, parse_access
from core import messages
from core.access import MAX_RULES, AccessLists
from core.notices import NOTE_WINDOW_SECONDS, RefusalNotes
from core.service import MAX_PUBLISHERS
from core.simulator import Simulator
from core.types import AccessRule, AuditEntry, ThreadKey
from tests.bots.slack.fake_slack import (
    BOT_TOKEN,
    BOT_USER_ID,
    TEAM_ID,
    FakeSlack,
    Team,
    user_object,
    validate_blocks,
)
from tests.bots.slack.support import (
    ALICE,
    BOB,
    CHANNEL,
    DM,
    SlackProcess,
    action,
    command,
    event,
    feedback_click,
    home_click,
    slack_process,
)
from tests.bots.slack.test_agent_view import home_buttons, open_home
from tests.clock import FakeClock
from tests.harness import expects_suggestions

MENTION_TS = "1700000100.000100"
OTHER_CHANNEL = "C0RANDOM1"


async def run(slack: SlackProcess, text: str, user: str = ALICE, channel: str = CHANNEL) -> str:
    """Run ``/gloo text`` and return the text of the ephemeral response."""
    before = len(slack.fake.responses)
    assert (
        await slack.command(command(slack.fake, text, user=user, channel=channel))
    ).status == 200
    await slack.settle()
    (response,) = slack.fake.responses[before:]
    assert response["response_type"] == "ephemeral"
    blocks = " ".join(
        str(b.get("text", {}).get("text", "")) for b in response.get("blocks", []) if "text" in b
    )
    contexts = " ".join(
        e["text"] for b in response.get("blocks", []) for e in b.get("elements", [])
    )
    return f"{response['text']} {blocks} {contexts}"


# --- finding 1: settings changes by administrators only, audited ----------------------------


async def test_a_member_cannot_change_settings_an_admin_can_and_it_is_shown_who_did(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    fake_slack.users[BOB] = user_object(BOB)  # a plain member
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        service = slack.runtime.container.service
        refused = await run(slack, "settings characters 1", user=BOB)
        assert await service.settings_for("slack", TEAM_ID, CHANNEL) == service.defaults
        saved = await run(slack, "settings publishers Bible Project, Gloo", user=ALICE)
        shown = await run(slack, "settings", user=BOB)
        stored = await service.settings_for("slack", TEAM_ID, CHANNEL)
        audit = await slack.runtime.container.store.audit_entries("slack", TEAM_ID, [CHANNEL], 10)
    before = ", ".join(service.defaults.publishers) or "all"  # V2 tests ground on one
    assert messages.ADMINS_ONLY in refused
    assert "Saved." in saved
    assert stored.publishers == ("Bible Project", "Gloo")
    assert stored.character_limit is None
    (entry,) = audit
    assert (entry.actor, entry.action) == (ALICE, "settings")
    assert entry.change == f"publishers: {before} → Bible Project, Gloo"
    assert entry.at is not None
    assert "Recent changes" in shown
    assert f"<@{ALICE}>: publishers: {before} → Bible Project, Gloo" in shown
    assert entry.at.strftime("%Y-%m-%d %H:%M UTC") in shown


@pytest.mark.parametrize(
    "user",
    [
        user_object(ALICE, is_owner=True),
        user_object(ALICE, is_primary_owner=True, is_owner=True),
    ],
)
async def test_owners_may_change_settings(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator, user: dict[str, object]
) -> None:
    fake_slack.users[ALICE] = user
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        saved = await run(slack, "settings sources off")
        await run(slack, "settings sources 3")
    assert "Saved." in saved
    # users.info is asked once, then trusted for a minute.
    assert len(fake_slack.calls_to("users.info")) == 1


async def test_people_named_in_settings_admins_may_change_settings(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[BOB] = user_object(BOB)
    async with slack_process(sqlite_url, fake_slack, sim, settings_admins=(BOB,)) as slack:
        saved = await run(slack, "settings suggestions off", user=BOB)
    assert "Saved." in saved
    assert not fake_slack.calls_to("users.info")


async def test_without_the_users_read_scope_nobody_counts_as_an_admin(
    sqlite_url: str, sim: Simulator
) -> None:
    fake = await FakeSlack(
        {BOT_TOKEN: Team(TEAM_ID, scopes=frozenset({"chat:write", "commands"}))}
    ).start()
    fake.users[ALICE] = user_object(ALICE, is_admin=True)
    try:
        async with slack_process(sqlite_url, fake, sim) as slack:
            refused = await run(slack, "settings characters 1")
            stored = await slack.runtime.container.service.settings_for("slack", TEAM_ID, CHANNEL)
    finally:
        await fake.close()
    assert messages.ADMINS_ONLY in refused
    assert stored.character_limit is None
    (call,) = fake.calls_to("users.info")
    assert call.error == "missing_scope"


async def test_publishers_are_capped_with_a_clear_message(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    many = ", ".join(f"Publisher {i}" for i in range(3000))
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        too_many = await run(slack, f"settings publishers {many}")
        too_long = await run(slack, f"settings publishers {'x' * 101}")
        stored = await slack.runtime.container.service.settings_for("slack", TEAM_ID, CHANNEL)
    assert f"at most {MAX_PUBLISHERS} publishers" in too_many
    assert "at most 100 characters" in too_long
    assert stored == slack.runtime.container.service.defaults


# --- finding 2: access lists -------------------------------------------------------------------


def test_parse_access_reads_escaped_mentions_ids_and_here() -> None:
    parsed = parse_access(f"block <@{BOB}|bob> <#C0HELP001|help> here U0CAROL01", CHANNEL)
    assert parsed.effect == "block"
    assert parsed.targets == (
        ("user", BOB),
        ("channel", "C0HELP001"),
        ("channel", CHANNEL),
        ("user", "U0CAROL01"),
    )
    assert parse_access("", CHANNEL).action == "show"
    assert parse_access(f"unblock <@{BOB}>", CHANNEL).effect is None
    with pytest.raises(ValueError, match="Mention people"):
        parse_access("allow @bob", CHANNEL)  # an unescaped name: no id to store
    with pytest.raises(ValueError, match="allow"):
        parse_access("grant <@U1>", CHANNEL)


async def test_a_blocked_person_gets_one_ephemeral_note_and_no_gloo_call(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        blocked = await run(slack, f"access block <@{BOB}|bob>")
        mention = event(
            "app_mention", ts=MENTION_TS, user=BOB, text=f"<@{BOT_USER_ID}> What is grace?"
        )
        assert (await slack.event(mention)).status == 200
        retried = await slack.event(mention, headers={"X-Slack-Retry-Num": "1"})
        assert retried.status == 200
        await slack.settle()
        await slack.command(command(fake_slack, "ask What is hope?", user=BOB))
        await slack.settle()
        rules = await slack.runtime.container.store.access_rules("slack", TEAM_ID)
        shown = await run(slack, "access", user=BOB)
        # Alice is not blocked.
        await slack.event(event("app_mention", ts="1700000200.000100", user=ALICE))
        await slack.settle()
    assert f"Blocked people: <@{BOB}>" in blocked
    assert [(r.kind, r.subject, r.effect, r.added_by) for r in rules] == [
        ("user", BOB, "block", ALICE)
    ]
    (note,) = fake_slack.ephemerals  # one note, though Slack delivered the mention twice
    assert (note["channel"], note["user"]) == (CHANNEL, BOB)
    assert "thread_ts" not in note  # a top-level mention: its thread does not exist yet
    assert messages.ACCESS_USER_REFUSED in note["text"]
    assert messages.ACCESS_USER_REFUSED in fake_slack.responses[1]["text"]  # /gloo ask
    assert not fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert [q.query for q in sim.asked] == ["What is grace?"]  # Alice's only
    assert f"user {BOB}: blocked" in shown


async def test_a_blocked_person_is_told_once_per_window(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # Before: every message of a blocked person got its own ephemeral refusal.
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    clock = FakeClock()
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        slack.runtime.container.service.access.notes = RefusalNotes(clock=clock)
        await run(slack, f"access block <@{BOB}|bob>")
        for i in range(3):
            mention = event("app_mention", ts=f"170000010{i}.000100", user=BOB)
            assert (await slack.event(mention)).status == 200
            await slack.settle()
        clock.advance(NOTE_WINDOW_SECONDS)
        await slack.event(event("app_mention", ts="1700000200.000100", user=BOB))
        await slack.settle()
    assert len(fake_slack.ephemerals) == 2  # the first, and the first after the window
    assert all(messages.ACCESS_USER_REFUSED in n["text"] for n in fake_slack.ephemerals)
    assert not sim.asked


async def test_allowed_channels_keep_the_bot_to_them_but_direct_messages_still_work(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        allowed = await run(slack, f"access allow <#{OTHER_CHANNEL}|random>")
        await slack.event(event("app_mention", ts=MENTION_TS, user=ALICE))
        await slack.event(event("message_im", ts="1700000300.000100", user=ALICE))
        await slack.settle()
        removed = await run(slack, f"access remove <#{OTHER_CHANNEL}>")
        await slack.event(event("app_mention", ts="1700000400.000100", user=ALICE))
        await slack.settle()
    assert f"Channels: only <#{OTHER_CHANNEL}>" in allowed
    assert "Channels: all" in removed
    (note,) = fake_slack.ephemerals
    assert messages.ACCESS_CHANNEL_REFUSED in note["text"]
    assert len(sim.asked) == 2  # the DM and the mention after the list was cleared
    assert fake_slack.in_thread(DM, None) or fake_slack.in_thread(DM, "1700000300.000100")
    assert len(fake_slack.in_thread(CHANNEL, "1700000400.000100")) == 1


async def test_allowed_people_only_and_a_follow_up_by_someone_else_is_refused(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await run(slack, f"access allow <@{ALICE}|alice>")
        await slack.event(event("app_mention", ts=MENTION_TS, user=ALICE))
        await slack.settle()
        follow_up = event(
            "message_channels", ts="1700000150.000100", thread_ts=MENTION_TS, user=BOB
        )
        await slack.event(follow_up)
        await slack.settle()
    (note,) = fake_slack.ephemerals
    assert (note["user"], note["thread_ts"]) == (BOB, MENTION_TS)  # in the existing thread
    assert len(sim.asked) == 1


async def test_only_admins_change_access_lists(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[BOB] = user_object(BOB)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        refused = await run(slack, f"access block <@{ALICE}>", user=BOB)
        rules = await slack.runtime.container.store.access_rules("slack", TEAM_ID)
    assert messages.ADMINS_ONLY in refused
    assert rules == []


# --- finding 3: a click is honoured only where its answer lives --------------------------------


async def mention(slack: SlackProcess) -> dict[str, str]:
    await slack.event(event("app_mention", ts=MENTION_TS, user=ALICE))
    await slack.settle()
    (answer,) = slack.fake.in_thread(CHANNEL, MENTION_TS)
    (feedback,) = answer.feedback_buttons()  # Slack's native 👍/👎: value "up:<answer id>"
    answer_id = feedback["positive_button"]["value"].partition(":")[2]
    suggestions = answer.buttons("gloo_suggest")
    button = suggestions[0] if suggestions else {**feedback, **feedback["positive_button"]}
    return {
        "ts": answer.ts,
        "action_id": button["action_id"],
        "value": button["value"],
        "answer_id": answer_id,
    }


async def test_a_button_clicked_in_another_channel_is_not_honoured(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        button = await mention(slack)
        posts = len(fake_slack.calls_to("chat.postMessage", "chat.startStream"))
        click = action(
            fake_slack,
            action_id=button["action_id"],
            value=button["value"],
            channel=OTHER_CHANNEL,
            message_ts="1700009000.000100",
        )
        assert (await slack.action(click)).status == 200
        await slack.settle()
        votes = await slack.runtime.container.store.get_feedback(button["answer_id"])
    (response,) = fake_slack.responses
    assert response["response_type"] == "ephemeral"
    assert response["text"] == messages.CLICK_ELSEWHERE
    assert len(sim.asked) == 1  # the mention only
    assert len(fake_slack.calls_to("chat.postMessage", "chat.startStream")) == posts
    assert votes == {}
    assert expects_suggestions() == button["action_id"].startswith("gloo_suggest")


async def test_a_button_clicked_in_another_workspace_is_not_honoured(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        button = await mention(slack)
        click = action(fake_slack, action_id=button["action_id"], value=button["value"])
        click["team"] = {"id": "T0OTHER01", "domain": "other"}
        click["user"]["team_id"] = "T0OTHER01"
        assert (await slack.action(click)).status == 200
        await slack.settle()
    (response,) = fake_slack.responses
    assert response["text"] == messages.CLICK_ELSEWHERE
    assert len(sim.asked) == 1


async def test_a_blocked_person_clicking_a_suggestion_is_refused(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        button = await mention(slack)
        await run(slack, f"access block <@{BOB}>")
        click = action(fake_slack, action_id="gloo_suggest:x", value=button["value"], user=BOB)
        await slack.action(click)
        await slack.settle()
    assert fake_slack.responses[-1]["text"] == messages.ACCESS_USER_REFUSED
    assert len(sim.asked) == 1


# --- issue 24 finding 5: reset, history and feedback keep to the access lists --------------------


def gloo_reads(slack: SlackProcess) -> int:
    """Requests for a chat's history: GET /ai/v1/chat (the Message API; V2 keeps none)."""
    return sum(1 for r in slack.sim.requests if r.method == "GET" and "chat" in r.path)


@pytest.mark.parametrize(("name", "channel"), [("reset", DM), ("history", DM), ("reset", CHANNEL)])
async def test_a_blocked_person_cannot_reset_or_read_a_chat_with_gloo_commands(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator, name: str, channel: str
) -> None:
    # Before: blocked from asking, Alice still read her chat (fetched from Gloo) with
    # /gloo history and started a conversation over with /gloo reset.
    async with slack_process(
        sqlite_url, fake_slack, sim, slack_messaging="assistant", settings_admins=(BOB,)
    ) as slack:
        await slack.event(event("message_im", ts="1700000300.000100", text="Tell me about hope"))
        await slack.settle()
        await run(slack, f"access block <@{ALICE}>", user=BOB)
        reads = gloo_reads(slack)
        refused = await run(slack, name, channel=channel)
        bound = await slack.runtime.container.store.get_chat_id(ThreadKey("slack", TEAM_ID, DM, ""))
        after = gloo_reads(slack)
    assert fake_slack.responses[-1]["text"] == messages.ACCESS_USER_REFUSED
    assert "hope" not in refused
    assert after == reads  # Gloo was not asked for the chat
    assert bound is not None  # the conversation was not forgotten


async def test_a_blocked_person_cannot_vote(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, settings_admins=(BOB,)) as slack:
        button = await mention(slack)
        await run(slack, f"access block <@{ALICE}>", user=BOB)
        (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
        click = feedback_click(fake_slack, answer, "up", user=ALICE, thread_ts=MENTION_TS)
        assert (await slack.action(click)).status == 200
        await slack.settle()
        votes = await slack.runtime.container.store.get_feedback(button["answer_id"])
    assert fake_slack.responses[-1]["text"] == messages.ACCESS_USER_REFUSED
    assert fake_slack.responses[-1]["response_type"] == "ephemeral"
    assert votes == {}


async def test_a_blocked_person_cannot_read_or_start_over_from_the_home_tab(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    first = "1700000300.000100"
    async with slack_process(sqlite_url, fake_slack, sim, settings_admins=(BOB,)) as slack:
        await slack.event(event("message_im", ts=first, text="Tell me about hope"))
        await slack.settle()
        home = await open_home(slack)
        (history,) = home_buttons(home, "gloo_home_history")
        (reset,) = home_buttons(home, "gloo_home_reset")
        await run(slack, f"access block <@{ALICE}>", user=BOB)
        reads = gloo_reads(slack)
        for button in (history, reset):
            assert (await slack.action(home_click(button))).status == 200
        await slack.settle()
        bound = await slack.runtime.container.store.get_chat_id(
            ThreadKey("slack", TEAM_ID, DM, first)
        )
        after = gloo_reads(slack)
    (updated,) = fake_slack.calls_to("views.update")
    modal = str(fake_slack.modals[updated.args["view_id"]]["blocks"])
    assert messages.ACCESS_USER_REFUSED in modal
    assert "hope" not in modal
    assert messages.ACCESS_USER_REFUSED in str(fake_slack.home_views[ALICE]["blocks"])
    assert after == reads
    assert bound is not None


def test_long_access_lists_are_shown_within_slack_limits() -> None:
    rules = tuple(
        AccessRule("slack", TEAM_ID, "user", f"U{n:08d}", "block") for n in range(MAX_RULES)
    )
    history = [AuditEntry("slack", TEAM_ID, "", ALICE, "access", "user U1: blocked <!here>")]
    message = access_message(AccessLists(rules), history, "Saved.")
    assert validate_blocks(list(message.blocks)) is None  # as Slack validates them
    text = message.blocks[0]["text"]["text"]
    assert f"and {MAX_RULES - SHOWN_PER_LIST} more" in text
    assert "<!here>" not in message.blocks[1]["text"]["text"]  # typed text pings nobody
