"""Links whose text names another host are shown by their real target (core/text.py).

Issue 14, finding 4 (masked links): model output such as
``[https://good.example](https://evil.example)`` (Markdown, which Slack's ``markdown`` block
and Discord render as a link labelled with the first address) or Slack's mrkdwn
``<https://evil.example|https://good.example>`` showed one address and opened another.
Formats: Slack's markdown block takes standard Markdown ``[text](url)`` and mrkdwn takes
``<url|text>`` (docs.slack.dev "Formatting text for app surfaces", and the changelog entry
"Block Kit markdown block", 2025-02-03); Discord renders ``[text](url)`` masked links.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from core.gloo.backend import GlooAnswer, GlooDelta
from core.service import ConversationService
from core.simulator import content
from core.store.sql import SqlStore
from core.text import honest_links, links_in, misleads, stable_honest_links
from core.types import ChannelSettings, Question, Reply, Source, TextDelta, ThreadKey

MISLEADING = (
    "Read [https://good.example/grace](https://evil.example/login) first. "
    "Or <https://evil.example/x|https://good.example/y>. "
    "See [Gloo's guide](https://docs.gloo.com/guide) and [gloo.com](https://docs.gloo.com/a)."
)
HONEST = (
    "Read https://evil.example/login first. Or https://evil.example/x. "
    "See [Gloo's guide](https://docs.gloo.com/guide) and [gloo.com](https://docs.gloo.com/a)."
)


#: Links whose label names another host than their target show the target; honest ones stay.
_NAMED_HOSTS: list[tuple[str, str]] = [
    (MISLEADING, HONEST),
    ("[good.example](https://evil.example)", "https://evil.example"),  # no scheme
    ("[www.good.example](https://evil.example/)", "https://evil.example/"),
    ("[Visit https://good.example now](https://evil.example)", "https://evil.example"),
    ("[good.example](https://good.example.evil.io/)", "https://good.example.evil.io/"),
    ('[https://a.example](https://b.example "title")', "https://b.example"),
    ("[x.org](https://en.wikipedia.org/wiki/X_(y))", "https://en.wikipedia.org/wiki/X_(y)"),
    # Honest links stay: same host, a subdomain of the named host, ordinary words.
    (
        "[https://www.gloo.com/](https://gloo.com/a)",
        "[https://www.gloo.com/](https://gloo.com/a)",
    ),
    ("[Node.js](https://nodejs.org)", "[Node.js](https://nodejs.org)"),
    ("<https://gloo.com/a|gloo.com>", "<https://gloo.com/a|gloo.com>"),
    ("<https://gloo.com/a|the guide>", "<https://gloo.com/a|the guide>"),
    ("`[not](a link)` and [1](#note)", "`[not](a link)` and [1](#note)"),
]


def test_source_titles_are_checked_the_same_way() -> None:
    assert misleads("https://good.example", "https://evil.example/a")
    assert not misleads("Finding your way through grace", "https://evil.example/a")


# Pieces that make links, half-links and look-alikes in any order.
_PIECES = st.sampled_from(
    [*'[]()<>|:/ "\nhtps.', "https://", "http://", "good.example", "evil.example", "](", "x"]
)


def _assert_each_shown_text_is_a_prefix(raw: str) -> None:
    """Each text shown while ``raw`` streams in is a prefix of the next and of the final one."""
    final = honest_links(raw)
    before = ""
    for end in range(len(raw) + 1):
        now = stable_honest_links(raw[:end])
        assert now.startswith(before)
        assert final.startswith(now)
        before = now


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_streamed_text_only_grows_and_ends_as_the_final_text(raw: str) -> None:
    """What a stream shows is never taken back: each shown text is a prefix of the next and
    of the final answer, so Slack's appendStream and Discord's edits stay consistent."""
    _assert_each_shown_text_is_a_prefix(raw)
    assert stable_honest_links(raw + "\n\n") == honest_links(raw + "\n\n")


# Issue 24, finding 3: forms the hand-written patterns missed. Each is a link on the
# platforms: CommonMark (spec.commonmark.org, "Links") allows a destination in angle brackets,
# a title in single quotes or parentheses, and a line break before the destination; Discord
# renders masked links ``[text](url)`` including ``<url>`` destinations (Discord support
# "Markdown Text 101", masked links); Slack mrkdwn's ``<url|text>`` takes any text up to ``>``
# (docs.slack.dev "Formatting text for app surfaces", links).
_EVERY_FORM: list[tuple[str, str]] = [
    ("[https://good.example](<https://evil.example>)", "https://evil.example"),
    ("[https://good.example](https://evil.example 'title')", "https://evil.example"),
    ("[https://good.example](https://evil.example (title))", "https://evil.example"),
    ("[https://good.example](\nhttps://evil.example)", "https://evil.example"),
    ("[paypal.com\u200b/signin](https://evil.example)", "https://evil.example"),
    ("[pay\u200bpal.com](https://evil.example)", "https://evil.example"),
    ("[«paypal.com»](https://evil.example)", "https://evil.example"),
    ("[ｐａｙｐａｌ．ｃｏｍ](https://evil.example)", "https://evil.example"),  # NFKC
    ("[paypal.gg](https://evil.example)", "https://evil.example"),
    ("[secure.bank](https://evil.example)", "https://evil.example"),
    ("[" + "\u200b" * 300 + "paypal.com](https://evil.example)", "https://evil.example"),
    ("<https://evil.example|" + "\u200b" * 300 + "paypal.com>", "https://evil.example"),
    ("<https://evil.example|paypal.com\u200b/signin>", "https://evil.example"),
    ("[paypal&#46;com](https://evil.example)", "https://evil.example"),  # entity
    ("[paypal.com](javascript:alert(1))", "javascript:alert(1)"),
    # Looser than CommonMark, as simple-markdown (Discord's client's parser) reads them.
    ("[paypal.com](<https://evil.example)", "https://evil.example"),
    ("[paypal.com](https://evil.example \"title')", "https://evil.example"),
    ("![paypal.com](https://evil.example/i.png)", "https://evil.example/i.png"),
    ("[user@paypal.com](mailto:user@evil.example)", "mailto:user@evil.example"),
    # Honest: the target's own host, a reserved name, file names, mail to the named host.
    ("[«gloo.com»](https://www.gloo.com/a)", "[«gloo.com»](https://www.gloo.com/a)"),
    ("[README.md](https://github.com/x/y)", "[README.md](https://github.com/x/y)"),
    ("[user@gloo.com](mailto:user@gloo.com)", "[user@gloo.com](mailto:user@gloo.com)"),
]


@pytest.mark.parametrize(("text", "shown"), [*_NAMED_HOSTS, *_EVERY_FORM])
def test_every_form_of_a_link_is_judged(text: str, shown: str) -> None:
    assert honest_links(text) == shown


def test_a_name_under_a_shared_suffix_is_not_the_named_host() -> None:
    # github.io is a public suffix (PSL private section): evil.github.io is not github.io's.
    assert misleads("github.io", "https://evil.github.io/")
    assert not misleads("gloo.com", "https://docs.gloo.com/")
    assert misleads("README.md/x", "https://github.com/")  # a path makes it an address


def test_reference_style_links_are_never_live() -> None:
    # A reference definition may come after its use, so it is written inert (CommonMark
    # "Link reference definitions" need ``]:``; ``]\:`` is an escaped colon).
    text = "See [https://good.example].\n\n[https://good.example]: https://evil.example"
    shown = honest_links(text)
    assert shown == "See [https://good.example].\n\n[https://good.example]\\: https://evil.example"
    # What a full CommonMark renderer (references on) makes of it: no link at all.
    tokens = MarkdownIt("commonmark").parse(shown)
    assert not [t for t in tokens if t.children for c in t.children if c.type == "link_open"]


def test_a_replaced_link_cannot_leave_a_new_one_behind() -> None:
    # Links cannot contain links (CommonMark), so the outer text is no link until the inner
    # one is replaced by its address; then it is one and is judged too.
    shown = honest_links("[a [https://good.example](https://evil.example)](https://x.example)")
    assert not any(misleads(link.label, link.url) for link in links_in(shown))
    assert "good.example" not in shown


_TRICKY = st.sampled_from(
    [
        *"[]()<>|:/ \"\n!`\\'*",
        "https://",
        "good.example",
        "evil.example",
        "paypal.gg",
        "www.",
        "](",
        "](<",
        ">)",
        "\u200b",
        "«",
        "&#46;",
        "\n\n",
        "> ",
        "- ",
        "    ",
        "x",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_TRICKY, max_size=30).map("".join))
def test_no_shown_link_names_another_host(text: str) -> None:
    """Read again by the same parser (Markdown and Slack forms), no link that honest_links
    leaves has a visible label naming a host other than its target's."""
    for link in links_in(honest_links(text)):
        assert not misleads(link.label, link.url), link
        assert not misleads(link.shown, link.url), link


