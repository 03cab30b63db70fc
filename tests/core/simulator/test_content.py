from __future__ import annotations

from random import Random

import pytest

from core.simulator import content
from tests.core.simulator.support import QUESTIONS


def test_answers_are_deterministic_markdown_of_realistic_length() -> None:
    for seed in range(25):
        for turn, question in enumerate(QUESTIONS):
            previous = list(QUESTIONS[:turn])
            text = content.compose_answer(Random(f"{seed}:c:{turn}"), question, previous)
            again = content.compose_answer(Random(f"{seed}:c:{turn}"), question, previous)
            assert text == again
            assert content.MIN_ANSWER_WORDS <= content.word_count(text) <= 200, text
            lead, _, rest = text.partition("\n\n")
            assert lead.startswith("**")
            assert lead.endswith("**") or lead.endswith(".**")
            assert "\n- " in rest
            if previous:
                assert f"*{content.quote_question(previous[-1])}*" in text


def test_different_turns_give_different_answers() -> None:
    texts = {content.compose_answer(Random(f"0:c:{turn}"), QUESTIONS[0], []) for turn in range(10)}
    assert len(texts) > 5


def test_topic_extraction() -> None:
    assert content.extract_topic("How do I build a daily prayer habit?") == "build prayer habit"
    assert content.extract_topic("What can churches learn from Barna?") == "churches learn Barna"
    assert content.extract_topic("Is AI useful?") == "AI useful"
    assert content.extract_topic("what is it?") == "your question"
    assert content.extract_topic("¿Cómo puedo orar cada día?") == "cómo puedo orar"


def test_non_ascii_topics_still_give_valid_source_urls() -> None:
    sources = content.compose_sources(Random(4), "Как молиться?", count=2)
    for source in sources:
        assert "Как Молиться" in source["title"]
        assert source["url"].isascii()
        assert source["url"].startswith("https://")


def test_quote_question_is_safe_inside_emphasis() -> None:
    assert content.quote_question("  What *is*\n_this_?  ") == "What is this"
    long = content.quote_question("word " * 40)
    assert len(long) <= 81
    assert long.endswith("…")


@pytest.mark.parametrize("limit", [1, 2, 10, 37, 80, 5000])
def test_truncate_respects_the_limit(limit: int) -> None:
    text = content.compose_answer(Random("t"), QUESTIONS[1], [])
    cut = content.truncate(text, limit)
    assert len(cut) <= limit
    if limit < len(text):
        assert cut.endswith("…")
    else:
        assert cut == text


def test_truncate_zero_means_no_limit() -> None:
    assert content.truncate("hello world", 0) == "hello world"


@pytest.mark.parametrize("words", [1, 3, 7])
def test_split_chunks_round_trips(words: int) -> None:
    text = content.compose_answer(Random("s"), QUESTIONS[2], [QUESTIONS[0]])
    pieces = content.split_chunks(text, words)
    assert "".join(pieces) == text
    assert all(len(p.split()) <= words for p in pieces)
    assert len(pieces) == -(-len(text.split()) // words)
    assert content.split_chunks("", 3) == []


def test_sources_honour_count_publishers_and_https() -> None:
    sources = content.compose_sources(Random(1), QUESTIONS[0], count=5)
    assert len(sources) == 5
    assert len({s["publisher"] for s in sources}) == 5
    assert len({s["title"] for s in sources}) == 5
    for source in sources:
        assert source["url"].startswith("https://")
        assert ".example/" in source["url"]
        assert source["author"]
        assert source["snippet"]
    filtered = content.compose_sources(
        Random(2), QUESTIONS[0], count=4, publishers=["Lantern House", "Acme Faith Daily"]
    )
    assert {s["publisher"] for s in filtered} == {"Lantern House", "Acme Faith Daily"}
    assert any(s["url"].startswith("https://acme-faith-daily.example/") for s in filtered)
    assert content.compose_sources(Random(3), QUESTIONS[0], count=9) == content.compose_sources(
        Random(3), QUESTIONS[0], count=5
    )
    assert content.compose_sources(Random(3), QUESTIONS[0], count=0) == []


def test_suggestions_are_three_distinct_questions() -> None:
    suggestions = content.compose_suggestions(Random(5), QUESTIONS[3])
    assert len(suggestions) == 3
    assert len(set(suggestions)) == 3
    assert all(s.endswith("?") for s in suggestions)


def test_chat_title() -> None:
    assert content.chat_title("How do I start journaling?") == "User Asks About Start Journaling"
    assert content.chat_title("What is it?") == "User Starts A Conversation"


def test_a_suggestion_asked_back_stays_on_the_same_topic() -> None:
    rng = Random(3)
    for suggestion in content.compose_suggestions(rng, "What is grace?"):
        assert content.extract_topic(suggestion) == "grace"
