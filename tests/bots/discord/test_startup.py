"""Start-up: clear errors for a bad token and a missing intent, sharding, the endpoint override."""

from __future__ import annotations

import argparse
import asyncio

import discord
import pytest
from aiohttp import web

from bots.discord import messages as texts
from bots.discord.adapter import DiscordAdapter
from bots.discord.client import build_client, intents
from bots.discord.endpoints import api_base, discord_endpoints
from core.adapters import Runtime
from core.bootstrap import StartupError, build
from core.simulator import Simulator, SimulatorTransport
from tests.bots.discord.conftest import CHANNEL_ID, GUILD_ID, running
from tests.bots.discord.fake_discord import FakeDiscord
from tests.harness import settings_for_tests

MESSAGE_CONTENT = 1 << 15
DISCORD_API = "https://discord.com/api/v10"


async def serve_once(fake: FakeDiscord, sqlite_url: str, **overrides: object) -> None:
    """The adapter's ``serve`` on a core built the production way (no other process parts)."""
    values: dict[str, object] = {
        "database_url": sqlite_url,
        "discord_bot_token": fake.token,
        "discord_api_url": fake.api_url,
        "discord_gateway_url": fake.gateway_url,
    }
    values.update(overrides)
    adapter = DiscordAdapter()
    adapter.client_options = {"guild_ready_timeout": 0.05, "identify_delay": 0.0}
    settings = settings_for_tests(**values)
    async with build(settings, transport=SimulatorTransport(Simulator())) as container:
        runtime = Runtime(
            container=container, dispatcher=container.dispatcher, web=web.Application()
        )
        await adapter.prepare(runtime)
        await asyncio.wait_for(adapter.serve(runtime), timeout=20)


async def test_a_bad_token_ends_with_what_to_change(fake: FakeDiscord, sqlite_url: str) -> None:
    with pytest.raises(StartupError) as error:
        await serve_once(fake, sqlite_url, discord_bot_token="not-the-token")
    assert str(error.value) == texts.BAD_TOKEN
    assert "developer portal" in str(error.value)
    assert "Reset Token" in str(error.value)
    assert fake.calls_to("GET", "/users/@me")[0].status == 401
    assert not fake.sessions


async def test_a_missing_message_content_intent_ends_with_what_to_change(sqlite_url: str) -> None:
    async with FakeDiscord(close_on_identify=4014) as fake:
        with pytest.raises(StartupError) as error:
            await serve_once(fake, sqlite_url)
    assert str(error.value) == texts.MESSAGE_CONTENT_INTENT
    assert "MESSAGE CONTENT INTENT" in str(error.value)
    assert discord.http.Route.BASE == DISCORD_API  # the override did not leak


async def test_the_client_asks_for_the_message_content_intent(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url):
        assert fake.api_url == discord.http.Route.BASE
        [session] = fake.sessions
        assert session.intents & MESSAGE_CONTENT
        assert session.intents == intents().value
    assert discord.http.Route.BASE == DISCORD_API
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


async def test_without_shard_settings_discord_recommends_the_shard_count(
    sim: Simulator, sqlite_url: str
) -> None:
    async with FakeDiscord(recommended_shards=2) as fake:
        fake.add_guild(GUILD_ID, [CHANNEL_ID])
        async with running(fake, sim, sqlite_url) as bot:
            await fake.wait_identified(2)
            question = await bot.say("What is grace?", mention_bot=True)
            await bot.answered(int(question["id"]))
    assert fake.calls_to("GET", "/gateway/bot")
    assert sorted(s.shard for s in fake.sessions) == [(0, 2), (1, 2)]


