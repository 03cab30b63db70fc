"""Ports: what the conversation service needs from the outside, as Protocols.

The composition root (:mod:`core.bootstrap`) plugs real implementations in; tests plug
fakes or the same implementations pointed at local fakes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

from core.gloo.backend import GlooBackend
from core.types import AccessRule, AuditEntry, ChannelSettings, Job, Source, ThreadKey

__all__ = [
    "QUOTA_ERROR",
    "AccessStore",
    "AnswerRecord",
    "Change",
    "ChangeStore",
    "ConversationStore",
    "ConversationSummary",
    "FactStore",
    "Finished",
    "GlooBackend",
    "Inbox",
    "InstallationStore",
    "LearnedFact",
    "QuotaCounts",
    "Store",
]

#: ``last_error`` of inbox questions refused for being over a quota.
QUOTA_ERROR: Final = "quota"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """Everything the bot keeps about one answer, so buttons work after a restart."""

    answer_id: str
    thread: ThreadKey
    chat_id: str
    question: str
    text: str
    sources: tuple[Source, ...] = ()
    suggestions: tuple[str, ...] = ()
    user_id: str = ""
    gloo_message_id: str | None = None
    gloo_query_id: str | None = None
    platform_message_ids: tuple[str, ...] = ()
    created_at: datetime = field(default_factory=utcnow)


class ConversationStore(Protocol):
    """Persistence for thread→chat mappings, answers, feedback and channel settings."""

    async def get_chat_id(self, thread: ThreadKey) -> str | None:
        """The Gloo chat bound to this thread, or ``None`` (new thread, or reset)."""
        ...

    async def bind_chat_id(self, thread: ThreadKey, chat_id: str) -> str:
        """Bind ``chat_id`` to ``thread`` unless one is bound already; return the bound one.

        Race-free: a unique constraint underneath decides, the loser gets the winner's id.
        """
        ...

    async def forget_thread(self, thread: ThreadKey) -> bool:
        """Unbind the thread's chat (a reset). True if something was bound."""
        ...

    async def save_answer(self, answer: AnswerRecord) -> None: ...

    async def get_answer(self, answer_id: str) -> AnswerRecord | None: ...

    async def chat_answers(self, chat_id: str, limit: int) -> list[AnswerRecord]:
        """The newest ``limit`` answers given on ``chat_id``, oldest first."""
        ...

    async def prune_answers(self, before: datetime) -> int:
        """Forget answers given before ``before`` (retention)."""
        ...

    async def add_platform_message_ids(self, answer_id: str, message_ids: Sequence[str]) -> None:
        """Record the platform messages that show this answer (order kept, no duplicates)."""
        ...

    async def set_feedback(self, answer_id: str, user_id: str, value: int) -> None:
        """Store a user's 👍 (+1) or 👎 (-1) on an answer; a second vote replaces the first."""
        ...

    async def get_feedback(self, answer_id: str) -> dict[str, int]:
        """user_id → vote for one answer."""
        ...

    async def get_channel_settings(
        self, platform: str, workspace: str, channel: str
    ) -> ChannelSettings | None:
        """The most specific stored settings: the channel's, else the workspace's (channel
        ``""``), else ``None``."""
        ...

    async def save_channel_settings(
        self, platform: str, workspace: str, channel: str, settings: ChannelSettings
    ) -> None:
        """Upsert; ``channel=""`` stores workspace-wide settings."""
        ...

    async def schema_is_current(self) -> bool:
        """True when the database schema is at the newest migration."""
        ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        ...

    async def close(self) -> None: ...

    async def user_conversations(
        self, platform: str, workspace: str, user_id: str, limit: int
    ) -> list[ConversationSummary]:
        """The ``limit`` conversations ``user_id`` asked in most recently, newest first.

        Only a thread's current chat counts (a reset thread's old chat is gone).
        """
        ...

    async def list_channel_settings(
        self, platform: str, workspace: str
    ) -> dict[str, ChannelSettings]:
        """Every stored settings row of a workspace by channel (``""``: workspace-wide)."""
        ...


@dataclass(frozen=True, slots=True)
class QuotaCounts:
    """Questions accepted recently, as usage limits count them."""

    user_minute: int
    user_day: int
    workspace_day: int


