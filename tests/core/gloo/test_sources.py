"""normalize_sources: field variants, URL hygiene, de-duplication, limits."""

from __future__ import annotations

import pytest

from core.gloo.sources import normalize_sources
from core.types import Source


@pytest.mark.parametrize("raw", [None, "sources", 42, {"title": "x"}, [], ["a string"], [1, None]])
def test_anything_but_a_list_of_dicts_is_empty(raw: object) -> None:
    assert normalize_sources(raw) == ()


def test_full_entry() -> None:
    raw = [
        {
            "title": "  Grace Abounding ",
            "url": " https://example.org/grace ",
            "publisher": "Example Press",
            "author": "John Bunyan",
            "snippet": " A short excerpt. ",
        }
    ]
    assert normalize_sources(raw) == (
        Source(
            title="Grace Abounding",
            url="https://example.org/grace",
            publisher="Example Press",
            author="John Bunyan",
            snippet="A short excerpt.",
        ),
    )


@pytest.mark.parametrize(
    ("entry", "title", "url"),
    [
        ({"name": "By name", "link": "http://a.example/1"}, "By name", "http://a.example/1"),
        ({"item_title": "By item", "uri": "https://b.example/"}, "By item", "https://b.example/"),
        ({"title": "", "name": "Fallback", "url": ""}, "Fallback", None),
        ({"title": "T", "url": 5, "link": "https://c.example/x"}, "T", "https://c.example/x"),
    ],
)
def test_field_name_variants(entry: dict[str, object], title: str, url: str | None) -> None:
    [source] = normalize_sources([entry])
    assert (source.title, source.url) == (title, url)


def test_snippet_from_text_and_author_list() -> None:
    [source] = normalize_sources(
        [{"title": "T", "text": "Body text", "author": ["Ann", " ", "Bo", 3, "Cy "]}]
    )
    assert source.snippet == "Body text"
    assert source.author == "Ann, Bo, Cy"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example/x",
        "javascript:alert(1)",
        "example.org/page",
        "https://",
        "mailto:a@b.c",
    ],
)
def test_only_http_urls_are_kept(url: str) -> None:
    [source] = normalize_sources([{"title": "Kept for its title", "url": url}])
    assert source.url is None
    assert source.label == "Kept for its title"


def test_entries_with_neither_title_nor_url_are_dropped() -> None:
    raw = [{"publisher": "P", "snippet": "s"}, {"title": "  ", "url": "ftp://x"}, {"title": "ok"}]
    assert [s.title for s in normalize_sources(raw)] == ["ok"]


def test_url_only_entry_keeps_empty_title() -> None:
    [source] = normalize_sources([{"url": "https://example.org/only-url"}])
    assert source.title == ""
    assert source.label == "https://example.org/only-url"


def test_duplicates_by_url_first_wins() -> None:
    raw = [
        {"title": "First", "url": "https://example.org/a"},
        {"title": "Second", "url": "https://example.org/a"},
        {"title": "Third", "url": "HTTPS://EXAMPLE.org/a/#frag"},
        {"title": "Other", "url": "https://example.org/b"},
    ]
    assert [s.title for s in normalize_sources(raw)] == ["First", "Other"]


def test_duplicates_without_url_by_title() -> None:
    raw = [
        {"title": "Book"},
        {"title": "book "},
        {"title": "Linked", "url": "https://example.org/l"},
        {"title": "Linked"},  # same title as a linked entry, no URL of its own
        {"title": "Other"},
    ]
    assert [s.title for s in normalize_sources(raw)] == ["Book", "Linked", "Other"]


def test_same_title_different_urls_are_kept() -> None:
    raw = [
        {"title": "Same", "url": "https://example.org/1"},
        {"title": "Same", "url": "https://example.org/2"},
    ]
    assert len(normalize_sources(raw)) == 2


def test_limit_counts_after_cleaning() -> None:
    raw = [
        {"snippet": "dropped"},
        {"title": "A", "url": "https://x.example/a"},
        {"title": "A again", "url": "https://x.example/a"},
        {"title": "B"},
        {"title": "C"},
    ]
    assert [s.title for s in normalize_sources(raw, limit=2)] == ["A", "B"]
    assert [s.title for s in normalize_sources(raw, limit=None)] == ["A", "B", "C"]
    assert normalize_sources(raw, limit=0) == ()


def test_non_string_fields_are_ignored() -> None:
    [source] = normalize_sources(
        [{"title": "T", "publisher": 7, "author": {"n": 1}, "snippet": []}]
    )
    assert (source.publisher, source.author, source.snippet) == (None, None, None)