async def test_explicit_shards_run_only_those(sim: Simulator, sqlite_url: str) -> None:
    own_shard = (GUILD_ID >> 22) % 3
    async with FakeDiscord(recommended_shards=1) as fake:
        fake.add_guild(GUILD_ID, [CHANNEL_ID])
        async with running(
            fake, sim, sqlite_url, discord_shard_count=3, discord_shard_ids=(own_shard,)
        ) as bot:
            question = await bot.say("What is grace?", mention_bot=True)
            await bot.answered(int(question["id"]))
    assert [s.shard for s in fake.sessions] == [(own_shard, 3)]
    assert not fake.calls_to("GET", "/gateway/bot")  # the configured gateway is used


def test_shard_settings_select_the_shards() -> None:
    assert build_client(settings_for_tests()).shard_count is None
    client = build_client(settings_for_tests(discord_shard_count=4, discord_shard_ids="2,3"))
    assert (client.shard_count, client.shard_ids) == (4, [2, 3])
    client = build_client(settings_for_tests(discord_shard_count=2))
    assert (client.shard_count, client.shard_ids) == (2, [0, 1])


async def test_the_endpoint_override_is_scoped_and_restored() -> None:
    with discord_endpoints("http://127.0.0.1:9/", "ws://127.0.0.1:9/gateway"):
        assert discord.http.Route.BASE == "http://127.0.0.1:9/api/v10"
        assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"
        with pytest.raises(RuntimeError), discord_endpoints("http://127.0.0.1:10", None):
            raise RuntimeError("boom")
        assert discord.http.Route.BASE == "http://127.0.0.1:9/api/v10"
    assert discord.http.Route.BASE == DISCORD_API
    assert api_base("http://x/api/v10") == "http://x/api/v10"
    with discord_endpoints(None, None):
        assert discord.http.Route.BASE == DISCORD_API


async def test_sub_commands_without_a_token_or_a_reachable_discord_say_so() -> None:
    adapter = DiscordAdapter()
    parser = argparse.ArgumentParser()
    adapter.add_arguments(parser)
    sync = parser.parse_args(["sync"])
    with pytest.raises(StartupError, match="DISCORD_BOT_TOKEN is not set"):
        await adapter.command(sync, settings_for_tests())
    async with FakeDiscord() as fake:
        gone = fake.api_url
    with pytest.raises(StartupError, match=r"Could not reach Discord at http://127\.0\.0\.1"):
        await adapter.command(sync, settings_for_tests(discord_bot_token="t", discord_api_url=gone))
    assert discord.http.Route.BASE == DISCORD_API


async def test_doctor_checks_the_token_and_the_intent() -> None:
    adapter = DiscordAdapter()
    async with FakeDiscord() as fake:
        good = await adapter.diagnose(
            settings_for_tests(discord_bot_token=fake.token, discord_api_url=fake.api_url)
        )
        refused = await adapter.diagnose(
            settings_for_tests(discord_bot_token="wrong", discord_api_url=fake.api_url)
        )
    async with FakeDiscord(application_flags=0) as fake:
        no_intent = await adapter.diagnose(
            settings_for_tests(discord_bot_token=fake.token, discord_api_url=fake.api_url)
        )
    missing = await adapter.diagnose(settings_for_tests())
    assert [f.ok for f in good] == [True, True]
    assert "Gloo" in good[0].summary
    assert [f.ok for f in refused] == [False]
    assert refused[0].advice == texts.BAD_TOKEN
    assert [f.ok for f in no_intent] == [True, False]
    assert no_intent[1].advice == texts.MESSAGE_CONTENT_INTENT
    assert [f.ok for f in missing] == [False]
    assert discord.http.Route.BASE == DISCORD_API


async def test_readiness_follows_the_gateway_connection(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        check = bot.runtime.readiness["discord"]
        assert bot.adapter.client is not None
        await asyncio.wait_for(bot.adapter.client.wait_until_ready(), 10)
        assert await check() is None
        # on_ready (a task discord.py dispatches after READY) says `ready discord=connected`.
        await asyncio.wait_for(bot.runtime.ready.wait(), 10)
        assert bot.runtime.connections == {"discord": "connected"}
    assert await check() == "not connected to the Discord gateway"
