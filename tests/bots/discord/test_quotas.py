"""A Discord user's per-user quota counts across servers and DMs (one snowflake, one person)."""

from __future__ import annotations

from core.simulator import Simulator
from tests.bots.discord.conftest import DM_CHANNEL_ID, running
from tests.bots.discord.fake_discord import FakeDiscord

OTHER_GUILD_ID = 1_500_000_000_000_000_000
OTHER_CHANNEL_ID = 1_500_000_000_000_000_010


async def test_a_users_daily_quota_counts_in_every_server_and_dm(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    fake.add_guild(OTHER_GUILD_ID, [OTHER_CHANNEL_ID])
    async with running(fake, sim, sqlite_url, quota_user_per_day=2) as bot:
        first = await bot.say("What is grace?", mention_bot=True)
        await bot.answered(int(first["id"]))
        second = await bot.say(
            "What is hope?",
            mention_bot=True,
            channel_id=OTHER_CHANNEL_ID,
            guild_id=str(OTHER_GUILD_ID),
        )
        await bot.answered(int(second["id"]))
        await bot.dm("What is faith?")

        async def refused() -> bool:
            return any("limit" in m["content"] for m in bot.bot_messages(DM_CHANNEL_ID))

        await fake.wait_for(refused)
        await bot.runtime.dispatcher.drain()
        [refusal] = bot.bot_messages(DM_CHANNEL_ID)
    assert refusal["content"].startswith("You have reached the limit of 2 questions per day")
    assert [r.query for r in sim.asked] == ["What is grace?", "What is hope?"]
