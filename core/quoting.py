"""A question about a quoted message ("Ask Gloo about this"), within the question length cap.

Slack's message shortcut and Discord's message command ask Gloo about a message someone
else wrote. Gloo gets one question: the quoted message, then what the person asked about
it, for example::

    About this message:
    > We meet at the river at dawn.
    > Bring a lantern.

    Explain this

The adapters first make the quoted text readable as a person sees it (Slack's tokens and
Discord's mentions become ``@names``, the way questions are read); this module cleans it
with the core's intake rule (:func:`core.intake.clean`) and fits the whole question within
``QUESTION_MAX_CHARS``: the person's question is kept whole when it fits, and the quote is
shortened (ending in ``…``) to leave it room. The intake then checks the result like any
question, so nothing here can send Gloo more than the cap.
"""

from __future__ import annotations

from typing import Final

from core.intake import clean, is_blank

__all__ = ["DEFAULT_QUESTION", "QUOTE_HEADER", "quoted_question"]

#: What is asked when the person asks nothing more.
DEFAULT_QUESTION: Final = "Explain this"
QUOTE_HEADER: Final = "About this message:"
_ELLIPSIS: Final = "…"


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.split("\n"))


def quoted_question(quote: str, question: str, max_chars: int | None) -> str:
    """The question Gloo gets about ``quote`` (see the module docstring).

    ``question`` blank means :data:`DEFAULT_QUESTION`; a blank ``quote`` (a message of only
    attachments) leaves the question alone. With ``max_chars`` the result is at most that
    long; a question that alone is longer is returned whole, for the intake to refuse with
    its sentence stating the limit.
    """
    asked = " ".join(clean(question).split())
    if is_blank(asked):
        asked = DEFAULT_QUESTION
    body = "\n".join(line.rstrip() for line in clean(quote).strip().split("\n"))
    if is_blank(body):
        return asked
    whole = f"{QUOTE_HEADER}\n{_quoted(body)}\n\n{asked}"
    if max_chars is None or len(whole) <= max_chars:
        return whole
    room = max_chars - len(f"{QUOTE_HEADER}\n\n\n{asked}")  # what the quote may take
    if room < len(_quoted(_ELLIPSIS)):
        return asked
    kept = body[:room]
    while len(_quoted(kept.rstrip() + _ELLIPSIS)) > room:  # "> " costs two more a line
        kept = kept[: len(kept) - max(1, len(_quoted(kept.rstrip() + _ELLIPSIS)) - room)]
    return f"{QUOTE_HEADER}\n{_quoted(kept.rstrip() + _ELLIPSIS)}\n\n{asked}"
