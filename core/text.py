"""Platform-neutral text fitting: splitting long answers and shortening labels.

Every platform renderer has hard limits (Slack: 12,000 characters per markdown block,
75 per button; Discord: 2,000 per message, 80 per label). These helpers never lose text:
:func:`split_text` cuts at the most natural boundary that fits and keeps code fences
balanced in every piece; :func:`ellipsize` marks what it shortens.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

ELLIPSIS = "…"
FENCE = "```"

# Where a cut may go, best first: after a blank line, after a line, after a sentence,
# after a clause, after a word.
_BOUNDARIES: tuple[re.Pattern[str], ...] = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+"),
    re.compile(r"(?<=[,;:])\s+"),
    re.compile(r"\s+"),
)
# A cut is only worth taking if the piece is at least this share of the limit.
_MIN_FILL = 0.5


def ellipsize(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, ending in an ellipsis when cut (at a word
    boundary when one is reasonably close)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit * 0.6:
        head = head[:space]
    return head.rstrip(" ,;:.-") + ELLIPSIS


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters.

    Cuts prefer paragraph, then line, then sentence, clause and word boundaries; a run
    with none of them is cut hard. Whitespace at a cut is dropped, nothing else is lost.
    A code fence open at a cut is closed at the end of that piece and reopened (with its
    language tag) at the start of the next, so every piece renders on its own.
    """
    if limit < 2 * len(FENCE) + 16:
        raise ValueError("limit is too small to split text safely")
    text = text.strip()
    if not text:
        return []
    pieces: list[str] = []
    reopen = ""  # the fence line to start the next piece with, when a code block is open
    rest = text
    while rest:
        budget = limit - len(reopen)
        candidate = rest if len(rest) <= budget else None
        if candidate is not None and not _open_fence(reopen + candidate):
            pieces.append(reopen + candidate)
            break
        # Reserve room for closing a fence that the cut may leave open.
        reserve = len(FENCE) + 1 if reopen or FENCE in rest else 0
        cut = _cut_point(rest, budget - reserve)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        piece = reopen + head
        fence = _open_fence(piece)
        if fence is not None:
            piece += "\n" + FENCE
            reopen = fence + "\n"
        else:
            reopen = ""
        pieces.append(piece)
    return [p for p in pieces if p.strip()]


def _cut_point(text: str, budget: int) -> int:
    """Index to cut ``text`` at so the head fits in ``budget`` characters."""
    if len(text) <= budget:
        return len(text)
    window = text[: budget + 1]
    floor = int(budget * _MIN_FILL)
    for pattern in _BOUNDARIES:
        best = -1
        for match in pattern.finditer(window):
            if floor <= match.start() <= budget:
                best = match.start() if match.start() > 0 else best
        if best > 0:
            return best
    return budget


def _open_fence(text: str) -> str | None:
    """The opening line of a code fence left open at the end of ``text``, if any."""
    opening: str | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith(FENCE):
            opening = None if opening is not None else stripped
    return opening


# --- links whose text names another host ---------------------------------------------------
#
# Model output can carry a link whose visible text is itself an address of another host:
# ``[https://good.example](https://evil.example)`` (Markdown: rendered by Slack's markdown
# block and by Discord) or ``<https://evil.example|https://good.example>`` (Slack mrkdwn:
# the notification text, section blocks). Shown as written, a reader sees one address and
# opens another. :func:`honest_links` replaces every such link by its real target, written
# as a bare address (which Slack, Discord and a terminal all show as itself); links with
# ordinary text, or text naming the target's own host, are left as they are.

