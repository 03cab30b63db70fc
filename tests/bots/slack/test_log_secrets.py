"""No socket-mode ticket reaches the log, even at LOG_LEVEL=DEBUG (issue 24, finding 9).

Slack answers ``apps.connections.open`` with ``{"ok": true, "url":
"wss://wss-…slack.com/link/?ticket=…&app_id=…"}`` (api.slack.com/methods/
apps.connections.open, "Common successful response"), and whoever holds that URL can open the
app's connection. slack_sdk logs every Web API response body at DEBUG
(``slack_sdk/web/async_internal_utils.py``: ``"Received the following response - status: …,
headers: …, body: …"``). This drives slack_sdk's real DEBUG output through the fake Slack of
the development tools, which hands out tickets as Slack does.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from core.logs import REDACTED, configure_logging
from core.simulator import Simulator
from tests.bots.slack.fake_slack import APP_TOKEN, FakeSlack
from tests.bots.slack.support import slack_process
from tests.conftest import configure_test_logging


@pytest.fixture(params=["console", "json"])
def debug_log(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging(level="DEBUG", fmt=request.param, stream=out)
    yield out
    configure_test_logging()


async def test_socket_mode_tickets_never_reach_the_debug_log(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator, debug_log: io.StringIO
) -> None:
    async with slack_process(
        sqlite_url, fake_slack, sim, slack_app_token=APP_TOKEN, slack_signing_secret=None
    ):
        await fake_slack.wait_for(lambda: fake_slack.socket_connected)
    out = debug_log.getvalue()
    assert fake_slack.socket_tickets
    for ticket in fake_slack.socket_tickets:
        assert ticket not in out
    assert "apps.connections.open" in out  # slack_sdk's DEBUG lines were there
    assert f"?ticket={REDACTED}" in out or f"?{REDACTED}" in out
