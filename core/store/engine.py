"""Database URLs and async engines for the two supported backends: SQLite and PostgreSQL.

SQLite (``sqlite+aiosqlite``) is the zero-setup default; PostgreSQL (``postgresql+psycopg``)
is for deployments with more than one process or a managed database.

SQLite transactions are controlled by SQLAlchemy rather than by the ``sqlite3`` module's
legacy mode: every transaction starts with ``BEGIN IMMEDIATE`` (it takes the write lock up
front, so read-modify-write transactions never fail with ``SQLITE_BUSY`` half-way through
and the busy timeout applies), unless the connection carries the execution option
:data:`SQLITE_BEGIN_OPTION` set to ``"DEFERRED"`` — which read-only work uses so that
readers never queue behind writers.
"""

from __future__ import annotations

import select
import sqlite3
import time
from pathlib import Path
from typing import Any, Final

import structlog
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

__all__ = [
    "SQLITE_BEGIN_OPTION",
    "SQLITE_BUSY_TIMEOUT_MS",
    "create_engine",
    "is_sqlite_memory",
    "normalize_database_url",
    "sqlite_file_path",
]

log = structlog.get_logger(__name__)

SQLITE_DRIVER: Final = "sqlite+aiosqlite"
POSTGRES_DRIVER: Final = "postgresql+psycopg"

#: Execution option read when a SQLite transaction begins: ``"IMMEDIATE"`` (the default)
#: or ``"DEFERRED"`` (for read-only work).
SQLITE_BEGIN_OPTION: Final = "gloo_sqlite_begin"
_SQLITE_BEGIN_MODES: Final = frozenset({"DEFERRED", "IMMEDIATE"})

#: How long a SQLite connection waits for another one's write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS: Final = 30_000

#: Switching a new database file to WAL: how long to keep trying, and how often.
_WAL_SWITCH_DEADLINE_S: Final = 5.0
_WAL_SWITCH_RETRY_S: Final = 0.01

#: Connections a PostgreSQL pool keeps open (``DATABASE_POOL_SIZE``). A transaction holds
#: its connection across its round trips, so with fewer kept connections than transactions in
#: flight every extra one is opened and closed again: a new server backend each time.
DEFAULT_POSTGRES_POOL_SIZE: Final = 20
_POSTGRES_POOL_RECYCLE_S: Final = 1800
#: A pooled PostgreSQL connection idle longer than this is pinged (``SELECT 1``) before it is
#: handed out; a younger one only has its socket looked at (see :func:`_install_liveness_check`).
POSTGRES_PING_AFTER_IDLE_S: Final = 30.0
_CHECKED_IN_AT: Final = "gloo_checked_in_at"
#: The clock of the pool's idle times (tests move it).
_pool_clock = time.monotonic

_URL_PREFIXES: Final = (
    ("postgres://", f"{POSTGRES_DRIVER}://"),
    ("postgresql://", f"{POSTGRES_DRIVER}://"),
    ("sqlite://", f"{SQLITE_DRIVER}://"),
)


def normalize_database_url(url: str) -> str:
    """Give a database URL the async driver this service uses.

    ``postgres://`` and ``postgresql://`` (as hosting providers hand them out) become
    ``postgresql+psycopg://``; ``sqlite://`` becomes ``sqlite+aiosqlite://``. URLs that
    already name a driver are returned unchanged (apart from surrounding whitespace).
    """
    url = url.strip()
    for prefix, replacement in _URL_PREFIXES:
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    return url


def is_sqlite_memory(url: URL) -> bool:
    """True for an in-memory SQLite database (no file behind it)."""
    database = url.database or ""
    if database in ("", ":memory:"):
        return True
    if str(url.query.get("uri", "")).lower() not in ("true", "1"):
        return False
    return url.query.get("mode") == "memory" or database.startswith("file::memory:")


def sqlite_file_path(url: str | URL) -> Path | None:
    """The file behind a SQLite URL, or ``None`` (another backend, or in-memory)."""
    parsed = make_url(normalize_database_url(url)) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite" or is_sqlite_memory(parsed):
        return None
    database = parsed.database or ""
    if database.startswith("file:"):
        database = database[len("file:") :]
    return Path(database)


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = DEFAULT_POSTGRES_POOL_SIZE
) -> AsyncEngine:
    """An :class:`AsyncEngine` for ``url`` (normalized first), tuned for its backend.

    SQLite: the database file's folder is created, and every connection gets WAL
    journaling, foreign keys, a busy timeout and SQLAlchemy-controlled transactions.
    PostgreSQL: a bounded, recycled connection pool that keeps ``pool_size`` connections and
    opens as many again for a burst (closed when they are handed back), every connection
    checked for life before it is handed out (:func:`_install_liveness_check`).

    Raises :class:`ValueError` for any other backend.
    """
    parsed = make_url(normalize_database_url(url))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _create_sqlite_engine(parsed, echo=echo)
    if backend == "postgresql":
        engine = create_async_engine(
            parsed,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=_POSTGRES_POOL_RECYCLE_S,
        )
        _install_liveness_check(engine)
        return engine
    raise ValueError(
        f"unsupported database backend {backend!r}: use sqlite+aiosqlite:/// or "
        "postgresql+psycopg://"
    )


