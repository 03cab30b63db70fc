"""The app manifests: Slack's published schema limits, and what the adapter uses.

The shape and limits come from Slack's manifest JSON schema (slackapi/manifest-schema,
schemas/manifest.schema.2.0.0.json: ``features.agent_view`` allows only
``agent_description`` (at most 300 characters), ``suggested_prompts`` (at most 4 items of
exactly ``{title, message}``) and ``actions``; ``assistant_view`` needs
``assistant_description``) and from docs.slack.dev/ai/migrating-to-agent-messaging/ (switch
``assistant_view`` to ``agent_view``; ``app_home_opened`` with ``tab == "messages"`` replaces
``assistant_thread_started``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bots.slack import messages as sentences
from bots.slack.oauth import BOT_SCOPES
from bots.slack.shortcuts import SHORTCUT_CALLBACK
from tests.bots.slack.manifest_yaml import ManifestSyntax, load

CONFIG = Path(__file__).parents[3] / "config"
AGENT = CONFIG / "slack-manifest.yaml"
ASSISTANT = CONFIG / "slack-manifest-assistant.yaml"
#: What both adapters' paths handle, whichever view the app uses.
COMMON_EVENTS = {
    "app_home_opened",
    "app_mention",
    # Installation lifecycle: stored tokens are deleted (bots/slack/lifecycle.py).
    "app_uninstalled",
    "message.channels",
    "message.groups",
    "message.im",
    "message.mpim",
    "tokens_revoked",
}
LEGACY_EVENTS = {"assistant_thread_started", "assistant_thread_context_changed"}
#: Keys the schema allows (``additionalProperties: false``).
AGENT_VIEW_KEYS = {"agent_description", "suggested_prompts", "actions"}
ASSISTANT_VIEW_KEYS = {"assistant_description", "suggested_prompts"}
FEATURE_KEYS = {
    "app_home",
    "bot_user",
    "functions",
    "shortcuts",
    "slash_commands",
    "workflow_steps",
    "unfurl_domains",
    "assistant_view",
    "agent_view",
    "code_channels",
}


def manifest(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = load(path.read_text())
    return data


def check_common(data: dict[str, Any]) -> None:
    """What every manifest of ours needs, within the schema's limits."""
    info = data["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert 1 <= len(info["description"]) <= 140
    features = data["features"]
    assert set(features) <= FEATURE_KEYS
    assert features["app_home"] == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": False,
    }
    assert 1 <= len(features["bot_user"]["display_name"]) <= 80
    (command,) = features["slash_commands"]
    assert command["command"] == "/gloo"
    assert command["url"].endswith("/slack/events")
    assert len(command["command"]) <= 32
    # The message shortcut (docs.slack.dev/reference/app-manifest, features.shortcuts: name,
    # callback_id, description, type "message" or "global"; name at most 24 characters,
    # description at most 150, callback_id at most 255).
    (shortcut,) = features["shortcuts"]
    assert shortcut["type"] == "message"
    assert shortcut["callback_id"] == SHORTCUT_CALLBACK
    assert 1 <= len(shortcut["name"]) <= 24
    assert 1 <= len(shortcut["description"]) <= 150
    assert sorted(data["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    settings = data["settings"]
    events = settings["event_subscriptions"]
    assert events["request_url"].endswith("/slack/events")
    assert len(events["bot_events"]) == len(set(events["bot_events"])) <= 100
    assert settings["interactivity"] == {
        "is_enabled": True,
        "request_url": events["request_url"],
    }
    assert settings["socket_mode_enabled"] is True


def check_prompts(prompts: list[dict[str, str]]) -> None:
    assert 1 <= len(prompts) <= 4
    for prompt in prompts:
        assert set(prompt) == {"title", "message"}
        assert prompt["title"]
        assert prompt["message"]
    # The same prompts the adapter sets with assistant.threads.setSuggestedPrompts.
    assert [(p["title"], p["message"]) for p in prompts] == list(sentences.ASSISTANT_PROMPTS)


def test_the_default_manifest_uses_agent_view_within_its_limits() -> None:
    data = manifest(AGENT)
    check_common(data)
    features = data["features"]
    assert "assistant_view" not in features  # new apps can only use agent_view
    view = features["agent_view"]
    assert set(view) <= AGENT_VIEW_KEYS
    assert 0 < len(view["agent_description"]) <= 300
    check_prompts(view["suggested_prompts"])
    events = set(data["settings"]["event_subscriptions"]["bot_events"])
    assert events == COMMON_EVENTS  # no assistant_thread_* events in agent view


def test_the_assistant_view_manifest_keeps_the_legacy_events() -> None:
    data = manifest(ASSISTANT)
    check_common(data)
    features = data["features"]
    assert "agent_view" not in features
    view = features["assistant_view"]
    assert set(view) <= ASSISTANT_VIEW_KEYS
    assert view["assistant_description"]
    check_prompts(view["suggested_prompts"])
    events = set(data["settings"]["event_subscriptions"]["bot_events"])
    assert events == COMMON_EVENTS | LEGACY_EVENTS


def test_the_manifests_differ_only_in_the_view_and_its_events() -> None:
    agent, assistant = manifest(AGENT), manifest(ASSISTANT)
    for data in (agent, assistant):
        data["features"].pop("agent_view", None)
        data["features"].pop("assistant_view", None)
        data["settings"]["event_subscriptions"].pop("bot_events")
    assert agent == assistant


@pytest.mark.parametrize(
    "text",
    [
        "a:\n\tb: 1\n",  # tabs
        "a: {b: 1}\n",  # flow mappings
        "a: 'quoted'\n",  # single quotes
        "a: b: c\n",  # an unquoted ': '
        "a:\n",  # no value
        "a: 1\na: 2\n",  # duplicate key
        "a:\n  b: 1\n    c: 2\n",  # stray indentation
    ],
)
def test_the_manifest_reader_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ManifestSyntax):
        load(text)


def test_the_manifest_reader_reads_the_parts_we_use() -> None:
    text = (
        "# comment\n"
        "a:\n"
        "  b: true\n"
        '  c: "#1d3557"\n'
        "  d: >-\n"
        "    one\n"
        "    two\n"
        "  e:\n"
        "    - x\n"
        "    - k: 1\n"
        "      m: y z\n"
    )
    assert load(text) == {
        "a": {"b": True, "c": "#1d3557", "d": "one two", "e": ["x", {"k": 1, "m": "y z"}]}
    }
