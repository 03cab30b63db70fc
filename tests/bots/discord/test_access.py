"""Who may change and use what, through the whole Discord adapter (issue 14, findings 1-3).

Recorded payloads: ``interaction_command_guild.json`` (an APPLICATION_COMMAND interaction),
``message_create_guild.json``/``message_create_dm.json`` and the button interactions. The
interaction's ``member.permissions`` is "total permissions of the member in the channel,
including overwrites" (discord-api-docs, Interactions → Receiving and Responding); Manage
Server is ``1 << 5`` (discord-api-docs, Topics → Permissions). Options of type USER (6), ROLE
(8) and CHANNEL (7) come with their objects in ``data.resolved`` (discord-api-docs,
Interactions → Receiving and Responding, resolved data structure). Ephemeral replies exist
only for interactions (message flag ``EPHEMERAL`` = 64); a refused plain message is answered
by a DM (POST /users/@me/channels, then a message there).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bots.discord import access as discord_access
from core import messages
from core.access import MAX_RULES, AccessLists
from core.notices import NOTE_WINDOW_SECONDS, RefusalNotes
from core.service import MAX_PUBLISHERS
from core.simulator import Simulator
from core.types import AccessRule, ThreadKey
from tests.bots.discord.conftest import (
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    ROLE_ID,
    USER,
    Bot,
    assert_no_pings,
    custom_ids,
    running,
)
from tests.bots.discord.fake_discord import FakeDiscord, payload
from tests.bots.discord.test_commands import MANAGE_SERVER, command
from tests.clock import FakeClock

EPHEMERAL = 64
MALLORY = {"id": "1300000000000000066", "username": "mallory", "global_name": "Mallory"}
OTHER_CHANNEL_ID = 1_100_000_000_000_000_020


async def access(
    bot: Bot,
    action: str,
    *,
    user: dict[str, Any] | None = None,
    role: int | None = None,
    channel: int | None = None,
    permissions: int = MANAGE_SERVER,
) -> dict[str, Any]:
    """``/access`` by USER, with its options and their resolved objects; the callback body."""
    fake = bot.fake
    iid = fake.snowflake()
    data = payload(
        "interaction_command_guild",
        interaction_id=str(iid),
        application_id=str(fake.application_id),
        token=f"itoken-{iid}",
        channel_id=str(CHANNEL_ID),
        user_id=USER["id"],
        user_name=USER["username"],
        command="access",
        command_id=str(fake.snowflake()),
        guild_id=str(GUILD_ID),
        channel_type=0,
    )
    data["member"]["permissions"] = str(permissions)
    options: list[dict[str, Any]] = [{"name": "action", "type": 3, "value": action}]
    resolved: dict[str, Any] = {}
    if user is not None:
        options.append({"name": "user", "type": 6, "value": user["id"]})
        resolved["users"] = {user["id"]: {**user, "discriminator": "0", "avatar": None}}
    if role is not None:
        options.append({"name": "role", "type": 8, "value": str(role)})
        resolved["roles"] = {str(role): _role(role)}
    if channel is not None:
        options.append({"name": "channel", "type": 7, "value": str(channel)})
        resolved["channels"] = {
            str(channel): {
                "id": str(channel),
                "name": "other",
                "type": 0,
                "permissions": "2248473465835073",
                "guild_id": str(GUILD_ID),
            }
        }
    data["data"]["options"] = options
    if resolved:
        data["data"]["resolved"] = resolved
    await fake.interaction(data)
    return await reply_of(bot, data)


def _role(role_id: int) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": "guests",
        "permissions": "0",
        "position": 1,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


async def dm_notes(fake: FakeDiscord, user: dict[str, Any]) -> list[dict[str, Any]]:
    channels = [
        int(c["id"])
        for c in fake.channels.values()
        if c["type"] == 1 and any(u["id"] == user["id"] for u in c["recipients"])
    ]
    return [m for cid in channels for m in fake.channel_messages(cid)]


async def reply_of(bot: Any, interaction: dict[str, Any]) -> dict[str, Any]:
    """What the person reads: an immediate reply (callback type 4), or, for interactions
    acknowledged at once with "thinking…" (type 5, before any database work), the reply
    that fills the placeholder in by editing ``@original`` (discord-api-docs, Receiving and
    Responding: deferred responses)."""
    callback = await bot.callback_for(interaction)
    if callback["type"] != 5:
        return dict(callback)
    message = await bot.response(interaction)
    flags = (callback.get("data") or {}).get("flags", 0)
    return {"type": 5, "data": {"content": message["content"], "flags": flags}}


# --- finding 1: settings changes by Manage Server (or SETTINGS_ADMINS) only, audited ----------


async def test_settings_in_a_server_change_only_with_manage_server_and_show_who_did(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        service = bot.runtime.container.service
        refused = await reply_of(bot, await command(bot, "settings", character_limit=1))
        unchanged = await service.settings_for("discord", str(GUILD_ID), str(CHANNEL_ID))
        saved = await reply_of(
            bot, await command(bot, "settings", permissions=MANAGE_SERVER, sources_limit=2)
        )
        shown = await reply_of(bot, await command(bot, "settings"))
    assert messages.ADMINS_ONLY in refused["data"]["content"]
    assert refused["data"]["flags"] & EPHEMERAL
    assert unchanged == service.defaults
    assert "(updated)" in saved["data"]["content"]
    content = shown["data"]["content"]
    assert "Recent changes" in content
    assert f"<@{USER['id']}>: sources limit:" in content
    assert "→ 2" in content
    assert_no_pings(fake)


async def test_people_named_in_settings_admins_change_settings_without_manage_server(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url, settings_admins=(USER["id"],)) as bot:
        saved = await reply_of(bot, await command(bot, "settings", sources=False))
        stored = await bot.runtime.container.service.settings_for(
            "discord", str(GUILD_ID), str(CHANNEL_ID)
        )
    assert "(updated)" in saved["data"]["content"]
    assert stored.enable_sources is False


async def test_publishers_are_capped_with_a_clear_message(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    many = ",".join(f"P{i}" for i in range(300))
    async with running(fake, sim, sqlite_url) as bot:
        refused = await reply_of(
            bot, await command(bot, "settings", permissions=MANAGE_SERVER, publishers=many)
        )
    assert f"at most {MAX_PUBLISHERS} publishers" in refused["data"]["content"]


# --- finding 2: access lists ---------------------------------------------------------------------


async def test_a_blocked_member_is_told_by_dm_and_gloo_is_not_asked(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        blocked = await access(bot, "block", user=MALLORY)
        question = await bot.say("What is grace?", mention_bot=True, user=MALLORY)

        async def noted() -> bool:
            return bool(await dm_notes(fake, MALLORY))

        await fake.wait_for(noted)
        rules = await bot.runtime.container.store.access_rules("discord", str(GUILD_ID))
        # USER is not blocked: their question starts a thread and is answered.
        allowed = await bot.say("What is hope?", mention_bot=True)
        await bot.answered(int(allowed["id"]))
    content = blocked["data"]["content"]
    assert "Saved." in content
    assert f"Blocked people: <@{MALLORY['id']}>" in content
    assert blocked["data"]["flags"] & EPHEMERAL
    assert [(r.kind, r.subject, r.effect, r.added_by) for r in rules] == [
        ("user", MALLORY["id"], "block", USER["id"])
    ]
    [note] = await dm_notes(fake, MALLORY)
    assert note["content"] == messages.ACCESS_USER_REFUSED
    # No thread was started for the refused question, and only USER's was asked.
    assert not fake.calls_to("POST", rf"/channels/{CHANNEL_ID}/messages/{question['id']}/threads")
    assert [r.query for r in sim.asked] == ["What is hope?"]
    assert_no_pings(fake)


async def test_a_blocked_member_is_told_once_per_window(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    # Before: every message of a blocked member got its own DM.
    clock = FakeClock()
    async with running(fake, sim, sqlite_url) as bot:
        bot.runtime.container.service.access.notes = RefusalNotes(clock=clock)
        await access(bot, "block", user=MALLORY)
        for text in ("What is grace?", "Hello?", "Anyone?"):
            await bot.say(text, mention_bot=True, user=MALLORY)
        # USER is answered next, so every message of MALLORY's was handled before the clock
        # moves (the gateway's messages are handled in order).
        allowed = await bot.say("What is hope?", mention_bot=True)
        await bot.answered(int(allowed["id"]))
        assert len(await dm_notes(fake, MALLORY)) == 1
        clock.advance(NOTE_WINDOW_SECONDS)
        await bot.say("Still there?", mention_bot=True, user=MALLORY)

        async def noted_twice() -> bool:
            return len(await dm_notes(fake, MALLORY)) >= 2

        await fake.wait_for(noted_twice)
    notes = await dm_notes(fake, MALLORY)
    assert [n["content"] for n in notes] == [messages.ACCESS_USER_REFUSED] * 2
    assert [r.query for r in sim.asked] == ["What is hope?"]


async def test_when_the_member_takes_no_dms_a_short_reply_tells_them_and_goes_away(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord_access, "REPLY_SECONDS", 0.05)
    fake.closed_dms.add(MALLORY["id"])
    async with running(fake, sim, sqlite_url) as bot:
        await access(bot, "block", user=MALLORY)
        question = await bot.say("What is grace?", mention_bot=True, user=MALLORY)

        async def replied_and_deleted() -> bool:
            return bool(fake.calls_to("DELETE", rf"/channels/{CHANNEL_ID}/messages/\d+"))

        await fake.wait_for(replied_and_deleted)
    [reply] = [
        c.body
        for c in fake.calls_to("POST", rf"/channels/{CHANNEL_ID}/messages")
        if c.status == 200
    ]
    assert reply["content"] == messages.ACCESS_USER_REFUSED
    assert str(reply["message_reference"]["message_id"]) == question["id"]
    assert not sim.asked


async def test_a_blocked_role_and_allowed_channels(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    fake.guilds[GUILD_ID]["roles"].append(_role(ROLE_ID))
    async with running(fake, sim, sqlite_url) as bot:
        await access(bot, "block", role=ROLE_ID)
        # The recorded message's member object, with the role.
        member = {
            "roles": [str(ROLE_ID)],
            "premium_since": None,
            "pending": False,
            "nick": None,
            "mute": False,
            "joined_at": "2024-11-02T18:03:11.919000+00:00",
            "flags": 0,
            "deaf": False,
            "communication_disabled_until": None,
            "banner": None,
            "avatar": None,
        }
        await bot.say("role question", mention_bot=True, user=MALLORY, member=member)
        await access(bot, "remove", role=ROLE_ID)
        allowed = await access(bot, "allow", channel=OTHER_CHANNEL_ID)
        await bot.say("channel question", mention_bot=True)
        await bot.dm("dm question")
        await bot.answered(DM_CHANNEL_ID)

        async def both_noted() -> bool:
            return len(await dm_notes(fake, MALLORY)) == 1 and any(
                m["content"] == messages.ACCESS_CHANNEL_REFUSED
                for m in fake.channel_messages(DM_CHANNEL_ID)
            )

        await fake.wait_for(both_noted)
    assert f"Channels: only <#{OTHER_CHANNEL_ID}>" in allowed["data"]["content"]
    [role_note] = await dm_notes(fake, MALLORY)
    assert role_note["content"] == messages.ACCESS_USER_REFUSED
    assert [r.query for r in sim.asked] == ["dm question"]  # DMs belong to no server


async def test_ask_by_a_blocked_member_is_refused_ephemerally(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        await access(bot, "block", user=USER)  # an admin can block themselves too
        refused = await reply_of(bot, await command(bot, "ask", question="What is hope?"))
    assert refused["type"] == 4
    assert refused["data"]["content"] == messages.ACCESS_USER_REFUSED
    assert refused["data"]["flags"] & EPHEMERAL
    assert not sim.asked


async def test_only_members_with_manage_server_change_the_access_lists(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        refused = await access(bot, "block", user=MALLORY, permissions=2248473465835073)
        rules = await bot.runtime.container.store.access_rules("discord", str(GUILD_ID))
    assert messages.ADMINS_ONLY in refused["data"]["content"]
    assert rules == []


async def by_mallory(bot: Bot, name: str, channel_id: int) -> dict[str, Any]:
    """``/name`` by MALLORY (no Manage Server) in ``channel_id`` (a thread the fake holds)."""
    fake = bot.fake
    iid = fake.snowflake()
    data = payload(
        "interaction_command_guild",
        interaction_id=str(iid),
        application_id=str(fake.application_id),
        token=f"itoken-{iid}",
        channel_id=str(channel_id),
        user_id=MALLORY["id"],
        user_name=MALLORY["username"],
        command=name,
        command_id=str(fake.snowflake()),
        guild_id=str(GUILD_ID),
        channel_type=fake.channels[channel_id]["type"],
    )
    return await fake.interaction(data)


@pytest.mark.parametrize("act", ["history", "reset", "feedback"])
async def test_a_blocked_member_cannot_read_reset_or_vote_on_another_persons_chat(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, act: str
) -> None:
    # Issue 24 finding 5. Before: MALLORY, blocked from asking, read USER's chat through
    # /history (fetched from Gloo), started it over with /reset, and voted on its answer.
    async with running(fake, sim, sqlite_url) as bot:
        question = await bot.say("What is grace?", mention_bot=True)
        thread_id = int(question["id"])
        [answer] = await bot.answered(thread_id)
        await access(bot, "block", user=MALLORY)
        gloo_calls = len(sim.requests)
        if act == "feedback":
            [up, *_] = custom_ids(answer, "gloo:f:")
            interaction = await fake.interaction(fake.click_payload(int(answer["id"]), up, MALLORY))
        else:
            interaction = await by_mallory(bot, act, thread_id)
        refused = await reply_of(bot, interaction)
        service = bot.runtime.container.service
        still_active = await service.is_active(
            ThreadKey("discord", str(GUILD_ID), str(thread_id), "")
        )
        votes = (
            await bot.runtime.container.store.get_feedback(up.split(":")[2])
            if act == "feedback"
            else {}
        )
    assert refused["data"]["content"] == messages.ACCESS_USER_REFUSED
    assert refused["data"]["flags"] & EPHEMERAL
    assert "grace" not in refused["data"]["content"]
    assert len(sim.requests) == gloo_calls  # Gloo was not asked for the chat
    assert still_active  # the conversation was not forgotten
    assert votes == {}


# --- finding 3: a click is honoured only where its answer lives ---------------------------------


@pytest.mark.parametrize(
    "prefix", [pytest.param("gloo:s:", marks=pytest.mark.message_api, id="suggestion"), "gloo:f:"]
)
async def test_a_button_clicked_in_another_channel_or_server_is_not_honoured(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, prefix: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        question = await bot.say("What is grace?", mention_bot=True)
        thread_id = int(question["id"])
        [answer] = await bot.answered(thread_id)
        ids = custom_ids(answer, prefix)
        for where in ("channel", "server"):
            click = fake.click_payload(int(answer["id"]), ids[0], USER)
            click = copy.deepcopy(click)
            if where == "channel":
                # The parent channel, not the answer's thread (a full channel object).
                click["channel_id"] = str(CHANNEL_ID)
                click["channel"] = {**fake.channels[CHANNEL_ID], "permissions": "2248473465835073"}
            else:
                # A text channel of another server.
                other = "1400000000000000000"
                click["guild_id"] = click["guild"]["id"] = other
                click["channel_id"] = "1400000000000000010"
                click["channel"] = {
                    **fake.channels[CHANNEL_ID],
                    "id": "1400000000000000010",
                    "guild_id": other,
                    "permissions": "2248473465835073",
                }
            await fake.interaction(click)
            callback = await reply_of(bot, click)
            notes = await bot.followups(click) if prefix == "gloo:s:" else []
            if prefix == "gloo:s:":
                [note] = notes
                assert note["content"] == messages.CLICK_ELSEWHERE
                assert note["flags"] & EPHEMERAL
            else:
                assert callback["data"]["content"] == messages.CLICK_ELSEWHERE
                assert callback["data"]["flags"] & EPHEMERAL
        await bot.runtime.dispatcher.drain()
        votes = await bot.runtime.container.store.get_feedback(ids[0].split(":")[2])
    assert len(sim.asked) == 1  # only the mention
    assert votes == {}
    assert len(bot.final_answers(thread_id)) == 1


def test_long_access_lists_fit_in_one_discord_message() -> None:
    rules = tuple(
        AccessRule("discord", str(GUILD_ID), kind, str(10**17 + n), effect)
        for n in range(MAX_RULES)
        for kind, effect in [("user", "block"), ("role", "allow"), ("channel", "allow")][n % 3 :][
            :1
        ]
    )
    text = discord_access.access_text(AccessLists(rules), [], "Saved.")
    assert len(text) <= 2000
    assert "more" in text


async def test_the_longest_allowed_publishers_still_fit_in_the_settings_reply(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    longest = ",".join(f"{n:02d}" + "p" * 98 for n in range(MAX_PUBLISHERS))
    async with running(fake, sim, sqlite_url) as bot:
        saved = await reply_of(
            bot, await command(bot, "settings", permissions=MANAGE_SERVER, publishers=longest)
        )
        shown = await reply_of(bot, await command(bot, "settings"))
        stored = await bot.runtime.container.service.settings_for(
            "discord", str(GUILD_ID), str(CHANNEL_ID)
        )
    assert len(stored.publishers) == MAX_PUBLISHERS
    for reply in (saved, shown):  # the fake refuses content over 2,000 characters, as Discord
        assert 0 < len(reply["data"]["content"]) <= 2000
    assert "Recent changes" in shown["data"]["content"]
