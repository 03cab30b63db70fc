"""Edits and deletions of the messages people asked the bot, in SQL (see :mod:`core.edits`).

A platform tells us a message was edited or deleted; the message is found by its job key
(the same key its question was accepted under, :attr:`core.types.Job.key`), as an inbox row
or as a part of a burst (``burst_parts``). What happens depends on where its question is:

* **edited** — ``gathering`` or ``pending``: its text is replaced (a burst's part, or the
  joined question of a burst already closed, too); ``answering``: the new text is kept in
  ``edited_text`` and :meth:`~core.store.inbox.InboxQueries.finish_answered` hands it back,
  so the answer can offer it; ``answered``: the new text is offered at once. An edit to the
  same text (a platform's redelivery, or a second edit back) changes nothing;
* **deleted** — ``gathering`` or ``pending``: ``withdrawn``, never asked and blocking
  nothing in its thread (pruned like an answered one); ``answering``: ``withdrawn`` and its
  claim cleared, so the answer is stopped (its process's finish no longer counts); an
  answered question stays answered. A deleted part leaves its burst.

Each change is one write transaction that reads the row under its lock (``FOR UPDATE`` on
PostgreSQL, SQLite's write lock), so an edit racing the answer's finish either lands before
it (and comes back with the finish) or finds the question answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import delete, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from core.ports import Change
from core.store.base import SqlBase
from core.store.bursts import BURST_SEPARATOR
from core.store.inbox import next_pending
from core.store.records import merge_unique
from core.store.tables import AnswerRow, BurstPartRow, InboxRow, metadata, utcnow
from core.types import ThreadKey, suggestion_ref

__all__ = ["ChangeQueries"]

_INBOX: Final = metadata.tables[InboxRow.__tablename__]
_PARTS: Final = metadata.tables[BurstPartRow.__tablename__]
_OPEN: Final = ("gathering", "pending", "answering")
_WAITING: Final = ("gathering", "pending")


class ChangeQueries(SqlBase):
    """:class:`core.ports.ChangeStore` in SQL, mixed into :class:`~core.store.sql.SqlStore`."""

    async def edit_question(self, key: str, text: str) -> Change:
        """The message of job ``key`` now reads ``text`` (see the module docstring).

        Outcomes: ``replaced`` (not asked yet: the new text is asked), ``kept`` (being
        answered: offered when the answer is done), ``offer`` (answered: offer it now),
        ``unchanged``, ``closed`` (failed or withdrawn), ``unknown``."""
        async with self._write() as conn:
            row = await _locked_question(conn, key)
            if row is not None:
                return await _edit_row(conn, row, text)
            part = await _locked_part(conn, key)
            if part is None:
                return Change("unknown")
            burst = await _locked_question(conn, part["burst_key"])
            if burst is None:
                return Change("unknown")
            if part["text"] == text:
                return Change("unchanged", burst["key"])
            status = burst["status"]
            if status in _WAITING:
                parts = await _part_texts(conn, burst["key"])
                await _set_part(conn, key, text)
                if status == "pending":
                    first = _first_of(burst["text"], [p for _, p in parts])
                    joined = [text if k == key else p for k, p in parts]
                    await _set_text(conn, burst["key"], BURST_SEPARATOR.join([first, *joined]))
                return Change("replaced", burst["key"])
            if status in ("answering", "answered"):
                parts = await _part_texts(conn, burst["key"])
                current = burst["edited_text"] or burst["text"]
                first = _first_of(current, [p for _, p in parts])
                edited = BURST_SEPARATOR.join([first, *(text if k == key else p for k, p in parts)])
                return await _keep_edit(conn, burst, edited)
            return Change("closed", burst["key"])

    async def delete_question(self, key: str) -> Change:
        """The message of job ``key`` was deleted (see the module docstring).

        Outcomes: ``withdrawn`` (not asked), ``stopped`` (withdrawn while being answered:
        ``owner`` was answering it), ``answered`` (kept), ``dropped`` (a part left its
        burst), ``closed`` (failed or withdrawn already), ``unknown``. ``next_key``: after
        a withdrawal, the thread's oldest pending question."""
        async with self._write() as conn:
            row = await _locked_question(conn, key)
            if row is not None:
                return await _withdraw(conn, row)
            part = await _locked_part(conn, key)
            if part is None:
                return Change("unknown")
            burst = await _locked_question(conn, part["burst_key"])
            if burst is None or burst["status"] not in _WAITING:
                # Being answered or done: what was asked stays as it was.
                return Change("closed" if burst is None else "answered", part["burst_key"])
            parts = await _part_texts(conn, burst["key"])
            await conn.execute(delete(BurstPartRow).where(col(BurstPartRow.key) == key))
            if burst["status"] == "pending":
                first = _first_of(burst["text"], [p for _, p in parts])
                kept = [p for k, p in parts if k != key]
                await _set_text(conn, burst["key"], BURST_SEPARATOR.join([first, *kept]))
            return Change("dropped", burst["key"])

    async def withdraw_thread(self, thread: ThreadKey) -> list[Change]:
        """The thread's root was deleted: withdraw each of its open questions, oldest first
        (each as :meth:`delete_question` would)."""
        query = (
            select(_INBOX)
            .where(*_same_thread(thread), col(InboxRow.status).in_(_OPEN))
            .order_by(col(InboxRow.accepted_at), col(InboxRow.key))
            .with_for_update()
        )
        async with self._write() as conn:
            rows = (await conn.execute(query)).mappings().all()
            return [await _withdraw(conn, row) for row in rows]

    async def offer_edit(self, key: str, text: str) -> str | None:
        """Add ``text`` (the edited question of job ``key``) to the suggestions of the
        question's answer, once, and return that suggestion's ref: clicking it asks the
        edited question as any suggestion is asked. None when the answer is not stored."""
        async with self._write() as conn:
            row = (
                (await conn.execute(select(_INBOX).where(col(InboxRow.key) == key)))
                .mappings()
                .first()
            )
            if row is None or not row["posted"]:
                return None
            posted = set(row["posted"])
            answers = (
                await conn.execute(
                    select(
                        col(AnswerRow.answer_id),
                        col(AnswerRow.suggestions),
                        col(AnswerRow.platform_message_ids),
                    )
                    .where(
                        col(AnswerRow.platform) == row["platform"],
                        col(AnswerRow.workspace) == row["workspace"],
                        col(AnswerRow.channel) == row["channel"],
                        col(AnswerRow.thread) == row["thread"],
                    )
                    .order_by(col(AnswerRow.created_at).desc())
                    .with_for_update()
                )
            ).all()
            for answer_id, suggestions, ids in answers:
                if not posted & set(ids):
                    continue
                if text in suggestions:
                    return suggestion_ref(answer_id, list(suggestions).index(text))
                await conn.execute(
                    update(AnswerRow)
                    .where(col(AnswerRow.answer_id) == answer_id)
                    .values(suggestions=[*suggestions, text])
                )
                return suggestion_ref(answer_id, len(suggestions))
        return None

    async def forget_posted(self, thread: ThreadKey, message_id: str) -> bool:
        """The bot's message ``message_id`` in ``thread`` was deleted: no question's posted
        ids and no answer's platform message ids name it any more (a re-drive posts anew
        instead of editing it). True when something named it."""
        forgot = False
        async with self._write() as conn:
            questions = (
                await conn.execute(
                    select(col(InboxRow.key), col(InboxRow.posted))
                    .where(*_same_thread(thread))
                    .with_for_update()
                )
            ).all()
            for key, posted in questions:
                if message_id in posted:
                    kept = [i for i in posted if i != message_id]
                    await conn.execute(
                        update(InboxRow).where(col(InboxRow.key) == key).values(posted=kept)
                    )
                    forgot = True
            answers = (
                await conn.execute(
                    select(col(AnswerRow.answer_id), col(AnswerRow.platform_message_ids))
                    .where(
                        col(AnswerRow.platform) == thread.platform,
                        col(AnswerRow.workspace) == thread.workspace,
                        col(AnswerRow.channel) == thread.channel,
                        col(AnswerRow.thread) == thread.thread,
                    )
                    .with_for_update()
                )
            ).all()
            for answer_id, ids in answers:
                if message_id in ids:
                    kept = merge_unique([i for i in ids if i != message_id], [])
                    await conn.execute(
                        update(AnswerRow)
                        .where(col(AnswerRow.answer_id) == answer_id)
                        .values(platform_message_ids=kept)
                    )
                    forgot = True
        return forgot


