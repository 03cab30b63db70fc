"""Learned facts: one row per name, the newest observation wins (see :class:`LearnedFactRow`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from core.ports import LearnedFact
from core.store.base import SqlBase
from core.store.tables import LearnedFactRow, utcnow

__all__ = ["FactQueries"]


class FactQueries(SqlBase):
    """:class:`core.ports.FactStore` in SQL."""

    async def read_fact(self, name: str) -> LearnedFact | None:
        """The fact recorded under ``name``, or None when nothing was recorded."""
        query = select(col(LearnedFactRow.value), col(LearnedFactRow.seen_at)).where(
            col(LearnedFactRow.name) == name
        )
        async with self._read() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            return None
        return LearnedFact(name=name, value=row.value, seen_at=row.seen_at)

    async def record_fact(self, name: str, value: str, seen_at: datetime | None = None) -> None:
        """Record ``value`` under ``name`` (replacing what was there), seen at ``seen_at``."""
        insert = self._insert(LearnedFactRow).values(
            name=name, value=value, seen_at=seen_at or utcnow()
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["name"],
            set_={"value": insert.excluded.value, "seen_at": insert.excluded.seen_at},
        )
        async with self._write() as conn:
            await conn.execute(upsert)
