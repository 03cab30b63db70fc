"""Platform-neutral text fitting: splitting long answers and shortening labels.

Every platform renderer has hard limits (Slack: 12,000 characters per markdown block,
75 per button; Discord: 2,000 per message, 80 per label). These helpers never lose text:
:func:`split_text` cuts at the most natural boundary that fits and keeps code fences
balanced in every piece; :func:`ellipsize` marks what it shortens.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import tldextract
from markdown_it import MarkdownIt, rules_inline
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

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
# Model output (and anything else the bot shows) can carry a link whose visible text names
# another host: ``[https://good.example](https://evil.example)`` (Markdown: Slack's markdown
# block and Discord render it as a link labelled with the first address) or
# ``<https://evil.example|https://good.example>`` (Slack mrkdwn). Shown as written, a reader
# sees one address and opens another. :func:`honest_links` replaces every such link by its
# real target, written as a bare address (which Slack, Discord and a terminal all show as
# itself); links with ordinary text, or text naming the target's own host, stay as written.
#
# Links are found by a CommonMark parser (markdown-it-py) rather than patterns, so every
# form CommonMark accepts is seen: angle-bracket destinations, any title quoting, line
# breaks inside, labels of any length. The parser reads more than a strict renderer would:
# indented and fenced code, HTML and reference definitions are read as ordinary text
# (Discord renders none of them, so links inside them are live there). Reference-style links
# cannot be made honest in place (a definition may arrive after its use), so definitions are
# never live in the output: ``[x]: url`` at the start of a line is written ``[x]\: url``.
# Discord's own parser reads some masked links CommonMark does not (``[a](<url)``): those are
# found by simple-markdown's pattern too (:data:`_LOOSE_LINK`).
# Hosts in labels are recognised by the Public Suffix List (tldextract's bundled snapshot,
# never fetched) after NFKC normalisation and removal of invisible (format) characters.

_MARKDOWN = (
    MarkdownIt("commonmark")
    .disable(["code", "fence", "html_block", "reference"])
    .disable("html_inline")
)
_MARKDOWN.validateLink = lambda url: True  # type: ignore[method-assign]  # judge every link
_SUFFIXES = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
# Names reserved by RFC 2606 / RFC 6761: not in the Public Suffix List, yet addresses to a reader.
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})
# Suffixes far more often a file's extension than a site (``README.md``): such a bare name is
# an address only with a scheme, ``www.`` or a path. Any other file-like name (``app.zip``) is
# taken as an address: a label wrongly taken for one only loses its text, never its target.
_FILE_SUFFIXES = frozenset({"md"})
# A Slack label is read up to the next ">" (any length, line breaks included) but not over a
# blank line: streamed text must settle where a paragraph ends (a known limit of this rule).
_BREAK = r"(?:\r\n|\r(?!\n)|\n)"  # one line break, as CommonMark counts them
_SLACK_LABEL = rf"(?:[^>\r\n]|{_BREAK}(?![ \t]*{_BREAK}))*"
_SLACK_LINK = re.compile(rf"<(?P<url>[a-z][^\s<>|]*)\|(?P<label>{_SLACK_LABEL})>", re.IGNORECASE)
_SLACK_OPEN = re.compile(rf"<(?:[a-z][^\s<>|]*(?:\|{_SLACK_LABEL})?)?\Z", re.IGNORECASE)
# The masked link of simple-markdown (the parser Discord's client grew from), which reads
# more than CommonMark: ``[a](<https://evil.example)``, mismatched title quotes. Its label is
# read as CommonMark's is (up to the first "]" outside brackets: simple-markdown also lets a
# "]" followed later by another stay in the label, which no streamed text could settle).
# Labels are capped at a Discord message (2,000 characters), which bounds the work.
_LOOSE_LINK = re.compile(
    r"\[(?P<label>(?:\[[^\]]*\]|[^\[\]]){0,2000})\]"
    r"\(\s*<?(?P<url>(?:\([^)]*\)|[^\s\\]|\\.)*?)>?(?:\s+['\"][\s\S]*?['\"])?\s*\)"
)
_SCHEME_HOST = re.compile(
    r"[a-z][a-z0-9+.\-]*://(?:[^\s/?#@]*@)?(?P<host>\[[0-9a-f:.]+\]|[\w.\-~%]+)", re.IGNORECASE
)
_NAME = re.compile(r"(?<![\w.\-])(?P<name>(?:[\w\-]+\.)+[\w\-]+)\.?(?P<more>(?::\d+)?[/?#])?")
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_BLANK_LINE = re.compile(rf"{_BREAK}[ \t]*{_BREAK}")
_PARAGRAPHS = re.compile(rf"({_BREAK}[ \t]*{_BREAK})")  # split, keeping the blank lines
_LINE_BREAK = re.compile(r"\r\n?|\n")
# A label at the start of a line (after block quote and list markers) followed by ``]:``.
_DEFINITION_START = re.compile(r"(?:[ \t]*(?:>|[*+\-](?=[ \t])|\d{1,9}[.)](?=[ \t])))*[ \t]*\[")
_UNSAFE_IN_URL = frozenset("[]<>|\\`!")


@dataclass(frozen=True)
class Link:
    """A link found in a text: where it is, its text and its target."""

    start: int
    end: int
    label: str  # as written (what a renderer without Markdown shows)
    shown: str  # as rendered (entities and escapes resolved)
    url: str
    label_end: int = -1  # where the written label ends (Markdown links)


@dataclass
class _Found:
    links: list[Link] = field(default_factory=list)
    opaque: dict[int, int] = field(default_factory=dict)  # code spans, autolinks: start → end


def _spy(rule: Callable[[StateInline, bool], bool], image: bool) -> Callable[..., bool]:
    """``rule`` (markdown-it's link or image rule), also noting each link it reads."""

    def spying(state: StateInline, silent: bool) -> bool:
        start, first = state.pos, len(state.tokens)
        found: list[tuple[int, int, int, str, str]] | None = state.env.get("_links")
        label_end = -1
        if found is not None and state.src is state.env.get("_src"):
            opener = start + 1 if image else start
            if opener < state.posMax and state.src[opener] == "[":
                label_end = state.md.helpers.parseLinkLabel(state, opener, not image)
        if not rule(state, silent):
            return False
        if found is not None and not silent and label_end >= 0:
            tokens = state.tokens[first:]
            url = ""
            for index, token in enumerate(tokens):
                if token.type in ("link_open", "image"):
                    url = str(token.attrs.get("href" if token.type == "link_open" else "src", ""))
                    tokens = tokens[index:]  # not the text before, which the rule flushed
                    break
            found.append((start, state.pos, label_end, url, _rendered(tokens)))
        return True

    return spying


def _rendered(tokens: list[Token]) -> str:
    parts: list[str] = []
    for token in tokens:
        if token.children:
            parts.append(_rendered(token.children))
        elif token.type in ("text", "text_special", "code_inline"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def _spy_opaque(rule: Callable[[StateInline, bool], bool]) -> Callable[..., bool]:
    """``rule`` (code spans, autolinks), also noting the span it takes."""

    def spying(state: StateInline, silent: bool) -> bool:
        start, first = state.pos, len(state.tokens)
        if not rule(state, silent):
            return False
        opaque: list[tuple[int, int]] | None = state.env.get("_opaque")
        taken = any(t.type in ("code_inline", "link_open") for t in state.tokens[first:])
        if opaque is not None and taken and state.src is state.env.get("_src"):
            opaque.append((start, state.pos))  # an unmatched backtick run is taken as text
        return True

    return spying


_MARKDOWN.inline.ruler.at("link", _spy(rules_inline.link, image=False))
_MARKDOWN.inline.ruler.at("image", _spy(rules_inline.image, image=True))
_MARKDOWN.inline.ruler.at("backticks", _spy_opaque(rules_inline.backtick))
_MARKDOWN.inline.ruler.at("autolink", _spy_opaque(rules_inline.autolink))


def _find(text: str) -> _Found:
    """Every Markdown link and image in ``text`` (positions in ``text``), and its code spans
    and autolinks; Slack links are not included."""
    found = _Found()
    lines = _LINE_BREAK.split(text)
    starts = [0]
    for match in _LINE_BREAK.finditer(text):
        starts.append(match.end())
    normalised = "\n".join(lines).replace("\x00", "\ufffd")
    for token in _MARKDOWN.parse(normalised):
        if token.type != "inline" or token.map is None:
            continue
        where = _positions(token.content, token.map[0], lines, starts)
        env: dict[str, Any] = {"_src": token.content, "_links": [], "_opaque": []}
        _MARKDOWN.inline.parse(token.content, _MARKDOWN, env, [])
        for start, end, label_end, url, shown in env["_links"]:
            begin = where(start)
            label_start = start + (2 if token.content[start] == "!" else 1)
            found.links.append(
                Link(
                    start=begin,
                    end=where(end - 1) + 1,
                    label=token.content[label_start:label_end],
                    shown=shown,
                    url=url,
                    label_end=where(label_end),
                )
            )
        for start, end in env["_opaque"]:
            found.opaque[where(start)] = where(end - 1) + 1
    return found


def _positions(
    content: str, first_line: int, lines: list[str], starts: list[int]
) -> Callable[[int], int]:
    """A map from positions in a block's inline ``content`` to positions in the text.

    markdown-it gives each block's text with container markers and indentation removed;
    each of its lines is the end of the source line it came from (the last one trimmed)."""
    offsets: list[tuple[int, int, int]] = []  # (content line start, skipped, text position)
    at = 0
    for number, line in enumerate(content.split("\n")):
        core = line.lstrip(" \t")
        skipped = len(line) - len(core)
        source = lines[first_line + number] if first_line + number < len(lines) else ""
        source = source.replace("\x00", "\ufffd")
        column = len(source) - len(core) if source.endswith(core) else source.rfind(core)
        offsets.append(
            (at, skipped, starts[min(first_line + number, len(starts) - 1)] + max(column, 0))
        )
        at += len(line) + 1

    def where(position: int) -> int:
        for line_start, skipped, text_at in reversed(offsets):
            if position >= line_start:
                return text_at + max(position - line_start - skipped, 0)
        return offsets[0][2]

    return where


def _canonical(host: str) -> str:
    """``host`` as compared: lowercase ASCII (IDNA), no trailing dot, no ``www.``."""
    host = host.lower().rstrip(".")
    with contextlib.suppress(UnicodeError):  # not a name IDNA can write: compared as written
        host = host.encode("idna").decode("ascii")
    return host[4:] if host.startswith("www.") else host


def _visible(label: str) -> str:
    """``label`` as a reader sees it: NFKC-normalised, invisible (format) characters removed,
    ideographic full stops read as dots."""
    text = unicodedata.normalize("NFKC", label)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return text.translate(_DOTS)


def _is_host(name: str, *, written_as_address: bool) -> bool:
    """Whether a dotted ``name`` in a label reads as a host name."""
    name = name.lower().rstrip(".")
    last = name.rsplit(".", 1)[-1]
    if written_as_address:
        return bool(re.fullmatch(r"[^\W\d_]{2,63}|xn--[a-z0-9\-]+|\d{1,3}", last))
    if last in _RESERVED_TLDS:
        return True
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return True
    suffix = _SUFFIXES(name).suffix
    return bool(suffix) and suffix not in _FILE_SUFFIXES


def named_hosts(label: str) -> set[str]:
    """The hosts a link text names as a reader sees it (canonical form)."""
    text = _visible(label)
    hosts: set[str] = set()
    for match in _SCHEME_HOST.finditer(text):
        hosts.add(_canonical(match["host"].strip("[]")))
    for match in _NAME.finditer(text):
        name = match["name"]
        address = name.lower().startswith("www.") or match["more"] is not None
        if _is_host(name, written_as_address=address):
            hosts.add(_canonical(name))
    hosts.discard("")
    return hosts


def urlsplit_host(url: str) -> str:
    """The lowercase host of ``url`` ("" when it has none or cannot be parsed)."""
    try:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() == "mailto":
            return parts.path.rpartition("@")[2].lower()
        return (parts.hostname or "").lower()
    except ValueError:
        return ""


def _leads_to(target: str, named: str) -> bool:
    """Whether a link to ``target`` leads where a label naming ``named`` says: the same host
    or one of its subdomains (not merely a name under the same public suffix)."""
    if target == named:
        return True
    if not target.endswith("." + named):
        return False
    parts = _SUFFIXES(named, include_psl_private_domains=True)
    return bool(parts.domain) or named.rsplit(".", 1)[-1] in _RESERVED_TLDS


def misleads(label: str, url: str) -> bool:
    """True when ``label`` names a host that ``url`` does not lead to."""
    target = _canonical(urlsplit_host(url))
    return any(not _leads_to(target, named) for named in named_hosts(label))


def _inert_url(url: str) -> str:
    """``url`` written so that, put in place of a link, it cannot take part in another."""
    risky = _UNSAFE_IN_URL
    if url.startswith("(") or url.count("(") != url.count(")"):
        risky = risky | {"(", ")"}
    shown = "".join(
        f"%{ord(ch):02X}" if ch in risky or ch.isspace() or not ch.isprintable() else ch
        for ch in url
    )
    return shown or "#"


def _without_definitions(text: str) -> str:
    """``text`` with every line-start ``[label]:`` written ``[label]\\:``, so no renderer
    reads a reference definition (whose uses may come before it)."""
    out: list[str] = []
    done = 0
    line_starts = [0, *(match.end() for match in _LINE_BREAK.finditer(text))]
    for line_start in line_starts:
        opener = _DEFINITION_START.match(text, line_start)
        if opener is None:
            continue
        close = _label_close(text, opener.end())
        if close is not None and close + 1 < len(text) and text[close + 1] == ":":
            out.append(text[done : close + 1])
            out.append("\\")
            done = close + 1
    out.append(text[done:])
    return "".join(out)


def _label_close(text: str, position: int) -> int | None:
    """The ``]`` closing a label opened just before ``position`` (no brackets inside, no blank
    line), else ``None``."""
    while position < len(text):
        ch = text[position]
        if ch == "\\":
            position += 2
            continue
        if ch == "]":
            return position
        if ch == "[" or _BLANK_LINE.match(text, position):
            return None
        position += 1
    return None


def links_in(text: str) -> list[Link]:
    """Every link in ``text``: Markdown links and images (CommonMark's, and the looser ones
    Discord's parser also reads), and Slack's ``<url|label>``."""
    links = list(_find(text).links)
    for match in _SLACK_LINK.finditer(text):
        label = match["label"]
        links.append(Link(match.start(), match.end(), label, label, match["url"]))
    return links + _loose_links(text)


def _loose_links(text: str) -> list[Link]:
    """The looser (Discord) masked links in ``text`` that do not span a blank line."""
    found: list[Link] = []
    position = 0
    while (match := _LOOSE_LINK.search(text, position)) is not None:
        before = match.start()
        while before > 0 and text[before - 1] == "\\":
            before -= 1
        # An escaped "[" opens no link; nor is a link read over a blank line.
        if (match.start() - before) % 2 or _BLANK_LINE.search(match.group(0)):
            position = match.start() + 1
            continue
        label = match["label"]
        end = match.start() + 1 + len(label)
        found.append(Link(match.start(), match.end(), label, label, match["url"], end))
        position = match.end()
    return found


def _honest_once(text: str) -> str:
    lying = sorted(
        (
            link
            for link in links_in(text)
            if misleads(link.label, link.url) or misleads(link.shown, link.url)
        ),
        key=lambda link: (link.start, -link.end),
    )
    out: list[str] = []
    done = 0
    group: list[Link] = []

    def flush() -> None:
        nonlocal done
        if not group:
            return
        start, end = group[0].start, max(link.end for link in group)
        spans = {(link.start, link.end): link for link in group}  # one per span
        outer = [
            link
            for (start, end), link in spans.items()
            if not any((s, e) != (start, end) and s <= start and end <= e for s, e in spans)
        ]
        out.append(text[done:start])
        out.append(" ".join(_inert_url(link.url) for link in outer))
        done = end
        group.clear()

    for link in lying:
        if group and link.start >= max(g.end for g in group):
            flush()
        group.append(link)
    flush()
    out.append(text[done:])
    return "".join(out)


def honest_links(text: str) -> str:
    """``text`` with every link whose text names another host shown as its real target.

    Paragraphs (text between blank lines) are judged one by one: no link, code span or
    Slack link spans a blank line, and what is judged in one cannot change another. A
    paragraph already judged (a streamed answer's earlier ones) is not read again.
    """
    parts = _PARAGRAPHS.split(text)
    last = len(parts) - 1  # a streamed text's last paragraph is still growing: not kept
    return "".join(
        p if i % 2 else (_honest_paragraph(p) if i == last else _kept_paragraph(p))
        for i, p in enumerate(parts)
    )


@functools.lru_cache(maxsize=2048)
def _kept_paragraph(text: str) -> str:
    return _honest_paragraph(text)


def _honest_paragraph(text: str) -> str:
    """A replaced link may let the text around it form a new one (``[a [b](c)](d)``), so the
    rule is applied until nothing changes; each round removes a link's brackets, so it ends.
    """
    text = _without_definitions(text)
    while True:
        honest = _without_definitions(_honest_once(text))
        if honest == text:
            return text
        text = honest


def stable_honest_links(raw: str) -> str:
    """:func:`honest_links` of the part of a growing ``raw`` text that later text cannot change.

    A tail that may still become (or stop being) a link is held back, so a streamed answer
    never shows a misleading link before its end arrives. Each result is a prefix of the
    result for any longer ``raw``, and of :func:`honest_links` of the final text.
    """
    return honest_links(raw[: _stable_end(raw)])


def _stable_end(raw: str) -> int:
    """Where the part of ``raw`` that more text cannot change ends.

    Inline syntax never spans a blank line (the parser reads no code, HTML or definitions,
    which could), so only the last paragraph can change; in it, everything up to the first
    construct that is not yet decided is settled."""
    last = 0  # where the last paragraph starts: only it is read
    for match in _BLANK_LINE.finditer(raw):
        last = match.end()
    return last + _stable_end_in_paragraph(raw[last:])


def _stable_end_in_paragraph(raw: str) -> int:
    limit = len(raw)
    slack = _SLACK_OPEN.search(raw)
    if slack is not None:
        limit = slack.start()
    para = 0
    found = _find(raw)
    links: dict[int, list[Link]] = {}
    for link in [*found.links, *_loose_links(raw)]:
        links.setdefault(link.start, []).append(link)
    slack_links = {m.start(): m.end() for m in _SLACK_LINK.finditer(raw)}
    enclosing: list[tuple[int, int]] = []  # Slack links the scan is inside: (start, end)
    position = para
    while position < limit:
        while enclosing and position >= enclosing[-1][1]:
            enclosing.pop()
        step = _settled_step(raw, position, limit, links, found.opaque, slack_links, enclosing)
        if step is None:
            return _outside(position, links, found.opaque, slack_links)
        position = step if step > position else position + 1
    return _outside(limit, links, found.opaque, slack_links)


def _outside(
    cut: int, links: dict[int, list[Link]], opaque: dict[int, int], slack_links: dict[int, int]
) -> int:
    """``cut``, moved back to the start of every link or code span it would cut through (a
    code span may begin inside a Slack link and end after it, or the other way round)."""
    spans = [(link.start, link.end) for read in links.values() for link in read]
    spans += [*opaque.items(), *slack_links.items()]
    moved = True
    while moved:
        moved = False
        for start, end in spans:
            if start < cut < end:
                cut, moved = start, True
    return cut


def _settled_step(
    raw: str,
    position: int,
    limit: int,
    links: dict[int, list[Link]],
    opaque: dict[int, int],
    slack_links: dict[int, int],
    enclosing: list[tuple[int, int]],
) -> int | None:
    """Where scanning goes on after the character at ``position``, or ``None`` when what
    starts there is not yet decided."""
    ch = raw[position]
    decided = len(raw)  # a construct ending at the very end may still grow
    if ch == "\\":
        return position + 2 if position + 1 < limit else None
    if ch == "`":
        end = opaque.get(position)
        return end if end is not None and end < decided and end <= limit else None
    if ch == "!" and position + 1 >= limit:
        return None
    if ch == "[" or (ch == "!" and raw[position + 1] == "["):
        opener = position + (1 if ch == "!" else 0)
        read = links.get(position)
        if read and all(link.end < decided and link.end <= limit for link in read):
            if not any(c in "[`<\\" for link in read for c in raw[opener + 1 : link.label_end]):
                return max(link.end for link in read)
            return None
        if ch == "!":  # no image (yet): decided only when the "[" that follows is
            return _settled_step(raw, opener, limit, links, opaque, slack_links, enclosing)
        close = _label_close(raw, position + 1)
        if close is None or close + 1 >= limit or raw[close + 1] == "(":
            return None
        if any(c in "`<" for c in raw[position + 1 : close]):
            return None
        return close + 1
    if ch == "<":
        if position + 1 >= limit:
            return None
        if raw[position + 1].isspace():
            return position + 1
        end = opaque.get(position)
        if end is not None and end < decided and end <= limit:
            return end
        slack_end = slack_links.get(position)
        if slack_end is not None:
            enclosing.append((position, slack_end))
            return position + 1
        if raw.find(">", position, limit) < 0:
            return None
        return position + 1
    return position + 1
