"""Turn whatever Gloo sends as ``sources`` into clean, de-duplicated :class:`Source` tuples."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from core.gloo.wire import as_mapping
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
      ``uri``, kept only when it is an http(s) URL; ``publisher``; ``author`` (a string or
      a list of strings, joined with ", "); snippet from ``snippet``/``text``, else the
      first non-blank entry of ``snippets``. All stripped.
    * Entries with neither a title nor a URL are dropped; a URL-only entry keeps ``title``
      empty (``Source.label`` falls back to the URL).
    * De-duplicated by URL (first wins); entries without a URL by title.
    * Anything that is not a list of dicts gives ``()``.
    """
    if not isinstance(raw, list | tuple):
        return ()
    if limit is not None and limit <= 0:
        return ()
    result: list[Source] = []
    seen_urls: set[str] = set()
    seen_titles: set[str] = set()
    for item in raw:
        entry = as_mapping(item)
        if entry is None:
            continue
        source = _source_from(entry)
        if source is None:
            continue
        title_key = source.title.casefold()
        if source.url is not None:
            url_key = _url_key(source.url)
            if url_key in seen_urls:
                continue
            seen_urls.add(url_key)
        elif title_key in seen_titles:
            continue
        if title_key:
            seen_titles.add(title_key)
        result.append(source)
        if limit is not None and len(result) >= limit:
            break
    return tuple(result)


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
        if not isinstance(value, str):
            continue
        candidate = value.strip()
        if not candidate:
            continue
        try:
            parts = urlsplit(candidate)
        except ValueError:
            continue
        if parts.scheme.lower() in ("http", "https") and parts.netloc and " " not in candidate:
            return candidate
    return None


def _url_key(url: str) -> str:
    """Compare URLs ignoring scheme/host case, a trailing slash and the fragment."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def _author(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list | tuple):
        names = [item.strip() for item in value if isinstance(item, str) and item.strip()]
        return ", ".join(names) or None
    return None
