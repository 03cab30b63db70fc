"""Turn whatever Gloo sends as ``sources`` into clean, de-duplicated :class:`Source` tuples."""

from __future__ import annotations

from collections.abc import Mapping

from core.gloo.wire import as_mapping
from core.presentation import link, unique_sources
from core.types import Source

# Grounded completions cite {item_title, item_url, author[], publisher, snippets[]} (the
# shape public V2 clients read); the Message API and older variants use title/url/snippet.
_TITLE_KEYS = ("item_title", "title", "name")
_URL_KEYS = ("item_url", "url", "link", "uri")
_SNIPPET_KEYS = ("snippet", "text")
_SNIPPET_LIST_KEYS = ("snippets",)


def normalize_sources(raw: object, limit: int | None = None) -> tuple[Source, ...]:
    """Clean sources: a list of dicts in, at most ``limit`` :class:`Source` objects out.

    * title from ``item_title``/``title``/``name``; url from ``item_url``/``url``/``link``/
      ``uri``, kept only when it is a link (:func:`core.presentation.link`); ``publisher``;
      ``author`` (a string or a list of strings, joined with ", "); snippet from
      ``snippet``/``text``, else the first non-blank entry of ``snippets``. All stripped.
    * Entries with neither a title nor a URL are dropped; a URL-only entry keeps ``title``
      empty (``Source.label`` falls back to the URL).
    * De-duplicated and capped by the presentation policy
      (:func:`core.presentation.unique_sources`: the one URL rule, first wins).
    * Anything that is not a list of dicts gives ``()``.
    """
    if not isinstance(raw, list | tuple):
        return ()
    parsed: list[Source] = []
    for item in raw:
        entry = as_mapping(item)
        if entry is None:
            continue
        source = _source_from(entry)
        if source is not None:
            parsed.append(source)
    return unique_sources(parsed, limit)


def _source_from(entry: Mapping[str, object]) -> Source | None:
    title = _first_text(entry, _TITLE_KEYS) or ""
    url = _http_url(entry)
    if not title and url is None:
        return None
    return Source(
        title=title,
        url=url,
        publisher=_first_text(entry, ("publisher",)),
        author=_author(entry.get("author")),
        snippet=_first_text(entry, _SNIPPET_KEYS) or _first_listed(entry, _SNIPPET_LIST_KEYS),
    )


def _first_listed(entry: Mapping[str, object], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, str) and item.strip():
                    return item.strip()
    return None


def _first_text(entry: Mapping[str, object], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _http_url(entry: Mapping[str, object]) -> str | None:
    for key in _URL_KEYS:
        value = entry.get(key)
        url = link(value) if isinstance(value, str) else None
        if url is not None:
            return url
    return None


def _author(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list | tuple):
        names = [item.strip() for item in value if isinstance(item, str) and item.strip()]
        return ", ".join(names) or None
    return None
