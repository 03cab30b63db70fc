"""Text the bot did not write is shown inert on Discord (issue 24, findings 2 and 4).

Discord renders Markdown in messages and embed descriptions: ``[text](url)`` is a masked
link, ``*``/``_``/``~`` format, a backslash escapes them, and bare ``https://`` URLs (also
in ``<…>``) become links (Discord support "Markdown Text 101"; discord-api-docs "Message
Formatting"). Inert text has every Markdown character escaped (``discord.utils.
escape_markdown``) and every ``://`` broken, so no link forms from it.
"""

from __future__ import annotations

import re

from bots.discord import render
from core.presentation import ShownSource
from core.types import ChatHistory, HistoryMessage

TRAP = "[https://www.paypal.com/signin](https://evil.example)"
_LIVE = re.compile(r"(?<!\\)\[[^\]]*\]\(|https?://")


def test_a_source_title_without_a_link_is_inert() -> None:
    """Finding 2 on Discord: an unlinked title is listed as text, never as a link."""
    listed = render.numbered_sources([(1, ShownSource(label=TRAP, url=None, title=TRAP))])
    assert not _LIVE.search(listed), listed


def test_a_publisher_is_inert() -> None:
    publisher = "https://www.paypal.com/signin"
    shown = ShownSource(label="x", url=None, title="x", publisher=publisher)
    assert not _LIVE.search(render.numbered_sources([(1, shown)]))


def test_a_linked_source_title_is_only_the_label_of_its_own_link() -> None:
    url = "https://gloo.com/a"
    listed = render.numbered_sources(
        [(1, ShownSource(label="Grace", url=url, title="Grace *and* [more]"))]
    )
    assert listed == r"1. [Grace \*and\* (more)](https://gloo.com/a)"
    # A title cannot close the label and open a link of its own.
    trick = "x](https://evil.example) [y"
    listed = render.numbered_sources([(1, ShownSource(label="x", url=url, title=trick))])
    assert listed.count("](") == 1
    assert listed.endswith("](https://gloo.com/a)")


def test_the_asked_echo_is_inert() -> None:
    line = render.asked_line("Ann", f"{TRAP} is this safe? <https://evil.example>")
    assert line.startswith("**Ann** asked: *")
    assert not _LIVE.search(line), line


def test_history_names_each_speaker_and_shows_people_inert() -> None:
    history = ChatHistory(
        chat_id="chat-1",
        messages=(
            HistoryMessage(role="user", text="mine", user_id="111111111111111111"),
            HistoryMessage(role="assistant", text="See [the guide](https://gloo.com/a)."),
            HistoryMessage(role="user", text=TRAP, user_id="222222222222222222"),
            HistoryMessage(role="user", text="who?"),
        ),
    )
    shown = render.render_history(history, viewer="111111111111111111")
    lines = shown.split("\n")[1:]
    assert [line.split(":**", 1)[0] for line in lines] == [
        "**You",
        "**Gloo",
        "**<@222222222222222222>",
        "**Someone",
    ]
    assert "[the guide](https://gloo.com/a)" in lines[1]  # Gloo's own (honest) link
    assert not _LIVE.search(lines[2]), lines[2]
