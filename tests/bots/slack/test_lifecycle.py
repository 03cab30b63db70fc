"""``app_uninstalled`` and ``tokens_revoked`` delete what the installation store keeps.

The payloads in ``payloads/app_uninstalled.json`` and ``payloads/tokens_revoked.json`` are the
complete Events API bodies published at https://docs.slack.dev/reference/events/app_uninstalled
and https://docs.slack.dev/reference/events/tokens_revoked (placeholder ids as published; the
tests put real-looking ones in). "The team_id indicates which workspace uninstalled the Slack
app"; in ``tokens_revoked`` "each key contains an array of user IDs, not the actual token
strings"; the order of the two events is not guaranteed.
"""

from __future__ import annotations

import copy
from typing import Any

from slack_sdk.oauth.installation_store import Installation

from bots.slack.oauth import installation_to_data
from core.ports import Store
from core.simulator import Simulator
from tests.bots.slack.fake_slack import FakeSlack
from tests.bots.slack.support import SlackProcess, load, slack_process

TEAM = "T0TEAM002"
OTHER_TEAM = "T0TEAM003"
BOT_USER = "U0BOT002"
INSTALLER = "U0ALICE01"
OAUTH: dict[str, Any] = {
    "slack_bot_token": None,
    "slack_client_id": "1111.2222",
    "slack_client_secret": "client-secret",
}


def lifecycle_event(name: str, team_id: str, **event: Any) -> dict[str, Any]:
    body = copy.deepcopy(load(name))
    body["team_id"] = team_id
    body["api_app_id"] = "A0GLOOAPP"
    body["event_id"] = f"Ev{name[:6].upper()}{team_id[-3:]}"
    body["event"].update(event)
    return body


async def install(store: Store, team_id: str, user_id: str = INSTALLER) -> None:
    installation = Installation(
        app_id="A0GLOOAPP",
        team_id=team_id,
        bot_token=f"xoxb-{team_id.lower()}-secret",
        bot_id="B0BOT002",
        bot_user_id=BOT_USER,
        user_id=user_id,
    )
    await store.save_installation("slack", "", team_id, user_id, installation_to_data(installation))


async def installed(slack: SlackProcess, team_id: str, user_id: str | None = None) -> bool:
    store = slack.runtime.container.store
    return await store.find_installation("slack", "", team_id, user_id) is not None


async def test_app_uninstalled_deletes_every_installation_of_the_workspace(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, **OAUTH) as slack:
        store = slack.runtime.container.store
        await install(store, TEAM)
        await install(store, TEAM, user_id="U0BOB0001")
        await install(store, OTHER_TEAM)
        posted = await slack.event(lifecycle_event("app_uninstalled", TEAM))
        await slack.settle()
        gone = not await installed(slack, TEAM)
        other_kept = await installed(slack, OTHER_TEAM)
    assert posted.status == 200
    assert gone
    assert other_kept


async def test_a_revoked_bot_token_deletes_the_workspace_installation(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, **OAUTH) as slack:
        store = slack.runtime.container.store
        await install(store, TEAM)
        await install(store, OTHER_TEAM)
        body = lifecycle_event("tokens_revoked", TEAM, tokens={"bot": [BOT_USER]})
        posted = await slack.event(body)
        await slack.settle()
        gone = not await installed(slack, TEAM)
        other_kept = await installed(slack, OTHER_TEAM)
    assert posted.status == 200
    assert gone
    assert other_kept


async def test_revoked_user_tokens_delete_only_those_users_installations(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, **OAUTH) as slack:
        store = slack.runtime.container.store
        await install(store, TEAM, user_id="U0BOB0001")
        await install(store, TEAM, user_id=INSTALLER)
        body = lifecycle_event("tokens_revoked", TEAM, tokens={"oauth": ["U0BOB0001"]})
        posted = await slack.event(body)
        await slack.settle()
        bob_gone = not await installed(slack, TEAM, "U0BOB0001")
        alice_kept = await installed(slack, TEAM, INSTALLER)
    assert posted.status == 200
    assert bob_gone
    assert alice_kept


async def test_uninstalled_with_a_single_bot_token_is_acknowledged(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # Without OAuth nothing is stored; the event is still taken (no error, no retry storm).
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        posted = await slack.event(lifecycle_event("app_uninstalled", "T0TEAM001"))
        revoked = await slack.event(lifecycle_event("tokens_revoked", "T0TEAM001"))
        await slack.settle()
    assert (posted.status, revoked.status) == (200, 200)
