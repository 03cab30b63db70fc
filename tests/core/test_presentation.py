"""The presentation policy: one URL rule, the sources limit, suggestions on or off, labels.

Sources are shaped as Gloo's grounded completions cite them (item_title/item_url,
docs.gloo.com Grounded Completions) after :func:`core.gloo.sources.normalize_sources`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from core.gloo.backend import GlooAnswer, GlooDelta, GlooEvent, GlooRequest
from core.gloo.sources import normalize_sources
from core.presentation import layout, link, present, unique_sources, url_key
from core.service import ConversationService
from core.store.sql import SqlStore
from core.types import ChannelSettings, ChatHistory, Question, Reply, Source, ThreadKey

SOURCES = (
    Source("One", "https://example.org/a"),
    Source("One, slash", "https://example.org/a/"),
    Source("One, fragment", "https://example.org/a#part"),
    Source("One, case", "HTTPS://EXAMPLE.ORG/a"),
    Source("Other query", "https://example.org/a?page=2"),
    Source("Path case differs", "https://example.org/A"),
    Source("Not a link", "javascript:alert(1)"),
    Source("not a LINK"),
    Source("Two", "http://example.org/b"),
)


def reply(**changes: object) -> Reply:
    values: dict[str, object] = {
        "text": "Grace is a gift.",
        "sources": SOURCES,
        "suggestions": ("What is mercy?", "What is hope?"),
        "answer_id": "AbCdEfGhIjKl",
        "chat_id": "chat-1",
    }
    values.update(changes)
    return Reply(**values)  # type: ignore[arg-type]


def test_one_url_rule() -> None:
    assert link(" https://example.org/x ") == "https://example.org/x"
    for bad in ("javascript:alert(1)", "ftp://example.org/x", "https:///x", "https://a b", ""):
        assert link(bad) is None
    assert link(None) is None
    same = {url_key(u) for u in ("https://Example.org/a/", "HTTPS://example.ORG/a#x")}
    assert same == {"https://example.org/a"}
    assert url_key("https://example.org/a?q=1") != url_key("https://example.org/a")
    assert url_key("https://example.org/A") != url_key("https://example.org/a")


def test_duplicates_go_first_wins_bad_links_lose_their_url() -> None:
    kept = unique_sources(SOURCES)
    assert [(s.title, s.url) for s in kept] == [
        ("One", "https://example.org/a"),
        ("Other query", "https://example.org/a?page=2"),
        ("Path case differs", "https://example.org/A"),
        ("Not a link", None),
        ("Two", "http://example.org/b"),
    ]  # "not a LINK" repeats a title without a link of its own


def test_settings_cap_and_switch_off() -> None:
    capped = present(reply(), ChannelSettings(sources_limit=2))
    assert [s.title for s in capped.sources] == ["One", "Other query"]
    assert capped.suggestions == ("What is mercy?", "What is hope?")
    assert present(reply(), ChannelSettings(sources_limit=0)).sources == ()
    assert present(reply(), ChannelSettings(enable_sources=False)).sources == ()
    off = present(reply(), ChannelSettings(enable_suggestions=False))
    assert off.suggestions == ()
    assert len(off.sources) == 5  # no limit set: every distinct source
    plain = reply(sources=(Source("Only", "https://example.org/o"),))
    assert present(plain, ChannelSettings()) is plain


def test_labels_are_ellipsised_to_the_width_asked() -> None:
    long = "A very long source title that goes on and on about grace and mercy " * 3
    shown = layout(reply(sources=(Source(long, "https://example.org/l"),)), 75)
    (source,) = shown.sources
    assert len(source.label) <= 75
    assert source.label.endswith("…")
    assert source.title == long.strip()
    assert (
        len(layout(reply(sources=(Source(long, "https://example.org/l"),)), 80).sources[0].label)
        <= 80
    )
    refs = [(s.index, s.ref) for s in shown.suggestions]
    assert refs == [(0, "AbCdEfGhIjKl:0"), (1, "AbCdEfGhIjKl:1")]
    cleaned = layout(reply(suggestions=("Ask <!here>",)), 75, clean=str.upper)
    assert cleaned.suggestions[0].label == "ASK <!HERE>"


def test_normalize_sources_uses_the_same_rule() -> None:
    raw = [
        {"item_title": "One", "item_url": "https://example.org/a"},
        {"item_title": "One again", "item_url": "https://EXAMPLE.org/a/#top"},
        {"title": "Two", "url": "https://example.org/b"},
        {"title": "Three", "url": "https://example.org/c"},
    ]
    assert [s.title for s in normalize_sources(raw)] == ["One", "Two", "Three"]
    assert [s.title for s in normalize_sources(raw, 2)] == ["One", "Two"]


class ManySources:
    """A Gloo that ignores ``sources_limit`` and always suggests: the core still applies it."""

    offers_suggestions = True
    keeps_chats = True
    history_turns = 0

    async def send(self, request: GlooRequest) -> GlooAnswer:
        raise AssertionError("the service streams")

    async def stream(self, request: GlooRequest) -> AsyncIterator[GlooEvent]:
        yield GlooDelta("Grace is a gift.")
        yield GlooAnswer(
            chat_id="chat-9",
            text="Grace is a gift.",
            sources=SOURCES,
            suggestions=("What is mercy?",),
        )

    async def history(self, chat_id: str) -> ChatHistory:
        return ChatHistory(chat_id=chat_id)


async def test_the_service_yields_the_reply_as_the_channel_shows_it(store: SqlStore) -> None:
    service = ConversationService(ManySources(), store, ChannelSettings())
    await service.update_settings("discord", "G1", "C1", sources_limit=1, enable_suggestions=False)
    there = await service.ask(Question(ThreadKey("discord", "G1", "C1", "t1"), "Grace?"))
    elsewhere = await service.ask(Question(ThreadKey("discord", "G1", "C2", "t2"), "Grace?"))
    assert [s.title for s in there.sources] == ["One"]
    assert there.suggestions == ()
    assert len(elsewhere.sources) == 5
    assert elsewhere.suggestions == ("What is mercy?",)
    record = await service.get_answer(there.answer_id)
    assert record is not None
    assert record.suggestions == ("What is mercy?",)  # kept: buttons index what Gloo sent
