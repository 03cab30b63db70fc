"""Slash commands through the real CommandTree, and ``gloo-bots discord sync`` / ``invite``."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from bots.discord import messages as texts
from bots.discord.adapter import DiscordAdapter
from bots.discord.client import INVITE_PERMISSIONS
from core.bounds import SETTING_RANGES
from core.cli import main
from core.simulator import Simulator
from tests.bots.discord.conftest import (
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    USER,
    Bot,
    assert_no_pings,
    link_buttons,
    running,
)
from tests.bots.discord.fake_discord import FakeDiscord, payload
from tests.harness import settings_for_tests, simulator_api

EPHEMERAL = 64


#: A member with Manage Server (1 << 5) added to the recorded member's permissions.
MANAGE_SERVER = 2248473465835073 | 1 << 5


async def command(
    bot: Bot, name: str, *, dm: bool = False, permissions: int | None = None, **options: Any
) -> dict[str, Any]:
    fake = bot.fake
    iid = fake.snowflake()
    values = {
        "interaction_id": str(iid),
        "application_id": str(fake.application_id),
        "token": f"itoken-{iid}",
        "channel_id": str(DM_CHANNEL_ID if dm else CHANNEL_ID),
        "user_id": USER["id"],
        "user_name": USER["username"],
        "command": name,
        "command_id": str(fake.snowflake()),
    }
    if dm:
        data = payload("interaction_command_dm", **values)
    else:
        data = payload(
            "interaction_command_guild", guild_id=str(GUILD_ID), channel_type=0, **values
        )
        if permissions is not None:
            data["member"]["permissions"] = str(permissions)
    data["data"]["options"] = [
        {
            "name": key,
            "type": 5 if isinstance(value, bool) else 4 if isinstance(value, int | float) else 3,
            "value": value,
        }
        for key, value in options.items()
    ]
    return await fake.interaction(data)


async def test_ask_in_a_channel_answers_in_a_thread_started_from_the_question(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        ask = await command(bot, "ask", question="What is hope?")
        callback = await bot.callback_for(ask)
        [asked] = await bot.followups(ask)
        thread_id = int(asked["id"])

        async def thread_started() -> bool:
            return thread_id in fake.channels

        await fake.wait_for(thread_started)
        [answer] = await bot.answered(thread_id)
    assert callback["type"] == 5  # deferred ("thinking") at once
    assert fake.messages[thread_id]["content"] == f"**{USER['username']}** asked: *What is hope?*"
    assert fake.channels[thread_id]["name"] == "What is hope?"
    assert [r.query for r in sim.asked] == ["What is hope?"]
    assert answer["content"].strip()
    assert_no_pings(fake)


async def test_ask_echoes_and_sends_the_question_without_bidi_controls(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    # U+202E reversed what followed it in the "asked" line (Trojan Source, CVE-2021-42574).
    async with running(fake, sim, sqlite_url) as bot:
        ask = await command(bot, "ask", question="Is \u202egpj.exe\u202c \u2067safe\u2069?")
        [asked] = await bot.followups(ask)
        thread_id = int(asked["id"])

        async def thread_started() -> bool:
            return thread_id in fake.channels

        await fake.wait_for(thread_started)
        await bot.answered(thread_id)
    assert fake.messages[thread_id]["content"] == (
        f"**{USER['username']}** asked: *Is gpj.exe safe?*"
    )
    assert fake.channels[thread_id]["name"] == "Is gpj.exe safe?"
    assert [r.query for r in sim.asked] == ["Is gpj.exe safe?"]


async def test_ask_in_a_dm_answers_there_replying_to_the_question(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        ask = await command(bot, "ask", dm=True, question="What is hope?")
        [asked] = await bot.followups(ask)
        [answer] = await bot.answered(DM_CHANNEL_ID)
    assert answer["message_reference"]["message_id"] == asked["id"]
    assert not fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")


async def test_reset_starts_a_new_conversation(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        nothing = await bot.response(await command(bot, "reset", dm=True))
        await bot.dm("What is grace?")
        await bot.answered(DM_CHANNEL_ID)
        reset = await command(bot, "reset", dm=True)
        done = await bot.callback_for(reset)
        said = await bot.response(reset)
        await bot.dm("What is grace?")
        await bot.answered(DM_CHANNEL_ID, count=2)
    assert nothing["content"] == texts.RESET_NOTHING
    assert done["type"] == 5  # acknowledged before the database is touched
    assert done["data"]["flags"] & EPHEMERAL
    assert said["content"] == texts.RESET_DONE
    assert said["flags"] & EPHEMERAL
    assert [r.chat_id for r in sim.asked] == [None, None]  # a fresh chat


async def test_history_is_ephemeral_and_shows_the_conversation(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        await bot.dm("What is grace?")
        await bot.answered(DM_CHANNEL_ID)
        history = await command(bot, "history", dm=True)
        callback = await bot.callback_for(history)
        [shown] = await bot.followups(history, count=1)

        async def filled() -> bool:
            return any("What is grace?" in m["content"] for m in await_followups(fake, history))

        await fake.wait_for(filled)
    assert callback["type"] == 5
    assert callback["data"]["flags"] & EPHEMERAL
    [message] = [m for m in await_followups(fake, history) if m["content"]]
    assert "**You:** What is grace?" in message["content"]
    assert "**Gloo:**" in message["content"]
    assert message["flags"] & EPHEMERAL
    # The Message API keeps the chat at Gloo; Completions V2 is stateless, so the history is
    # the one the service stored.
    asked_gloo = any(r.path == "/ai/v1/chat" for r in sim.requests)
    assert asked_gloo == (simulator_api() == "message")
    assert shown


def await_followups(fake: FakeDiscord, interaction: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in fake.messages.values() if m.get("interaction_token") == interaction["token"]]


async def test_settings_change_how_the_channel_is_answered(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        shown = await bot.response(await command(bot, "settings", dm=True))
        changed = await bot.response(
            await command(bot, "settings", dm=True, sources=False, suggestions=False)
        )
        await bot.dm("What is grace?")

        async def answered() -> bool:
            return bool(bot.bot_messages(DM_CHANNEL_ID))

        await fake.wait_for(answered)
        await bot.runtime.dispatcher.drain()
        invalid = await bot.response(await command(bot, "settings", dm=True, sources_limit=99))
    assert "Sources: on" in shown["content"]
    assert "(updated)" in changed["content"]
    assert "Sources: off" in changed["content"]
    assert changed["flags"] & EPHEMERAL
    [answer] = bot.bot_messages(DM_CHANNEL_ID)
    assert link_buttons(answer) == []
    assert not any(
        c.startswith("gloo:s:")
        for row in answer["components"]
        for c in [b.get("custom_id", "") for b in row["components"]]
    )
    # Discord's client keeps to the declared range; a value past it is refused in a sentence.
    assert invalid["content"].startswith(texts.settings_invalid("")), invalid
    assert sim.asked[0].query == "What is grace?"


@pytest.mark.parametrize("value", [3_000_000_000, 10**20, -5, 0, 2.5, 1e20])
async def test_an_out_of_range_character_limit_gets_the_core_range(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, value: float
) -> None:
    # Discord's client keeps to the declared range; the core checks again, with the same table
    # (an INTEGER option sent as 2.5 or 1e20 by a tampered client included).
    async with running(fake, sim, sqlite_url) as bot:
        invalid = await bot.response(await command(bot, "settings", dm=True, character_limit=value))
        stored = await bot.runtime.container.service.settings_for(
            "discord", "@dm", str(DM_CHANNEL_ID)
        )
    assert invalid["content"].startswith(texts.settings_invalid("")), invalid
    assert "from 1 to 100,000 characters" in invalid["content"]
    assert stored.character_limit is None


def adapter_args(*argv: str) -> argparse.Namespace:
    adapter = DiscordAdapter()
    parser = argparse.ArgumentParser()
    adapter.add_arguments(parser)
    return parser.parse_args(list(argv))


def discord_settings(fake: FakeDiscord) -> Any:
    return settings_for_tests(
        discord_bot_token=fake.token,
        discord_api_url=fake.api_url,
        discord_gateway_url=fake.gateway_url,
    )


async def test_sync_publishes_the_slash_commands_then_exits(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await DiscordAdapter().command(adapter_args("sync"), discord_settings(fake))
    assert code == 0
    [put] = fake.calls_to("PUT", rf"/applications/{fake.application_id}/commands")
    slash = sorted(c["name"] for c in put.body if c.get("type", 1) == 1)
    assert slash == ["access", "ask", "history", "reset", "settings"]
    ask = next(c for c in put.body if c["name"] == "ask")
    assert ask["options"][0]["name"] == "question"
    assert ask["options"][0]["required"]
    settings = next(c for c in put.body if c["name"] == "settings")
    options = {o["name"]: o for o in settings["options"]}
    for name, allowed in SETTING_RANGES.items():
        if name in options:  # the slash command declares the core's ranges
            assert (options[name]["min_value"], options[name]["max_value"]) == (
                allowed.low,
                allowed.high,
            )
    assert {"character_limit", "sources_limit"} <= options.keys()
    assert str(settings["default_member_permissions"]) == "32"  # Manage Server
    access = next(c for c in put.body if c["name"] == "access")
    assert str(access["default_member_permissions"]) == "32"
    out = capsys.readouterr().out
    assert "Synced 5 slash commands" in out
    assert "message command 'Ask Gloo'" in out  # bots/discord/context_menu.py
    assert not fake.sessions  # no gateway connection for a sub-command


async def test_sync_to_one_server(fake: FakeDiscord) -> None:
    code = await DiscordAdapter().command(
        adapter_args("sync", "--guild", str(GUILD_ID)), discord_settings(fake)
    )
    assert code == 0
    assert fake.calls_to("PUT", rf"/applications/{fake.application_id}/guilds/{GUILD_ID}/commands")


async def test_invite_prints_the_url_with_permissions_and_scopes(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await DiscordAdapter().command(adapter_args("invite"), discord_settings(fake))
    assert code == 0
    url = urlparse(capsys.readouterr().out.strip())
    query = parse_qs(url.query)
    assert url.netloc == "discord.com"
    assert query["client_id"] == [str(fake.application_id)]
    assert query["scope"] == ["bot applications.commands"]
    assert int(query["permissions"][0]) == INVITE_PERMISSIONS.value
    assert INVITE_PERMISSIONS.send_messages_in_threads
    assert INVITE_PERMISSIONS.create_public_threads
    assert INVITE_PERMISSIONS.add_reactions  # the 👀 where a busy channel's typing is spent


async def test_invite_with_a_client_id_needs_no_network(capsys: pytest.CaptureFixture[str]) -> None:
    code = await DiscordAdapter().command(
        adapter_args("invite", "--client-id", "42"), settings_for_tests()
    )
    assert code == 0
    assert "client_id=42" in capsys.readouterr().out


async def test_no_sub_command_means_serve() -> None:
    assert await DiscordAdapter().command(adapter_args(), settings_for_tests()) is None


async def test_a_new_thread_answers_the_way_its_channel_was_set_up(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        await bot.response(
            await command(
                bot, "settings", permissions=MANAGE_SERVER, suggestions=False, sources=False
            )
        )
        question = await bot.say("What is grace?", mention_bot=True)
        thread_id = int(question["id"])

        async def answered() -> bool:
            return bool(bot.bot_messages(thread_id))

        await fake.wait_for(answered)
        await bot.runtime.dispatcher.drain()
        shown = await bot.response(await command(bot, "settings"))
    [answer] = bot.bot_messages(thread_id)
    assert link_buttons(answer) == []
    suggestion_ids = [
        b.get("custom_id", "") for row in answer["components"] for b in row["components"]
    ]
    assert not any(c.startswith("gloo:s:") for c in suggestion_ids)
    assert "Sources: off" in shown["content"]  # the channel keeps its settings
    assert_no_pings(fake)


def test_the_cli_runs_discord_invite(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discord", "invite", "--client-id", "4242"]) == 0
    out = capsys.readouterr().out
    assert "https://discord.com/oauth2/authorize?client_id=4242" in out
    assert "scope=bot+applications.commands" in out