async def _locked_question(conn: AsyncConnection, key: str) -> RowMapping | None:
    query = select(_INBOX).where(col(InboxRow.key) == key).with_for_update()
    return (await conn.execute(query)).mappings().first()


async def _locked_part(conn: AsyncConnection, key: str) -> RowMapping | None:
    query = select(_PARTS).where(_PARTS.c.key == key)
    return (await conn.execute(query.with_for_update())).mappings().first()


async def _part_texts(conn: AsyncConnection, burst_key: str) -> list[tuple[str, str]]:
    """The parts of a burst, in order, as (key, text)."""
    query = (
        select(col(BurstPartRow.key), col(BurstPartRow.text))
        .where(col(BurstPartRow.burst_key) == burst_key)
        .order_by(col(BurstPartRow.id))
    )
    return [(k, t) for k, t in (await conn.execute(query)).all()]


def _first_of(joined: str, parts: Sequence[str]) -> str:
    """The first message of a closed burst whose joined text is ``joined`` (its parts
    ``parts`` after it); the whole text when it does not end with them."""
    if not parts:
        return joined
    tail = BURST_SEPARATOR + BURST_SEPARATOR.join(parts)
    return joined[: -len(tail)] if joined.endswith(tail) else joined


async def _set_part(conn: AsyncConnection, key: str, text: str) -> None:
    await conn.execute(update(BurstPartRow).where(col(BurstPartRow.key) == key).values(text=text))


