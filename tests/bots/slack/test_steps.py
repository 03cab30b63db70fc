"""Visible steps: the task card of an answer for which Gloo searches its sources.

Chunks as docs.slack.dev/reference/methods/chat.startStream documents them ("Using the
chunks parameter": ``task_update`` with ``id``, ``title``, ``status``, ``sources`` of URL
source elements); the fake Slack validates every chunk against that schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from structlog.testing import capture_logs

from bots.slack.steps import steps_fact_name
from core.simulator import Simulator
from tests.bots.slack.fake_slack import BOT_TOKEN, TEAM_ID, Call, FakeSlack
from tests.bots.slack.support import CHANNEL, assert_final_buttons, event, slack_process
from tests.harness import NO_SEARCH, V2_PUBLISHER, simulator_api

MENTION_TS = "1700000100.000100"
SECOND_TS = "1700000200.000100"
GROUNDED: dict[str, Any] = {"gloo_publishers": (V2_PUBLISHER,)}


def tasks(call: Call) -> list[dict[str, Any]]:
    return [c for c in call.args.get("chunks") or [] if c.get("type") == "task_update"]


def texts(call: Call) -> list[str]:
    return [c["text"] for c in call.args.get("chunks") or [] if c.get("type") == "markdown_text"]


async def test_a_grounded_answer_shows_the_search_then_the_text_then_what_it_found(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, **GROUNDED) as slack:
        await slack.event(event("app_mention", ts=MENTION_TS))
        await slack.settle()
    (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
    start, *_ = fake_slack.calls_to("chat.startStream")
    # The stream starts with the card alone, before Gloo's first text.
    assert tasks(start) == [
        {
            "type": "task_update",
            "id": "gloo_sources",
            "title": "Searching Gloo's sources",
            "status": "in_progress",
        }
    ]
    assert texts(start) == []
    stop = fake_slack.calls_to("chat.stopStream")[-1]
    (found,) = tasks(stop)
    shown = answer.buttons("gloo_source")
    assert found["status"] == "complete"
    assert found["title"] == f"Found {len(shown)} source" + ("" if len(shown) == 1 else "s")
    assert [s["url"] for s in found.get("sources", [])] == [b["url"] for b in shown]
    assert [u["status"] for u in answer.task_updates] == ["in_progress", "complete"]
    assert "grace" in answer.markdown.lower()
    # The text went as markdown_text chunks, every one of them.
    streamed = [
        t for c in fake_slack.calls_to("chat.appendStream", "chat.stopStream") for t in texts(c)
    ]
    assert "".join(streamed) == answer.streamed
    assert_final_buttons(answer)


async def test_an_answer_without_a_search_shows_no_card(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, **NO_SEARCH) as slack:
        await slack.event(event("app_mention", ts=MENTION_TS))
        await slack.settle()
    (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert fake_slack.calls_to("chat.startStream")
    assert not any(tasks(c) for c in fake_slack.calls)
    assert answer.tasks == {}
    assert_final_buttons(answer)


async def test_a_refused_card_falls_back_and_the_workspace_is_remembered(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.teams[BOT_TOKEN].refuses_tasks = "invalid_chunks"
    with capture_logs() as logs:
        async with slack_process(sqlite_url, fake_slack, sim, **GROUNDED) as slack:
            await slack.event(event("app_mention", ts=MENTION_TS))
            await slack.settle()
            fact = await slack.runtime.container.store.read_fact(steps_fact_name(TEAM_ID))
            await slack.event(event("app_mention", ts=SECOND_TS, event_id="Ev2"))
            await slack.settle()
    assert fact is not None
    assert fact.value == "invalid_chunks"
    assert [e["event"] for e in logs].count("slack.steps_refused") == 1
    (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert answer.tasks == {}
    assert "grace" in answer.markdown.lower()
    assert_final_buttons(answer)
    # One refused try in the first answer; the second answer tries no card at all.
    refused = [c for c in fake_slack.calls if c.error == "invalid_chunks"]
    assert len(refused) == 1
    (second,) = fake_slack.in_thread(CHANNEL, SECOND_TS)
    assert_final_buttons(second)

    # A restart (a new process on the same database) remembers it: no card is tried.
    fake_slack.teams[BOT_TOKEN].refuses_tasks = None
    before = len(fake_slack.calls)
    async with slack_process(sqlite_url, fake_slack, sim, **GROUNDED) as slack:
        await slack.event(event("app_mention", ts="1700000300.000100", event_id="Ev3"))
        await slack.settle()
    assert not any(tasks(c) for c in fake_slack.calls[before:])
    (third,) = fake_slack.in_thread(CHANNEL, "1700000300.000100")
    assert_final_buttons(third)


async def test_an_answer_that_breaks_off_closes_its_card(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    sim.inject("500", "500", "500", "500")  # every try of the one attempt fails
    async with slack_process(sqlite_url, fake_slack, sim, **GROUNDED) as slack:
        await slack.event(event("app_mention", ts=MENTION_TS))
        await slack.settle()
    (card,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
    # Closed as an error with the stream's stop, then the message says why (no text had
    # streamed: the sentence takes the message's place, as without a card).
    assert [u["status"] for u in card.task_updates] == ["in_progress", "error"]
    assert not card.streaming
    assert "gloo" in card.markdown.lower()


async def test_while_the_card_shows_the_search_no_slow_status_says_it_again(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    sim.config.first_chunk_latency = 0.3
    async with slack_process(
        sqlite_url, fake_slack, sim, slow_notice_after=0.1, **GROUNDED
    ) as slack:
        await slack.event(event("app_mention", ts=MENTION_TS))
        await slack.settle()
    statuses = [entry[2] for entry in fake_slack.status_history]
    assert statuses[0] == "is thinking…"
    # Nothing after the card started (a machine too busy to start it within
    # slow_notice_after may show one before: nothing yet said that Gloo was at work).
    calls = fake_slack.calls
    card = next(i for i, c in enumerate(calls) if c.method == "chat.startStream")
    assert not [c for c in calls[card:] if c.method == "assistant.threads.setStatus"]
    assert not [c for c in fake_slack.calls_to("reactions.add") if c.args["name"] != "eyes"]
    (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert answer.tasks["gloo_sources"]["status"] == "complete"


def waits(logs: Sequence[Mapping[str, Any]]) -> int:
    return sum(1 for entry in logs if entry["event"] == "job.still_waiting_for_gloo")


async def test_while_the_card_is_on_its_way_no_slow_sign_says_it_again(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # Slack slow to take the stream's start (the card): the "still working" timer fires
    # meanwhile, and shows no ⏳ (statuses refused: signs are reactions) beside the card.
    fake_slack.fail("assistant.threads.setStatus", "missing_scope")
    sim.config.first_chunk_latency = 1.0  # Gloo's text comes well after
    start = fake_slack.hold("chat.startStream")
    with capture_logs() as logs:
        async with slack_process(
            sqlite_url, fake_slack, sim, slow_notice_after=0.01, **GROUNDED
        ) as slack:
            await slack.event(event("app_mention", ts=MENTION_TS))
            await fake_slack.wait_for(lambda: fake_slack.calls_to("chat.startStream"))
            held_at = len(fake_slack.calls)
            before = waits(logs)
            async with asyncio.timeout(10):
                # The dispatcher's timer: no event to wait on.
                while waits(logs) == before:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            start.set()
            await slack.settle()
    # (An ⏳ before the card is right: nothing yet said that Gloo was at work.)
    after = fake_slack.calls[held_at:]
    assert not [c for c in after if c.method == "reactions.add"]
    (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
    assert answer.tasks["gloo_sources"]["status"] == "complete"


async def test_v2_grounded_by_default_searches_without_named_publishers(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # No publishers: on Completions V2 the grounded route answers with Gloo's default
    # publisher (GLOO_GROUNDED_BY_DEFAULT), a real search; the Message API searches nothing.
    async with slack_process(sqlite_url, fake_slack, sim, gloo_publishers=()) as slack:
        await slack.event(event("app_mention", ts=MENTION_TS))
        await slack.settle()
    (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
    searched = simulator_api() == "completions"
    assert bool(answer.tasks) == searched
    if searched:
        assert answer.tasks["gloo_sources"]["status"] == "complete"
