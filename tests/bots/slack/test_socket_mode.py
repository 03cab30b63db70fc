"""Socket mode: the same app over a websocket served by the fake Slack."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from bots.slack.adapter import SlackAdapter
from core.adapters import serve_adapters
from core.bootstrap import StartupError
from core.simulator import Simulator, SimulatorTransport
from tests.bots.slack.fake_slack import APP_TOKEN, BOT_USER_ID, FakeSlack
from tests.bots.slack.support import (
    BOB,
    CHANNEL,
    action,
    command,
    event,
    feedback_click,
    slack_process,
    slack_settings,
)
from tests.harness import expects_suggestions

MENTION_TS = "1700000100.000100"


async def test_socket_mode_answers_mentions_and_buttons(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(
        sqlite_url, fake_slack, sim, slack_app_token=APP_TOKEN, slack_signing_secret=None
    ) as slack:
        await fake_slack.wait_for(lambda: fake_slack.socket_connected)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{slack.runtime.web_url}/readyz") as ready,
        ):
            assert ready.status == 200, await ready.text()
        # The process said `ready slack=socket-mode web=…` once the socket connected.
        assert slack.runtime.ready.is_set()
        assert slack.runtime.connections == {"slack": "socket-mode"}
        body = event("app_mention", ts=MENTION_TS, text=f"<@{BOT_USER_ID}> What is grace?")
        ack = await fake_slack.send_envelope("events_api", body)
        assert "payload" not in ack
        await slack.settle()
        (answer,) = fake_slack.in_thread(CHANNEL, MENTION_TS)
        await fake_slack.send_envelope(
            "interactive", feedback_click(fake_slack, answer, "up", thread_ts=MENTION_TS)
        )
        clicked: list[dict[str, Any]] = []
        if expects_suggestions():  # Completions V2 answers carry no suggestions
            clicked.append(answer.buttons("gloo_suggest")[0])
        for button in clicked:
            click = action(
                fake_slack,
                action_id=button["action_id"],
                value=button["value"],
                message_ts=answer.ts,
                thread_ts=MENTION_TS,
            )
            await fake_slack.send_envelope("interactive", click)
        help_ack = await fake_slack.send_envelope("slash_commands", command(fake_slack, "help"))
        await slack.settle()
        (element,) = answer.feedback_buttons()
        answer_id = element["positive_button"]["value"].removeprefix("up:")
        votes = await slack.runtime.container.store.get_feedback(answer_id)
        # no HTTP endpoint for events in socket mode
        assert slack.runtime.web.router.resources()
        assert all(r.canonical != "/slack/events" for r in slack.runtime.web.router.resources())
    assert "/gloo ask" in help_ack["payload"]["text"]
    assert fake_slack.calls_to("apps.connections.open")
    assert votes == {BOB: 1}
    if expects_suggestions():  # the suggestion was asked in the same chat
        first, second = sim.asked
        assert second.chat_id == first.response_chat_id
        assert len(fake_slack.in_thread(CHANNEL, MENTION_TS)) == 3
    else:
        assert len(sim.asked) == 1
        assert len(fake_slack.in_thread(CHANNEL, MENTION_TS)) == 1


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"slack_app_token": "xapp-wrong", "slack_signing_secret": None}, "SLACK_APP_TOKEN"),
        ({"slack_bot_token": "xoxb-wrong"}, "SLACK_BOT_TOKEN"),
    ],
)
async def test_refused_tokens_stop_the_process_with_a_sentence(
    sqlite_url: str,
    fake_slack: FakeSlack,
    sim: Simulator,
    overrides: dict[str, object],
    named: str,
) -> None:
    settings = slack_settings(sqlite_url, fake_slack, **overrides)
    run = serve_adapters(
        settings, [SlackAdapter()], handle_signals=False, transport=SimulatorTransport(sim)
    )
    with pytest.raises(StartupError, match=named):
        await asyncio.wait_for(run, 20)


async def test_doctor_reports_mode_tokens_and_missing_scopes(
    sqlite_url: str, fake_slack: FakeSlack
) -> None:
    good = slack_settings(sqlite_url, fake_slack, slack_app_token=APP_TOKEN)
    findings = await SlackAdapter().diagnose(good)
    assert [f.ok for f in findings] == [True, True, True]
    assert "socket mode" in findings[0].summary
    assert "agent view (config/slack-manifest.yaml)" in findings[0].summary
    assert "T0TEAM001" in findings[1].summary
    older = slack_settings(sqlite_url, fake_slack, slack_messaging="assistant")
    (said, *_) = await SlackAdapter().diagnose(older)
    assert "assistant view (config/slack-manifest-assistant.yaml)" in said.summary

    bad = slack_settings(sqlite_url, fake_slack, slack_bot_token="xoxb-no", slack_app_token="x")
    refused = await SlackAdapter().diagnose(bad)
    assert [f.ok for f in refused] == [True, False, False]
    assert "SLACK_BOT_TOKEN" in refused[1].summary
    assert "SLACK_APP_TOKEN" in refused[2].summary

    none = slack_settings(sqlite_url, fake_slack, slack_bot_token=None)
    (unconfigured,) = await SlackAdapter().diagnose(none)
    assert not unconfigured.ok
    assert "SLACK_BOT_TOKEN" in unconfigured.advice