async def _set_text(conn: AsyncConnection, key: str, text: str) -> None:
    await conn.execute(
        update(InboxRow).where(col(InboxRow.key) == key).values(text=text, updated_at=utcnow())
    )


async def _edit_row(conn: AsyncConnection, row: RowMapping, text: str) -> Change:
    key, status = row["key"], row["status"]
    if status in _WAITING:
        parts = await _part_texts(conn, key) if status == "pending" else []
        current = _first_of(row["text"], [p for _, p in parts])
        if current == text:
            return Change("unchanged", key)
        joined = BURST_SEPARATOR.join([text, *(p for _, p in parts)])
        await _set_text(conn, key, joined)
        return Change("replaced", key)
    if status in ("answering", "answered"):
        # A burst's first message: the parts after it stay as they were asked.
        rest = [p for _, p in await _part_texts(conn, key)]
        return await _keep_edit(conn, row, BURST_SEPARATOR.join([text, *rest]))
    return Change("closed", key)


async def _keep_edit(conn: AsyncConnection, row: RowMapping, text: str) -> Change:
    """An edit of a question being answered (kept for its finish) or answered (offered)."""
    key = row["key"]
    if text == (row["edited_text"] or row["text"]):
        return Change("unchanged", key)
    await conn.execute(
        update(InboxRow)
        .where(col(InboxRow.key) == key)
        .values(edited_text=text, updated_at=utcnow())
    )
    if text == row["text"]:
        return Change("unchanged", key)  # edited back to what was asked
    where = {"thread": _thread_of(row), "user_id": row["user_id"], "locale": row["locale"]}
    if row["status"] == "answering":
        return Change("kept", key, owner=row["claimed_by"], **where)
    return Change("offer", key, text=text, **where)


async def _withdraw(conn: AsyncConnection, row: RowMapping) -> Change:
    key, status = row["key"], row["status"]
    if status == "answered":
        return Change("answered", key)
    if status not in _OPEN:
        return Change("closed", key)
    values: dict[str, Any] = {"status": "withdrawn", "updated_at": utcnow()}
    if status == "answering":
        values |= {"claimed_by": None, "claimed_until": None}
    await conn.execute(update(InboxRow).where(col(InboxRow.key) == key).values(**values))
    thread = _thread_of(row)
    next_key = (await conn.execute(next_pending(thread))).scalar_one_or_none()
    where = {
        "thread": thread,
        "user_id": row["user_id"],
        "locale": row["locale"],
        "next_key": next_key,
    }
    if status == "answering":
        return Change("stopped", key, owner=row["claimed_by"], **where)
    return Change("withdrawn", key, **where)


def _thread_of(row: RowMapping) -> ThreadKey:
    return ThreadKey(row["platform"], row["workspace"], row["channel"], row["thread"])


def _same_thread(thread: ThreadKey) -> tuple[Any, ...]:
    return (
        col(InboxRow.platform) == thread.platform,
        col(InboxRow.workspace) == thread.workspace,
        col(InboxRow.channel) == thread.channel,
        col(InboxRow.thread) == thread.thread,
    )
