"""The inbox of accepted questions, in SQL: accepted once, claimed by one process at a time.

Every state change is one ``UPDATE … RETURNING`` guarded by the row's current state, so two
processes can never both hold a question:

* :meth:`InboxQueries.accept` inserts a question unless its key is there already (a
  platform redelivery);
* :meth:`InboxQueries.claim` / :meth:`InboxQueries.claim_due` move ``pending`` rows whose
  time has come — and ``answering`` rows whose lease ran out (their process died) — to
  ``answering`` under a lease. A row is claimable only when no earlier question of the same
  thread is still open, so answers within a thread stay in order across processes.
  On PostgreSQL ``claim_due`` picks its rows with ``FOR UPDATE SKIP LOCKED``, so several
  processes polling at once take different rows instead of waiting for each other.
  On PostgreSQL an accept takes its thread's advisory lock and stamps its time once it
  holds it, so a question stamped earlier has committed before a later one is stamped:
  under READ COMMITTED a claim would otherwise see a later question without an earlier one
  whose accept had not committed yet, and answer beside it (two chats for one thread). A
  live claim of any other question of the thread blocks a claim as well (clocks of two
  hosts).
  Both read, in the claim's own transaction, what answering needs (the thread's bound chat
  and the channel's settings) into each job's :class:`~core.types.AnswerContext`: one more
  pre-built ``SELECT``, no other transaction;
* :meth:`InboxQueries.finish` and :meth:`InboxQueries.release` end a claim, and only the
  claim's owner can end it;
* :meth:`InboxQueries.finish_answered` ends an answered question in one transaction: the
  answer record with its platform message ids, the thread's chat binding (first wins, one
  ``INSERT … ON CONFLICT DO UPDATE … RETURNING``), the question marked answered (only by its
  owner; the answer and binding are kept even when the claim was lost, since the answer was
  shown) and the key of the thread's next pending question.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import structlog
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    String,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
from sqlmodel import col

from core.ports import QUOTA_ERROR, AnswerRecord, Finished, QuotaCounts
from core.store.base import SqlBase
from core.store.bursts import ORPHAN_PARTS, PART_KNOWN
from core.store.records import SETTINGS_FIELDS, answer_values, channel_settings, merge_unique
from core.store.tables import (
    LOCALE_LENGTH,
    AnswerRow,
    ChannelSettingsRow,
    InboxRow,
    ThreadChatRow,
    metadata,
    utcnow,
)
from core.types import AnswerContext, Job, Question, ThreadKey

__all__ = ["InboxEntry", "InboxQueries", "next_pending"]

log = structlog.get_logger(__name__)

_INBOX: Final = metadata.tables[InboxRow.__tablename__]
_CHATS: Final = metadata.tables[ThreadChatRow.__tablename__]
_SETTINGS: Final = metadata.tables[ChannelSettingsRow.__tablename__]
_ANSWERS: Final = metadata.tables[AnswerRow.__tablename__]
#: Unanswered: a later question of the thread waits for these (a burst gathering too).
_OPEN: Final = ("gathering", "pending", "answering")
_ERROR_LENGTH: Final = 2000

Outcome = Literal["answered", "failed"]


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A question in the inbox with its bookkeeping (for inspection and tests)."""

    job: Job
    status: str
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    last_error: str | None
    edited_text: str | None = None


