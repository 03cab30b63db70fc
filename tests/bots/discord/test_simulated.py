"""GLOO_BACKEND=simulator on Discord: the process serves, and every answer says it is simulated."""

from __future__ import annotations

from core.bootstrap import SIMULATED_NOTE
from core.simulator import Simulator
from tests.bots.discord.conftest import DM_CHANNEL_ID, running
from tests.bots.discord.fake_discord import FakeDiscord
from tests.harness import builtin_simulator_settings


async def test_every_answer_from_the_built_in_simulator_says_it_is_simulated(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(
        fake, sim, sqlite_url, builtin_simulator=True, **builtin_simulator_settings()
    ) as bot:
        assert bot.runtime.container.simulator is not None  # the core's own, not the test's
        await bot.dm("What is grace?")
        await bot.answered(DM_CHANNEL_ID)
        await bot.dm("And mercy?")
        answers = await bot.answered(DM_CHANNEL_ID, count=2)
        question = await bot.say("What is hope?", mention_bot=True)
        [in_thread] = await bot.answered(int(question["id"]))
    assert sim.asked == []  # the test's simulator was never asked
    for answer in [*answers, in_thread]:
        assert answer["content"].endswith(SIMULATED_NOTE), answer["content"]
        assert len(answer["content"]) > len(SIMULATED_NOTE) + 20  # the answer is there too
