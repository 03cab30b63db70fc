"""What an answer shows: one neutral policy for every platform.

:func:`present` turns a :class:`~core.types.Reply` plus the channel's
:class:`~core.types.ChannelSettings` into the reply that is shown there:

* sources kept only when ``enable_sources`` is on, de-duplicated by :func:`source_key`
  (the one URL rule), capped by ``sources_limit``;
* suggestions kept only when ``enable_suggestions`` is on (their order, and so the index a
  suggestion button carries, is Gloo's).

The service yields presented replies, so Slack and Discord show the same sources and
suggestions for the same settings. Renderers then only lay out: :func:`layout` gives them
the labels ellipsised to the width their platform allows (Slack's button text 75, Discord's
label 80) and each source's link, when it has one.

The URL rule: only ``http``/``https`` URLs with a host and no whitespace are links; two links
are the same source when they differ only in the case of the scheme or host, a trailing
``/`` of the path, or the ``#fragment``. A source without a link is the same as an earlier
one with the same title (case-insensitive, whitespace collapsed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from core import intake
from core.text import ellipsize
from core.types import ChannelSettings, Reply, Source

_LINK_SCHEMES: Final = ("http", "https")
#: Whitespace (as ``str.isspace`` has it) or a control character: never in a usable link.
_NOT_IN_A_LINK: Final = re.compile(r"[\s\x00-\x1f]")


def link(url: str | None) -> str | None:
    """``url`` stripped when it is an http(s) link with a host and no whitespace, else None."""
    if not url:
        return None
    candidate = url.strip()
    if not candidate or _NOT_IN_A_LINK.search(candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in _LINK_SCHEMES or not parts.hostname:
        return None
    return candidate


def url_key(url: str) -> str:
    """The form two links share when they are the same source (see the module's rule)."""
    parts = urlsplit(url)
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, "")
    )


def _title_key(title: str) -> str:
    return " ".join(title.split()).casefold()


def unique_sources(sources: Iterable[Source], limit: int | None = None) -> tuple[Source, ...]:
    """``sources`` without duplicates (first wins), at most ``limit`` of them.

    A source's ``url`` that is not a link (:func:`link`) is dropped; a source left with
    neither title nor link is dropped.
    """
    if limit is not None and limit <= 0:
        return ()
    kept: list[Source] = []
    seen_urls: set[str] = set()
    seen_titles: set[str] = set()
    for source in sources:
        url = link(source.url)
        title = source.title.strip()
        if url != source.url or title != source.title:
            source = replace(source, title=title, url=url)
        title_key = _title_key(title)
        if url is not None:
            key = url_key(url)
            if key in seen_urls:
                continue
            seen_urls.add(key)
        elif not title_key or title_key in seen_titles:
            continue
        if title_key:
            seen_titles.add(title_key)
        kept.append(source)
        if limit is not None and len(kept) >= limit:
            break
    return tuple(kept)


def present(reply: Reply, settings: ChannelSettings) -> Reply:
    """``reply`` as the channel with ``settings`` shows it (sources and suggestions)."""
    sources = (
        unique_sources(reply.sources, settings.sources_limit) if settings.enable_sources else ()
    )
    suggestions = reply.suggestions if settings.enable_suggestions else ()
    if sources == reply.sources and suggestions == reply.suggestions:
        return reply
    return replace(reply, sources=sources, suggestions=suggestions)


@dataclass(frozen=True, slots=True)
class ShownSource:
    """One source as a renderer lays it out: a label of at most the asked width, its link."""

    label: str
    url: str | None
    title: str
    publisher: str | None = None


@dataclass(frozen=True, slots=True)
class ShownSuggestion:
    """One suggestion: its label of at most the asked width, its full text, its index among
    the reply's suggestions and the ref its button carries (:meth:`Reply.suggestion_ref`)."""

    label: str
    text: str
    index: int
    ref: str


@dataclass(frozen=True, slots=True)
class Shown:
    """What a renderer lays out for one presented reply."""

    sources: tuple[ShownSource, ...]
    suggestions: tuple[ShownSuggestion, ...]


def label(text: str, width: int) -> str:
    """``text`` on one line, ellipsised to ``width`` characters; never empty."""
    return ellipsize(text, width) or "…"


def _same(text: str) -> str:
    return text


def layout(reply: Reply, width: int, *, clean: Callable[[str], str] = _same) -> Shown:
    """The sources and suggestions of a presented ``reply``, labelled to ``width``.

    ``clean`` is applied to a label's text before it is ellipsised (Slack defangs mention
    tokens). De-duplication is idempotent, so a reply that was not presented (a test, an
    older caller) still shows no duplicate; settings are :func:`present`'s business.
    """
    sources = tuple(
        ShownSource(
            label=label(clean(s.title or s.url or ""), width),
            url=s.url,
            title=s.title,
            publisher=s.publisher,
        )
        for s in unique_sources(reply.sources)
    )
    suggestions = tuple(
        ShownSuggestion(
            label=label(clean(text), width), text=text, index=i, ref=reply.suggestion_ref(i)
        )
        for i, text in enumerate(reply.suggestions)
        if text.strip()
    )
    return Shown(sources=sources, suggestions=suggestions)


#: The longest title :func:`thread_title` makes. Slack publishes no limit for
#: ``assistant.threads.setTitle``'s ``title`` (docs.slack.dev/reference/methods/
#: assistant.threads.setTitle, "Arguments"); 60 characters is a line of a history list.
TITLE_MAX_CHARS: Final = 60
#: A mention or channel reference as platforms write them in message text: Slack's
#: ``<@U…>``, ``<#C…|name>``, ``<!here>``, ``<!subteam^S…>``; Discord's ``<@123>``,
#: ``<@!123>``, ``<@&123>``, ``<#123>``.
_MENTION: Final = re.compile(r"<[@#!][^<>]*>")


def thread_title(question: str, limit: int = TITLE_MAX_CHARS) -> str:
    """The title of the conversation ``question`` opens: without mentions, control or
    bidirectional characters, on one line, ellipsised at a word boundary to ``limit``
    characters; ``""`` when nothing readable is left (then no title is set)."""
    text = _MENTION.sub(" ", intake.clean(question))
    return "" if intake.is_blank(text) else ellipsize(text, limit)
