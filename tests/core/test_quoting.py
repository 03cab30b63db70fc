"""The question about a quoted message: the quote, then the question, within the cap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.intake import refusal
from core.quoting import DEFAULT_QUESTION, QUOTE_HEADER, quoted_question


def test_the_quote_comes_first_line_by_line_then_the_question() -> None:
    text = quoted_question("We meet at dawn.\nBring a lantern.", "Why a lantern?", 4000)
    assert text == (f"{QUOTE_HEADER}\n> We meet at dawn.\n> Bring a lantern.\n\nWhy a lantern?")


def test_a_blank_question_asks_the_default() -> None:
    assert quoted_question("Grace", "  \u200b ", 4000).endswith(f"\n\n{DEFAULT_QUESTION}")


def test_a_message_with_no_text_leaves_the_question_alone() -> None:
    assert quoted_question(" \n ", "What is this picture?", 4000) == "What is this picture?"


def test_controls_and_bidi_overrides_are_removed_from_the_quote() -> None:
    text = quoted_question("a\u202eb\x00c\r\nd", "Explain", 4000)
    assert text == f"{QUOTE_HEADER}\n> abc\n> d\n\nExplain"


def test_a_long_quote_is_shortened_so_the_question_fits_the_cap() -> None:
    quote = "word " * 2000
    text = quoted_question(quote, "Summarize this", 500)
    assert len(text) == 500
    assert text.endswith("…\n\nSummarize this")
    assert refusal(text, 500) is None


def test_a_question_longer_than_the_cap_is_left_for_the_intake_to_refuse() -> None:
    text = quoted_question("short", "x" * 60, 50)
    assert text == "x" * 60
    assert refusal(text, 50) is not None


@given(
    quote=st.text(st.characters(codec="utf-8"), max_size=400),
    question=st.text(max_size=40),
    cap=st.integers(min_value=1, max_value=300),
)
def test_never_more_than_the_cap_unless_the_question_alone_is(
    quote: str, question: str, cap: int
) -> None:
    text = quoted_question(quote, question, cap)
    asked = quoted_question("", question, None)  # the question alone, as it is asked
    assert len(text) <= max(cap, len(asked))
    assert text.endswith(asked)
