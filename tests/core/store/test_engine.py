"""Database URLs and engines: normalization, SQLite setup, backend checks."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import DEFAULT_DATABASE_URL, Settings
from core.store import engine as engine_module
from core.store.engine import (
    POSTGRES_PING_AFTER_IDLE_S,
    _ensure_wal,
    create_engine,
    is_sqlite_memory,
    normalize_database_url,
    sqlite_file_path,
)
from core.store.sql import SqlStore
from core.types import ThreadKey


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db:5432/gloo", "postgresql+psycopg://u:p@db:5432/gloo"),
        (
            "postgresql://u:p@db/gloo?sslmode=require",
            "postgresql+psycopg://u:p@db/gloo?sslmode=require",
        ),
        ("postgresql+psycopg://u@db/gloo", "postgresql+psycopg://u@db/gloo"),
        ("sqlite:///./data/gloo-bots.db", "sqlite+aiosqlite:///./data/gloo-bots.db"),
        ("sqlite:////var/lib/gloo/bots.db", "sqlite+aiosqlite:////var/lib/gloo/bots.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("  postgres://db/gloo\n", "postgresql+psycopg://db/gloo"),
        ("mysql://db/gloo", "mysql://db/gloo"),
    ],
)
def test_normalize_database_url(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


def test_normalizing_keeps_percent_encoded_passwords() -> None:
    url = normalize_database_url("postgres://bot:p%40ss%25word@db/gloo")
    assert url == "postgresql+psycopg://bot:p%40ss%25word@db/gloo"
    assert make_url(url).password == "p@ss%word"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///./data/gloo-bots.db", Path("data/gloo-bots.db")),
        ("sqlite+aiosqlite:////var/lib/gloo/bots.db", Path("/var/lib/gloo/bots.db")),
        ("sqlite+aiosqlite://", None),
        ("sqlite+aiosqlite:///:memory:", None),
        ("postgresql+psycopg://db/gloo", None),
    ],
)
def test_sqlite_file_path(url: str, expected: Path | None) -> None:
    assert sqlite_file_path(url) == expected


def test_memory_detection() -> None:
    assert is_sqlite_memory(make_url("sqlite+aiosqlite://"))
    assert is_sqlite_memory(make_url("sqlite+aiosqlite:///file:mem1?mode=memory&uri=true"))
    assert not is_sqlite_memory(make_url("sqlite+aiosqlite:///./x.db"))


@pytest.mark.parametrize("url", ["mysql+aiomysql://db/gloo", "mssql+aioodbc://db/gloo"])
def test_unsupported_backends_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported database backend"):
        create_engine(url)


async def test_a_postgres_pool_keeps_its_size_and_as_many_again_for_a_burst() -> None:
    # Creating the engine connects to nothing: the pool is only configured.
    engine = create_engine("postgresql://postgres@127.0.0.1:5432/x", pool_size=7)
    try:
        assert engine.pool.size() == 7  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == 7  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_the_default_postgres_pool_is_the_settings_default() -> None:
    engine = create_engine("postgresql://postgres@127.0.0.1:5432/x")
    try:
        assert engine.pool.size() == Settings(_env_file=None).database_pool_size  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


def test_sqlite_needs_the_async_driver(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sqlite\\+aiosqlite"):
        create_engine(f"sqlite+pysqlite:///{tmp_path / 'x.db'}")


async def test_default_sqlite_url_creates_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert not (tmp_path / "data").exists()
    store = await SqlStore.open(DEFAULT_DATABASE_URL)
    try:
        thread = ThreadKey("slack", "T1", "C1", "1700.1")
        assert await store.bind_chat_id(thread, "chat-1") == "chat-1"
    finally:
        await store.close()
    assert (tmp_path / "data" / "gloo-bots.db").is_file()


async def test_nested_sqlite_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "bots.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    finally:
        await engine.dispose()
    assert path.is_file()


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
            foreign_keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
            timeout = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
    finally:
        await engine.dispose()
    assert journal == "wal"
    assert foreign_keys == 1
    assert timeout >= 5_000


async def test_many_connections_opening_a_new_sqlite_file_together_all_succeed(
    tmp_path: Path,
) -> None:
    """The switch to WAL is not covered by the busy timeout: racing first opens retry it."""
    for attempt in range(10):
        url = f"sqlite+aiosqlite:///{tmp_path}/race-{attempt}.db"
        engines = [create_engine(url) for _ in range(6)]

        async def open_one(engine: AsyncEngine) -> str:
            async with engine.connect() as connection:
                return str((await connection.exec_driver_sql("PRAGMA journal_mode")).scalar_one())

        try:
            modes = await asyncio.gather(*(open_one(engine) for engine in engines))
        finally:
            for engine in engines:
                await engine.dispose()
        assert modes == ["wal"] * 6


class _LockedCursor:
    """A DB-API cursor whose WAL switch fails as a racing connection's would."""

    def __init__(self, failures: int, message: str = "database is locked") -> None:
        self.failures = failures
        self.message = message
        self.statements: list[str] = []

    def execute(self, statement: str) -> None:
        self.statements.append(statement)
        if statement == "PRAGMA journal_mode = WAL" and self.failures > 0:
            self.failures -= 1
            raise sqlite3.OperationalError(self.message)

    def fetchone(self) -> tuple[str]:
        return ("delete",)


