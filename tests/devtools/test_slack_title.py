"""The fake Slack's ``assistant.threads.setTitle``, as its reference page publishes it
(docs.slack.dev/reference/methods/assistant.threads.setTitle): ``channel_id``, ``thread_ts``
and ``title`` required, bot scope ``assistant:write``, errors ``channel_not_found`` and
``invalid_thread_ts`` (and ``invalid_arguments`` for a missing title, as Slack answers
arguments it cannot use). Its Tier 4 is checked in :mod:`tests.devtools.test_slack_limits`.
"""

from __future__ import annotations

import aiohttp
import pytest

from devtools.slack.fake import BOT_TOKEN, TEAM_ID, FakeSlack, Team
from tests.devtools.test_slack_limits import call, clock, http, slack

__all__ = ["clock", "http", "slack"]  # the fixtures: a fake Slack on a fake clock, a session

TITLE = {"channel_id": "D1", "thread_ts": "1700000000.000100", "title": "Holidays this year"}


async def test_a_title_is_kept_for_its_thread(
    slack: FakeSlack, http: aiohttp.ClientSession
) -> None:
    assert (await call(http, slack, "assistant.threads.setTitle", TITLE))[2] == {"ok": True}
    assert slack.titles == {("D1", "1700000000.000100"): "Holidays this year"}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({**TITLE, "channel_id": ""}, "channel_not_found"),
        ({**TITLE, "thread_ts": "not-a-ts"}, "invalid_thread_ts"),
        ({k: v for k, v in TITLE.items() if k != "title"}, "invalid_arguments"),
        ({**TITLE, "title": "  "}, "invalid_arguments"),
    ],
    ids=["no channel", "bad thread_ts", "no title", "blank title"],
)
async def test_what_slack_refuses(
    slack: FakeSlack, http: aiohttp.ClientSession, args: dict[str, object], error: str
) -> None:
    answer = await call(http, slack, "assistant.threads.setTitle", args)
    assert answer[2]["error"] == error
    assert not slack.titles


async def test_chat_write_alone_is_missing_scope(http: aiohttp.ClientSession) -> None:
    for scopes, ok in (({"assistant:write"}, True), ({"chat:write"}, False)):
        fake = await FakeSlack({BOT_TOKEN: Team(TEAM_ID, scopes=frozenset(scopes))}).start()
        try:
            answer = await call(http, fake, "assistant.threads.setTitle", TITLE)
        finally:
            await fake.close()
        assert answer[2]["ok"] is ok
        if not ok:
            assert (answer[2]["error"], answer[2]["needed"]) == ("missing_scope", "assistant:write")
