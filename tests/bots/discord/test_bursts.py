"""Bursts in Discord DMs (core/bursts.py), through the fake Discord.

Contract: a DM arrives as a gateway ``MESSAGE_CREATE`` without ``guild_id``
(discord.com/developers/docs/events/gateway-events#message-create; the recorded
``message_create_dm`` payload); the sign of work is ``POST /channels/{id}/typing``
(docs/resources/channel#trigger-typing-indicator), shown for the first message at once.
"""

from __future__ import annotations

from core.bursts import burst_scope
from core.simulator import Simulator
from tests.bots.discord.conftest import DM_CHANNEL_ID, USER, Bot, running
from tests.bots.discord.fake_discord import FakeDiscord
from tests.clock import FakeTimers
from tests.harness import wait_until

#: Long in real time, so the re-drive loop (real clock) never opens a burst before the fake
#: timers close it; the tests move the fake timers by WINDOW.
WINDOW = 60.0

SCOPE = burst_scope("discord", "@dm", str(DM_CHANNEL_ID), str(USER["id"]))


async def part(bot: Bot, text: str, parts: int) -> None:
    """Send ``text`` in the DM and wait until it joined the open burst as part ``parts``."""
    await bot.dm(text)

    await wait_until(lambda: bot.runtime.dispatcher.bursts.parts_of(SCOPE) == parts)


async def test_a_burst_of_dms_is_one_question_with_typing_shown_at_once(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url, burst_window_dm_seconds=WINDOW) as bot:
        timers = FakeTimers()
        bot.runtime.dispatcher.bursts.timers = timers
        first = await bot.dm("hi")

        async def typing() -> bool:
            return bool(fake.calls_to("POST", rf"/channels/{DM_CHANNEL_ID}/typing"))

        await fake.wait_for(typing, 10)
        timers.advance(WINDOW - 1)
        await part(bot, "what does the Bible say", 1)
        timers.advance(WINDOW - 1)
        await part(bot, "about worry?", 2)
        assert sim.asked == []
        timers.advance(WINDOW)
        [answer] = await bot.answered(DM_CHANNEL_ID)
        # After the answer, a message is the next question.
        await bot.dm("thank you")

        await wait_until(lambda: bot.runtime.dispatcher.bursts.key_of(SCOPE) is not None)
        timers.advance(WINDOW)
        await bot.answered(DM_CHANNEL_ID, count=2)

    assert [r.query for r in sim.asked] == [
        "hi\nwhat does the Bible say\nabout worry?",
        "thank you",
    ]
    # The answer replies to the burst's first message.
    [message, _] = bot.bot_messages(DM_CHANNEL_ID)
    assert message["message_reference"]["message_id"] == first["id"]
    assert answer["content"].strip()
