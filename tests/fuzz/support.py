"""Running one whole serving process for many hypothesis examples.

hypothesis drives a synchronous test function, so the process under test runs in an event
loop of its own thread (started once per module: a process per example would be far too
slow), and each example hands its requests to that loop and waits for them.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from sqlalchemy import select
from sqlalchemy.engine import URL

from core.store.inbox import _INBOX
from core.store.sql import SqlStore
from tests.logcapture import CapturedLogs

__all__ = [
    "CapturedLogs",
    "LoopThread",
    "Row",
    "assert_every_question_answered_or_told",
    "inbox_rows",
    "own_postgres_database",
]

T = TypeVar("T")

#: Seconds one example may take to be handled and answered.
EXAMPLE_TIMEOUT_S = 30.0


class LoopThread:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = EXAMPLE_TIMEOUT_S) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@dataclass(frozen=True)
class Row:
    key: str
    status: str
    posted: tuple[str, ...]


async def inbox_rows(store: SqlStore) -> list[Row]:
    """Every question the inbox ever accepted, with its status and messages."""
    query = select(_INBOX.c.key, _INBOX.c.status, _INBOX.c.posted)
    async with store._read() as conn:
        rows = (await conn.execute(query)).all()
    return [Row(key, status, tuple(posted or ())) for key, status, posted in rows]


def assert_every_question_answered_or_told(rows: list[Row], shown: set[str]) -> None:
    """No accepted question is left waiting, and each has a message on the platform: its
    answer, or the sentence saying why there is none."""
    for row in rows:
        assert row.status in ("answered", "failed"), row
        assert row.posted, f"{row.key} ({row.status}) has no message on the platform"
        assert set(row.posted) <= shown, row


@contextmanager
def own_postgres_database(admin_url: URL) -> Iterator[str]:
    """A PostgreSQL database of its own (created, then dropped), as a SQLAlchemy URL.

    For a process that lives across a module's tests: the session database of
    ``tests/conftest.py`` is emptied before every test that asks for it.
    """
    admin = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"gloo_fuzz_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = admin_url.set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