class InstallationStore(Protocol):
    """Platform app installations (multi-workspace OAuth) and one-time OAuth states.

    Installation data is the platform adapter's JSON document; ``""`` stands for an absent
    enterprise or user id.
    """

    async def save_installation(
        self,
        platform: str,
        enterprise_id: str,
        team_id: str,
        user_id: str,
        data: dict[str, Any],
    ) -> None: ...

    async def find_installation(
        self, platform: str, enterprise_id: str, team_id: str, user_id: str | None = None
    ) -> dict[str, Any] | None:
        """With ``user_id=None``: the team's newest installation."""
        ...

    async def delete_installations(
        self, platform: str, enterprise_id: str, team_id: str, user_id: str | None = None
    ) -> int: ...

    async def save_oauth_state(self, state: str, expires_at: datetime) -> None: ...

    async def consume_oauth_state(self, state: str) -> bool:
        """True exactly once for a state that was saved and has not expired."""
        ...

    async def prune_oauth_states(self) -> int:
        """Delete expired OAuth states; how many went."""
        ...

    def use_encryption_keys(self, keys: tuple[str, ...]) -> None:
        """Encrypt installation data at rest with these Fernet keys (the first encrypts)."""
        ...

    async def reseal_installations(self) -> int:
        """Encrypt again, with the first key, what is stored in plain text or an older key."""
        ...


@dataclass(frozen=True, slots=True)
class Finished:
    """What :meth:`Inbox.finish_answered` did.

    ``finished``: the claim was still the caller's and the question is now answered (False:
    the claim had been lost; the answer and the binding were stored all the same).
    ``next_key``: the thread's oldest pending question, to start next (``None``: none).
    ``bound_chat_id``: with ``bind``, the chat bound to the thread afterwards (the answer's,
    or the one an earlier answer bound first); ``None`` without ``bind``.
    ``edited_text``: the question's asker edited it while it was being answered (its new
    text, to offer beneath the answer; see :mod:`core.edits`), else ``None``.
    """

    finished: bool
    next_key: str | None
    bound_chat_id: str | None
    edited_text: str | None = None


class Inbox(Protocol):
    """Accepted questions, kept until answered (see :mod:`core.store.inbox`)."""

    async def accept(self, job: Job, *, gathering_until: datetime | None = None) -> bool:
        """Store the job as pending (or, with ``gathering_until``, as the first message of a
        burst gathering until then); False when its key was accepted before."""
        ...

    async def add_burst_part(self, burst_key: str, part: Job, until: datetime) -> bool | None:
        """Add ``part`` to a gathering burst, its window now ending at ``until``: True; None
        when ``part`` was accepted before; False when the burst is no longer gathering."""
        ...

    async def open_burst(self, key: str) -> bool:
        """Close a burst's window: its joined question becomes pending (False: not gathering)."""
        ...

    async def open_due_bursts(self, platforms: Collection[str]) -> list[str]:
        """Open the bursts of ``platforms`` whose window has passed; their keys."""
        ...

    async def claim(self, key: str, owner: str, lease: timedelta) -> Job | None:
        """Take the question ``key`` if it is claimable now, its ``context`` filled (one
        transaction)."""
        ...

    async def claim_due(
        self, owner: str, lease: timedelta, *, platforms: Collection[str], limit: int
    ) -> list[Job]:
        """Take up to ``limit`` claimable questions, oldest first, each ``context`` filled
        (one transaction)."""
        ...

    async def next_in_thread(self, thread: ThreadKey) -> str | None: ...

    async def has_questions(self, thread: ThreadKey) -> bool: ...

    async def known_messages(self, thread: ThreadKey) -> set[str]: ...

    async def extend_leases(self, owner: str, lease: timedelta) -> set[str]: ...

    async def set_posted(self, key: str, owner: str, posted: Sequence[str]) -> None:
        """Record ``posted``, every message shown for the question so far (the owner's whole
        list), if ``owner`` holds it."""
        ...

    async def finish(
        self, key: str, owner: str, outcome: Literal["answered", "failed"], error: str | None = None
    ) -> bool: ...

    async def finish_answered(
        self,
        key: str,
        owner: str,
        answer: AnswerRecord | None,
        *,
        bind: bool,
        posted: Sequence[str],
    ) -> Finished:
        """End an answered question in one transaction: store ``answer`` (if any) with
        ``posted`` as its platform message ids, bind its chat to its thread when ``bind``
        (first binding wins), mark the question answered with ``posted`` (the owner's whole
        list, as :meth:`set_posted` takes it) if ``owner`` still holds it, and then name the
        thread's next pending question."""
        ...

    async def release(
        self, key: str, owner: str, retry_at: datetime, error: str | None
    ) -> bool: ...

    async def release_all(self, owner: str) -> int: ...

    async def quota_counts(
        self, platform: str, workspace: str, user_id: str, until: datetime
    ) -> QuotaCounts: ...

    async def inbox_counts(self) -> dict[str, int]: ...

    async def prune_inbox(self, before: datetime) -> int: ...


