"""The Slack adapter end to end against Gloo as it is today (issue 11): a whole ``gloo-bots
slack`` process, signed recorded Events API payloads, the fake Slack, and the simulator
speaking the shapes Gloo publishes.

Each test names the Gloo API it is about, so the two-API autouse of tests/bots/conftest.py
is replaced here by one that leaves the choice to the test's settings.

Sources: docs.gloo.com Grounded Completions reference (``rag_publisher`` defaults to
GlooGrounded; citations lead a stream); a public Gloo client's citation shape
``{item_title, item_url, author[], publisher, snippets[]}``; GlooDeveloper/gloo-ai-docs-
cookbook completions-grounded recipes (the newer ``/ai/v2/grounded/chat/completions`` and
``/ai/v2/guarded/chat/completions`` routes); docs.gloo.com Errors (429 = "request rate or
spending limit"). The Message API's ``stream: true`` wire is undocumented; the simulator's
``stream_chat_id=False`` is the case where it names no chat.
"""

from __future__ import annotations

from typing import Any

import pytest

from core import messages
from core.simulator import Simulator, SimulatorConfig, content
from tests import harness
from tests.bots.slack.fake_slack import BOT_USER_ID, FakeSlack, Message
from tests.bots.slack.support import ALICE, CHANNEL, SlackProcess, event, slack_process

MENTION_TS = "1700000300.000100"
V2: dict[str, Any] = {"gloo_backend": "completions", "gloo_publishers": ()}
V1: dict[str, Any] = {"gloo_backend": "simulator"}


@pytest.fixture(autouse=True)
def gloo_api() -> harness.GlooApi:
    """Replaces the two-API autouse: every test here sets its API in its settings."""
    return "message"


async def mention(slack: SlackProcess, text: str = "What is grace?") -> Message:
    posted = await slack.event(
        event("app_mention", ts=MENTION_TS, user=ALICE, text=f"<@{BOT_USER_ID}> {text}")
    )
    assert posted.status == 200
    await slack.settle()
    answers = slack.fake.in_thread(CHANNEL, MENTION_TS)
    assert len(answers) == 1
    return answers[0]


async def follow_up(slack: SlackProcess, text: str) -> list[Message]:
    reply = event("message_channels", ts="1700000400.000100", thread_ts=MENTION_TS, text=text)
    assert (await slack.event(reply)).status == 200
    await slack.settle()
    return slack.fake.in_thread(CHANNEL, MENTION_TS)


async def test_a_thread_continues_its_chat_against_a_gloo_that_streams_without_chat_id(
    sqlite_url: str, fake_slack: FakeSlack
) -> None:
    sim = Simulator(SimulatorConfig(seed=7, stream_chat_id=False))
    # GLOO_STREAM_NEW_CHATS=learn, the default (the test harness trusts the simulator).
    async with slack_process(
        sqlite_url, fake_slack, sim, gloo_stream_new_chats="learn", **V1
    ) as slack:
        await mention(slack)
        answers = await follow_up(slack, "And mercy?")
        third = event("message_channels", ts="1700000500.000100", thread_ts=MENTION_TS)
        third["event"]["text"] = "And hope?"
        assert (await slack.event(third)).status == 200
        await slack.settle()
    first, second, last = sim.message_records
    assert first.stream is False  # a new chat: asked whole, so its answer names the chat
    assert second.stream is True  # a follow-up streams: its chat id is already known
    assert second.chat_id == first.response_chat_id
    assert last.chat_id == first.response_chat_id
    assert len(answers) == 2
    assert all(a.markdown.strip() for a in answers)


async def test_v2_citations_with_item_url_become_link_buttons(
    sqlite_url: str, fake_slack: FakeSlack
) -> None:
    sim = Simulator(SimulatorConfig(seed=7))
    async with slack_process(sqlite_url, fake_slack, sim, **V2) as slack:
        answer = await mention(slack)
    [asked] = sim.completion_records
    assert asked.path == "/ai/v2/chat/completions/grounded"
    assert asked.body is not None
    assert asked.body["rag_publisher"] == "GlooGrounded"  # sources by default on V2
    assert asked.body["include_citations"] is True
    links = answer.buttons("gloo_source")
    assert links
    domains = {publisher.domain for publisher in content.PUBLISHERS}
    for link in links:
        assert link["url"].startswith("https://")
        assert link["url"].split("/")[2] in domains


async def test_a_v2_gloo_on_the_newer_routes_only_answers_every_question(
    sqlite_url: str, fake_slack: FakeSlack
) -> None:
    sim = Simulator(SimulatorConfig(seed=7, v2_routes="newer"))
    async with slack_process(sqlite_url, fake_slack, sim, **V2) as slack:
        await mention(slack)
        answers = await follow_up(slack, "And mercy?")
    assert len(answers) == 2
    assert all(a.feedback_buttons() for a in answers)  # each a finished answer
    statuses = [(r.path, r.status) for r in sim.completion_records]
    assert statuses == [
        ("/ai/v2/chat/completions/grounded", 404),  # once: the fallback is remembered
        ("/ai/v2/grounded/chat/completions", 200),
        ("/ai/v2/grounded/chat/completions", 200),
    ]


@pytest.mark.parametrize(
    ("fault", "sentence", "settings"),
    [
        ("usage_limit", messages.USAGE_LIMIT, V1),
        ("usage_limit", messages.USAGE_LIMIT, V2),
        ("blocked", messages.DECLINED, V1),
        ("blocked", messages.DECLINED, V2),
    ],
)
async def test_spending_limit_and_guardrail_refusals_are_their_own_sentence_and_not_retried(
    sqlite_url: str,
    fake_slack: FakeSlack,
    fault: str,
    sentence: str,
    settings: dict[str, Any],
) -> None:
    sim = Simulator(SimulatorConfig(seed=7))
    sim.inject(fault)
    async with slack_process(
        sqlite_url, fake_slack, sim, inbox_max_attempts=3, **settings
    ) as slack:
        notice = await mention(slack)
        metrics = slack.runtime.container.metrics.render().decode()
    assert sentence in notice.markdown.replace("\n", " ")
    assert "sign in" not in notice.markdown
    assert len(sim.asked) == 1  # neither the client nor the inbox asked again
    counted = "gloo_bots_gloo_usage_limit_total 1.0" in metrics
    assert counted is (fault == "usage_limit")
