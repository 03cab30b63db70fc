"""The Slack renderer: defanging, and every Block Kit limit at its boundary."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, MarkdownBlock

from bots.slack import render
from core.presentation import present
from core.types import ChannelSettings, ChatHistory, HistoryMessage, Reply, Source
from tests.bots.slack.fake_slack import validate_blocks


def reply(text: str = "An answer.", **changes: Any) -> Reply:
    values: dict[str, Any] = {
        "text": text,
        "sources": (Source("Grace", "https://example.org/grace"),),
        "suggestions": ("What is mercy?", "What is hope?"),
        "answer_id": "AbCdEfGhIjKl",
        "chat_id": "chat-1",
    }
    values.update(changes)
    return Reply(**values)


def check_message(message: render.SlackMessage) -> None:
    """Valid for slack_sdk's models and for the limits Slack enforces on a message."""
    assert len(message.blocks) <= render.MAX_BLOCKS
    for raw in message.blocks:
        block = Block.parse(raw)
        assert block is not None
        block.validate_json()
    assert validate_blocks(list(message.blocks)) is None
    assert message.text


# --- defanging -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("<!channel> look", "@\u200bchannel look"),
        ("<!here|here> now", "@\u200bhere now"),
        ("<!everyone>", "@\u200beveryone"),
        ("ask <@U012AB3CD>", "ask @\u200bU012AB3CD"),
        ("ask <@U012AB3CD|alice>", "ask @\u200balice"),
        ("see <#C012AB3CD|general>", "see #\u200bgeneral"),
        ("see <#C012AB3CD>", "see #\u200bC012AB3CD"),
        ("<!subteam^S012AB3CD|@ops> help", "@\u200bops help"),
        ("<!subteam^S012AB3CD>", "@\u200bS012AB3CD"),
        (
            "hey @here and @channel, @everyone",
            "hey @\u200bhere and @\u200bchannel, @\u200beveryone",
        ),
        ("mail bob@here.com", "mail bob@here.com"),
        ("a < b and c > d, <https://x.org|x>", "a < b and c > d, <https://x.org|x>"),
    ],
)
def test_defang_makes_every_mention_harmless(raw: str, shown: str) -> None:
    assert render.defang(raw) == shown


def test_stable_prefix_never_lets_pieces_combine_into_a_ping() -> None:
    text = "Hi <!here> and <@U1|bob>, see <#C1|general> or @everyone <!subteam^S1|@ops>. Done"
    previous = ""
    for end in range(len(text) + 1):
        shown = render.stable_defanged(text[:end])
        assert shown.startswith(previous)  # streamed pieces only ever append
        previous = shown
        for token in ("<!here", "<@U1", "<#C1", "<!subteam", "@everyone"):
            assert token not in shown
    assert render.defang(text).startswith(previous)


def test_model_output_is_defanged_in_every_part_of_the_answer() -> None:
    evil = reply(
        "Hello <!channel>",
        sources=(Source("<!here> source", "https://example.org/a"),),
        suggestions=("Ping <@U1>?",),
    )
    (message,) = render.render_reply(evil)
    flat = str(message.blocks) + message.text
    for token in ("<!channel>", "<!here>", "<@U1>"):
        assert token not in flat


# --- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [render.MARKDOWN_LIMIT - 1, render.MARKDOWN_LIMIT])
def test_an_answer_up_to_12000_characters_is_one_markdown_block(size: int) -> None:
    text = ("word " * size)[: size - 1] + "x"
    assert len(text) == size
    (message,) = render.render_reply(reply(text))
    assert message.blocks[0] == {"type": "markdown", "text": text}
    MarkdownBlock(text=message.blocks[0]["text"]).validate_json()
    check_message(message)


def test_12001_characters_become_two_messages() -> None:
    text = ("word " * render.MARKDOWN_LIMIT)[: render.MARKDOWN_LIMIT] + "x"
    first, second = render.render_reply(reply(text))
    assert [b["type"] for b in first.blocks] == ["markdown"]  # no buttons before the end
    assert second.blocks[0]["type"] == "markdown"
    assert any(b["type"] == "actions" for b in second.blocks)
    assert len(first.blocks[0]["text"]) + len(second.blocks[0]["text"]) == len(text) - 1
    for message in (first, second):
        check_message(message)


def test_a_longer_answer_is_split_and_nothing_is_lost() -> None:
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum " * 90 for i in range(30)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 2 * render.MARKDOWN_LIMIT
    messages = render.render_reply(reply(text))
    assert len(messages) >= 3
    markdown = [b["text"] for m in messages for b in m.blocks if b["type"] == "markdown"]
    assert all(len(m) <= render.MARKDOWN_LIMIT for m in markdown)
    assert "".join(markdown).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )
    assert all(b["type"] == "markdown" for m in messages[:-1] for b in m.blocks)
    assert any(b["type"] == "actions" for b in messages[-1].blocks)  # buttons on the last
    for message in messages:
        check_message(message)


