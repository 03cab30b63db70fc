"""gloo-bots slack --mode: which connection, and a plain sentence when it cannot work."""

from __future__ import annotations

import argparse

import pytest

from bots.slack.adapter import SlackAdapter, _check_settings
from core.bootstrap import StartupError
from core.doctor import WIDTH
from core.settings import Settings
from tests.bots.slack.support import no_sleep
from tests.harness import settings_for_tests, unwrapped

BOTH = {"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1", "slack_signing_secret": "s"}


async def chosen(mode: str, settings: Settings) -> bool:
    adapter = SlackAdapter()
    parser = argparse.ArgumentParser()
    adapter.add_arguments(parser)
    assert await adapter.command(parser.parse_args(["--mode", mode]), settings) is None
    return adapter.socket_mode(settings)


async def test_auto_prefers_socket_mode_when_an_app_token_is_set() -> None:
    assert await chosen("auto", settings_for_tests(**BOTH))
    http_only = {**BOTH, "slack_app_token": None}
    assert not await chosen("auto", settings_for_tests(**http_only))


async def test_an_explicit_mode_wins() -> None:
    assert not await chosen("http", settings_for_tests(**BOTH))
    assert await chosen("socket", settings_for_tests(**BOTH))


@pytest.mark.parametrize(
    ("mode", "missing", "sentence"),
    [
        ("http", "slack_signing_secret", "SLACK_SIGNING_SECRET from the app"),
        ("socket", "slack_app_token", "set SLACK_APP_TOKEN"),
    ],
)
async def test_a_mode_without_its_credential_is_one_sentence(
    mode: str, missing: str, sentence: str
) -> None:
    adapter = SlackAdapter()
    adapter.mode = mode
    [finding] = await adapter.diagnose(settings_for_tests(**{**BOTH, missing: None}))
    assert not finding.ok
    assert sentence in finding.advice
    with pytest.raises(StartupError, match=sentence):
        _check_settings(settings_for_tests(**{**BOTH, missing: None}), mode)


@pytest.mark.parametrize(
    ("mode", "settings", "line", "advice"),
    [
        (
            "auto",
            {"slack_bot_token": "xoxb-1"},
            "SLACK_SIGNING_SECRET is not set (HTTP mode), nor SLACK_APP_TOKEN (socket mode)",
            "Set SLACK_APP_TOKEN (socket mode) or SLACK_SIGNING_SECRET (HTTP mode on $PORT at "
            "/slack/events); see docs/slack.md.",
        ),
        (
            "http",
            {"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"},
            "SLACK_SIGNING_SECRET is not set (HTTP mode, --mode http)",
            "Set SLACK_SIGNING_SECRET from the app's Basic Information page (Signing Secret), "
            "or run socket mode with SLACK_APP_TOKEN; see docs/slack.md.",
        ),
        (
            "socket",
            {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"},
            "SLACK_APP_TOKEN is not set (socket mode, --mode socket)",
            "Create an app-level token with connections:write (Basic Information → App-Level "
            "Tokens) and set SLACK_APP_TOKEN, or run HTTP mode with SLACK_SIGNING_SECRET; "
            "see docs/slack.md.",
        ),
        (
            "auto",
            {"slack_signing_secret": "s"},
            "SLACK_BOT_TOKEN is not set (nor SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)",
            "Set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "(installable in many workspaces); see docs/slack.md.",
        ),
        (
            "auto",
            {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s", "slack_api_url": "http://x"},
            "SLACK_API_URL does not end with '/' ('http://x')",
            "End it with '/'; see docs/slack.md.",
        ),
    ],
)
async def test_the_doctor_names_the_missing_slack_setting(
    mode: str, settings: dict[str, str], line: str, advice: str
) -> None:
    adapter = SlackAdapter()
    adapter.mode = mode
    values = {"slack_bot_token": None, "slack_app_token": None, "slack_signing_secret": None}
    [finding] = await adapter.diagnose(settings_for_tests(**{**values, **settings}))
    printed = finding.lines()
    assert unwrapped("\n".join(printed)) == f"[FAIL] Slack: {line}\n       -> {advice}"
    assert all(len(row) <= WIDTH for row in printed), printed


async def test_a_slack_that_does_not_answer_the_doctor_is_advised() -> None:
    adapter = SlackAdapter(retry_sleep=no_sleep)
    settings = settings_for_tests(**BOTH, slack_api_url="http://127.0.0.1:9/")  # closed port
    configured, bot, app = await adapter.diagnose(settings)
    assert configured.ok
    for finding, area in ((bot, "Slack bot token"), (app, "Slack app token")):
        assert not finding.ok
        assert finding.area == area
        assert finding.summary.startswith("Slack could not be reached (")
        assert finding.advice == (
            "Check that this machine reaches slack.com (proxy, firewall), and SLACK_API_URL if "
            "it is set; then run 'gloo-bots doctor' again."
        )
