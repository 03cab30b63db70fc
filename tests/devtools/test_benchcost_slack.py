"""The Slack cost bench in miniature: a few answers through the real Slack adapter, with the
fake Slack and the Gloo simulator each in a process of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.benchcost import _simulator
from devtools.benchcost_slack import measure_slack
from devtools.slack.bench import mention_event
from devtools.slack.workspace import Phase, follow_up_event
from tests.bots.slack.support import load

FINAL_CHANGES = ("chat.stopStream", "chat.update", "chat.postMessage")


@pytest.fixture
def gloo_url() -> Iterator[str]:
    with _simulator(0.0, 0.0) as url:
        yield url


def test_a_phase_spreads_its_questions_over_its_threads_and_channels() -> None:
    phase = Phase("start", answers=7, threads=3, concurrency=2)
    assert [list(phase.questions(t)) for t in range(3)] == [[0, 3, 6], [1, 4], [2, 5]]
    assert len({phase.channel(t) for t in range(3)}) == 3  # one channel per thread
    shared = Phase("start", answers=7, threads=3, concurrency=2, channels=2)
    assert shared.channel(0) == shared.channel(2) != shared.channel(1)


def test_the_events_have_the_recorded_payloads_shape() -> None:
    follow_up = follow_up_event(
        4, "1700000200.000100", "1700000100.000100", channel="C1", user="U1", tag="T"
    )
    recorded = load("message_channels")
    assert set(follow_up) == set(recorded) - {"event_context"}
    assert set(follow_up["event"]) == set(recorded["event"])
    assert follow_up["event"]["thread_ts"] == "1700000100.000100"
    assert "<@" not in follow_up["event"]["text"]  # a plain follow-up: no mention
    mention = mention_event(4, "1700000100.000100", channel="C1", tag="T")
    assert set(mention["event"]) <= set(load("app_mention")["event"])
    assert mention["event"]["type"] == "app_mention"


@pytest.mark.postgres
async def test_the_slack_cost_bench_answers_through_the_adapter(
    postgres_url: str, gloo_url: str
) -> None:
    result = await measure_slack(postgres_url, gloo_url, answers=3, threads=2, concurrency=2)
    assert result.answers == 3
    assert result.errors == 0
    assert result.transactions_per_answer > 0
    assert result.statements_per_answer >= result.transactions_per_answer
    assert result.cpu_ms_per_answer > 0
    assert result.responder_calls_per_answer > 0
    assert sum(result.platform_calls.values()) == pytest.approx(
        result.responder_calls_per_answer, abs=0.02
    )
    # Every answer ended with a final change (thread 0 asked a mention and a follow-up).
    finals = sum(result.platform_calls.get(method, 0.0) for method in FINAL_CHANGES)
    assert finals >= 1
    assert result.platform_429 >= 0
