"""The "Ask Gloo" message command through the real CommandTree against the fake Discord.

Payloads: ``payloads/interaction_message_command_guild.json`` and ``..._dm.json``, the
recorded slash-command interactions with ``data`` as discord-api-docs gives it for a
message command (interactions/receiving-and-responding, "Interaction Object": ``data.type``
3 MESSAGE, ``target_id``, ``resolved.messages`` holding the message; interactions/
application-commands, "Message Commands").
"""

from __future__ import annotations

from typing import Any

from bots.discord import messages as texts
from bots.discord.adapter import DiscordAdapter
from bots.discord.context_menu import ASK_GLOO
from core import messages
from core.quoting import DEFAULT_QUESTION, QUOTE_HEADER
from core.simulator import Simulator
from tests.bots.discord.conftest import (
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    USER,
    Bot,
    assert_final_buttons,
    assert_no_pings,
    running,
)
from tests.bots.discord.fake_discord import FakeDiscord, payload
from tests.bots.discord.test_access import access
from tests.bots.discord.test_commands import MANAGE_SERVER, adapter_args, command, discord_settings

EPHEMERAL = 64
AUTHOR = {"id": "1300000000000000005", "username": "ruth"}
MENTIONED = {"id": "1300000000000000006", "username": "boaz"}
CONTENT = f"<@{MENTIONED['id']}> We meet at the river at dawn."
QUOTE = f"{QUOTE_HEADER}\n> @boaz We meet at the river at dawn.\n\n{DEFAULT_QUESTION}"


async def ask_gloo(
    bot: Bot, *, dm: bool = False, content: str = CONTENT, user: dict[str, Any] = USER
) -> dict[str, Any]:
    """Apps → Ask Gloo on a message someone else wrote (its id: the interaction's target)."""
    fake = bot.fake
    iid, target = fake.snowflake(), fake.snowflake()
    values = {
        "interaction_id": str(iid),
        "application_id": str(fake.application_id),
        "token": f"itoken-{iid}",
        "channel_id": str(DM_CHANNEL_ID if dm else CHANNEL_ID),
        "user_id": user["id"],
        "user_name": user["username"],
        "command": ASK_GLOO,
        "command_id": str(fake.snowflake()),
        "target_id": str(target),
        "target_content": content,
        "author_id": AUTHOR["id"],
        "author_name": AUTHOR["username"],
        "mentioned_id": MENTIONED["id"],
        "mentioned_name": MENTIONED["username"],
    }
    if dm:
        data = payload("interaction_message_command_dm", **values)
    else:
        data = payload(
            "interaction_message_command_guild", guild_id=str(GUILD_ID), channel_type=0, **values
        )
    return await fake.interaction(data)


async def test_the_answer_goes_in_a_thread_on_the_message_with_the_quote_sent_to_gloo(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        asked = await ask_gloo(bot)
        target = int(asked["data"]["target_id"])
        callback = await bot.callback_for(asked)
        original = await bot.response(asked)

        async def thread_started() -> bool:
            return target in fake.channels

        await fake.wait_for(thread_started)
        [answer] = await bot.answered(target)
    assert callback["type"] == 5  # deferred ("thinking…")
    assert not callback.get("data", {}).get("flags", 0) & EPHEMERAL
    assert original["content"] == f"**{USER['username']}** asked: *{DEFAULT_QUESTION}*"
    [start] = fake.calls_to("POST", rf"/channels/{CHANNEL_ID}/messages/{target}/threads")
    assert fake.channels[target]["parent_id"] == str(CHANNEL_ID)
    assert [r.query for r in sim.asked] == [QUOTE]
    assert_final_buttons(answer)
    assert start.body["name"].startswith("@boaz We meet")
    assert_no_pings(fake)


async def test_where_threads_are_not_allowed_the_answer_replies_to_the_asked_line(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    fake.refuse_threads = True
    async with running(fake, sim, sqlite_url) as bot:
        asked = await ask_gloo(bot)
        original = await bot.response(asked)
        [answer] = await bot.answered(CHANNEL_ID)
    assert answer["message_reference"]["message_id"] == original["id"]
    assert [r.query for r in sim.asked] == [QUOTE]


async def test_in_a_dm_the_answer_comes_in_the_dm(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        asked = await ask_gloo(bot, dm=True)
        original = await bot.response(asked)
        [answer] = await bot.answered(DM_CHANNEL_ID)
    assert answer["message_reference"]["message_id"] == original["id"]
    assert not fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")
    assert [r.query for r in sim.asked] == [QUOTE]


async def test_a_message_without_text_is_refused_privately(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        asked = await ask_gloo(bot, content=" \u200b ")
        callback = await bot.callback_for(asked)
    assert callback["type"] == 4
    assert callback["data"]["flags"] & EPHEMERAL
    assert callback["data"]["content"] == texts.SHORTCUT_NO_TEXT
    assert sim.asked == []


async def test_settings_turn_the_message_command_off_in_a_channel(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        changed = await command(bot, "settings", permissions=MANAGE_SERVER, shortcut=False)
        shown = await bot.response(changed)
        asked = await ask_gloo(bot)
        callback = await bot.callback_for(asked)
    assert "Ask about a message: off" in shown["content"]
    assert callback["type"] == 4
    assert callback["data"]["flags"] & EPHEMERAL
    assert callback["data"]["content"] == texts.SHORTCUT_OFF
    assert sim.asked == []


async def test_a_blocked_person_is_refused_privately_and_gloo_is_not_asked(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        await access(bot, "block", user=USER)  # an admin can block themselves too
        asked = await ask_gloo(bot)
        callback = await bot.callback_for(asked)
    assert callback["type"] == 4
    assert callback["data"]["flags"] & EPHEMERAL
    assert callback["data"]["content"] == messages.ACCESS_USER_REFUSED
    assert sim.asked == []


async def test_the_daily_quota_applies_as_for_mentions(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url, quota_user_per_day=1) as bot:
        first = await bot.say("What is grace?", mention_bot=True)
        await bot.answered(int(first["id"]))
        asked = await ask_gloo(bot)
        target = int(asked["data"]["target_id"])

        async def refused() -> bool:
            return any("limit" in m["content"] for m in bot.bot_messages(target))

        await fake.wait_for(refused)
        await bot.runtime.dispatcher.drain()
    assert [r.query for r in sim.asked] == ["What is grace?"]


async def test_sync_publishes_the_message_command(fake: FakeDiscord) -> None:
    code = await DiscordAdapter().command(adapter_args("sync"), discord_settings(fake))
    assert code == 0
    [put] = fake.calls_to("PUT", rf"/applications/{fake.application_id}/commands")
    [menu] = [c for c in put.body if c["name"] == ASK_GLOO]
    assert menu["type"] == 3  # MESSAGE: shown in a message's Apps menu
    assert "options" not in menu or not menu["options"]
    settings = next(c for c in put.body if c["name"] == "settings")
    assert {"name": "shortcut", "type": 5}.items() <= next(
        o for o in settings["options"] if o["name"] == "shortcut"
    ).items()