class InboxQueries(SqlBase):
    """:class:`core.ports.Inbox` in SQL."""

    async def accept(self, job: Job, *, gathering_until: datetime | None = None) -> bool:
        """Store ``job`` as pending; False when its key was accepted before.

        With ``gathering_until`` it is the first message of a burst: ``gathering`` until then
        (see :mod:`core.store.bursts`)."""
        thread = job.question.thread
        async with self._write() as conn:
            if self.is_postgres:
                values = {**_thread_values(thread), "p_key": job.key}
                known = (await conn.execute(_LOCK_THREAD_PART_KNOWN, values)).one().known
            else:
                known = (await conn.execute(PART_KNOWN, {"p_key": job.key})).first() is not None
            if known:
                return False  # a redelivery of a message that joined a burst
            # Stamped once the thread is locked: a question accepted earlier has committed.
            now = utcnow()
            # RETURNING, not rowcount: psycopg reports no rowcount for ON CONFLICT DO NOTHING.
            return (
                await conn.execute(self._accept_insert(job, now, gathering_until))
            ).first() is not None

    def _accept_insert(self, job: Job, now: datetime, gathering_until: datetime | None) -> Any:
        thread = job.question.thread
        return (
            self._insert(InboxRow)
            .values(
                key=job.key,
                platform=thread.platform,
                workspace=thread.workspace,
                channel=thread.channel,
                thread=thread.thread,
                text=job.question.text,
                user_id=job.question.user_id,
                user_name=job.question.user_name,
                message_ref=job.question.message_ref,
                locale=job.question.locale[:LOCALE_LENGTH],
                chat_id=job.chat_id,
                status="pending" if gathering_until is None else "gathering",
                attempts=0,
                next_attempt_at=gathering_until or now,
                posted=list(job.posted),
                accepted_at=job.accepted_at or now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(col(InboxRow.key))
        )

    async def claim(self, key: str, owner: str, lease: timedelta) -> Job | None:
        """Take the question ``key`` if it is claimable now (see the module docstring), with
        its :class:`~core.types.AnswerContext`, in one transaction."""
        now = utcnow()
        # Statements built once (with an alias and a correlated subquery, building the claim
        # per call was a tenth of an answer's CPU); only the parameters change.
        values = {"c_key": key, "c_owner": owner, "c_now": now, "c_until": now + lease}
        async with self._write() as conn:
            row = (await conn.execute(_CLAIM_ONE, values)).mappings().first()
            if row is None:
                return None
            found = (await conn.execute(_CONTEXT_ONE, {"x_key": key})).mappings().all()
        return _job(row, _contexts(found).get(key))

    async def claim_due(
        self, owner: str, lease: timedelta, *, platforms: Collection[str], limit: int
    ) -> list[Job]:
        """Take up to ``limit`` claimable questions of ``platforms``, oldest first."""
        now = utcnow()
        due = (
            select(col(InboxRow.key))
            .where(col(InboxRow.platform).in_(list(platforms)), _claimable(now))
            .order_by(col(InboxRow.accepted_at), col(InboxRow.key))
            .limit(limit)
        )
        if self.is_postgres:
            # Several processes polling at once take different rows.
            due = due.with_for_update(skip_locked=True)
        statement = (
            _claim_update(owner, now, lease)
            .where(col(InboxRow.key).in_(due.scalar_subquery()))
            .returning(*_INBOX.c)
        )
        async with self._write() as conn:
            rows = (await conn.execute(statement)).mappings().all()
            if not rows:
                return []
            keys = [row["key"] for row in rows]
            contexts = _contexts(
                (await conn.execute(_CONTEXT_MANY, {"x_keys": keys})).mappings().all()
            )
        jobs = (_job(row, contexts.get(row["key"])) for row in rows)
        return sorted(jobs, key=lambda job: (job.accepted_at, job.key))

    async def next_in_thread(self, thread: ThreadKey) -> str | None:
        """The key of the thread's oldest pending question, if any."""
        async with self._read() as conn:
            key: str | None = (await conn.execute(next_pending(thread))).scalar_one_or_none()
        return key

    async def known_messages(self, thread: ThreadKey) -> set[str]:
        """The platform messages the inbox knows in ``thread``: questions and answers."""
        query = select(col(InboxRow.message_ref), col(InboxRow.posted)).where(
            *_same_thread(InboxRow, thread)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        known: set[str] = set()
        for message_ref, posted in rows:
            if message_ref:
                known.add(message_ref)
            known.update(posted)
        return known

    async def has_questions(self, thread: ThreadKey) -> bool:
        """True when any question of ``thread`` is in the inbox (answered or not)."""
        query = select(col(InboxRow.key)).where(*_same_thread(InboxRow, thread)).limit(1)
        async with self._read() as conn:
            return (await conn.execute(query)).first() is not None

    async def extend_leases(self, owner: str, lease: timedelta) -> set[str]:
        """Renew every claim ``owner`` holds, in one statement; the keys still held."""
        now = utcnow()
        statement = (
            update(InboxRow)
            .where(col(InboxRow.claimed_by) == owner, col(InboxRow.status) == "answering")
            .values(claimed_until=now + lease, updated_at=now)
            .returning(col(InboxRow.key))
        )
        async with self._write() as conn:
            return set((await conn.execute(statement)).scalars().all())

    async def set_posted(self, key: str, owner: str, posted: Sequence[str]) -> None:
        """Record every platform message shown for the question so far, if ``owner`` holds
        it: the owner's whole list (what its claim's ``posted`` held, then what it posted
        since), in one statement. The caller writes its lists in order."""
        statement = (
            update(InboxRow)
            .where(col(InboxRow.key) == key, col(InboxRow.claimed_by) == owner)
            .values(posted=list(posted), updated_at=utcnow())
        )
        async with self._write() as conn:
            await conn.execute(statement)

    async def finish(
        self, key: str, owner: str, outcome: Outcome, error: str | None = None
    ) -> bool:
        """End the claim with the final outcome; False when the claim had been lost."""
        return await self._owned_update(
            key,
            owner,
            status=outcome,
            claimed_by=None,
            claimed_until=None,
            last_error=_clip(error),
        )

    async def finish_answered(
        self,
        key: str,
        owner: str,
        answer: AnswerRecord | None,
        *,
        bind: bool,
        posted: Sequence[str],
    ) -> Finished:
        """End an answered question in one transaction (see :class:`core.ports.Finished`).

        ``answer`` is stored as :meth:`SqlStore.save_answer` followed by
        ``add_platform_message_ids(posted)`` would store it. With ``bind`` its chat is bound
        to its thread unless one is bound already (first wins, as ``bind_chat_id``). The
        question becomes ``answered`` only if ``owner`` still holds it, its posted ids then
        being ``posted``. The answer and the binding are stored even when the claim was lost:
        the answer was shown, so its buttons and its follow-ups must work.

        ``posted`` is the owner's whole list, as :meth:`set_posted` takes it. The end of the
        claim and the next question's key are one ``UPDATE … RETURNING``; a lost claim names
        no next question (the claim's new holder starts it when it finishes).
        """
        if bind and answer is None:
            raise ValueError("bind needs the answer whose chat is bound")
        now = utcnow()
        bound: str | None = None
        async with self._write() as conn:
            if answer is not None:
                values = answer_values(answer)
                values["platform_message_ids"] = merge_unique(
                    values["platform_message_ids"], posted
                )
                await conn.execute(_SAVE_ANSWER[self._dialect], values)
                if bind:
                    bound = await _bind_in(conn, self._dialect, answer, now)
            values = {"f_key": key, "f_owner": owner, "f_now": now, "f_posted": list(posted)}
            next_key: str | None = None
            if self.is_postgres:
                row = (await conn.execute(_FINISH_ANSWERED, values)).first()
                if row is not None:
                    next_key = row.next_key
            else:
                # SQLite renders RETURNING's columns unqualified, so a subquery there cannot
                # name the updated row: its thread comes back, and a second statement reads
                # the thread's next question.
                row = (await conn.execute(_FINISH_ANSWERED_SQLITE, values)).first()
                if row is not None:
                    thread = ThreadKey(row.platform, row.workspace, row.channel, row.thread)
                    next_key = (await conn.execute(next_pending(thread))).scalar_one_or_none()
        finished = row is not None
        edited = row.edited_text if row is not None else None
        return Finished(
            finished=finished, next_key=next_key, bound_chat_id=bound, edited_text=edited
        )

    async def release(self, key: str, owner: str, retry_at: datetime, error: str | None) -> bool:
        """Hand the question back, to be claimed again from ``retry_at``."""
        return await self._owned_update(
            key,
            owner,
            status="pending",
            claimed_by=None,
            claimed_until=None,
            next_attempt_at=retry_at,
            last_error=_clip(error),
        )

    async def release_all(self, owner: str) -> int:
        """Hand back every question ``owner`` holds (a process shutting down), due at once."""
        statement = (
            update(InboxRow)
            .where(col(InboxRow.claimed_by) == owner, col(InboxRow.status) == "answering")
            .values(
                status="pending",
                claimed_by=None,
                claimed_until=None,
                next_attempt_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        async with self._write() as conn:
            return (await conn.execute(statement)).rowcount

    async def inbox_entry(self, key: str) -> InboxEntry | None:
        async with self._read() as conn:
            row = (
                (await conn.execute(select(_INBOX).where(col(InboxRow.key) == key)))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return InboxEntry(
            job=_job(row),
            status=row["status"],
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"],
            claimed_by=row["claimed_by"],
            last_error=row["last_error"],
            edited_text=row["edited_text"],
        )

    async def quota_counts(
        self, platform: str, workspace: str, user_id: str, until: datetime
    ) -> QuotaCounts:
        """Questions accepted up to ``until``: the user's in the last minute and day (in every
        workspace of the platform: one person on Discord is one user id across servers and
        DMs), and the workspace's in the last day — one query. Questions refused by a quota
        do not count."""
        day, minute = until - timedelta(days=1), until - timedelta(minutes=1)
        mine = col(InboxRow.user_id) == user_id
        here = col(InboxRow.workspace) == workspace
        recent = col(InboxRow.accepted_at) >= minute
        query = select(
            func.count().filter(and_(mine, recent)),
            func.count().filter(mine),
            func.count().filter(here),
        ).where(
            col(InboxRow.platform) == platform,
            or_(here, mine) if user_id else here,
            col(InboxRow.accepted_at) >= day,
            col(InboxRow.accepted_at) <= until,
            or_(col(InboxRow.last_error).is_(None), col(InboxRow.last_error) != QUOTA_ERROR),
        )
        async with self._read() as conn:
            user_minute, user_day, workspace_day = (await conn.execute(query)).one()
        return QuotaCounts(int(user_minute), int(user_day), int(workspace_day))

    async def inbox_counts(self) -> dict[str, int]:
        """How many questions are in each status."""
        query = select(col(InboxRow.status), func.count()).group_by(col(InboxRow.status))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return {status: int(count) for status, count in rows}

    async def prune_inbox(self, before: datetime) -> int:
        """Delete answered, failed and withdrawn questions last touched before ``before``."""
        statement = delete(InboxRow).where(
            col(InboxRow.status).in_(("answered", "failed", "withdrawn")),
            col(InboxRow.updated_at) < before,
        )
        async with self._write() as conn:
            deleted = (await conn.execute(statement)).rowcount
            await conn.execute(ORPHAN_PARTS)
        return deleted

    async def _owned_update(self, key: str, owner: str, **values: Any) -> bool:
        statement = (
            update(InboxRow)
            .where(
                col(InboxRow.key) == key,
                col(InboxRow.claimed_by) == owner,
                col(InboxRow.status) == "answering",
            )
            .values(updated_at=utcnow(), **values)
        )
        async with self._write() as conn:
            return (await conn.execute(statement)).rowcount > 0


def _claim_update(owner: str, now: datetime, lease: timedelta) -> Any:
    return update(InboxRow).values(
        status="answering",
        claimed_by=owner,
        claimed_until=now + lease,
        attempts=col(InboxRow.attempts) + 1,
        updated_at=now,
    )


def _claimable(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """Due pending rows and abandoned claims, with no earlier open question in their thread."""
    earlier = aliased(InboxRow)
    row = InboxRow
    blocked = exists().where(
        col(earlier.platform) == col(row.platform),
        col(earlier.workspace) == col(row.workspace),
        col(earlier.channel) == col(row.channel),
        col(earlier.thread) == col(row.thread),
        col(earlier.status).in_(_OPEN),
        or_(
            # An earlier question waiting, or being answered.
            col(earlier.accepted_at) < col(row.accepted_at),
            and_(col(earlier.accepted_at) == col(row.accepted_at), col(earlier.key) < col(row.key)),
            # Any other question being answered by a live claim.
            and_(
                col(earlier.status) == "answering",
                col(earlier.claimed_until) >= now,
                col(earlier.key) != col(row.key),
            ),
        ),
    )
    due = or_(
        and_(col(row.status) == "pending", col(row.next_attempt_at) <= now),
        and_(col(row.status) == "answering", col(row.claimed_until) < now),
    )
    return and_(due, ~blocked)


def _thread_values(thread: ThreadKey) -> dict[str, str]:
    return {
        "l_platform": thread.platform,
        "l_workspace": thread.workspace,
        "l_channel": thread.channel,
        "l_thread": thread.thread,
    }


#: PostgreSQL: waits for the thread's advisory lock (held to the end of the transaction;
#: the number is its four key columns, hashed), and whether ``p_key`` joined a burst.
_LOCK_THREAD_PART_KNOWN: Final = select(
    func.pg_advisory_xact_lock(
        func.hashtextextended(
            func.concat_ws(
                "\x1f",
                *(
                    bindparam(name, type_=String)
                    for name in ("l_platform", "l_workspace", "l_channel", "l_thread")
                ),
            ),
            0,
        )
    ),
    PART_KNOWN.exists().label("known"),
)


_CLAIM_ONE: Final = (
    update(InboxRow)
    .values(
        status="answering",
        claimed_by=bindparam("c_owner"),
        claimed_until=bindparam("c_until"),
        attempts=col(InboxRow.attempts) + 1,
        updated_at=bindparam("c_now"),
    )
    .where(col(InboxRow.key) == bindparam("c_key"), _claimable(bindparam("c_now")))
    .returning(*_INBOX.c)
)


def _upserts(
    table: Table, keys: Sequence[str], set_of: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` on each dialect, built once; executed with
    a dict of every column's value."""
    built: dict[str, Any] = {}
    for dialect, insert_into in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert)):
        insert = insert_into(table)
        built[dialect] = insert.on_conflict_do_update(index_elements=keys, set_=set_of(insert))
    return built


#: ``SqlStore.save_answer``'s upsert: saving an id again replaces the stored record.
_SAVE_ANSWER: Final = _upserts(
    _ANSWERS,
    ["answer_id"],
    lambda insert: {c.name: insert.excluded[c.name] for c in _ANSWERS.c if c.name != "answer_id"},
)
#: Binds a chat unless one is bound. ``DO UPDATE`` setting the stored chat to itself (not
#: ``DO NOTHING``) makes the statement lock and return the winner's row, so a concurrent
#: ``forget_thread`` cannot slip between an insert and a read of the winner.
_BIND_CHAT: Final = {
    dialect: upsert.returning(_CHATS.c.chat_id)
    for dialect, upsert in _upserts(
        _CHATS,
        ["platform", "workspace", "channel", "thread"],
        lambda insert: {"chat_id": _CHATS.c.chat_id},
    ).items()
}


async def _bind_in(conn: AsyncConnection, dialect: str, answer: AnswerRecord, now: datetime) -> str:
    """Bind the answer's chat to its thread unless a chat is bound there; the bound one."""
    thread = answer.thread
    values = {
        "platform": thread.platform,
        "workspace": thread.workspace,
        "channel": thread.channel,
        "thread": thread.thread,
        "chat_id": answer.chat_id,
        "created_at": now,
        "updated_at": now,
    }
    bound: str = (await conn.execute(_BIND_CHAT[dialect], values)).scalar_one()
    if bound != answer.chat_id:
        log.debug(
            "thread already bound", thread=thread.as_str(), chat_id=bound, lost=answer.chat_id
        )
    return bound


def next_pending(thread: ThreadKey) -> Any:
    """The key of ``thread``'s oldest pending question."""
    return (
        select(col(InboxRow.key))
        .where(*_same_thread(InboxRow, thread), col(InboxRow.status) == "pending")
        .order_by(col(InboxRow.accepted_at), col(InboxRow.key))
        .limit(1)
    )


def _finish_answered() -> tuple[Any, Any]:
    """End the claim of ``f_key`` held by ``f_owner`` as answered, with its posted ids (a row
    comes back only when the claim was still held): on PostgreSQL returning the key of its
    thread's oldest pending question, on SQLite the thread itself."""
    later = aliased(InboxRow)
    next_key = (
        select(col(later.key))
        .where(
            col(later.platform) == col(InboxRow.platform),
            col(later.workspace) == col(InboxRow.workspace),
            col(later.channel) == col(InboxRow.channel),
            col(later.thread) == col(InboxRow.thread),
            col(later.status) == "pending",
        )
        .order_by(col(later.accepted_at), col(later.key))
        .limit(1)
        .scalar_subquery()
    )
    finish = (
        update(InboxRow)
        .where(
            col(InboxRow.key) == bindparam("f_key"),
            col(InboxRow.claimed_by) == bindparam("f_owner"),
            col(InboxRow.status) == "answering",
        )
        .values(
            status="answered",
            claimed_by=None,
            claimed_until=None,
            last_error=None,
            posted=bindparam("f_posted", type_=_INBOX.c.posted.type),
            updated_at=bindparam("f_now"),
        )
    )
    thread = (
        col(InboxRow.platform),
        col(InboxRow.workspace),
        col(InboxRow.channel),
        col(InboxRow.thread),
    )
    edited = col(InboxRow.edited_text)
    return (
        finish.returning(next_key.label("next_key"), edited),
        finish.returning(*thread, edited),
    )


_FINISH_ANSWERED, _FINISH_ANSWERED_SQLITE = _finish_answered()


def _context_query(which: ColumnElement[bool]) -> Any:
    """The bound chat and the channel's and workspace's settings rows of the questions
    ``which`` selects: one row per question and settings row found (at most two)."""
    inbox, chats, settings = _INBOX, _CHATS, _SETTINGS
    return (
        select(
            inbox.c.key,
            inbox.c.channel.label("asked_in"),
            chats.c.chat_id.label("bound_chat_id"),
            settings.c.channel.label("settings_channel"),
            *(settings.c[name] for name in SETTINGS_FIELDS),
        )
        .select_from(
            inbox.outerjoin(
                chats,
                and_(
                    chats.c.platform == inbox.c.platform,
                    chats.c.workspace == inbox.c.workspace,
                    chats.c.channel == inbox.c.channel,
                    chats.c.thread == inbox.c.thread,
                ),
            ).outerjoin(
                settings,
                and_(
                    settings.c.platform == inbox.c.platform,
                    settings.c.workspace == inbox.c.workspace,
                    or_(settings.c.channel == inbox.c.channel, settings.c.channel == ""),
                ),
            )
        )
        .where(which)
    )


_CONTEXT_ONE: Final = _context_query(_INBOX.c.key == bindparam("x_key"))
_CONTEXT_MANY: Final = _context_query(_INBOX.c.key.in_(bindparam("x_keys", expanding=True)))


def _contexts(rows: Sequence[RowMapping]) -> dict[str, AnswerContext]:
    """Each question's context from :func:`_context_query` rows: the channel's settings row
    beats the workspace's (``get_channel_settings``' rule)."""
    chat_ids: dict[str, str | None] = {}
    best: dict[str, RowMapping] = {}
    for row in rows:
        key = row["key"]
        chat_ids[key] = row["bound_chat_id"]
        found = row["settings_channel"]
        if found is None:
            continue
        if key not in best or found == row["asked_in"]:
            best[key] = row
    return {
        key: AnswerContext(
            settings=channel_settings(best[key]) if key in best else None, chat_id=chat_id
        )
        for key, chat_id in chat_ids.items()
    }


def _same_thread(model: type[InboxRow], thread: ThreadKey) -> tuple[ColumnElement[bool], ...]:
    return (
        col(model.platform) == thread.platform,
        col(model.workspace) == thread.workspace,
        col(model.channel) == thread.channel,
        col(model.thread) == thread.thread,
    )


def _clip(error: str | None) -> str | None:
    return None if error is None else error[:_ERROR_LENGTH]


def _job(row: RowMapping, context: AnswerContext | None = None) -> Job:
    return Job(
        key=row["key"],
        question=Question(
            thread=ThreadKey(row["platform"], row["workspace"], row["channel"], row["thread"]),
            text=row["text"],
            user_id=row["user_id"],
            user_name=row["user_name"],
            message_ref=row["message_ref"],
            locale=row["locale"],
        ),
        chat_id=row["chat_id"],
        posted=tuple(row["posted"]),
        attempt=row["attempts"],
        accepted_at=row["accepted_at"],
        context=context,
    )
