"""Schema migrations (Alembic), driven from code: there is no ``alembic.ini``.

``upgrade`` is idempotent — running it on an up-to-date database changes nothing — and
safe to run from several processes at once (see ``migrations/env.py``). Within one
process, Alembic commands are serialized: Alembic's ``context`` and ``op`` are
process-wide proxies, so two commands running at once would step on each other. Alembic's
own log lines go through the standard ``logging`` tree; nothing here configures logging.

To write a new revision after changing :mod:`core.store.tables`::

    from alembic import command
    from core.store.migrate import alembic_config

    command.revision(
        alembic_config("sqlite+aiosqlite:///./data/dev.db"),  # a DB migrated to head
        message="add something",
        autogenerate=True,
        rev_id="0002",
    )
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final, ParamSpec, TypeVar

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from core.store.engine import SQLITE_BEGIN_OPTION, create_engine, normalize_database_url

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "downgrade",
    "engine_revision",
    "head_revision",
    "is_up_to_date",
    "upgrade",
    "upgrade_engine",
]

log = structlog.get_logger(__name__)

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"

_P = ParamSpec("_P")
_T = TypeVar("_T")

# Held while any Alembic command runs in this process (see the module docstring).
_alembic_lock = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic :class:`Config` for this project's migrations, optionally for ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        # ConfigParser interpolates "%": escape it (percent-encoded passwords).
        config.set_main_option("sqlalchemy.url", normalize_database_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision shipped with the code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (a no-op when it is there already).

    Alembic is synchronous and its ``env.py`` runs its own event loop, so the command
    runs in a worker thread and never blocks this loop.
    """
    before = await current_revision(url)
    await asyncio.to_thread(_locked, command.upgrade, alembic_config(url), revision)
    _log_upgrade(before, await current_revision(url), revision)


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` back to ``revision`` (``"base"`` empties it)."""
    before = await current_revision(url)
    await asyncio.to_thread(_locked, command.downgrade, alembic_config(url), revision)
    after = await current_revision(url)
    log.warning("database schema downgraded", from_revision=before, to_revision=after)


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision``, on one of its connections.

    Unlike :func:`upgrade` this also works for an in-memory SQLite database, which only
    exists inside that engine.
    """
    before = await engine_revision(engine)
    async with _holding_alembic_lock(), engine.connect() as connection:
        await connection.run_sync(_run_upgrade, revision)
    _log_upgrade(before, await engine_revision(engine), revision)


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; ``None`` for an unmigrated database."""
    engine = create_engine(url)
    try:
        return await engine_revision(engine)
    finally:
        await engine.dispose()


async def is_up_to_date(url: str) -> bool:
    """True when the database at ``url`` is at :func:`head_revision`."""
    return await current_revision(url) == head_revision()


def _locked(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run an Alembic command in this (worker) thread, one command at a time."""
    with _alembic_lock:
        return fn(*args, **kwargs)


@asynccontextmanager
async def _holding_alembic_lock() -> AsyncIterator[None]:
    """The Alembic lock, waited for in a worker thread so the event loop keeps running."""
    acquiring = asyncio.ensure_future(asyncio.to_thread(_alembic_lock.acquire))
    try:
        await asyncio.shield(acquiring)
    except BaseException:
        # Cancelled while waiting: the worker thread still gets the lock; hand it back then.
        acquiring.add_done_callback(_release_if_acquired)
        raise
    try:
        yield
    finally:
        _alembic_lock.release()


def _release_if_acquired(acquiring: asyncio.Future[bool]) -> None:
    if not acquiring.cancelled() and acquiring.exception() is None and acquiring.result():
        _alembic_lock.release()


async def engine_revision(engine: AsyncEngine) -> str | None:
    """The revision the database behind ``engine`` is at (``None``: not migrated)."""
    async with engine.connect() as connection:
        readonly = await connection.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
        return await readonly.run_sync(_current_revision)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _run_upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _log_upgrade(before: str | None, after: str | None, target: str) -> None:
    if before == after:
        log.debug("database schema unchanged", revision=after, target=target)
    else:
        log.info("database schema migrated", from_revision=before, to_revision=after)