def _install_liveness_check(engine: AsyncEngine) -> None:
    """Hand out no pooled PostgreSQL connection the server has closed, at no round trip.

    SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` in autocommit at every checkout
    (``_psycopg_common.do_ping``): a round trip and a server transaction of its own before
    every unit of work, as many transactions again as the service's own. A connection the
    server ended (restart, ``pg_terminate_backend``, idle timeout) has sent its last message
    and closed its end: its socket, which has nothing to read while the connection idles in
    the pool, reads as ready. So a connection is handed out when psycopg holds it for
    open and unbroken and its socket has nothing to read; one idle longer than
    :data:`POSTGRES_PING_AFTER_IDLE_S` (where a silently dropped network path would show
    nothing) is pinged as before. Otherwise the pool discards it and opens another
    (``DisconnectionError`` from a ``checkout`` listener, SQLAlchemy's documented way).
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(dbapi_connection: Any, connection_record: Any) -> None:
        if connection_record is not None:
            connection_record.info[_CHECKED_IN_AT] = _pool_clock()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
        checked_in_at = connection_record.info.pop(_CHECKED_IN_AT, None)
        if checked_in_at is None:  # a connection opened for this checkout
            return
        if not _looks_alive(connection_record.driver_connection):
            raise exc.DisconnectionError("the server closed this pooled connection")
        if _pool_clock() - checked_in_at > POSTGRES_PING_AFTER_IDLE_S:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except Exception as error:
                raise exc.DisconnectionError(f"ping failed: {error}") from error


def _looks_alive(connection: Any) -> bool:
    """psycopg holds ``connection`` open and unbroken, and its socket has nothing to read."""
    if connection is None or connection.closed or connection.broken:
        return False
    try:
        readable, _, _ = select.select([connection.pgconn.socket], [], [], 0)
    except (OSError, ValueError, AttributeError):
        return False
    return not readable


def _create_sqlite_engine(url: URL, *, echo: bool) -> AsyncEngine:
    if url.drivername != SQLITE_DRIVER:
        raise ValueError(f"SQLite needs the async driver: use {SQLITE_DRIVER}:///path/to/file.db")
    memory = is_sqlite_memory(url)
    kwargs: dict[str, Any] = {}
    if memory:
        # One connection is the whole database: keep exactly one, and hand it to one
        # task at a time (a StaticPool would share it between concurrent transactions).
        kwargs.update(poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0)
    else:
        path = sqlite_file_path(url)
        if path is not None:
            _check_folder(url, path)
        if path is not None and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            log.info("created database folder", path=str(path.parent))
    engine = create_async_engine(url, echo=echo, **kwargs)
    _install_sqlite_hooks(engine, wal=not memory)
    return engine


class SqliteFolderIsAFile(NotADirectoryError):
    """A SQLite file's folder (or one above it) is a file (core.failures says so plainly)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(f"{folder} is not a folder")
        self.folder = folder


def _check_folder(url: URL, path: Path) -> None:
    """Refuse, before aiosqlite starts a thread, a file whose folder (or an ancestor) is a
    file: opening it fails anyway, and aiosqlite's failed connect leaves its worker thread
    to answer a loop that may have closed by then (a stray traceback at exit)."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SqliteFolderIsAFile(parent)
            return


def _ensure_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (a persistent, once-per-file change).

    Switching to WAL needs an exclusive lock and SQLite reports ``database is locked``
    at once instead of waiting through the busy timeout when another connection holds
    one — as happens when several connections open a new database together. Only that
    first switch can collide, so it is retried briefly; once any connection has made
    it, every later one finds the file in WAL mode already.
    """
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + _WAL_SWITCH_DEADLINE_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
        # Blocking, but only during the first opening of a new database file.
        time.sleep(_WAL_SWITCH_RETRY_S)


def _install_sqlite_hooks(engine: AsyncEngine, *, wal: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Take BEGIN away from the sqlite3 module's legacy transaction handling (which
        # never begins a transaction for SELECT); ``_on_begin`` emits it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                _ensure_wal(cursor)
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = str(conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")).upper()
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"{SQLITE_BEGIN_OPTION} must be one of {sorted(_SQLITE_BEGIN_MODES)}")
        conn.exec_driver_sql(f"BEGIN {mode}")