@settings(max_examples=300, deadline=None)
@given(st.lists(_TRICKY, max_size=30).map("".join))
def test_tricky_streamed_text_only_grows(raw: str) -> None:
    _assert_each_shown_text_is_a_prefix(raw)


class ScriptedBackend:
    """A Gloo backend that streams ``text`` in small pieces (as Gloo's SSE does)."""

    offers_suggestions = True
    keeps_chats = True
    history_turns = 0

    def __init__(self, text: str, *, sources: tuple[Source, ...] = ()) -> None:
        self.text = text
        self.sources = sources

    async def stream(self, request: object) -> AsyncIterator[GlooDelta | GlooAnswer]:
        for start in range(0, len(self.text), 7):
            yield GlooDelta(text=self.text[start : start + 7])
        yield GlooAnswer(
            chat_id="chat-1",
            text=self.text,
            sources=self.sources,
            suggestions=("Is <https://evil.example|https://good.example> safe?",),
        )


async def test_the_service_streams_and_replies_with_honest_links(store: SqlStore) -> None:
    backend = ScriptedBackend(
        MISLEADING,
        sources=(Source(title="https://good.example", url="https://evil.example/s"),),
    )
    service = ConversationService(backend, store, ChannelSettings())  # type: ignore[arg-type]
    shown: list[str] = []
    reply: Reply | None = None
    async for event in service.stream(Question(ThreadKey("test", "W", "C", "t"), "Links?")):
        if isinstance(event, TextDelta):
            assert event.text == "".join(shown) + event.delta
            shown.append(event.delta)
        elif isinstance(event, Reply):
            reply = event
    assert reply is not None
    assert reply.text == HONEST
    assert all("good.example" not in piece for piece in shown)  # not even for a moment
    assert reply.suggestions == ("Is https://evil.example safe?",)
    assert reply.sources[0].title == "https://evil.example/s"
    record = await store.get_answer(reply.answer_id)
    assert record is not None
    assert record.suggestions == reply.suggestions  # a click asks what was shown


def patch_answers(monkeypatch: pytest.MonkeyPatch, text: str = MISLEADING) -> None:
    """Make the simulator answer every question with ``text`` (both Gloo APIs)."""
    monkeypatch.setattr(content, "compose_answer", lambda rng, query, previous: text)