_LABEL_CHAR = r"(?:[^\[\]\n]|\n(?!\n))"  # a Markdown link text: no brackets, no blank line
_URL = r"https?://[^\s()<>]+(?:\([^\s()<>]*\)[^\s()<>]*)*"
_MARKDOWN_LINK = (
    rf"\[(?P<md_label>{_LABEL_CHAR}{{1,300}})\]"
    rf"\([ \t]*(?P<md_url>{_URL})(?:[ \t]+\"[^\"\n]*\")?[ \t]*\)"
)
_SLACK_LINK = r"<(?P<sl_url>https?://[^\s<>|]+)\|(?P<sl_label>[^<>\n]{0,300})>"
_LINK = re.compile(f"{_MARKDOWN_LINK}|{_SLACK_LINK}", re.IGNORECASE)
# The start of a link that more text may still complete (over-approximated: holding back a
# little more than needed is harmless).
_OPEN_LINK = re.compile(
    rf"\[{_LABEL_CHAR}{{0,300}}$"
    rf"|\[{_LABEL_CHAR}{{1,300}}\]$"
    rf"|\[{_LABEL_CHAR}{{1,300}}\]\([ \t]*(?:h[^\s()<>]*(?:\([^\s()<>]*\)?[^\s()<>]*)*"
    r"(?:[ \t]+(?:\"[^\"\n]*\"?[ \t]*)?)?)?$"
    r"|<(?:h[^\s<>|]*(?:\|[^<>\n]{0,300})?)?$",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*://", re.IGNORECASE)
# Top-level domains that mark a word as an address without a scheme (``good.example``,
# ``www.x.org``); names such as ``Node.js`` or ``README.md`` are not addresses.
_TLDS = frozenset(
    " ".join(
        (
            "com net org edu gov mil int info biz name pro io co ai app dev me us uk ca au nz ie",
            "de fr es it nl be ch at se no dk fi pl pt ru ua cn jp kr in br mx ar za ng ke eu",
            "asia tv cc xyz online site website shop store church bible faith ministries link",
            "page news blog example test invalid localhost",
        )
    ).split(" ")
)
_DOMAIN = re.compile(
    r"^(?:[^\s./:@\[\]()<>]+\.)+(?P<tld>[a-z]{2,63})\.?(?::\d+)?(?:[/?#]\S*)?$", re.IGNORECASE
)
_WRAPPING = "<>()[]{}\"'`*_~.,;:!?"


def _host(word: str) -> str | None:
    """The host an address-like ``word`` names (lowercase, no ``www.``), else ``None``."""
    word = word.strip(_WRAPPING)
    if not word:
        return None
    if _SCHEME.match(word):
        host = urlsplit_host(word)
    elif word.lower().startswith("www.") or (
        (match := _DOMAIN.match(word)) is not None and match["tld"].lower() in _TLDS
    ):
        host = urlsplit_host("http://" + word)
    else:
        return None
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") else host


def urlsplit_host(url: str) -> str:
    """The lowercase host of ``url`` ("" when it has none or cannot be parsed)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def misleads(label: str, url: str) -> bool:
    """True when ``label`` names a host that ``url`` does not lead to."""
    target = urlsplit_host(url).rstrip(".")
    target = target[4:] if target.startswith("www.") else target
    for word in label.split():
        named = _host(word)
        if named is not None and not (target == named or target.endswith("." + named)):
            return True
    return False


def _honest(match: re.Match[str]) -> str:
    if match["md_url"] is not None:
        label, url = match["md_label"], match["md_url"]
    else:
        label, url = match["sl_label"], match["sl_url"]
    return url if misleads(label, url) else match.group(0)


def honest_links(text: str) -> str:
    """``text`` with every link whose text names another host shown as its real target."""
    return _LINK.sub(_honest, text)


def stable_honest_links(raw: str) -> str:
    """:func:`honest_links` of the part of a growing ``raw`` text that later text cannot change.

    A tail that may still become a link (``[https://good.example](https://ev``) is held back,
    so a streamed answer never shows a misleading link before its end arrives. Each result is
    a prefix of the result for any longer ``raw``, and of :func:`honest_links` of the final
    text.
    """
    tail = _OPEN_LINK.search(raw)
    if tail is None:
        return honest_links(raw)
    cut = tail.start()
    for match in _LINK.finditer(raw):
        if match.start() >= cut:
            break
        if cut < match.end():  # the open tail begins inside a finished link: hold it all
            cut = match.start()
            break
    return honest_links(raw[:cut])
