"""The fake Slack's ``assistant.threads.setStatus``, as its reference page publishes it
(docs.slack.dev/reference/methods/assistant.threads.setStatus): ``channel_id``,
``thread_ts`` and ``status`` required, at most 10 ``loading_messages``, ``chat:write`` (or
``assistant:write``) accepted since the changelog of 2026-03-05 ("set status scope update"),
"automatically cleared when the app sends a reply", and an empty status clears it too.
"""

from __future__ import annotations

import aiohttp
import pytest

from devtools.slack.fake import BOT_TOKEN, TEAM_ID, FakeSlack, Team
from tests.devtools.test_slack_limits import call, clock, http, slack

__all__ = ["clock", "http", "slack"]  # the fixtures: a fake Slack on a fake clock, a session

STATUS = {"channel_id": "C1", "thread_ts": "1700000000.000100", "status": "is thinking…"}


async def test_a_status_in_a_channel_thread_shows_until_the_bot_replies(
    slack: FakeSlack, http: aiohttp.ClientSession
) -> None:
    loading = ["Reading your question…", "Asking Gloo…"]
    answer = await call(
        http, slack, "assistant.threads.setStatus", {**STATUS, "loading_messages": loading}
    )
    assert answer[2] == {"ok": True}
    where = ("C1", "1700000000.000100")
    assert slack.statuses[where].loading_messages == tuple(loading)
    assert where in slack.sign_of_work_at
    reply = {"channel": "C1", "thread_ts": "1700000000.000100", "text": "Grace is…"}
    assert (await call(http, slack, "chat.postMessage", reply))[2]["ok"]
    assert where not in slack.statuses


async def test_an_empty_status_clears_it(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
    await call(http, slack, "assistant.threads.setStatus", STATUS)
    await call(http, slack, "assistant.threads.setStatus", {**STATUS, "status": ""})
    assert not slack.statuses
    assert [entry[2] for entry in slack.status_history] == ["is thinking…", ""]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({**STATUS, "channel_id": ""}, "channel_not_found"),
        ({**STATUS, "thread_ts": "not-a-ts"}, "invalid_thread_ts"),
        ({k: v for k, v in STATUS.items() if k != "status"}, "invalid_arguments"),
        ({**STATUS, "loading_messages": [f"m{i}" for i in range(11)]}, "invalid_arguments"),
    ],
    ids=["no channel", "bad thread_ts", "no status", "11 loading messages"],
)
async def test_what_slack_refuses(
    slack: FakeSlack, http: aiohttp.ClientSession, args: dict[str, object], error: str
) -> None:
    answer = await call(http, slack, "assistant.threads.setStatus", args)
    assert answer[2]["error"] == error
    assert not slack.statuses


async def test_either_scope_is_accepted_and_neither_is_missing_scope(
    http: aiohttp.ClientSession,
) -> None:
    for scopes, ok in (({"chat:write"}, True), ({"assistant:write"}, True), ({"commands"}, False)):
        fake = await FakeSlack({BOT_TOKEN: Team(TEAM_ID, scopes=frozenset(scopes))}).start()
        try:
            answer = await call(http, fake, "assistant.threads.setStatus", STATUS)
        finally:
            await fake.close()
        assert answer[2]["ok"] is ok
        if not ok:
            assert answer[2]["error"] == "missing_scope"
            assert answer[2]["needed"] == "chat:write"
