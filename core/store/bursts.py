"""Bursts in SQL (see :mod:`core.bursts`): the first message's ``gathering`` inbox row, the
later messages in ``burst_parts``, and the window's close that joins them into one question.

A part is added and a burst is opened each in one transaction that first updates the burst's
inbox row (guarded by ``status = 'gathering'``), so the two serialize on that row: a part is
either in the joined text or refused (the caller then asks it as a question of its own),
never dropped.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from core.store.base import SqlBase
from core.store.tables import BurstPartRow, InboxRow, utcnow
from core.types import Job

__all__ = ["BURST_SEPARATOR", "ORPHAN_PARTS", "PART_KNOWN", "BurstQueries"]

#: Between the messages of a burst in the joined question.
BURST_SEPARATOR: Final = "\n"

#: Deletes the parts of bursts no longer in the inbox (pruned with their question).
ORPHAN_PARTS: Final = delete(BurstPartRow).where(
    col(BurstPartRow.burst_key).not_in(select(col(InboxRow.key)))
)

#: A row when the message ``p_key`` joined a burst (its redelivery is not a new question).
PART_KNOWN: Final = select(col(BurstPartRow.key)).where(col(BurstPartRow.key) == bindparam("p_key"))


class BurstQueries(SqlBase):
    """The burst half of :class:`core.ports.Inbox`, mixed into :class:`~core.store.sql.SqlStore`."""

    async def add_burst_part(self, burst_key: str, part: Job, until: datetime) -> bool | None:
        """Add ``part`` to the burst ``burst_key`` and move its window's end to ``until``.

        True when added; None when ``part``'s key was accepted before (a redelivery, as a
        part or as a question); False when the burst is no longer gathering (its window
        closed meanwhile: ``part`` is a question of its own).
        """
        now = utcnow()
        async with self._write() as conn:
            if await _known(conn, part.key):
                return None
            extended = (
                await conn.execute(
                    update(InboxRow)
                    .where(col(InboxRow.key) == burst_key, col(InboxRow.status) == "gathering")
                    .values(next_attempt_at=until, updated_at=now)
                    .returning(col(InboxRow.key))
                )
            ).first()
            if extended is None:
                return False
            await conn.execute(
                self._insert(BurstPartRow).values(
                    key=part.key,
                    burst_key=burst_key,
                    text=part.question.text,
                    message_ref=part.question.message_ref,
                    received_at=now,
                )
            )
        return True

    async def open_burst(self, key: str) -> bool:
        """Close the window of the burst ``key``: its question becomes the first message and
        its parts joined in order, pending and due now. False when it was not gathering."""
        now = utcnow()
        async with self._write() as conn:
            return await _open(conn, key, now)

    async def open_due_bursts(self, platforms: Collection[str]) -> list[str]:
        """Open every burst of ``platforms`` whose window has passed (its process died inside
        it, or its timer has not fired yet); their keys, oldest first."""
        now = utcnow()
        due = (
            select(col(InboxRow.key))
            .where(
                col(InboxRow.status) == "gathering",
                col(InboxRow.platform).in_(list(platforms)),
                col(InboxRow.next_attempt_at) <= now,
            )
            .order_by(col(InboxRow.accepted_at), col(InboxRow.key))
        )
        async with self._read() as conn:
            keys = list((await conn.execute(due)).scalars().all())
        opened: list[str] = []
        for key in keys:
            async with self._write() as conn:
                if await _open(conn, key, now):
                    opened.append(key)
        return opened


async def _known(conn: AsyncConnection, key: str) -> bool:
    part = select(col(BurstPartRow.key)).where(col(BurstPartRow.key) == key)
    question = select(col(InboxRow.key)).where(col(InboxRow.key) == key)
    return (await conn.execute(part.union_all(question).limit(1))).first() is not None


async def _open(conn: AsyncConnection, key: str, now: datetime) -> bool:
    # The update first: it locks the row, so a part being added commits before the parts are
    # read (or finds the burst no longer gathering).
    row = (
        await conn.execute(
            update(InboxRow)
            .where(col(InboxRow.key) == key, col(InboxRow.status) == "gathering")
            .values(status="pending", next_attempt_at=now, updated_at=now)
            .returning(col(InboxRow.text))
        )
    ).first()
    if row is None:
        return False
    parts = (
        await conn.execute(
            select(col(BurstPartRow.text))
            .where(col(BurstPartRow.burst_key) == key)
            .order_by(col(BurstPartRow.id))
        )
    ).scalars()
    texts = [row.text, *parts]
    if len(texts) > 1:
        await conn.execute(
            update(InboxRow)
            .where(col(InboxRow.key) == key)
            .values(text=BURST_SEPARATOR.join(texts))
        )
    return True