class AccessStore(Protocol):
    """Access lists per workspace and the audit trail of settings and access changes."""

    async def access_rules(self, platform: str, workspace: str) -> list[AccessRule]:
        """Every rule of the workspace, oldest first."""
        ...

    async def save_access_rule(self, rule: AccessRule) -> None:
        """Upsert on (platform, workspace, kind, subject): a subject is on one list at most."""
        ...

    async def delete_access_rule(
        self, platform: str, workspace: str, kind: str, subject: str
    ) -> bool:
        """Take the subject off whichever list it is on; False when it was on none."""
        ...

    async def add_audit_entry(self, entry: AuditEntry) -> None: ...

    async def audit_entries(
        self, platform: str, workspace: str, channels: Collection[str], limit: int
    ) -> list[AuditEntry]:
        """The newest ``limit`` entries of the workspace in ``channels``, newest first."""
        ...


@dataclass(frozen=True, slots=True)
class LearnedFact:
    """What the service learned about an unpublished contract, and when it was seen."""

    name: str
    value: str
    seen_at: datetime


class FactStore(Protocol):
    """Learned facts, shared by every process of a deployment and kept across restarts."""

    async def read_fact(self, name: str) -> LearnedFact | None:
        """The fact recorded under ``name``, or None."""
        ...

    async def record_fact(self, name: str, value: str, seen_at: datetime | None = None) -> None:
        """Record ``value`` under ``name``, replacing what was there."""
        ...


ChangeOutcome = Literal[
    "replaced",
    "kept",
    "offer",
    "unchanged",
    "withdrawn",
    "stopped",
    "answered",
    "dropped",
    "closed",
    "unknown",
]


@dataclass(frozen=True, slots=True)
class Change:
    """What an edit or a deletion of a question's message did (see :mod:`core.store.changes`).

    ``key``: the question it touched (a burst's key for one of its parts). ``next_key``:
    after a withdrawal, the thread's oldest pending question. ``owner``: ``stopped`` or
    ``kept``, the process that was answering it. ``text``: ``offer``, the edited question.
    ``thread`` and ``user_id``: where the question was asked, and by whom (``offer``,
    ``kept``, ``withdrawn``, ``stopped``); ``locale``: the asker's language tag, as with the
    question (:attr:`core.types.Question.locale`).
    """

    outcome: ChangeOutcome
    key: str | None = None
    next_key: str | None = None
    owner: str | None = None
    text: str | None = None
    thread: ThreadKey | None = None
    user_id: str = ""
    locale: str = ""


class ChangeStore(Protocol):
    """Edits and deletions of the messages questions were asked in (:mod:`core.store.changes`)."""

    async def edit_question(self, key: str, text: str) -> Change:
        """The message of job ``key`` now reads ``text``."""
        ...

    async def delete_question(self, key: str) -> Change:
        """The message of job ``key`` was deleted."""
        ...

    async def withdraw_thread(self, thread: ThreadKey) -> list[Change]:
        """The thread's root was deleted: withdraw its open questions."""
        ...

    async def offer_edit(self, key: str, text: str) -> str | None:
        """Add ``text`` to the suggestions of job ``key``'s answer (once); its ref."""
        ...

    async def forget_posted(self, thread: ThreadKey, message_id: str) -> bool:
        """The bot's message ``message_id`` was deleted: forget it for recovery."""
        ...


class Store(
    ConversationStore, Inbox, ChangeStore, InstallationStore, AccessStore, FactStore, Protocol
):
    """Everything the service keeps, as one store (:class:`core.store.sql.SqlStore`)."""


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One of a person's conversations, for a list of them (Slack's Home tab)."""

    thread: ThreadKey
    chat_id: str
    first_question: str
    started_at: datetime
    last_at: datetime
    questions: int
