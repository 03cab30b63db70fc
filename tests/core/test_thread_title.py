"""The title a conversation gets from its first question (:func:`core.presentation.thread_title`).

Slack shows it "when a user views the DM history with your app" and publishes no length
limit for it (docs.slack.dev/reference/methods/assistant.threads.setTitle); Slack's own
template sets the whole first message as the title (slack-samples/bolt-js-assistant-template,
listeners/assistant/message.js, ``setTitle(message.text)``). Ours is short: at most
:data:`~core.presentation.TITLE_MAX_CHARS` characters, cut at a word with an ellipsis.
"""

from __future__ import annotations

import pytest

from core.presentation import TITLE_MAX_CHARS, thread_title


def test_a_short_question_is_its_own_title() -> None:
    assert thread_title("How do I start praying?") == "How do I start praying?"


def test_the_title_is_one_line_without_control_or_bidirectional_characters() -> None:
    question = "How do I\n\tstart\x00 praying\u202e every   day?\r\n"
    assert thread_title(question) == "How do I start praying every day?"


SLACK_MENTIONS = ["<@U0BOB0001>", "<@U0BOB0001|bob>", "<#C0GENERAL|general>", "<!here>"]
DISCORD_MENTIONS = ["<@123456789012345678>", "<@!123>", "<@&42>", "<#99>"]


@pytest.mark.parametrize("mention", [*SLACK_MENTIONS, "<!subteam^S1>", *DISCORD_MENTIONS])
def test_mentions_are_left_out(mention: str) -> None:
    assert thread_title(f"{mention} what is grace? {mention}") == "what is grace?"


@pytest.mark.parametrize("question", ["", "   ", "<@U0GLOOBOT>", "\u200b\u200b", "\x00\x07"])
def test_nothing_readable_gives_no_title(question: str) -> None:
    assert thread_title(question) == ""


def test_exactly_the_limit_is_kept_whole_and_one_more_is_cut_at_a_word() -> None:
    words = "word " * 20
    fits = words[:TITLE_MAX_CHARS].rstrip() + "s"  # 60 characters, ending in a word
    assert len(fits) == TITLE_MAX_CHARS
    assert thread_title(fits) == fits
    longer = fits + "x"
    title = thread_title(longer)
    assert len(title) <= TITLE_MAX_CHARS
    assert title.endswith("word…")  # the cut word is dropped, not split
    assert longer.startswith(title.removesuffix("…"))


def test_one_long_word_is_cut_inside_it_to_the_limit() -> None:
    title = thread_title("x" * 200)
    assert title == "x" * (TITLE_MAX_CHARS - 1) + "…"


def test_another_limit_can_be_asked_for() -> None:
    # 19 characters and the ellipsis, back to the last space: core.text.ellipsize's rule.
    assert thread_title("What does the Bible say about hope?", 20) == "What does the…"
