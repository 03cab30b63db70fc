"""Intake hygiene: the one place a question is made safe to store and checked before Gloo.

Every platform hands questions to the core through :meth:`core.delivery.Dispatcher.submit`
(stored in the inbox) and :meth:`core.service.ConversationService.stream` (asked of Gloo);
both go through here, so no adapter repeats these rules:

* :func:`clean_job` removes what no database or renderer should get: control characters
  (U+0000 made PostgreSQL refuse the whole question), lone surrogates (not encodable as
  UTF-8), bidirectional controls (:data:`BIDI_CONTROLS`: they reorder the text shown around
  them), and ``\\r`` line ends (``\\r\\n`` and ``\\r`` become ``\\n``). Tabs and line breaks
  stay. Adapters show text people sent back to others ("asked" lines) through :func:`clean`.
* :func:`refusal` gives the plain sentence for a question that is not worth sending: text of
  only invisible characters (spaces, zero-width characters, a byte-order mark, fillers) is
  empty, and text longer than ``QUESTION_MAX_CHARS`` is refused with the limit stated.

Nothing is lost silently: a refused question gets its sentence through the platform's
responder (as any failed question does), and the log says why, without the text.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Final

from core import messages
from core.i18n import Message, t
from core.types import Job, Question

__all__ = [
    "BIDI_CONTROLS",
    "clean",
    "clean_job",
    "clean_question",
    "is_blank",
    "is_plain_id",
    "refusal",
    "too_long",
]

#: Unicode's bidirectional controls: embeddings and overrides (U+202A-U+202E), isolates
#: (U+2066-U+2069) and the marks (U+200E, U+200F, U+061C). They reorder how the text
#: around them is shown ("Trojan Source", CVE-2021-42574), so a question holding them
#: could read differently to Gloo, to the log and to the people its "asked" line is shown to.
BIDI_CONTROLS: Final = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
#: C0 and C1 controls except tab and line feed, lone surrogates (U+D800-U+DFFF) and the
#: bidirectional controls.
_UNSAFE: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff" + BIDI_CONTROLS + "]")
_LINE_ENDS: Final = re.compile(r"\r\n?")

#: Characters that render as nothing although Unicode files them as letters or symbols
#: (Hangul fillers, the braille blank, the combining grapheme joiner, Khmer inherent vowels,
#: variation selectors). Format characters (Cf: zero-width space and joiners, BOM, word
#: joiner, tags, bidi marks) and separators (Z*) are invisible by category.
_INVISIBLE_CHARS: Final = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5\u180b\u180c\u180d\u180f"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
)
_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})


def clean(text: str) -> str:
    """``text`` without control characters, bidirectional controls or lone surrogates, with
    ``\\n`` line ends."""
    return _UNSAFE.sub("", _LINE_ENDS.sub("\n", text))


#: The longest id a platform hands back to us (a button value, a custom_id) that we look up.
MAX_ID_CHARS: Final = 200


def is_plain_id(value: str) -> bool:
    """True when ``value`` can be an id we issued (an answer id from a button): not empty,
    at most :data:`MAX_ID_CHARS`, no spaces, nothing :func:`clean` would remove.

    Anything else is looked up nowhere: a database refuses U+0000 and lone surrogates.
    """
    return (
        0 < len(value) <= MAX_ID_CHARS
        and not any(char.isspace() for char in value)
        and clean(value) == value
    )


def _invisible(char: str) -> bool:
    if char in _INVISIBLE_CHARS or char.isspace():
        return True
    if 0xE0100 <= ord(char) <= 0xE01EF:  # variation selectors supplement
        return True
    return unicodedata.category(char) in _INVISIBLE_CATEGORIES


def is_blank(text: str) -> bool:
    """True when nothing in ``text`` would show: empty, or only invisible characters."""
    return all(_invisible(char) for char in text)


def too_long(chars: int, limit: int) -> Message:
    """The sentence for a question of ``chars`` characters over the ``limit``."""
    return t(
        "Your question is {chars} characters long; I can take at most {limit}. "
        "Please shorten it and ask again.",
        chars=chars,
        limit=limit,
    )


def refusal(text: str, max_chars: int | None) -> str | None:
    """The sentence for a question not to send to Gloo, or ``None`` when it may go.

    ``text`` is the cleaned question; ``max_chars`` the longest question accepted (``None``:
    no limit). Length is counted after surrounding whitespace is removed.
    """
    if is_blank(text):
        return messages.EMPTY_QUESTION
    length = len(text.strip())
    if max_chars is not None and length > max_chars:
        return too_long(length, max_chars)
    return None


def clean_question(question: Question) -> Question:
    """``question`` with every text field cleaned (ids included: they are stored too)."""
    thread = question.thread
    return dataclasses.replace(
        question,
        thread=dataclasses.replace(
            thread,
            platform=clean(thread.platform),
            workspace=clean(thread.workspace),
            channel=clean(thread.channel),
            thread=clean(thread.thread),
        ),
        text=clean(question.text),
        user_id=clean(question.user_id),
        user_name=clean(question.user_name),
        message_ref=None if question.message_ref is None else clean(question.message_ref),
        locale=clean(question.locale),
    )


def clean_job(job: Job) -> Job:
    """``job`` safe to store: its key, question and ids cleaned (see :func:`clean`)."""
    return dataclasses.replace(
        job,
        key=clean(job.key),
        question=clean_question(job.question),
        chat_id=None if job.chat_id is None else clean(job.chat_id),
        posted=tuple(clean(ref) for ref in job.posted),
    )
