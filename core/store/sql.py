"""The SQL implementation of :class:`core.ports.ConversationStore` (SQLite or PostgreSQL).

Races are settled by the database, never by read-then-write in Python: bindings and votes
are ``INSERT … ON CONFLICT`` statements against unique constraints, and the one
read-modify-write (appending platform message ids) holds the row's lock (``FOR UPDATE``
on PostgreSQL, the ``BEGIN IMMEDIATE`` write lock on SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final, Self

import structlog
from sqlalchemy import ColumnElement, delete, select, text, update
from sqlmodel import col

from core.ports import AnswerRecord, ConversationSummary
from core.store.access import AccessQueries
from core.store.base import SqlBase
from core.store.bursts import BurstQueries
from core.store.changes import ChangeQueries
from core.store.engine import (
    DEFAULT_POSTGRES_POOL_SIZE,
    create_engine,
    normalize_database_url,
)
from core.store.facts import FactQueries
from core.store.inbox import InboxQueries
from core.store.installations import InstallationQueries
from core.store.migrate import engine_revision, head_revision, upgrade_engine
from core.store.records import answer_record, answer_values, channel_settings, merge_unique
from core.store.tables import (
    AnswerFeedbackRow,
    AnswerRow,
    ChannelSettingsRow,
    ThreadChatRow,
    metadata,
    utcnow,
)
from core.types import ChannelSettings, ThreadKey

__all__ = ["SqlStore", "UnknownAnswerError"]

log = structlog.get_logger(__name__)

_FEEDBACK_VALUES: Final = frozenset({-1, 1})
_BIND_ATTEMPTS: Final = 5
_ANSWERS: Final = metadata.tables[AnswerRow.__tablename__]
_CHANNEL_SETTINGS: Final = metadata.tables[ChannelSettingsRow.__tablename__]


class UnknownAnswerError(LookupError):
    """An operation named an answer id that is not stored."""

    def __init__(self, answer_id: str) -> None:
        super().__init__(f"no stored answer with id {answer_id!r}")
        self.answer_id = answer_id


class SqlStore(
    ChangeQueries,
    BurstQueries,
    InboxQueries,
    InstallationQueries,
    AccessQueries,
    FactQueries,
    SqlBase,
):
    """:class:`core.ports.ConversationStore` on an :class:`AsyncEngine`.

    The store owns the engine: :meth:`close` disposes it. Build one with :meth:`open`
    (normalizes the URL, creates the engine, migrates) or hand in an engine from
    :func:`core.store.engine.create_engine` whose database is already migrated.
    """

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        echo: bool = False,
        pool_size: int = DEFAULT_POSTGRES_POOL_SIZE,
    ) -> Self:
        """Connect to ``url`` (``postgres://`` and ``sqlite:///`` URLs are accepted too) and,
        unless ``migrate`` is false, bring the schema to the newest revision. ``pool_size``:
        the PostgreSQL connections kept open (see :func:`core.store.engine.create_engine`)."""
        engine = create_engine(normalize_database_url(url), echo=echo, pool_size=pool_size)
        try:
            if migrate:
                await upgrade_engine(engine)
            store = cls(engine)
        except BaseException:
            await engine.dispose()
            raise
        log.info(
            "conversation store opened",
            backend=store._dialect,
            database=engine.url.render_as_string(hide_password=True),
        )
        return store

    # --- thread → chat -----------------------------------------------------------------

    async def get_chat_id(self, thread: ThreadKey) -> str | None:
        async with self._read() as conn:
            result = await conn.execute(
                select(col(ThreadChatRow.chat_id)).where(*_thread_clauses(ThreadChatRow, thread))
            )
            return result.scalar_one_or_none()

    async def bind_chat_id(self, thread: ThreadKey, chat_id: str) -> str:
        now = utcnow()
        insert = (
            self._insert(ThreadChatRow)
            .values(
                platform=thread.platform,
                workspace=thread.workspace,
                channel=thread.channel,
                thread=thread.thread,
                chat_id=chat_id,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["platform", "workspace", "channel", "thread"])
        )
        bound_query = select(col(ThreadChatRow.chat_id)).where(
            *_thread_clauses(ThreadChatRow, thread)
        )
        # A concurrent forget_thread can delete the winner between the two statements:
        # then nothing is bound and the insert is simply tried again.
        for _ in range(_BIND_ATTEMPTS):
            async with self._write() as conn:
                await conn.execute(insert)
                bound = (await conn.execute(bound_query)).scalar_one_or_none()
            if bound is not None:
                if bound != chat_id:
                    log.debug(
                        "thread already bound", thread=thread.as_str(), chat_id=bound, lost=chat_id
                    )
                return bound
        raise RuntimeError(f"could not bind a chat to {thread.as_str()}: it keeps being reset")

    async def forget_thread(self, thread: ThreadKey) -> bool:
        async with self._write() as conn:
            result = await conn.execute(
                delete(ThreadChatRow).where(*_thread_clauses(ThreadChatRow, thread))
            )
            return result.rowcount > 0

    # --- answers -----------------------------------------------------------------------

    async def save_answer(self, answer: AnswerRecord) -> None:
        """Store ``answer``; saving an id again replaces the stored record."""
        values = answer_values(answer)
        insert = self._insert(AnswerRow).values(**values)
        upsert = insert.on_conflict_do_update(
            index_elements=["answer_id"],
            set_={name: insert.excluded[name] for name in values if name != "answer_id"},
        )
        async with self._write() as conn:
            await conn.execute(upsert)

    async def get_answer(self, answer_id: str) -> AnswerRecord | None:
        async with self._read() as conn:
            result = await conn.execute(
                select(_ANSWERS).where(col(AnswerRow.answer_id) == answer_id)
            )
            row = result.mappings().first()
        return None if row is None else answer_record(row)

    async def chat_answers(self, chat_id: str, limit: int) -> list[AnswerRecord]:
        """The newest ``limit`` answers given on ``chat_id``, oldest first."""
        async with self._read() as conn:
            result = await conn.execute(
                select(_ANSWERS)
                .where(col(AnswerRow.chat_id) == chat_id)
                .order_by(col(AnswerRow.created_at).desc(), col(AnswerRow.answer_id).desc())
                .limit(limit)
            )
            rows = result.mappings().all()
        return [answer_record(row) for row in reversed(rows)]

    async def prune_answers(self, before: datetime) -> int:
        """Forget answers (and their votes) given before ``before``; their buttons stop working."""
        async with self._write() as conn:
            await conn.execute(
                delete(AnswerFeedbackRow).where(
                    col(AnswerFeedbackRow.answer_id).in_(
                        select(col(AnswerRow.answer_id)).where(col(AnswerRow.created_at) < before)
                    )
                )
            )
            result = await conn.execute(delete(AnswerRow).where(col(AnswerRow.created_at) < before))
            return result.rowcount

    async def add_platform_message_ids(self, answer_id: str, message_ids: Sequence[str]) -> None:
        """Append ``message_ids`` (order kept, ids already recorded skipped).

        Raises :class:`UnknownAnswerError` when the answer is not stored.
        """
        where = col(AnswerRow.answer_id) == answer_id
        async with self._write() as conn:
            result = await conn.execute(
                select(col(AnswerRow.platform_message_ids)).where(where).with_for_update()
            )
            existing = result.scalar_one_or_none()
            if existing is None:
                raise UnknownAnswerError(answer_id)
            merged = merge_unique(existing, message_ids)
            if merged != existing:
                await conn.execute(
                    update(AnswerRow).where(where).values(platform_message_ids=merged)
                )

    # --- feedback ----------------------------------------------------------------------

    async def set_feedback(self, answer_id: str, user_id: str, value: int) -> None:
        """Upsert ``user_id``'s vote (+1 or -1) on the answer.

        Raises :class:`ValueError` for any other value and :class:`UnknownAnswerError` when
        the answer is not stored.
        """
        if value not in _FEEDBACK_VALUES:
            raise ValueError(f"feedback must be +1 or -1, not {value!r}")
        insert = self._insert(AnswerFeedbackRow).values(
            answer_id=answer_id, user_id=user_id, value=value, updated_at=utcnow()
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["answer_id", "user_id"],
            set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
        )
        async with self._write() as conn:
            # Answers are never deleted, so this check cannot go stale before the insert;
            # the foreign key backs it up anyway.
            exists = await conn.execute(
                select(col(AnswerRow.answer_id)).where(col(AnswerRow.answer_id) == answer_id)
            )
            if exists.first() is None:
                raise UnknownAnswerError(answer_id)
            await conn.execute(upsert)

    async def get_feedback(self, answer_id: str) -> dict[str, int]:
        async with self._read() as conn:
            result = await conn.execute(
                select(col(AnswerFeedbackRow.user_id), col(AnswerFeedbackRow.value))
                .where(col(AnswerFeedbackRow.answer_id) == answer_id)
                .order_by(col(AnswerFeedbackRow.user_id))
            )
            return {user_id: value for user_id, value in result.all()}

    # --- channel settings --------------------------------------------------------------

    async def get_channel_settings(
        self, platform: str, workspace: str, channel: str
    ) -> ChannelSettings | None:
        async with self._read() as conn:
            result = await conn.execute(
                select(_CHANNEL_SETTINGS).where(
                    col(ChannelSettingsRow.platform) == platform,
                    col(ChannelSettingsRow.workspace) == workspace,
                    col(ChannelSettingsRow.channel).in_((channel, "")),
                )
            )
            rows = {row["channel"]: row for row in result.mappings()}
        row = rows.get(channel) or rows.get("")
        return None if row is None else channel_settings(row)

    async def save_channel_settings(
        self, platform: str, workspace: str, channel: str, settings: ChannelSettings
    ) -> None:
        values: dict[str, Any] = {
            "platform": platform,
            "workspace": workspace,
            "channel": channel,
            "publishers": list(settings.publishers),
            "character_limit": settings.character_limit,
            "sources_limit": settings.sources_limit,
            "intent": settings.intent,
            "enable_sources": settings.enable_sources,
            "enable_suggestions": settings.enable_suggestions,
            "tradition": settings.tradition,
            "model_family": settings.model_family,
            "enable_shortcuts": settings.enable_shortcuts,
            "updated_at": utcnow(),
        }
        key = ("platform", "workspace", "channel")
        insert = self._insert(ChannelSettingsRow).values(**values)
        upsert = insert.on_conflict_do_update(
            index_elements=list(key),
            set_={name: insert.excluded[name] for name in values if name not in key},
        )
        async with self._write() as conn:
            await conn.execute(upsert)

    # --- lifecycle ---------------------------------------------------------------------

    async def schema_is_current(self) -> bool:
        """True when the database is migrated to the newest revision shipped."""
        return await engine_revision(self._engine) == head_revision()

    async def ping(self) -> None:
        async with self._read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self._engine.dispose()

    # --- a person's conversations (added for Slack's Home tab) -------------------------

    async def user_conversations(
        self, platform: str, workspace: str, user_id: str, limit: int
    ) -> list[ConversationSummary]:
        """Threads whose current chat has answers to ``user_id``, most recent first."""
        bound = (
            (col(ThreadChatRow.platform) == col(AnswerRow.platform))
            & (col(ThreadChatRow.workspace) == col(AnswerRow.workspace))
            & (col(ThreadChatRow.channel) == col(AnswerRow.channel))
            & (col(ThreadChatRow.thread) == col(AnswerRow.thread))
            & (col(ThreadChatRow.chat_id) == col(AnswerRow.chat_id))
        )
        query = (
            select(
                col(AnswerRow.channel),
                col(AnswerRow.thread),
                col(AnswerRow.chat_id),
                col(AnswerRow.question),
                col(AnswerRow.created_at),
            )
            .join(ThreadChatRow, bound)
            .where(
                col(AnswerRow.platform) == platform,
                col(AnswerRow.workspace) == workspace,
                col(AnswerRow.user_id) == user_id,
            )
            .order_by(col(AnswerRow.created_at), col(AnswerRow.answer_id))
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        found: dict[tuple[str, str], ConversationSummary] = {}
        for row in rows:
            key = (row["channel"], row["thread"])
            seen = found.get(key)
            if seen is None:
                found[key] = ConversationSummary(
                    thread=ThreadKey(platform, workspace, row["channel"], row["thread"]),
                    chat_id=row["chat_id"],
                    first_question=row["question"],
                    started_at=row["created_at"],
                    last_at=row["created_at"],
                    questions=1,
                )
            else:
                found[key] = replace(seen, last_at=row["created_at"], questions=seen.questions + 1)
        newest = sorted(found.values(), key=lambda c: c.last_at, reverse=True)
        return newest[: max(0, limit)]

    async def list_channel_settings(
        self, platform: str, workspace: str
    ) -> dict[str, ChannelSettings]:
        async with self._read() as conn:
            result = await conn.execute(
                select(_CHANNEL_SETTINGS)
                .where(
                    col(ChannelSettingsRow.platform) == platform,
                    col(ChannelSettingsRow.workspace) == workspace,
                )
                .order_by(col(ChannelSettingsRow.channel))
            )
            return {row["channel"]: channel_settings(row) for row in result.mappings()}


def _thread_clauses(
    model: type[ThreadChatRow], thread: ThreadKey
) -> tuple[ColumnElement[bool], ...]:
    return (
        col(model.platform) == thread.platform,
        col(model.workspace) == thread.workspace,
        col(model.channel) == thread.channel,
        col(model.thread) == thread.thread,
    )
