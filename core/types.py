"""Neutral conversation types shared by the core and every adapter.

Nothing here knows about Slack, Discord or HTTP: adapters turn platform events into
:class:`Question` objects and render :class:`Reply` objects natively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

#: A ``ThreadKey.workspace`` starting with this belongs to no organisation (a direct message
#: outside any server, e.g. Discord's ``"@dm"``): all of them share one workspace limit.
PERSONAL_PREFIX: Final = "@"

#: A whole number as people and our own ids write it: ASCII digits only (at most 18, well
#: within a 64-bit integer and Python's 4,300-digit ``int`` limit). ``str.isdigit`` also
#: accepts ``²`` (which ``int`` refuses) and ``١`` (which ``int`` reads as 1).
_ASCII_DIGITS: Final = re.compile(r"[0-9]{1,18}", re.ASCII)


def whole_number(text: str) -> int | None:
    """``text`` as a non-negative whole number of at most 18 ASCII digits, else ``None``."""
    return int(text) if _ASCII_DIGITS.fullmatch(text) else None


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """Where a conversation lives on a platform.

    ``workspace`` is the Slack team (or enterprise) id, the Discord guild id, or ``"dm"``;
    ``thread`` is the thread root (Slack ``thread_ts``, Discord thread/channel id) or ``""``
    when the whole channel is one conversation (a DM).
    """

    platform: str
    workspace: str
    channel: str
    thread: str = ""

    def as_str(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}:{self.thread}"


@dataclass(frozen=True, slots=True)
class Source:
    """A document that grounded an answer. Either ``title`` or ``url`` is always set."""

    title: str
    url: str | None = None
    publisher: str | None = None
    author: str | None = None
    snippet: str | None = None

    @property
    def label(self) -> str:
        return self.title or self.url or ""


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """Per-workspace/per-channel knobs passed to Gloo with every question."""

    publishers: tuple[str, ...] = ()
    character_limit: int | None = None
    sources_limit: int | None = None
    intent: int | None = None
    enable_sources: bool = True
    enable_suggestions: bool = True
    #: Completions V2 ``tradition`` (see :data:`TRADITIONS`); ``None``: Gloo's default.
    tradition: str | None = None
    #: Completions V2 ``model_family`` routing (see :data:`MODEL_FAMILIES`); ``None``:
    #: ``GLOO_COMPLETIONS_MODEL`` or Gloo's automatic routing.
    model_family: str | None = None
    #: "Ask Gloo about this" (Slack's message shortcut, Discord's message command) answers here.
    enable_shortcuts: bool = True


#: The ``tradition`` values Gloo's Completions V2 reference lists.
TRADITIONS: Final = ("evangelical", "catholic", "mainline", "not_faith_specific")
#: The ``model_family`` values Gloo's Completions V2 reference lists.
MODEL_FAMILIES: Final = ("openai", "anthropic", "google", "open source")


@dataclass(frozen=True, slots=True)
class Question:
    """One user question, as an adapter hands it to the core."""

    thread: ThreadKey
    text: str
    user_id: str = ""
    user_name: str = ""
    message_ref: str | None = None  # the platform id of the question message, if any
    #: The asker's locale tag as the platform gives it (``"es-ES"``, ``"pt-BR"``; ``""``:
    #: unknown, English): the bot's own sentences for this question are said in it
    #: (:func:`core.i18n.localize`), Gloo's answer is not translated.
    locale: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """A finished answer, neutral: each adapter renders it natively."""

    text: str
    sources: tuple[Source, ...]
    suggestions: tuple[str, ...]
    answer_id: str
    chat_id: str

    def suggestion_ref(self, index: int) -> str:
        """The short id a suggestion button carries (well under 100 characters)."""
        return suggestion_ref(self.answer_id, index)


def suggestion_ref(answer_id: str, index: int) -> str:
    return f"{answer_id}:{index}"


def parse_suggestion_ref(ref: str) -> tuple[str, int] | None:
    """Inverse of :func:`suggestion_ref`; ``None`` for anything malformed."""
    answer_id, sep, index = ref.rpartition(":")
    number = whole_number(index) if len(ref) <= 100 else None
    if not sep or not answer_id or number is None:
        return None
    return answer_id, number


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of streamed answer text. ``text`` is everything so far, ``delta`` the new part."""

    delta: str
    text: str


@dataclass(frozen=True, slots=True)
class SearchingSources:
    """A step of the answer: Gloo is searching its sources (a grounded or
    publisher-filtered question), said when the question goes to Gloo."""


@dataclass(frozen=True, slots=True)
class SourcesFound:
    """A step of the answer: the search is over; ``sources`` are the ones the answer shows
    (none: it shows none, e.g. the channel hides them)."""

    sources: tuple[Source, ...] = ()


#: What really happened on the way to an answer, for surfaces that show steps.
Step = SearchingSources | SourcesFound


@dataclass(frozen=True, slots=True)
class HistoryMessage:
    role: str  # "user" or "assistant"
    text: str
    timestamp: datetime | None = None
    sources: tuple[Source, ...] = ()
    suggestions: tuple[str, ...] = ()
    user_id: str = ""  # who asked (the platform's user id), when the history tells; else ""


@dataclass(frozen=True, slots=True)
class ChatHistory:
    chat_id: str
    title: str | None = None
    messages: tuple[HistoryMessage, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class AnswerContext:
    """What answering a question needs from the store, read when the question is claimed.

    ``settings`` is the most specific stored row for the question's channel: the channel's,
    else its workspace's (channel ``""``), else ``None`` (the service's defaults apply).
    ``chat_id`` is the Gloo chat bound to the question's thread, or ``None``.
    """

    settings: ChannelSettings | None
    chat_id: str | None


@dataclass(frozen=True, slots=True)
class Job:
    """One accepted question, with everything needed to answer it on its platform.

    ``key`` is unique per platform question and stable across redeliveries, e.g.
    ``slack:T1:C1:1700000000.000100`` (the message) or ``discord:interaction:123``.
    ``chat_id`` continues a specific Gloo chat (a clicked suggestion). ``posted`` lists the
    platform message ids already posted for this answer by earlier attempts, oldest first.
    ``context`` is filled by the inbox's claims (never stored, not compared): the settings
    and bound chat read in the claim's own transaction, so answering needs no other read.
    """

    key: str
    question: Question
    chat_id: str | None = None
    posted: tuple[str, ...] = ()
    attempt: int = 1
    accepted_at: datetime | None = None  # set when the inbox accepts it
    context: AnswerContext | None = field(default=None, compare=False)


#: The kinds of subject an access rule names, and what it does to them.
ACCESS_KINDS: Final = ("user", "channel", "role")
ACCESS_EFFECTS: Final = ("allow", "block")


@dataclass(frozen=True, slots=True)
class AccessRule:
    """One entry of a workspace's access lists: allow or block a user, channel or role.

    A subject is on at most one list: allowing someone who was blocked replaces the block.
    """

    platform: str
    workspace: str
    kind: str  # one of ACCESS_KINDS
    subject: str  # the platform's id of the user, channel or role
    effect: str  # one of ACCESS_EFFECTS
    added_by: str = ""
    added_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who changed what, when: one settings or access-list change.

    ``channel`` is ``""`` for a workspace-wide change (access lists); ``change`` is a short
    description for people, e.g. ``"publishers: all → A, B"``.
    """

    platform: str
    workspace: str
    channel: str
    actor: str
    action: str  # "settings" or "access"
    change: str
    at: datetime | None = None