@pytest.mark.parametrize(("length", "cut"), [(75, False), (76, True), (300, True)])
def test_button_text_is_at_most_75_characters_with_an_ellipsis(length: int, cut: bool) -> None:
    title = ("a" * (length - 10) + " last word")[:length]
    assert len(title) == length
    (message,) = render.render_reply(
        reply(sources=(Source(title, "https://example.org/t"),), suggestions=(title,))
    )
    for block in message.blocks:
        for element in block.get("elements", []):
            if element.get("type") == "button" and "gloo_feedback" not in element["action_id"]:
                shown = element["text"]["text"]
                assert len(shown) <= render.BUTTON_TEXT_LIMIT
                assert shown.endswith("…") is cut
                ButtonElement(**{k: v for k, v in element.items() if k != "type"}).validate_json()
    check_message(message)


def test_action_id_and_value_limits_drop_the_button_instead_of_breaking_the_message() -> None:
    fits = "a" * (render.ACTION_ID_LIMIT - len("gloo_suggest:") - 2)  # + ":0" = exactly 255
    (ok,) = render.render_reply(reply(answer_id=fits, suggestions=("Next?",)))
    (suggestion,) = [e for b in ok.blocks for e in b.get("elements", []) if "suggest" in str(e)]
    assert len(suggestion["action_id"]) == render.ACTION_ID_LIMIT
    check_message(ok)

    too_long = fits + "a"
    (dropped,) = render.render_reply(reply(answer_id=too_long, suggestions=("Next?",)))
    assert "gloo_suggest" not in str(dropped.blocks)
    check_message(dropped)

    # a feedback value (the answer id) over 2,000 characters: no feedback buttons at all
    (no_feedback,) = render.render_reply(reply(answer_id="b" * 2001, suggestions=()))
    assert "gloo_feedback" not in str(no_feedback.blocks)
    check_message(no_feedback)


def test_sources_are_deduplicated_and_capped() -> None:
    sources = (
        Source("One", "https://example.org/1"),
        Source("One again", "https://example.org/1/"),
        Source("Two", "https://example.org/2#part"),
        Source("Two again", "https://EXAMPLE.org/2"),
        Source("No link"),
        Source("Three", "https://example.org/3"),
        Source("Bad link", "javascript:alert(1)"),
    )
    capped = present(reply(sources=sources), ChannelSettings(sources_limit=3))
    (message,) = render.render_reply(capped)
    buttons = [e for b in message.blocks for e in b.get("elements", []) if e.get("url")]
    assert [b["text"]["text"] for b in buttons] == ["One", "Two"]
    assert "No link" in str(message.blocks)
    assert "Three" not in str(message.blocks)  # the limit counted three distinct sources

    hidden = present(reply(sources=sources), ChannelSettings(enable_sources=False))
    (none,) = render.render_reply(hidden)
    assert "Sources" not in str(none.blocks)


def test_never_more_than_50_blocks_even_with_huge_replies() -> None:
    many_sources = tuple(Source(f"S{i}", f"https://example.org/{i}") for i in range(2000))
    many_suggestions = tuple(f"Question {i}?" for i in range(1000))
    huge = reply("x " * 40_000, sources=many_sources, suggestions=many_suggestions)
    messages = render.render_reply(present(huge, ChannelSettings(sources_limit=None)))
    for message in messages:
        check_message(message)
    actions = [b for m in messages for b in m.blocks if b["type"] == "actions"]
    for block in actions:
        ActionsBlock(**{k: v for k, v in block.items() if k != "type"}).validate_json()
    urls = {e["url"] for b in actions for e in b["elements"] if e.get("url")}
    assert len(urls) == 2000  # split over messages, none dropped
    refs = {e["value"] for b in actions for e in b["elements"] if "gloo_suggest" in e["action_id"]}
    assert len(refs) == 1000


@pytest.mark.parametrize("size", [3000, 3001, 9000])
def test_section_text_is_at_most_3000_characters(size: int) -> None:
    message = render.text_message("y" * size)
    assert all(len(b["text"]["text"]) <= render.SECTION_TEXT_LIMIT for b in message.blocks)
    assert sum(len(b["text"]["text"]) for b in message.blocks) == size
    check_message(message)


def test_progress_message_stays_within_one_markdown_block() -> None:
    message = render.progress_message("z" * 20_000)
    assert len(message.blocks[0]["text"]) <= render.MARKDOWN_LIMIT
    assert message.blocks[0]["text"].endswith(render.TYPING_MARK)
    check_message(message)
    assert render.progress_message("").blocks[0]["text"] == "_Thinking…_"


def test_plain_pages_fallback_is_text_only_and_loses_nothing() -> None:
    text = "sentence number one. " * 1000
    pages = render.plain_pages(text)
    assert all(not p.blocks and len(p.text) <= render.PLAIN_TEXT_LIMIT for p in pages)
    assert "".join(p.text for p in pages).replace(" ", "") == text.replace(" ", "")


def test_history_keeps_the_newest_messages_within_50_blocks() -> None:
    history = ChatHistory(
        chat_id="c",
        messages=tuple(
            HistoryMessage(role="user" if i % 2 == 0 else "assistant", text=f"m{i} <!here> " * 400)
            for i in range(80)
        ),
    )
    message = render.history_message(history)
    check_message(message)
    assert "32 earlier messages" in str(message.blocks)
    assert "m79" in str(message.blocks[-1])
    assert "<!here>" not in str(message.blocks)


def test_settings_message_is_valid() -> None:
    lines = [("Sources", "on, at most 3"), ("Publishers", "A, B")]
    check_message(render.settings_message(lines, note="Saved."))
