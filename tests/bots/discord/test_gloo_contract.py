"""The Discord adapter end to end against Gloo as it is today (issue 11): the whole adapter
on the fake Discord, recorded gateway payloads, and the simulator speaking the shapes Gloo
publishes.

Each test names the Gloo API it is about, so the two-API autouse of tests/bots/conftest.py
is replaced here by one that leaves the choice to the test's settings.

Sources: docs.gloo.com Grounded Completions reference (``rag_publisher`` defaults to
GlooGrounded); a public Gloo client's citation shape ``{item_title, item_url, author[],
publisher, snippets[]}``; GlooDeveloper/gloo-ai-docs-cookbook completions-grounded recipes
(the newer V2 routes); docs.gloo.com Errors (429 = "request rate or spending limit").
"""

from __future__ import annotations

from typing import Any

import pytest

from core import messages
from core.simulator import Simulator, SimulatorConfig, content
from tests import harness
from tests.bots.discord.conftest import DM_CHANNEL_ID, link_buttons, running
from tests.bots.discord.fake_discord import FakeDiscord

V2: dict[str, Any] = {"gloo_backend": "completions", "gloo_publishers": ()}
V1: dict[str, Any] = {"gloo_backend": "simulator"}


@pytest.fixture(autouse=True)
def gloo_api() -> harness.GlooApi:
    """Replaces the two-API autouse: every test here sets its API in its settings."""
    return "message"


async def test_v2_citations_with_item_url_become_link_buttons(
    fake: FakeDiscord, sqlite_url: str
) -> None:
    sim = Simulator(SimulatorConfig(seed=7, words_per_chunk=12))
    async with running(fake, sim, sqlite_url, **V2) as bot:
        await bot.dm("What is grace?")
        [answer] = await bot.answered(DM_CHANNEL_ID)
    [asked] = sim.completion_records
    assert asked.body is not None
    assert asked.body["rag_publisher"] == "GlooGrounded"
    links = link_buttons(answer)
    assert links
    domains = {publisher.domain for publisher in content.PUBLISHERS}
    for link in links:
        assert link["url"].startswith("https://")
        assert link["url"].split("/")[2] in domains


async def test_a_dm_continues_its_chat_against_a_gloo_that_streams_without_chat_id(
    fake: FakeDiscord, sqlite_url: str
) -> None:
    sim = Simulator(SimulatorConfig(seed=7, words_per_chunk=12, stream_chat_id=False))
    # GLOO_STREAM_NEW_CHATS=learn, the default (the test harness trusts the simulator).
    async with running(fake, sim, sqlite_url, gloo_stream_new_chats="learn", **V1) as bot:
        await bot.dm("What is grace?")
        await bot.answered(DM_CHANNEL_ID)
        await bot.dm("And mercy?")
        await bot.answered(DM_CHANNEL_ID, count=2)
    first, second = sim.message_records
    assert (first.stream, second.stream) == (False, True)
    assert second.chat_id == first.response_chat_id


async def test_a_v2_gloo_on_the_newer_routes_only_answers_every_question(
    fake: FakeDiscord, sqlite_url: str
) -> None:
    sim = Simulator(SimulatorConfig(seed=7, words_per_chunk=12, v2_routes="newer"))
    async with running(fake, sim, sqlite_url, **V2) as bot:
        await bot.dm("What is grace?")
        await bot.answered(DM_CHANNEL_ID)
        await bot.dm("And mercy?")
        answers = await bot.answered(DM_CHANNEL_ID, count=2)
    assert len(answers) == 2
    assert [r.status for r in sim.completion_records] == [404, 200, 200]


@pytest.mark.parametrize(
    ("fault", "sentence"),
    [("usage_limit", messages.USAGE_LIMIT), ("blocked", messages.DECLINED)],
)
async def test_spending_limit_and_guardrail_refusals_are_their_own_sentence(
    fake: FakeDiscord, sqlite_url: str, fault: str, sentence: str
) -> None:
    sim = Simulator(SimulatorConfig(seed=7, words_per_chunk=12))
    sim.inject(fault)
    async with running(fake, sim, sqlite_url, inbox_max_attempts=3, **V2) as bot:
        await bot.dm("What is grace?")

        async def told() -> bool:
            return bool(bot.bot_messages(DM_CHANNEL_ID))

        await fake.wait_for(told)
        await bot.runtime.dispatcher.drain()
        [notice] = bot.bot_messages(DM_CHANNEL_ID)
    assert sentence in notice["content"].replace("\n", " ")
    assert not notice["components"]
    assert len(sim.asked) == 1
