"""The stored tables, as SQLModel models on their own metadata.

Only what the service keeps lives here: which Gloo chat a platform thread is bound to,
the answers (so buttons keep working after a restart), feedback votes and per-channel
settings. Gloo and Slack/Discord wire payloads do not belong here.

Every change to these models needs a new migration in ``core/store/migrations/versions``
(the test suite fails when the migrated schema and these models drift apart).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

__all__ = [
    "PLATFORM_LENGTH",
    "AccessRuleRow",
    "AnswerFeedbackRow",
    "AnswerRow",
    "BurstPartRow",
    "ChannelSettingsRow",
    "InboxRow",
    "InstallationRow",
    "OAuthStateRow",
    "SettingsAuditRow",
    "StoreModel",
    "ThreadChatRow",
    "UTCDateTime",
    "metadata",
    "utcnow",
]

#: Constraint and index names, so migrations can refer to them on every backend.
NAMING_CONVENTION: Final[dict[str, str]] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PLATFORM_LENGTH: Final = 32
ANSWER_ID_LENGTH: Final = 64
ID_LENGTH: Final = 255
#: A BCP 47 language tag as platforms give it ("es-419", "pt-BR"); 35 is the usual limit.
LOCALE_LENGTH: Final = 35


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are stored
    converted to UTC and read back with ``tzinfo=UTC``. Naive values are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


store_registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class StoreModel(SQLModel, registry=store_registry):
    """Base of the stored tables: keeps them on :data:`metadata`, not SQLModel's global one."""


metadata: MetaData = StoreModel.metadata


