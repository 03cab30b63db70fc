"""Discord's 3-second rule: every interaction is acknowledged before any database work.

discord-api-docs, developers/interactions/receiving-and-responding.mdx: "Interaction tokens
are valid for 15 minutes and can be used to send followup messages but you must send an
initial response within 3 seconds of receiving the event. If the 3 second deadline is
exceeded, the token will be invalidated." A late callback gets 404 with code 10062
"Unknown interaction" (developers/topics/opcodes-and-status-codes.mdx); the fake Discord
(tools/devtools/discord/fake.py) enforces both, measured from when it dispatched
INTERACTION_CREATE.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from bots.discord import messages as texts
from core.simulator import Simulator
from tests.bots.discord.conftest import DM_CHANNEL_ID, USER, custom_ids, running
from tests.bots.discord.fake_discord import FakeDiscord
from tests.bots.discord.test_commands import command
from tests.harness import expects_suggestions

#: Longer than Discord waits for an initial response.
SLOW_DATABASE = 3.3
DEADLINE = 3.0


def slowly(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(SLOW_DATABASE)
        return await method(*args, **kwargs)

    return slow


async def test_interactions_with_slow_database_work_are_acknowledged_within_3_s(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        await bot.dm("What is grace?")
        [answer] = await bot.answered(DM_CHANNEL_ID)
        up, _ = custom_ids(answer, "gloo:f:")
        store = bot.runtime.container.store
        for name in (
            "get_answer",
            "set_feedback",
            "forget_thread",
            "get_chat_id",
            "get_channel_settings",
            "save_channel_settings",
        ):
            monkeypatch.setattr(store, name, slowly(getattr(store, name)))
        feedback = await bot.click(answer, up)
        history = await command(bot, "history", dm=True)
        shown = await command(bot, "settings", dm=True)
        changed = await command(bot, "settings", dm=True, sources=False)
        reset = await command(bot, "reset", dm=True)
        waiting = [feedback, history, shown, changed, reset]
        suggestion = None
        if expects_suggestions():
            suggestion = await bot.click(answer, custom_ids(answer, "gloo:s:")[0])
            waiting.append(suggestion)
        replies = {
            name: (await bot.response(interaction, within=20))["content"]
            for name, interaction in [
                ("feedback", feedback),
                ("history", history),
                ("shown", shown),
                ("changed", changed),
                ("reset", reset),
            ]
        }
        if suggestion is not None:
            await bot.answered(DM_CHANNEL_ID, count=2, within=30)
    assert not fake.expired, fake.expired  # no callback came too late
    for interaction in waiting:
        assert fake.acknowledged_after(interaction) < DEADLINE
    assert replies["feedback"] == texts.FEEDBACK_THANKS
    assert "**You:** What is grace?" in replies["history"]
    assert replies["shown"].startswith("**Gloo settings for this channel**\n")
    assert replies["changed"].startswith("**Gloo settings for this channel** (updated)")
    assert "Sources: off" in replies["changed"]
    assert replies["reset"] == texts.RESET_DONE
    assert await store.get_feedback(up.split(":")[2]) == {USER["id"]: 1}


async def test_the_fake_refuses_an_initial_response_after_3_s_as_discord_does(
    fake: FakeDiscord,
) -> None:
    dm = fake.channels[DM_CHANNEL_ID]
    iid = fake.snowflake()
    interaction = await fake.interaction(
        {"id": str(iid), "token": f"itoken-{iid}", "type": 3, "channel_id": dm["id"]}
    )
    fake.dispatched_at[interaction["token"]] -= DEADLINE + 0.1  # arrived 3.1 s ago
    callback = f"{fake.api_url}/interactions/{iid}/{interaction['token']}/callback"
    followup = f"{fake.api_url}/webhooks/{fake.application_id}/{interaction['token']}"
    async with aiohttp.ClientSession() as session:
        async with session.post(callback, json={"type": 5, "data": {"flags": 64}}) as late:
            assert late.status == 404
            assert await late.json() == {"message": "Unknown interaction", "code": 10062}
        async with session.post(followup, json={"content": "too late"}) as after:
            assert after.status == 404  # the token was invalidated
            assert (await after.json())["code"] == 10015
    assert fake.expired == {iid}
    assert iid not in fake.callbacks
