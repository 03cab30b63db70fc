"""The same reply and settings show the same sources and suggestions on Slack and Discord.

Both renderers lay out what :func:`core.presentation.present` kept; only the layout (button
text 75 on Slack, label 80 on Discord; Block Kit vs components) differs.
"""

from __future__ import annotations

from typing import Any

import pytest

from bots.discord.render import LinkButton, render_answer
from bots.slack import render as slack
from core.presentation import present
from core.types import ChannelSettings, Reply, Source

LONG = "Grace, mercy and the long history of a word that theologians argue about " * 2
SOURCES = (
    Source("Grace", "https://example.org/grace"),
    Source("Grace again", "https://EXAMPLE.org/grace/#top"),
    Source(LONG, "https://example.org/long"),
    Source("Unlinked", None),
    Source("Mercy", "https://example.org/mercy"),
    Source("Hope", "https://example.org/hope"),
)
REPLY = Reply(
    text="Grace is a gift.",
    sources=SOURCES,
    suggestions=("What is mercy?", "What is hope?", "Why does grace matter?"),
    answer_id="AbCdEfGhIjKl",
    chat_id="chat-1",
)


def slack_view(reply: Reply) -> tuple[list[str], list[str], list[str]]:
    (message,) = slack.render_reply(reply)
    elements: list[dict[str, Any]] = [
        e for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    urls = [e["url"] for e in elements if "url" in e]
    refs = [e["value"] for e in elements if e["action_id"].startswith(slack.SUGGEST_ACTION)]
    labels = [e["text"]["text"] for e in elements if "url" in e or "value" in e]
    assert all(len(label) <= slack.BUTTON_TEXT_LIMIT for label in labels)
    unlinked = [
        b["elements"][0]["text"]
        for b in message.blocks
        if b["type"] == "context" and "Unlinked" in b["elements"][0]["text"]
    ]
    return urls, refs, unlinked


def discord_view(reply: Reply) -> tuple[list[str], list[str], list[str]]:
    rendered = render_answer(reply)
    buttons = [b for row in rendered.rows for b in row]
    urls = [b.url for b in buttons if isinstance(b, LinkButton)]
    refs = [
        b.custom_id.removeprefix("gloo:s:")
        for b in buttons
        if not isinstance(b, LinkButton) and b.kind == "suggestion"
    ]
    for b in buttons:
        if b.label is not None:
            assert len(b.label) <= 80
    unlinked = (
        [rendered.embed_description or ""] if "Unlinked" in str(rendered.embed_description) else []
    )
    return urls, refs, unlinked


@pytest.mark.parametrize(
    ("settings", "urls", "suggested"),
    [
        (
            ChannelSettings(),
            [
                "https://example.org/grace",
                "https://example.org/long",
                "https://example.org/mercy",
                "https://example.org/hope",
            ],
            3,
        ),
        (
            ChannelSettings(sources_limit=2, enable_suggestions=False),
            ["https://example.org/grace", "https://example.org/long"],
            0,
        ),
        (ChannelSettings(enable_sources=False), [], 3),
    ],
)
def test_both_platforms_show_the_same(
    settings: ChannelSettings, urls: list[str], suggested: int
) -> None:
    shown = present(REPLY, settings)
    slack_urls, slack_refs, slack_unlinked = slack_view(shown)
    discord_urls, discord_refs, discord_unlinked = discord_view(shown)
    assert slack_urls == discord_urls == urls
    assert slack_refs == discord_refs == [REPLY.suggestion_ref(i) for i in range(suggested)]
    # The unlinked source is shown by both exactly when the settings keep it.
    kept = any(s.title == "Unlinked" for s in shown.sources)
    assert bool(slack_unlinked) == bool(discord_unlinked) == kept
