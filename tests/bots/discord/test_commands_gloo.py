"""Discord ``/settings tradition`` and ``model_family`` (issue 11): offered as the values of
Gloo's Completions V2 reference, stored per channel, sent with V2 questions, '-' clears."""

from __future__ import annotations

from typing import Any

import pytest

from bots.discord.adapter import DiscordAdapter
from core.simulator import Simulator, SimulatorConfig
from tests import harness
from tests.bots.discord.conftest import DM_CHANNEL_ID, running
from tests.bots.discord.fake_discord import FakeDiscord
from tests.bots.discord.test_commands import adapter_args, command, discord_settings


@pytest.fixture(autouse=True)
def gloo_api() -> harness.GlooApi:
    """Replaces the two-API autouse: these are Completions V2 settings."""
    return "message"


async def test_tradition_and_model_family_are_set_sent_and_cleared(
    fake: FakeDiscord, sqlite_url: str
) -> None:
    sim = Simulator(SimulatorConfig(seed=7, words_per_chunk=12))
    v2: dict[str, Any] = {"gloo_backend": "completions", "gloo_publishers": ()}
    async with running(fake, sim, sqlite_url, **v2) as bot:
        changed = await bot.response(
            await command(bot, "settings", dm=True, tradition="catholic", model_family="google")
        )
        await bot.dm("What is grace?")
        await bot.answered(DM_CHANNEL_ID)
        cleared = await bot.response(
            await command(bot, "settings", dm=True, tradition="-", model_family="-")
        )
    assert "Tradition: catholic" in changed["content"]
    assert "Model family: google" in changed["content"]
    [asked] = sim.completion_records
    assert asked.body is not None
    assert (asked.body["tradition"], asked.body["model_family"]) == ("catholic", "google")
    assert "Tradition: Gloo's default" in cleared["content"]
    assert "Model family: automatic" in cleared["content"]


async def test_sync_offers_the_documented_choices(fake: FakeDiscord) -> None:
    assert await DiscordAdapter().command(adapter_args("sync"), discord_settings(fake)) == 0
    [put] = fake.calls_to("PUT", rf"/applications/{fake.application_id}/commands")
    settings = next(c for c in put.body if c["name"] == "settings")
    options = {option["name"]: option for option in settings["options"]}
    traditions = [choice["value"] for choice in options["tradition"]["choices"]]
    assert traditions == ["-", "evangelical", "catholic", "mainline", "not_faith_specific"]
    families = [choice["value"] for choice in options["model_family"]["choices"]]
    assert families == ["-", "openai", "anthropic", "google", "open source"]
