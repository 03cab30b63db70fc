"""Platform-neutral text fitting: splitting long answers and shortening labels.

Every platform renderer has hard limits (Slack: 12,000 characters per markdown block,
75 per button; Discord: 2,000 per message, 80 per label). These helpers never lose text:
:func:`split_text` cuts at the most natural boundary that fits and keeps code fences
balanced in every piece; :func:`ellipsize` marks what it shortens.
"""

from __future__ import annotations

import re

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
