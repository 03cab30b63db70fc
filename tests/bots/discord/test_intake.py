"""Odd questions through the Discord gateway, on SQLite and PostgreSQL (issue 14, finding 4).

The messages are the recorded MESSAGE_CREATE payloads (tests/bots/discord/payloads) with
their content replaced. Before: U+0000 made PostgreSQL refuse the question; text of only
zero-width characters was sent to Gloo (and a guild mention of it started a thread).
"""

from __future__ import annotations

from core import intake, messages
from core.simulator import Simulator
from tests.bots.discord.conftest import CHANNEL_ID, DM_CHANNEL_ID, running
from tests.bots.discord.fake_discord import FakeDiscord

INVISIBLE = "\u200b\u200d\ufeff\u2060"


async def test_odd_messages_are_answered_or_told_why(
    fake: FakeDiscord, sim: Simulator, database_url: str
) -> None:
    async with running(fake, sim, database_url, question_max_chars=1000) as bot:
        await bot.dm("What is\u0000 grace?")
        await bot.answered(DM_CHANNEL_ID)
        await bot.dm(INVISIBLE)
        await bot.dm("why? " * 400)
        await bot.say(INVISIBLE, mention_bot=True)

        async def told() -> bool:
            contents = [m["content"] for m in bot.bot_messages(DM_CHANNEL_ID)]
            return len(contents) == 3 and bool(bot.bot_messages(CHANNEL_ID))

        await fake.wait_for(told, 15)
        dm = [m["content"] for m in bot.bot_messages(DM_CHANNEL_ID)]
        guild = [m["content"] for m in bot.bot_messages(CHANNEL_ID)]
    assert [r.query for r in sim.asked] == ["What is grace?"]
    # The two notices may come in either order: each DM is handled as it arrives.
    assert sorted(dm[1:]) == sorted(
        [messages.EMPTY_QUESTION, intake.too_long(len(("why? " * 400).strip()), 1000)]
    )
    assert guild == [messages.EMPTY_QUESTION]  # answered in place: no thread was started
    assert not fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")
