"""Slack shows links from Gloo's answers by their real target (decided in the core's text step).

The answer text is Markdown in a ``markdown`` block (docs.slack.dev: Block Kit "markdown
block", standard ``[text](url)`` links) and mrkdwn in the notification text (``<url|text>``).
A label that names another host than the link opens (issue 14, finding 4) must never be
shown, neither while the answer streams (chat.startStream / appendStream / update) nor at
the end.
"""

from __future__ import annotations

import pytest

from core.simulator import Simulator
from tests.bots.slack.fake_slack import BOT_USER_ID, FakeSlack
from tests.bots.slack.support import ALICE, CHANNEL, event, slack_process
from tests.core.test_text_links import HONEST, patch_answers

TS = "1700000300.000100"


async def test_a_misleading_link_is_shown_by_its_target_while_streaming_and_at_the_end(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_answers(monkeypatch)
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        body = event("app_mention", ts=TS, user=ALICE, text=f"<@{BOT_USER_ID}> links?")
        assert (await slack.event(body)).status == 200
        await slack.settle()
    [answer] = fake_slack.in_thread(CHANNEL, TS)
    assert "https://evil.example/login" in answer.markdown
    assert "https://evil.example/x" in answer.markdown
    assert "[Gloo's guide](https://docs.gloo.com/guide)" in answer.markdown
    assert HONEST.split(" See ")[0] in answer.markdown
    sent = fake_slack.calls_to(
        "chat.postMessage",
        "chat.startStream",
        "chat.appendStream",
        "chat.update",
        "chat.stopStream",
    )
    assert sent
    for call in sent:
        assert "good.example" not in repr(call.args), call.method