class ThreadChatRow(StoreModel, table=True):
    """A platform thread bound to a Gloo chat. The unique key decides binding races."""

    __tablename__: ClassVar[str] = "thread_chats"
    __table_args__ = (UniqueConstraint("platform", "workspace", "channel", "thread"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(sa_type=String(PLATFORM_LENGTH))
    workspace: str = Field(sa_type=String(ID_LENGTH))
    channel: str = Field(sa_type=String(ID_LENGTH))
    thread: str = Field(sa_type=String(ID_LENGTH))
    chat_id: str = Field(sa_type=String(ID_LENGTH))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AnswerRow(StoreModel, table=True):
    """One answer, with what its buttons need (sources, suggestions, message ids)."""

    __tablename__: ClassVar[str] = "answers"

    answer_id: str = Field(primary_key=True, sa_type=String(ANSWER_ID_LENGTH))
    platform: str = Field(sa_type=String(PLATFORM_LENGTH))
    workspace: str = Field(sa_type=String(ID_LENGTH))
    channel: str = Field(sa_type=String(ID_LENGTH))
    thread: str = Field(sa_type=String(ID_LENGTH))
    chat_id: str = Field(index=True, sa_type=String(ID_LENGTH))
    question: str = Field(sa_type=Text)
    text: str = Field(sa_type=Text)
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    suggestions: list[str] = Field(default_factory=list, sa_type=JSON)
    user_id: str = Field(default="", sa_type=String(ID_LENGTH))
    gloo_message_id: str | None = Field(default=None, sa_type=String(ID_LENGTH))
    gloo_query_id: str | None = Field(default=None, sa_type=String(ID_LENGTH))
    platform_message_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)


class AnswerFeedbackRow(StoreModel, table=True):
    """One user's vote (+1 or -1) on one answer."""

    __tablename__: ClassVar[str] = "answer_feedback"
    __table_args__ = (
        UniqueConstraint("answer_id", "user_id"),
        CheckConstraint("value IN (-1, 1)", name="value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    answer_id: str = Field(
        foreign_key="answers.answer_id", ondelete="CASCADE", sa_type=String(ANSWER_ID_LENGTH)
    )
    user_id: str = Field(sa_type=String(ID_LENGTH))
    value: int = Field(sa_type=Integer)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChannelSettingsRow(StoreModel, table=True):
    """Settings for one channel, or for a whole workspace when ``channel`` is ``""``."""

    __tablename__: ClassVar[str] = "channel_settings"
    __table_args__ = (UniqueConstraint("platform", "workspace", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(sa_type=String(PLATFORM_LENGTH))
    workspace: str = Field(sa_type=String(ID_LENGTH))
    channel: str = Field(default="", sa_type=String(ID_LENGTH))
    publishers: list[str] = Field(default_factory=list, sa_type=JSON)
    character_limit: int | None = Field(default=None, sa_type=Integer)
    sources_limit: int | None = Field(default=None, sa_type=Integer)
    intent: int | None = Field(default=None, sa_type=Integer)
    enable_sources: bool = Field(default=True, sa_type=Boolean)
    enable_suggestions: bool = Field(default=True, sa_type=Boolean)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    tradition: str | None = Field(default=None, sa_type=String(32))
    model_family: str | None = Field(default=None, sa_type=String(32))
    enable_shortcuts: bool = Field(default=True, sa_type=Boolean)


class InstallationRow(StoreModel, table=True):
    """A platform app installation (multi-workspace OAuth): the platform's data as JSON.

    ``""`` stands for an absent enterprise or user id. The row with the newest
    ``installed_at`` is a team's current installation.
    """

    __tablename__: ClassVar[str] = "installations"
    __table_args__ = (UniqueConstraint("platform", "enterprise_id", "team_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(sa_type=String(PLATFORM_LENGTH))
    enterprise_id: str = Field(default="", sa_type=String(ID_LENGTH))
    team_id: str = Field(default="", sa_type=String(ID_LENGTH))
    user_id: str = Field(default="", sa_type=String(ID_LENGTH))
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    installed_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)


class OAuthStateRow(StoreModel, table=True):
    """An OAuth ``state`` handed out at the start of an install, usable once until it expires."""

    __tablename__: ClassVar[str] = "oauth_states"

    state: str = Field(primary_key=True, sa_type=String(ID_LENGTH))
    expires_at: datetime = Field(index=True, sa_type=UTCDateTime)


class InboxRow(StoreModel, table=True):
    """An accepted question, kept until answered so that none is lost or answered twice.

    ``key`` is the platform's identity of the question (redeliveries share it). ``status``
    moves ``pending → answering → answered | failed``, or starts as ``gathering`` (the first
    message of a burst, joined with the :class:`BurstPartRow` that follow it until its window,
    ``next_attempt_at``, closes; then ``pending``); an ``answering`` row whose lease
    (``claimed_until``) ran out belongs to a process that died and is taken over.
    ``posted`` lists the platform messages already showing (part of) the answer.
    A question its asker deleted before it was answered is ``withdrawn`` (never asked, it
    blocks nothing); ``edited_text`` is an edit that came while it was being answered,
    offered once the answer is done (see :mod:`core.store.changes`).
    """

    __tablename__: ClassVar[str] = "inbox"
    __table_args__ = (
        CheckConstraint(
            "status IN ('gathering', 'pending', 'answering', 'answered', 'failed', 'withdrawn')",
            name="status",
        ),
        # Quota counts: a user's (or a workspace's) questions in a time window.
        Index("ix_inbox_sender", "platform", "workspace", "user_id", "accepted_at"),
        # A person's questions across every workspace of a platform (per-user quotas).
        Index("ix_inbox_user", "platform", "user_id", "accepted_at"),
        # Thread order: the open questions of one thread, oldest first.
        Index("ix_inbox_thread", "platform", "workspace", "channel", "thread", "accepted_at"),
    )

    key: str = Field(primary_key=True, sa_type=String(ID_LENGTH))
    platform: str = Field(sa_type=String(PLATFORM_LENGTH))
    workspace: str = Field(sa_type=String(ID_LENGTH))
    channel: str = Field(sa_type=String(ID_LENGTH))
    thread: str = Field(sa_type=String(ID_LENGTH))
    text: str = Field(sa_type=Text)
    user_id: str = Field(default="", sa_type=String(ID_LENGTH))
    user_name: str = Field(default="", sa_type=String(ID_LENGTH))
    message_ref: str | None = Field(default=None, sa_type=String(ID_LENGTH))
    #: The platform's locale tag of the asker (``""``: English), for what is posted later.
    locale: str = Field(
        default="", sa_type=String(LOCALE_LENGTH), sa_column_kwargs={"server_default": ""}
    )
    chat_id: str | None = Field(default=None, sa_type=String(ID_LENGTH))
    status: str = Field(default="pending", index=True, sa_type=String(16))
    attempts: int = Field(default=0, sa_type=Integer)
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, sa_type=String(ID_LENGTH))
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    posted: list[str] = Field(default_factory=list, sa_type=JSON)
    last_error: str | None = Field(default=None, sa_type=Text)
    edited_text: str | None = Field(default=None, sa_type=Text)
    accepted_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AccessRuleRow(StoreModel, table=True):
    """One entry of a workspace's access lists (see :class:`core.types.AccessRule`)."""

    __tablename__: ClassVar[str] = "access_rules"
    __table_args__ = (
        UniqueConstraint("platform", "workspace", "kind", "subject"),
        CheckConstraint("kind IN ('user', 'channel', 'role')", name="kind"),
        CheckConstraint("effect IN ('allow', 'block')", name="effect"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(sa_type=String(PLATFORM_LENGTH))
    workspace: str = Field(sa_type=String(ID_LENGTH))
    kind: str = Field(sa_type=String(16))
    subject: str = Field(sa_type=String(ID_LENGTH))
    effect: str = Field(sa_type=String(16))
    added_by: str = Field(default="", sa_type=String(ID_LENGTH))
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SettingsAuditRow(StoreModel, table=True):
    """Who changed a channel's settings or a workspace's access lists, what, and when."""

    __tablename__: ClassVar[str] = "settings_audit"
    __table_args__ = (Index("ix_settings_audit_where", "platform", "workspace", "channel", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(sa_type=String(PLATFORM_LENGTH))
    workspace: str = Field(sa_type=String(ID_LENGTH))
    channel: str = Field(default="", sa_type=String(ID_LENGTH))
    actor: str = Field(sa_type=String(ID_LENGTH))
    action: str = Field(sa_type=String(16))
    change: str = Field(sa_type=Text)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LearnedFactRow(StoreModel, table=True):
    """Something the service learned about an unpublished contract, shared by every process
    of the deployment and kept across restarts (see :mod:`core.gloo.learning`)."""

    __tablename__: ClassVar[str] = "learned_facts"

    name: str = Field(primary_key=True, sa_type=String(ID_LENGTH))
    value: str = Field(sa_type=String(ID_LENGTH))
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BurstPartRow(StoreModel, table=True):
    """A later message of a burst (see :mod:`core.bursts`), in order (``id``), stored as it
    arrives so that a crash inside the window loses nothing; joined into the text of the
    burst's ``gathering`` inbox row (``burst_key``) when the window closes. ``key`` is the
    message's own job key, so a platform's redelivery of it is accepted once."""

    __tablename__: ClassVar[str] = "burst_parts"

    id: int | None = Field(default=None, primary_key=True, sa_type=Integer)
    key: str = Field(unique=True, sa_type=String(ID_LENGTH))
    burst_key: str = Field(index=True, sa_type=String(ID_LENGTH))
    text: str = Field(sa_type=Text)
    message_ref: str | None = Field(default=None, sa_type=String(ID_LENGTH))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
