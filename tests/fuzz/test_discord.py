"""Random Discord messages against a whole Discord process, through the fake gateway.

Properties, over hypothesis examples of MESSAGE_CREATE payloads (the recorded payloads of
tests/bots/discord/payloads, in the Message object shape of discord-api-docs, with random
content, author names, message types, mentions and places):

* the process never crashes: every later message is still answered;
* every question it accepted is answered or its asker told why (a message in the channel),
  whatever the text: control characters, zero-width text, mentions, overlong;
* nothing in the log is a traceback.

After each example a sentinel DM is sent and waited for, as the adapter tests do: gateway
events are handled in order, so once the sentinel is answered the example has been seen.

Each example has DM channels of its own and a guild channel of a few in turn: the process paces
its posts to Discord's per-channel limits (core/budget.py, bots/discord/limits.py), so forty
examples in one channel would spend most of the run waiting for that channel's window.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.simulator import Simulator, SimulatorConfig
from core.store.sql import SqlStore
from tests.bots.discord.conftest import CHANNEL_ID, DM_CHANNEL_ID, GUILD_ID, USER, Bot, running
from tests.bots.discord.fake_discord import FakeDiscord, payload
from tests.fuzz.support import (
    CapturedLogs,
    LoopThread,
    assert_every_question_answered_or_told,
    inbox_rows,
)
from tests.fuzz.test_slack import FUZZ, TEXT

SENTINEL_DM = 1_200_000_000_000_000_077
#: The guild's channels, taken in turn by the examples.
GUILD_CHANNELS = [CHANNEL_ID + n for n in range(8)]
SENTINEL_USER = {"id": "1300000000000000077", "username": "sentinel", "global_name": "Sentinel"}
MAX_CHARS = 300


class Fuzzed:
    """The Discord process under fuzz, in its own loop thread."""

    def __init__(self, database_url: str) -> None:
        self.thread = LoopThread()
        self.logs = CapturedLogs()
        self.sentinels = itertools.count(1)
        self.sent = 0
        self.bot, self._contexts = self.thread.run(self._start(database_url))

    async def _start(self, database_url: str) -> tuple[Bot, list[Any]]:
        # Many fuzzed messages at once: more than Discord's rate limits allow (DiscordLimits).
        fake_context = FakeDiscord(limits=None)
        fake = await fake_context.__aenter__()
        fake.add_guild(GUILD_ID, GUILD_CHANNELS)
        process = running(
            fake,
            Simulator(SimulatorConfig(seed=11, words_per_chunk=12)),
            database_url,
            quota_user_per_minute=0,
            quota_user_per_day=0,
            quota_workspace_per_day=0,
            inbox_max_attempts=1,
            question_max_chars=MAX_CHARS,
        )
        bot = await process.__aenter__()
        return bot, [process, fake_context]

    @property
    def fake(self) -> FakeDiscord:
        return self.bot.fake

    def send(self, data: dict[str, Any]) -> None:
        """Dispatch ``data``, then wait until a sentinel DM after it is answered."""
        count = self.sent = next(self.sentinels)
        sentinel_dm = SENTINEL_DM + 1_000 * count
        self.fake.add_dm(sentinel_dm, SENTINEL_USER)
        if data["channel_id"] == str(DM_CHANNEL_ID):
            data["channel_id"] = str(DM_CHANNEL_ID + 1_000 * count)
            self.fake.add_dm(int(data["channel_id"]), USER)
        else:
            data["channel_id"] = str(GUILD_CHANNELS[count % len(GUILD_CHANNELS)])

        async def send() -> None:
            await self.fake.dispatch("MESSAGE_CREATE", data)
            sentinel = payload(
                "message_create_dm",
                message_id=str(self.fake.snowflake()),
                channel_id=str(sentinel_dm),
                content=f"sentinel {count}",
                user_id=SENTINEL_USER["id"],
                user_name=SENTINEL_USER["username"],
            )
            await self.fake.dispatch("MESSAGE_CREATE", sentinel)
            await self.bot.answered(sentinel_dm, within=20)
            await self.bot.runtime.dispatcher.drain()

        self.thread.run(send())

    def check_questions(self) -> None:
        store = self.bot.runtime.container.store
        assert isinstance(store, SqlStore)
        rows = self.thread.run(inbox_rows(store))
        assert_every_question_answered_or_told(rows, {str(m) for m in self.fake.messages})

    def close(self) -> None:
        try:
            for context in self._contexts:
                self.thread.run(context.__aexit__(None, None, None))
        finally:
            self.thread.close()
            self.logs.close()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    path = tmp_path_factory.mktemp("fuzz-discord") / "gloo-bots.db"
    process = Fuzzed(f"sqlite+aiosqlite:///{path}")
    try:
        yield process
    finally:
        process.close()


@st.composite
def messages(draw: st.DrawFn, bot_id: int, message_id: int) -> dict[str, Any]:
    where = draw(st.sampled_from(["dm", "guild"]))
    mention = draw(st.booleans())
    text = draw(TEXT)
    name = draw(st.one_of(st.just("ann"), TEXT.filter(lambda t: 0 < len(t) <= 32)))
    fields: dict[str, Any] = {
        "message_id": str(message_id),
        "content": (f"<@{bot_id}> " if mention else "") + text,
        "user_id": USER["id"],
        "user_name": "ann",
    }
    if where == "dm":
        data = payload("message_create_dm", channel_id=str(DM_CHANNEL_ID), **fields)
    else:
        data = payload(
            "message_create_guild", channel_id=str(CHANNEL_ID), guild_id=str(GUILD_ID), **fields
        )
    data["author"]["global_name"] = name
    data["type"] = draw(st.sampled_from([0, 0, 0, 19, 7, 6, 20]))  # default, reply, join, ...
    data["author"]["bot"] = draw(st.sampled_from([False, False, False, True]))
    if mention:
        data["mentions"] = [{"id": str(bot_id), "username": "Gloo", "bot": True}]
    data["mention_everyone"] = draw(st.booleans())
    if draw(st.booleans()):
        data["mention_roles"] = [str(GUILD_ID + 99)]
    return data


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_discord_messages_with_random_fields_are_answered_or_told_why(
    fuzzed: Fuzzed, data: st.DataObject
) -> None:
    since = len(fuzzed.logs.text())
    message = data.draw(messages(fuzzed.fake.bot_id, fuzzed.fake.snowflake()))
    fuzzed.send(message)
    fuzzed.check_questions()
    output = fuzzed.logs.text()[since:]
    assert "Traceback" not in output, output[output.find("Traceback") :][:4000]


def test_the_fuzzed_messages_reached_the_inbox_and_both_outcomes_happened(
    fuzzed: Fuzzed,
) -> None:
    store = fuzzed.bot.runtime.container.store
    assert isinstance(store, SqlStore)
    rows = fuzzed.thread.run(inbox_rows(store))
    assert {row.status for row in rows} == {"answered", "failed"}
    assert len(rows) - fuzzed.sent >= 10  # fuzzed questions accepted, besides the sentinels
