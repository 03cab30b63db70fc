"""Running the whole Discord adapter (serve_adapters) against the fake Discord and the
in-process Gloo simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from bots.discord.adapter import DiscordAdapter
from bots.discord.responder import DEFAULT_EDIT_INTERVAL
from core.adapters import Runtime, serving
from core.simulator import Simulator, SimulatorConfig, SimulatorTransport
from tests.bots.discord.fake_discord import FakeDiscord, payload
from tests.harness import expects_suggestions, settings_for_tests

GUILD_ID = 1_100_000_000_000_000_000
CHANNEL_ID = 1_100_000_000_000_000_010
DM_CHANNEL_ID = 1_200_000_000_000_000_001
ROLE_ID = 1_100_000_000_000_000_099
USER = {"id": "1300000000000000001", "username": "ann", "global_name": "Ann"}
OTHER_BOT = {"id": "1300000000000000002", "username": "otherbot", "bot": True}


@dataclass
class Bot:
    """A running adapter process, and helpers to talk to it as a Discord user would."""

    fake: FakeDiscord
    sim: Simulator
    adapter: DiscordAdapter
    runtime: Runtime
    sent: list[int] = field(default_factory=list)

    async def dm(self, text: str, *, user: dict[str, Any] = USER) -> dict[str, Any]:
        data = payload(
            "message_create_dm",
            message_id=str(self.fake.snowflake()),
            channel_id=str(DM_CHANNEL_ID),
            content=text,
            user_id=user["id"],
            user_name=user["username"],
        )
        if user.get("bot"):
            data["author"]["bot"] = True
        await self.fake.dispatch("MESSAGE_CREATE", data)
        return data

    async def say(
        self,
        text: str,
        *,
        channel_id: int = CHANNEL_ID,
        mention_bot: bool = False,
        user: dict[str, Any] = USER,
        **fields: Any,
    ) -> dict[str, Any]:
        if mention_bot:
            text = f"<@{self.fake.bot_id}> {text}"
        data = payload(
            "message_create_guild",
            message_id=str(self.fake.snowflake()),
            channel_id=str(channel_id),
            guild_id=str(GUILD_ID),
            content=text,
            user_id=user["id"],
            user_name=user["username"],
        )
        if user.get("bot"):
            data["author"]["bot"] = True
        if mention_bot:
            data["mentions"] = [{**self.fake.bot_user, "member": {"roles": []}}]
        data.update(fields)
        await self.fake.dispatch("MESSAGE_CREATE", data)
        return data

    async def answered(
        self, channel_id: int, count: int = 1, within: float = 15
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` finished answers (messages with buttons) are in the channel."""

        async def done() -> bool:
            return len(self.final_answers(channel_id)) >= count

        await self.fake.wait_for(done, within)
        await self.runtime.dispatcher.drain()
        return self.final_answers(channel_id)

    def final_answers(self, channel_id: int) -> list[dict[str, Any]]:
        return [
            m
            for m in self.fake.channel_messages(channel_id)
            if m["components"] and not m.get("interaction_token")
        ]

    def bot_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """What the bot posted in the channel (not interaction responses)."""
        return [
            m
            for m in self.fake.channel_messages(channel_id)
            if m["author"]["id"] == str(self.fake.bot_id) and not m.get("interaction_token")
        ]

    async def click(
        self, message: dict[str, Any], custom_id: str, user: dict[str, Any] = USER
    ) -> dict[str, Any]:
        data = self.fake.click_payload(int(message["id"]), custom_id, user)
        await self.fake.interaction(data)
        return data

    async def callback_for(self, interaction: dict[str, Any], within: float = 10) -> dict[str, Any]:
        iid = int(interaction["id"])

        async def answered() -> bool:
            return iid in self.fake.callbacks

        await self.fake.wait_for(answered, within)
        return self.fake.callbacks[iid]

    async def response(self, interaction: dict[str, Any], within: float = 10) -> dict[str, Any]:
        """The interaction's original response once it shows text: acknowledged at once
        ("thinking…", callback type 5), then filled in by editing ``@original``."""

        def original() -> dict[str, Any] | None:
            message_id = self.fake.interactions[interaction["token"]].get("original_message_id")
            return self.fake.messages.get(int(message_id)) if message_id else None

        async def filled() -> bool:
            message = original()
            return message is not None and bool(message["content"])

        await self.fake.wait_for(filled, within)
        message = original()
        assert message is not None
        return message

    async def followups(
        self, interaction: dict[str, Any], count: int = 1, within: float = 10
    ) -> list[dict[str, Any]]:
        token = interaction["token"]

        def found() -> list[dict[str, Any]]:
            return [m for m in self.fake.messages.values() if m.get("interaction_token") == token]

        async def enough() -> bool:
            return len(found()) >= count

        await self.fake.wait_for(enough, within)
        return found()


