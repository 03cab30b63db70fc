"""gloo-bots slack --mode: which connection, and a plain sentence when it cannot work."""

from __future__ import annotations

import argparse

import pytest

from bots.slack.adapter import SlackAdapter, _check_settings
from core.bootstrap import StartupError
from core.settings import Settings
from tests.harness import settings_for_tests

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
        ("http", "slack_signing_secret", "needs SLACK_SIGNING_SECRET"),
        ("socket", "slack_app_token", "needs SLACK_APP_TOKEN"),
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
