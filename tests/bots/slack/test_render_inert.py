"""Text the bot did not write is shown inert on Slack (issue 24, findings 2 and 4).

Slack mrkdwn reads ``&``, ``<`` and ``>`` as control characters: ``<url|text>`` is a masked
link, ``<@U…>`` a mention; text meant as itself must have them escaped as ``&amp;``,
``&lt;``, ``&gt;`` (docs.slack.dev "Formatting text for app surfaces", "Escaping text").
A mrkdwn text object turns URLs and channel names into links unless ``verbatim`` is true;
with it, Slack "won't modify any plain-text content" but still reads manual parsing strings
such as our own ``<@U1>`` (docs.slack.dev Block Kit "Text object", ``verbatim``).
"""

from __future__ import annotations

import re
from typing import Any

from bots.slack import render
from core.presentation import present
from core.types import ChannelSettings, ChatHistory, HistoryMessage, Reply, Source
from tests.bots.slack.fake_slack import validate_blocks

TRAP = "<https://evil.example|https://www.paypal.com/signin>"
# A live masked link or a bare address Slack would link (with verbatim off).
_LIVE = re.compile(r"<https?://|<www\.")


def _texts(blocks: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every mrkdwn text object in ``blocks``."""
    found: list[dict[str, Any]] = []
    for block in blocks:
        for item in [block.get("text"), *block.get("elements", [])]:
            if isinstance(item, dict) and item.get("type") == "mrkdwn":
                found.append(item)
    return found


def _inert(item: dict[str, Any]) -> bool:
    return not _LIVE.search(item["text"]) and item.get("verbatim") is True


def test_a_source_title_without_a_link_is_shown_inert() -> None:
    """Finding 2: ``*Also from:* <https://evil.example|https://www.paypal.com/signin>``."""
    reply = Reply(
        text="An answer.",
        sources=(Source(TRAP), Source("Plain &amp; simple <b> https://www.paypal.com/x")),
        suggestions=(),
        answer_id="AbCdEfGhIjKl",
        chat_id="chat-1",
    )
    (message,) = render.render_reply(present(reply, ChannelSettings()))
    validate_blocks(list(message.blocks))
    [also] = [t for t in _texts(message.blocks) if "Also from" in t["text"]]
    assert _inert(also)
    assert "&lt;https://evil.example|https://www.paypal.com/signin&gt;" in also["text"]
    assert "Plain &amp;amp; simple &lt;b&gt;" in also["text"]  # shown as written


def test_the_asked_echo_is_inert() -> None:
    """Finding 4: ``<@U1> asked: *<https://evil.example|…> is this safe?*`` was a live link."""
    message = render.asked_message("U1", f"{TRAP} is this safe? <@U2> <!here>")
    validate_blocks(list(message.blocks))
    [section] = _texts(message.blocks)
    assert _inert(section)
    assert section["text"].startswith("<@U1> asked: *")  # our own mention stays
    assert (
        "&lt;https://evil.example|https://www.paypal.com/signin&gt; is this safe?"
        in (section["text"])
    )
    assert "<@U2>" not in section["text"]
    assert "<!here>" not in section["text"]
    assert not _LIVE.search(message.text)


def test_a_long_echo_still_fits_a_section_after_escaping() -> None:
    message = render.asked_message("U1", "&<>" * 2000)
    [section] = _texts(message.blocks)
    assert len(section["text"]) <= render.SECTION_TEXT_LIMIT
    assert "&lt;" in section["text"]
    assert section["text"].endswith("…*")


def _history() -> ChatHistory:
    return ChatHistory(
        chat_id="chat-1",
        messages=(
            HistoryMessage(role="user", text="mine", user_id="U1"),
            HistoryMessage(role="assistant", text="Gloo's [answer](https://gloo.com/a)"),
            HistoryMessage(role="user", text=f"theirs {TRAP}", user_id="U2"),
            HistoryMessage(role="user", text="nobody knows who"),
        ),
    )


def test_history_names_each_speaker_and_shows_people_inert() -> None:
    for blocks in (
        render.history_modal(_history(), viewer="U1")["blocks"],
        list(render.history_message(_history(), viewer="U1").blocks),
    ):
        validate_blocks(blocks)
        entries = [t for t in _texts(blocks) if ": " in t["text"]]
        assert [e["text"].split(":", 1)[0] for e in entries] == [
            "*You*",
            "*Gloo*",
            "*<@U2>*",
            "*Someone*",
        ]
        mine, gloo, theirs, unknown = entries
        assert _inert(mine)
        assert _inert(theirs)
        assert _inert(unknown)
        assert "&lt;https://evil.example|https://www.paypal.com/signin&gt;" in theirs["text"]
        assert "[answer](https://gloo.com/a)" in gloo["text"]  # Gloo's own (honest) links


def test_without_a_viewer_nobody_is_you() -> None:
    blocks = render.history_modal(_history())["blocks"]
    assert "*You*" not in str(blocks)


def test_a_question_naming_a_host_is_not_the_label_of_the_thread_link() -> None:
    """The Home tab links each conversation by its first question; one that names a host
    would label Slack's permalink with another address (issue 24, finding 3's rule)."""
    item = render.HomeConversation(
        channel="C1",
        thread="1700000000.000100",
        first_question="Is https://www.paypal.com/signin safe?",
        questions=1,
        started_at=1_700_000_000.0,
        permalink="https://fake.slack.test/archives/C1/p1700000000000100",
    )
    view = render.home_view([item])
    text = str(view["blocks"])
    assert "|Is https://www.paypal.com/signin safe?>" not in text
    assert "<https://fake.slack.test/archives/C1/p1700000000000100|Open>" in text
