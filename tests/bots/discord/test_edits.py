"""Edits and deletions of asked messages on Discord (core/edits.py), through the fake Discord.

Contract (discord.com/developers/docs/events/gateway-events): ``MESSAGE_UPDATE`` carries the
message object as it is now (the recorded ``message_create_dm`` payload with its
``edited_timestamp`` set); ``MESSAGE_DELETE`` carries ``id`` and ``channel_id`` (``guild_id``
in a server), ``MESSAGE_DELETE_BULK`` ``ids`` and ``channel_id`` (the recorded
``message_delete`` and ``message_delete_bulk`` payloads).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from core import messages
from core.bursts import burst_scope
from core.simulator import Simulator
from core.store.sql import SqlStore
from tests.bots.discord.conftest import DM_CHANNEL_ID, USER, Bot, running
from tests.bots.discord.fake_discord import FakeDiscord, payload
from tests.clock import FakeTimers
from tests.harness import wait_until

WINDOW = 60.0
SCOPE = burst_scope("discord", "@dm", str(DM_CHANNEL_ID), str(USER["id"]))


async def edit(bot: Bot, sent: dict[str, Any], content: str) -> None:
    data = dict(sent, content=content, edited_timestamp="2025-05-12T10:16:30.123000+00:00")
    await bot.fake.dispatch("MESSAGE_UPDATE", data)


async def test_an_edit_after_the_answer_offers_the_edited_question(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        asked = await bot.dm("What is grace?")
        await bot.answered(DM_CHANNEL_ID)
        await edit(bot, asked, "What is mercy?")

        def offers() -> list[dict[str, Any]]:
            return [
                m for m in bot.bot_messages(DM_CHANNEL_ID) if m["content"] == messages.EDIT_OFFER
            ]

        await wait_until(lambda: bool(offers()))
        [offer] = offers()
        [button] = offer["components"][0]["components"]
        assert button["label"] == "What is mercy?"
        assert button["custom_id"].startswith("gloo:s:")
        ref = button["custom_id"][len("gloo:s:") :]
        click = await bot.runtime.dispatcher.service.resolve_suggestion(ref)
        assert click.text == "What is mercy?"
    assert len(sim.asked) == 1  # never a silent second answer


async def test_an_unchanged_or_bots_update_is_ignored(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        asked = await bot.dm("What is grace?")
        await bot.answered(DM_CHANNEL_ID)
        # An embed unfurled: no edited_timestamp.
        await bot.fake.dispatch("MESSAGE_UPDATE", dict(asked, embeds=[]))
        # The bot's own answer being edited.
        [answer] = bot.final_answers(DM_CHANNEL_ID)
        await edit(bot, answer, "Grace is a gift.")
        await bot.runtime.dispatcher.drain()
        assert all(m["content"] != messages.EDIT_OFFER for m in bot.bot_messages(DM_CHANNEL_ID))


async def burst_parts(bot: Bot) -> int:
    store = bot.runtime.container.store
    assert isinstance(store, SqlStore)
    async with store.engine.connect() as connection:
        result = await connection.execute(text("SELECT count(*) FROM burst_parts"))
        return int(result.scalar_one())


async def test_a_deleted_message_of_a_burst_is_not_asked(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url, burst_window_dm_seconds=WINDOW) as bot:
        timers = FakeTimers()
        bursts = bot.runtime.dispatcher.bursts
        bursts.timers = timers
        await bot.dm("hi")
        await wait_until(lambda: bursts.key_of(SCOPE) is not None)
        oops = await bot.dm("oops")
        await wait_until(lambda: bursts.parts_of(SCOPE) == 1)
        await bot.dm("how do I pray?")
        await wait_until(lambda: bursts.parts_of(SCOPE) == 2)
        gone = payload("message_delete", message_id=oops["id"], channel_id=str(DM_CHANNEL_ID))
        await fake.dispatch("MESSAGE_DELETE", gone)
        await eventually(lambda: _is(burst_parts(bot), 1))
        timers.advance(WINDOW)
        await bot.answered(DM_CHANNEL_ID)
    assert [r.query for r in sim.asked] == ["hi\nhow do I pray?"]


async def test_questions_deleted_in_bulk_before_their_answer_are_not_asked(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url, burst_window_dm_seconds=WINDOW) as bot:
        timers = FakeTimers()
        bursts = bot.runtime.dispatcher.bursts
        bursts.timers = timers
        first = await bot.dm("What is hope?")
        await wait_until(lambda: bursts.key_of(SCOPE) is not None)
        second = await bot.dm("What is joy?")
        await wait_until(lambda: bursts.parts_of(SCOPE) == 1)
        bulk = payload(
            "message_delete_bulk",
            first_id=first["id"],
            second_id=second["id"],
            channel_id=str(DM_CHANNEL_ID),
        )
        await fake.dispatch("MESSAGE_DELETE_BULK", bulk)
        store = bot.runtime.container.store

        async def withdrawn() -> bool:
            return (await store.inbox_counts()) == {"withdrawn": 1}

        await eventually(withdrawn)
        timers.advance(WINDOW)
        await bot.runtime.dispatcher.drain()
    assert sim.asked == []


async def _is(count: Awaitable[int], expected: int) -> bool:
    return await count == expected


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``check`` (the store, which another task changes) until it holds."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - the store has no event to wait on
            await asyncio.sleep(0.01)


TEXTS = {
    "inbox": "SELECT text FROM inbox ORDER BY accepted_at",
    "burst_parts": "SELECT text FROM burst_parts ORDER BY id",
    # An edit while the question is being answered is kept aside, offered after the answer.
    "edited": "SELECT edited_text FROM inbox ORDER BY accepted_at",
}


async def texts(bot: Bot, which: str) -> list[str]:
    """The question texts of ``TEXTS[which]``, oldest first."""
    store = bot.runtime.container.store
    assert isinstance(store, SqlStore)
    async with store.engine.connect() as connection:
        result = await connection.execute(text(TEXTS[which]))
        return [str(row) for row in result.scalars()]


async def test_an_edit_inside_a_burst_window_is_what_is_asked(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url, burst_window_dm_seconds=WINDOW) as bot:
        timers = FakeTimers()
        bursts = bot.runtime.dispatcher.bursts
        bursts.timers = timers
        first = await bot.dm("hi, what is grce?")
        await wait_until(lambda: bursts.key_of(SCOPE) is not None)
        second = await bot.dm("how do I forgve?")
        await wait_until(lambda: bursts.parts_of(SCOPE) == 1)
        await edit(bot, first, "hi, what is grace?")  # the burst's first message (its key)
        await eventually(lambda: _are(texts(bot, "inbox"), ["hi, what is grace?"]))
        await edit(bot, second, "how do I forgive?")  # a later part
        await eventually(lambda: _are(texts(bot, "burst_parts"), ["how do I forgive?"]))
        timers.advance(WINDOW)
        await bot.answered(DM_CHANNEL_ID)
        assert all(m["content"] != messages.EDIT_OFFER for m in bot.bot_messages(DM_CHANNEL_ID))
    assert [r.query for r in sim.asked] == ["hi, what is grace?\nhow do I forgive?"]


async def _are(found: Awaitable[list[str]], expected: list[str]) -> bool:
    return await found == expected


async def test_a_question_deleted_while_its_answer_is_written_stops_it(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    # Mid-answer, deterministically: Gloo's first chunk comes at once and the next only
    # long after the test (the stop ends the stream's wait).
    sim.config.chunk_latency = 30.0
    async with running(fake, sim, sqlite_url) as bot:
        asked = await bot.dm("What is grace?")

        async def shown() -> bool:
            return any(m["content"] for m in bot.bot_messages(DM_CHANNEL_ID))

        await fake.wait_for(shown, within=5)
        [partial] = bot.bot_messages(DM_CHANNEL_ID)
        assert not partial["components"]  # not finished
        deleted_at = len(fake.calls)
        gone = payload("message_delete", message_id=asked["id"], channel_id=str(DM_CHANNEL_ID))
        await fake.dispatch("MESSAGE_DELETE", gone)
        store = bot.runtime.container.store

        async def withdrawn() -> bool:
            return (await store.inbox_counts()) == {"withdrawn": 1}

        await eventually(withdrawn, within=5)
        await wait_until(lambda: bot.runtime.dispatcher.in_flight == 0)
        sim.config.chunk_latency = 0.0
        await bot.dm("What is hope?")
        await bot.answered(DM_CHANNEL_ID)
        counts = await store.inbox_counts()
    edits = [c for c in fake.calls[deleted_at:] if c.path.endswith(f"/messages/{partial['id']}")]
    # Left as it was shown, with one line saying why it ends there (one edit, no more text).
    assert len(edits) == 1
    final = fake.messages[int(partial["id"])]["content"]
    assert final.startswith(partial["content"].rstrip())
    assert messages.ANSWER_STOPPED in final.splitlines()[-1]
    assert [r.query for r in sim.asked] == ["What is grace?", "What is hope?"]
    assert counts == {"answered": 1, "withdrawn": 1}


async def test_an_edit_while_the_answer_is_written_is_offered_once_it_is_done(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        # Mid-answer, deterministically: Discord is slow to take the answer's first message.
        posting = fake.hold("POST", rf"/channels/{DM_CHANNEL_ID}/messages")
        try:
            asked = await bot.dm("What is grce?")

            async def held() -> bool:
                return bool(fake.calls_to("POST", rf"/channels/{DM_CHANNEL_ID}/messages"))

            await fake.wait_for(held, within=5)
            await edit(bot, asked, "What is grace?")
            store = bot.runtime.container.store
            await eventually(lambda: _are(texts(bot, "edited"), ["What is grace?"]), within=5)
            assert (await store.inbox_counts()) == {"answering": 1}  # edited mid-answer
        finally:
            posting.set()
        await bot.answered(DM_CHANNEL_ID)

        def offers() -> list[dict[str, Any]]:
            return [
                m for m in bot.bot_messages(DM_CHANNEL_ID) if m["content"] == messages.EDIT_OFFER
            ]

        await wait_until(lambda: bool(offers()))
        await bot.runtime.dispatcher.drain()
        [offer] = offers()
        [button] = offer["components"][0]["components"]
        assert button["label"] == "What is grace?"
        [answer, _offer] = bot.bot_messages(DM_CHANNEL_ID)
        assert answer["components"]  # the answer was finished first, then the offer
    assert [r.query for r in sim.asked] == ["What is grce?"]  # never a silent second answer
