"""Odd questions through Slack's Events API, on SQLite and PostgreSQL (issue 14, finding 4).

Before: a mention containing U+0000 was refused by PostgreSQL, so Slack got 500 on its
first delivery and on each of its three retries, and the question was lost; text of only
zero-width characters was sent to Gloo; a 40,000-character question was sent in full (a
Slack message holds up to 40,000 characters). The mention is the recorded ``app_mention``
payload (tests/bots/slack/payloads) with its text replaced.
"""

from __future__ import annotations

from core import intake, messages
from core.simulator import Simulator
from tests.bots.slack.fake_slack import BOT_USER_ID, FakeSlack
from tests.bots.slack.support import ALICE, CHANNEL, event, slack_process


async def test_odd_mentions_are_answered_or_told_why_with_no_500(
    database_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    mentions = {
        "1700000700.000100": "What is\u0000 grace?",
        "1700000700.000200": "\u200b\u200d\ufeff\u2060 \u3164",
        "1700000700.000300": "why? " * 8000,
    }
    async with slack_process(database_url, fake_slack, sim) as slack:
        for ts, text in mentions.items():
            body = event("app_mention", ts=ts, user=ALICE, text=f"<@{BOT_USER_ID}> {text}")
            assert (await slack.event(body)).status == 200
        await slack.settle()
    [answered] = fake_slack.in_thread(CHANNEL, "1700000700.000100")
    assert "grace" in answered.markdown.lower()
    [empty] = fake_slack.in_thread(CHANNEL, "1700000700.000200")
    assert messages.EMPTY_QUESTION in empty.markdown
    [too_long] = fake_slack.in_thread(CHANNEL, "1700000700.000300")
    assert intake.too_long(len(("why? " * 8000).strip()), 4000) in too_long.markdown
    assert [r.query for r in sim.asked] == ["What is grace?"]
