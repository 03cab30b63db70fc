"""Installing in several workspaces: bolt's OAuth flow with installations in our database."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import aiohttp
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import text

from bots.slack.oauth import (
    INSTALL_LIMIT_PER_CLIENT,
    SqlInstallationStore,
    installation_from_data,
    installation_to_data,
)
from core.crypto import SecretBox
from core.simulator import Simulator
from tests.bots.slack.fake_slack import FakeSlack, Team
from tests.bots.slack.support import CHANNEL, assert_final_buttons, event, slack_process

TEAM_TWO = "T0TEAM002"
TOKEN_TWO = "xoxb-team-two"


def test_installation_documents_round_trip_as_json() -> None:
    installation = Installation(
        app_id="A1",
        team_id=TEAM_TWO,
        bot_token=TOKEN_TWO,
        bot_id="B2",
        bot_user_id="U2",
        bot_scopes="chat:write,commands",
        bot_token_expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        user_id="U0ALICE01",
        installed_at=1_700_000_000.5,
    )
    data = installation_to_data(installation)
    assert all(not isinstance(v, datetime) for v in data.values())
    back = installation_from_data(data)
    assert back.to_dict() == installation.to_dict()


async def test_install_then_answer_in_the_new_workspace(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.teams[TOKEN_TWO] = Team(TEAM_TWO, bot_user_id="U0BOT002", bot_id="B0BOT002")
    fake_slack.oauth_codes["code-1"] = {
        "ok": True,
        "app_id": "A0GLOOAPP",
        "authed_user": {"id": "U0ALICE01"},
        "scope": "app_mentions:read,chat:write,commands",
        "token_type": "bot",
        "access_token": TOKEN_TWO,
        "bot_user_id": "U0BOT002",
        "team": {"id": TEAM_TWO, "name": "Two"},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    async with slack_process(
        sqlite_url,
        fake_slack,
        sim,
        slack_bot_token=None,
        slack_client_id="1111.2222",
        slack_client_secret="client-secret",
    ) as slack:
        base = slack.runtime.web_url
        async with aiohttp.ClientSession() as browser:
            async with browser.get(f"{base}/slack/install", allow_redirects=False) as page:
                assert page.status == 200
                html = await page.text()
                # a Secure cookie: a browser sends it back over https; we send it by hand
                cookie = {
                    "Cookie": f"slack-app-oauth-state={page.cookies['slack-app-oauth-state'].value}"
                }
            state = re.search(r"state=([\w\-]+)", html)
            assert state is not None
            assert "client_id=1111.2222" in html
            callback = f"{base}/slack/oauth_redirect?code=code-1&state={state[1]}"
            async with browser.get(callback, headers=cookie, allow_redirects=False) as done:
                assert done.status == 200
            # the state works once
            async with browser.get(callback, headers=cookie, allow_redirects=False) as replay:
                assert replay.status >= 400
        stored = await slack.runtime.container.store.find_installation("slack", "", TEAM_TWO)
        assert stored is not None
        assert stored["bot_token"] == TOKEN_TWO

        body = event("app_mention", ts="1700000100.000100", text="<@U0BOT002> What is grace?")
        body["team_id"] = TEAM_TWO
        body["authorizations"][0].update(team_id=TEAM_TWO, user_id="U0BOT002")
        assert (await slack.event(body)).status == 200
        await slack.settle()
    (answer,) = fake_slack.in_thread(CHANNEL, "1700000100.000100")
    assert_final_buttons(answer)
    posting = fake_slack.calls_to("chat.startStream", "chat.postMessage", "reactions.add")
    assert posting
    assert {c.token for c in posting} == {TOKEN_TWO}
    assert fake_slack.calls_to("oauth.v2.access")


async def _install_visits(slack_url: str, forwarded: list[str]) -> list[tuple[int, str | None]]:
    """GET /slack/install once per ``forwarded`` value (the X-Forwarded-For header sent)."""
    url = f"{slack_url}/slack/install"
    answers: list[tuple[int, str | None]] = []
    async with aiohttp.ClientSession() as browser:
        for value in forwarded:
            headers = {"X-Forwarded-For": value}
            async with browser.get(url, headers=headers, allow_redirects=False) as page:
                answers.append((page.status, page.headers.get("Retry-After")))
    return answers


async def _oauth_states(slack: Any) -> int:
    engine = slack.runtime.container.store.engine
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM oauth_states"))).scalar())


OAUTH_SETTINGS: dict[str, Any] = {
    "slack_bot_token": None,
    "slack_client_id": "1111.2222",
    "slack_client_secret": "client-secret",
}


async def test_rotating_x_forwarded_for_does_not_escape_the_install_rate_limit(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # Issue 24, finding 6: one client rotating X-Forwarded-For got 20 x 200 where the
    # per-client limit should refuse after INSTALL_LIMIT_PER_CLIENT. With TRUSTED_PROXIES
    # unset (the default) the header is ignored: every visit is the TCP peer's.
    async with slack_process(sqlite_url, fake_slack, sim, **OAUTH_SETTINGS) as slack:
        assert slack.runtime.web_url is not None
        rotating = [f"203.0.113.{n}" for n in range(1, INSTALL_LIMIT_PER_CLIENT + 21)]
        answers = await _install_visits(slack.runtime.web_url, rotating)
        states = await _oauth_states(slack)
    first, refused = answers[:INSTALL_LIMIT_PER_CLIENT], answers[INSTALL_LIMIT_PER_CLIENT:]
    assert {status for status, _ in first} == {200}
    assert {status for status, _ in refused} == {429}
    retry_after = refused[0][1]
    assert retry_after is not None
    assert 1 <= int(retry_after) <= 60
    assert states == INSTALL_LIMIT_PER_CLIENT


async def test_install_page_counts_forwarded_clients_apart_behind_a_trusted_proxy(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # The peer (127.0.0.1, standing in for the load balancer) is a trusted proxy: the
    # right-most untrusted X-Forwarded-For entry is the client. An entry the client wrote
    # further left (198.51.100.77 here, rotated) changes nothing.
    async with slack_process(
        sqlite_url, fake_slack, sim, trusted_proxies="127.0.0.0/8", **OAUTH_SETTINGS
    ) as slack:
        assert slack.runtime.web_url is not None
        one = [f"198.51.100.{n}, 203.0.113.5" for n in range(INSTALL_LIMIT_PER_CLIENT + 20)]
        answers = await _install_visits(slack.runtime.web_url, one)
        elsewhere = await _install_visits(slack.runtime.web_url, ["203.0.113.6, 127.0.0.1"])
        states = await _oauth_states(slack)
    assert {status for status, _ in answers[:INSTALL_LIMIT_PER_CLIENT]} == {200}
    assert {status for status, _ in answers[INSTALL_LIMIT_PER_CLIENT:]} == {429}
    assert elsewhere[0][0] == 200
    assert states == INSTALL_LIMIT_PER_CLIENT + 1


async def test_installation_tokens_are_encrypted_at_rest_and_still_answer(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.teams[TOKEN_TWO] = Team(TEAM_TWO, bot_user_id="U0BOT002", bot_id="B0BOT002")
    async with slack_process(
        sqlite_url,
        fake_slack,
        sim,
        slack_bot_token=None,
        slack_client_id="1111.2222",
        slack_client_secret="client-secret",
        encryption_keys=SecretBox.new_key(),
    ) as slack:
        installation = Installation(
            app_id="A0GLOOAPP",
            team_id=TEAM_TWO,
            bot_token=TOKEN_TWO,
            bot_id="B0BOT002",
            bot_user_id="U0BOT002",
            user_id="U0ALICE01",
        )
        store = slack.runtime.container.store
        await SqlInstallationStore(store).async_save(installation)
        engine = store.engine  # type: ignore[attr-defined]
        async with engine.connect() as conn:
            raw = str((await conn.execute(text("SELECT data FROM installations"))).scalar())
        body = event("app_mention", ts="1700000100.000100", text="<@U0BOT002> What is grace?")
        body["team_id"] = TEAM_TWO
        body["authorizations"][0].update(team_id=TEAM_TWO, user_id="U0BOT002")
        assert (await slack.event(body)).status == 200
        await slack.settle()
    assert TOKEN_TWO not in raw
    assert "U0ALICE01" not in raw
    (answer,) = fake_slack.in_thread(CHANNEL, "1700000100.000100")
    assert_final_buttons(answer)
    posting = fake_slack.calls_to("chat.startStream", "chat.postMessage", "reactions.add")
    assert {c.token for c in posting} == {TOKEN_TWO}