def custom_ids(message: dict[str, Any], prefix: str = "") -> list[str]:
    return [
        b["custom_id"]
        for row in message["components"]
        for b in row["components"]
        if b.get("custom_id", "").startswith(prefix)
    ]


def assert_final_buttons(message: dict[str, Any]) -> None:
    """``message`` carries a finished answer's buttons: the two feedback buttons, and the
    three suggested follow-ups on the Message API only (Completions V2 answers carry none)."""
    assert len(custom_ids(message, "gloo:f:")) == 2, message["components"]
    suggestions = 3 if expects_suggestions() else 0
    assert len(custom_ids(message, "gloo:s:")) == suggestions, message["components"]


def link_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for row in message["components"] for b in row["components"] if b.get("style") == 5]


def assert_no_pings(fake: FakeDiscord) -> None:
    """Every message send/edit told Discord to parse no mentions at all."""
    sends = fake.message_sends()
    assert sends, "nothing was sent"
    for call in sends:
        body = call.body.get("data", call.body) if call.path.endswith("/callback") else call.body
        assert body.get("allowed_mentions") == {"parse": []}, (call.method, call.path, body)


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=7, words_per_chunk=12))


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    # Discord's limits as the fake models them (devtools.discord.fake DiscordLimits): the
    # adapter's budget keeps its answers inside them.
    async with FakeDiscord() as server:
        server.add_guild(GUILD_ID, [CHANNEL_ID])
        server.add_dm(DM_CHANNEL_ID, USER)
        yield server


@asynccontextmanager
async def running(
    fake: FakeDiscord,
    sim: Simulator,
    database_url: str,
    *,
    edit_interval: float = DEFAULT_EDIT_INTERVAL,
    builtin_simulator: bool = False,
    **settings: Any,
) -> AsyncIterator[Bot]:
    """The adapter serving against ``fake``, answering from ``sim`` (or, with
    ``builtin_simulator``, from the simulator the core builds itself, as in production).

    The edits are paced as in production: with no floor, an answer whose chunks come at once
    would spend its channel's edit bucket (5 per 5 s) on every chunk, and the next answer in
    that channel would wait out the window (about 5 s a test)."""
    adapter = DiscordAdapter()
    adapter.edit_interval = edit_interval
    adapter.client_options = {"guild_ready_timeout": 0.05, "identify_delay": 0.0}
    values: dict[str, Any] = {
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": 0,
        "discord_bot_token": fake.token,
        "discord_api_url": fake.api_url,
        "discord_gateway_url": fake.gateway_url,
        "gloo_intent": 1,  # at least three sources per answer
    }
    values.update(settings)
    identified = sum(s.identified.is_set() for s in fake.sessions)
    transport = None if builtin_simulator else SimulatorTransport(sim)
    async with serving(
        settings_for_tests(**values), [adapter], transport=transport, ready_within=15
    ) as runtime:
        await fake.wait_identified(identified + 1)
        yield Bot(fake=fake, sim=sim, adapter=adapter, runtime=runtime)
