"""What every group of SQL queries shares: the engine, transactions, dialect-aware INSERT."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.store.engine import SQLITE_BEGIN_OPTION
from core.store.tables import StoreModel

__all__ = ["SqlBase"]


class SqlBase:
    """An :class:`AsyncEngine` on SQLite or PostgreSQL, with read and write transactions."""

    def __init__(self, engine: AsyncEngine) -> None:
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"SqlStore supports SQLite and PostgreSQL, not {dialect!r}")
        self._engine = engine
        self._dialect = dialect
        # On SQLite, read-only work begins DEFERRED so it never waits for the write lock.
        self._read_engine = engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def is_postgres(self) -> bool:
        return self._dialect == "postgresql"

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction that commits on success and rolls back on error.

        Plain Core statements on a connection: the ORM session's unit of work would only add
        overhead to these single-statement operations (about half of each round trip).
        """
        async with self._engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (on SQLite it does not take the write lock)."""
        async with self._read_engine.begin() as conn:
            yield conn

    def _insert(self, model: type[StoreModel]) -> sqlite.Insert | postgresql.Insert:
        if self._dialect == "postgresql":
            return postgresql.insert(model)
        return sqlite.insert(model)