def test_the_wal_switch_is_retried_while_the_file_is_locked() -> None:
    cursor = _LockedCursor(failures=3)
    _ensure_wal(cursor)
    assert cursor.statements.count("PRAGMA journal_mode = WAL") == 4


def test_other_errors_of_the_wal_switch_are_not_retried() -> None:
    cursor = _LockedCursor(failures=3, message="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _ensure_wal(cursor)
    assert cursor.statements.count("PRAGMA journal_mode = WAL") == 1


async def test_sqlite_transactions_are_real_and_roll_back(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))

        async def insert_then_fail() -> None:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (1)"))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await insert_then_fail()
        async with engine.connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one()
    finally:
        await engine.dispose()
    assert count == 0


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


async def _terminate(postgres_url: str, pid: int) -> None:
    """End the server process behind ``pid`` and wait (querying, not sleeping) until it is
    gone: ``pg_terminate_backend`` only signals it."""
    killer = create_engine(postgres_url)
    try:
        async with killer.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            while (await connection.execute(alive, {"pid": pid})).scalar_one():
                await connection.rollback()  # a new snapshot of pg_stat_activity
    finally:
        await killer.dispose()


class _Pings:
    """Counts the ``SELECT 1`` pings the engine's dialect sends."""

    def __init__(self, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        ping = engine.dialect.do_ping

        def counting(dbapi_connection: Any) -> bool:
            self.count += 1
            return bool(ping(dbapi_connection))

        monkeypatch.setattr(engine.dialect, "do_ping", counting)


@pytest.mark.postgres
async def test_postgres_pool_survives_a_dropped_connection(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection the server killed is replaced, not handed out, with no ping."""
    engine = create_engine(postgres_url)
    pings = _Pings(engine, monkeypatch)
    try:
        assert engine.dialect.driver == "psycopg"
        pid = await _backend_pid(engine)
        assert await _backend_pid(engine) == pid  # the same pooled connection
        await _terminate(postgres_url, pid)
        assert await _backend_pid(engine) != pid
        assert pings.count == 0
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_live_pooled_connection_is_handed_out_without_a_round_trip(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemy's pre-ping would send ``SELECT 1`` (its own server transaction) at every
    checkout; a connection back from its last use moments ago goes out as it is."""
    engine = create_engine(postgres_url)
    pings = _Pings(engine, monkeypatch)
    try:
        pids = {await _backend_pid(engine) for _ in range(5)}
        assert len(pids) == 1
        assert pings.count == 0
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_connection_idle_past_the_limit_is_pinged_and_replaced_if_dead(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``POSTGRES_PING_AFTER_IDLE_S`` a dropped network path could look quiet: ping."""
    engine = create_engine(postgres_url)
    pings = _Pings(engine, monkeypatch)
    idle = {"s": 0.0}
    clock = engine_module._pool_clock
    monkeypatch.setattr(engine_module, "_pool_clock", lambda: clock() + idle["s"])
    try:
        pid = await _backend_pid(engine)
        idle["s"] = POSTGRES_PING_AFTER_IDLE_S + 1  # every checkout now finds it idle long
        assert await _backend_pid(engine) == pid
        assert pings.count == 1

        def refuse(dbapi_connection: object) -> bool:
            raise OSError("no route to host")

        monkeypatch.setattr(engine.dialect, "do_ping", refuse)
        idle["s"] = 2 * (POSTGRES_PING_AFTER_IDLE_S + 1)
        assert await _backend_pid(engine) != pid  # the unanswered one was discarded
    finally:
        await engine.dispose()


async def test_in_memory_sqlite_store_works() -> None:
    store = await SqlStore.open("sqlite://")
    try:
        thread = ThreadKey("discord", "G1", "C1")
        assert await store.bind_chat_id(thread, "chat-1") == "chat-1"
        assert await store.get_chat_id(thread) == "chat-1"
    finally:
        await store.close()
