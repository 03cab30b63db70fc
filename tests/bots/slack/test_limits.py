"""bots.slack.limits: Slack's published rates and the scope of each call."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.slack.limits import (
    PER_CHANNEL,
    POST_MESSAGE_WINDOW,
    SLACK_RATES,
    TIER_2,
    TIER_3,
    TIER_4,
    slack_rates,
    slack_scope,
)
from core.budget import Budget, Rate
from devtools.ratelimit import Limiter, Window
from devtools.slack.fake import POST_MESSAGE


def test_the_published_tiers_per_method() -> None:
    # docs.slack.dev/reference/methods/<method>, "Facts" (rate-limits page for the tiers).
    assert (TIER_2.calls, TIER_3.calls, TIER_4.calls) == (20, 50, 100)
    assert {TIER_2.window, TIER_3.window, TIER_4.window} == {60.0}
    assert SLACK_RATES["chat.startStream"] == TIER_2
    assert SLACK_RATES["chat.stopStream"] == TIER_2
    assert SLACK_RATES["chat.appendStream"] == TIER_4
    assert SLACK_RATES["chat.update"] == TIER_3
    assert SLACK_RATES["reactions.add"] == TIER_3
    assert SLACK_RATES["views.publish"] == TIER_4
    assert SLACK_RATES["users.info"] == TIER_4
    assert SLACK_RATES["assistant.threads.setTitle"] == TIER_4  # per workspace
    # Special methods: budgeted below what Slack is known to allow (see the module).
    assert SLACK_RATES["chat.postMessage"] == Rate(2, POST_MESSAGE_WINDOW)
    assert SLACK_RATES["assistant.threads.setStatus"] == TIER_3
    assert SLACK_RATES["chat.getPermalink"] == TIER_4


def test_history_methods_follow_the_non_marketplace_rule_unless_approved() -> None:
    # docs.slack.dev changelog 2025-05-29: 1 call a minute for non-Marketplace apps.
    for method in ("conversations.replies", "conversations.history"):
        assert SLACK_RATES[method] == Rate(1, 60)
        assert slack_rates(marketplace=True)[method] == TIER_3


def test_the_table_cannot_be_changed_in_place() -> None:
    with pytest.raises(TypeError):
        SLACK_RATES["chat.update"] = Rate(1000, 1)  # type: ignore[index]


def test_post_message_and_status_are_scoped_per_channel_the_rest_per_workspace() -> None:
    assert sorted(PER_CHANNEL) == ["assistant.threads.setStatus", "chat.postMessage"]
    assert slack_scope("T1", "chat.postMessage", "C1") == "T1/C1"
    assert slack_scope("E1:T1", "assistant.threads.setStatus", "D1") == "E1:T1/D1"
    assert slack_scope("T1", "chat.update", "C1") == "T1"
    assert slack_scope("T1", "chat.startStream") == "T1"
    with pytest.raises(ValueError, match="per channel"):
        slack_scope("T1", "chat.postMessage")


def test_one_budget_over_the_table_limits_a_workspace_not_its_neighbour() -> None:
    now = [0.0]
    b = Budget(SLACK_RATES, clock=lambda: now[0], platform="slack")
    starts = [b.take(slack_scope("T1", "chat.startStream"), "chat.startStream") for _ in range(25)]
    assert starts.count(True) == 20  # Tier 2 in one minute
    assert b.take(slack_scope("T2", "chat.startStream"), "chat.startStream")
    posts = [
        b.take(slack_scope("T1", "chat.postMessage", f"C{n}"), "chat.postMessage")
        for n in (1, 1, 1, 2)
    ]
    assert posts == [True, True, False, True]  # 1 a second per channel, bursts of 2
    now[0] = 1.0
    assert not b.take(slack_scope("T1", "chat.postMessage", "C1"), "chat.postMessage")
    now[0] = 2.0  # Slack's 2 s have passed, the budget's margin for latency has not
    assert not b.take(slack_scope("T1", "chat.postMessage", "C1"), "chat.postMessage")
    now[0] = POST_MESSAGE_WINDOW
    assert b.take(slack_scope("T1", "chat.postMessage", "C1"), "chat.postMessage")


@given(st.lists(st.floats(min_value=0.0, max_value=0.7), min_size=1, max_size=60))
def test_what_the_budget_spends_slack_never_refuses(gaps: list[float]) -> None:
    """Calls admitted by the budget at any times are admitted by Slack's limits as the fake
    Slack models them (a sliding minute per tier; a bucket of 1 a second with a burst of 2
    for chat.postMessage)."""
    now = [0.0]
    budget = Budget(SLACK_RATES, clock=lambda: now[0], platform="slack")
    slack = Limiter()
    for gap in gaps:
        now[0] += gap
        for method, rule in (
            ("chat.postMessage", POST_MESSAGE),
            ("chat.startStream", Window(20)),
            ("chat.update", Window(50)),
        ):
            if budget.take(slack_scope("T1", method, "C1"), method):
                assert slack.take(method, rule, now[0]) is None, (method, now[0])
