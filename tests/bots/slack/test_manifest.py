"""The app manifest asks for what the adapter uses."""

from __future__ import annotations

from pathlib import Path

from bots.slack.oauth import BOT_SCOPES

MANIFEST = Path(__file__).parents[3] / "config" / "slack-manifest.yaml"


def items_under(key: str) -> list[str]:
    """The ``- item`` lines of the YAML list under ``key:`` (by indentation)."""
    lines = MANIFEST.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{key}:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    found = []
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if stripped and len(line) - len(line.lstrip()) <= indent and not stripped.startswith("-"):
            break
        if stripped.startswith("- "):
            found.append(stripped[2:])
    return found


def test_manifest_scopes_match_the_oauth_scopes() -> None:
    assert sorted(items_under("bot")) == sorted(BOT_SCOPES)


def test_manifest_subscribes_to_the_events_the_adapter_handles() -> None:
    events = set(items_under("bot_events"))
    assert {"app_mention", "message.im", "message.channels", "message.groups"} <= events
    assert "assistant_thread_started" in events
    text = MANIFEST.read_text()
    assert "command: /gloo" in text
    assert "/slack/events" in text
    assert "socket_mode_enabled: true" in text
