"""Task cards as the renderer builds them, each limit at its boundary.

The shape is slack_sdk's chunk models (slack_sdk.models.messages.chunk: TaskUpdateChunk,
MarkdownTextChunk; UrlSourceElement) as docs.slack.dev/reference/methods/chat.startStream
documents the chunks ("Using the chunks parameter"); every card is also checked against the
fake Slack's validation of that schema. Slack publishes no lengths for task cards: the
limits are the renderer's own (bots/slack/render.py).
"""

from __future__ import annotations

from typing import Any

from bots.slack import render
from core.types import Source
from tests.bots.slack.fake_slack import validate_chunks


def as_sent(chunk: Any) -> dict[str, Any]:
    sent: dict[str, Any] = chunk.to_dict()
    assert validate_chunks([sent]) is None, sent
    return sent


def source(title: str, url: str) -> Source:
    return Source(title=title, url=url)


def test_the_search_in_progress_is_the_documented_task_update() -> None:
    # The documented example's fields: type, id, title, status.
    assert as_sent(render.searching_task()) == {
        "type": "task_update",
        "id": "gloo_sources",
        "title": "Searching Gloo's sources",
        "status": "in_progress",
    }


def test_found_sources_are_counted_and_carried_as_url_sources() -> None:
    sent = as_sent(render.found_task([source("On grace", "https://example.org/grace")]))
    assert sent["status"] == "complete"
    assert sent["title"] == "Found 1 source"
    assert sent["sources"] == [
        {"type": "url", "url": "https://example.org/grace", "text": "On grace"}
    ]
    two = as_sent(render.found_task([source("A", "https://a.example"), source("B", "")]))
    assert two["title"] == "Found 2 sources"  # the answer shows two; one has a link
    assert [s["url"] for s in two["sources"]] == ["https://a.example"]


def test_a_search_that_found_nothing_shown_says_it_searched() -> None:
    sent = as_sent(render.found_task(()))
    assert sent == {
        "type": "task_update",
        "id": "gloo_sources",
        "title": "Searched Gloo's sources",
        "status": "complete",
    }


def test_a_stopped_search_is_an_error_never_in_progress() -> None:
    assert as_sent(render.stopped_task())["status"] == "error"


def test_a_source_text_of_75_characters_is_kept_and_76_are_shortened() -> None:
    exact = "x" * render.TASK_SOURCE_TEXT_LIMIT
    kept = as_sent(render.found_task([source(exact, "https://a.example")]))
    assert kept["sources"][0]["text"] == exact
    longer = "word " * 16  # 80 characters
    cut = as_sent(render.found_task([source(longer, "https://a.example")]))
    assert len(cut["sources"][0]["text"]) <= render.TASK_SOURCE_TEXT_LIMIT
    assert cut["sources"][0]["text"].endswith("…")


def test_a_url_of_3000_characters_is_carried_and_3001_is_left_out() -> None:
    head = "https://example.org/"
    exact = head + "a" * (render.TASK_SOURCE_URL_LIMIT - len(head))
    kept = as_sent(render.found_task([source("T", exact)]))
    assert kept["sources"][0]["url"] == exact
    dropped = as_sent(render.found_task([source("T", exact + "a")]))
    assert "sources" not in dropped
    assert dropped["title"] == "Found 1 source"


def test_at_most_25_sources_ride_on_the_card() -> None:
    many = [source(f"S{i}", f"https://example.org/{i}") for i in range(26)]
    sent = as_sent(render.found_task(many))
    assert len(sent["sources"]) == render.TASK_SOURCES_LIMIT == 25
    assert sent["title"] == "Found 26 sources"
    exact = as_sent(render.found_task(many[:25]))
    assert len(exact["sources"]) == 25


def test_titles_stay_within_150_characters() -> None:
    assert len(render._task("t" * 150, "complete").title) == render.TASK_TITLE_LIMIT
    long = render._task("word " * 40, "complete").title
    assert len(long) <= render.TASK_TITLE_LIMIT
    assert long.endswith("…")


def test_source_text_is_defanged_and_a_textless_source_shows_its_url() -> None:
    sent = as_sent(render.found_task([source("<!channel> news", "https://a.example")]))
    assert "<!channel>" not in sent["sources"][0]["text"]
    bare = as_sent(render.found_task([source("", "https://a.example/x")]))
    assert bare["sources"][0]["text"] == "https://a.example/x"


def test_streamed_text_is_a_markdown_text_chunk() -> None:
    assert as_sent(render.text_chunk("**Grace** is")) == {
        "type": "markdown_text",
        "text": "**Grace** is",
    }


def test_the_fake_refuses_chunks_that_break_the_schema() -> None:
    good = as_sent(render.searching_task())
    assert validate_chunks([{**good, "status": "done"}]) == "invalid_chunks"
    assert validate_chunks([{k: v for k, v in good.items() if k != "id"}]) == "invalid_chunks"
    assert validate_chunks([{"type": "confetti"}]) == "invalid_chunks"
    assert validate_chunks([{**good, "title": "t" * 151}]) == "invalid_chunks"
    bad_source = {**good, "sources": [{"type": "url", "url": "https://a.example"}]}
    assert validate_chunks([bad_source]) == "invalid_chunks"
