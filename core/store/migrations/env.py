"""Alembic environment for the conversation store.

There is no ``alembic.ini``: :func:`core.store.migrate.alembic_config` builds the
:class:`alembic.config.Config` in code, with ``script_location`` pointing at this folder
and ``sqlalchemy.url`` set to the target database. Logging is left to the application
(no ``fileConfig``).

Online migrations run on the async engine (``connection.run_sync``). A caller that already
holds a connection (the sync side of an ``AsyncConnection``) can pass it as
``config.attributes["connection"]`` to migrate on it instead — that is how
:func:`core.store.migrate.upgrade_engine` works, so an in-memory SQLite database can be
migrated too.

Concurrent migrators are serialized: on PostgreSQL by a transaction-scoped advisory lock,
on SQLite by the ``BEGIN IMMEDIATE`` write lock. Each migration run is one transaction on
both backends, so a failed upgrade leaves the schema where it was.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection, make_url

from core.store.engine import create_engine, normalize_database_url
from core.store.tables import UTCDateTime, metadata

#: Key of the PostgreSQL advisory lock held while migrating ("gloobots" in ASCII).
MIGRATION_LOCK_KEY: Final = 0x676C6F6F626F7473

config = context.config


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render app-side column types as plain SQLAlchemy types in generated revisions."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _context_options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": metadata,
        "compare_type": True,
        "render_item": _render_item,
        # SQLite cannot ALTER most things: let autogenerate emit batch (copy-and-move) ops.
        "render_as_batch": dialect_name == "sqlite",
    }


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "the Alembic config has no sqlalchemy.url: build it with "
            "core.store.migrate.alembic_config(database_url)"
        )
    return normalize_database_url(url)


def run_migrations_offline() -> None:
    """Emit the migration SQL as text (``alembic upgrade --sql``) instead of running it."""
    url = _database_url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_context_options(make_url(url).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    dialect_name = connection.dialect.name
    context.configure(
        connection=connection,
        # The engine emits BEGIN itself on SQLite, so its DDL is transactional there too.
        transactional_ddl=True,
        **_context_options(dialect_name),
    )
    with context.begin_transaction():
        if dialect_name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_engine(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    shared = config.attributes.get("connection")
    if shared is None:
        asyncio.run(run_async_migrations())
    elif isinstance(shared, Connection):
        do_run_migrations(shared)
    else:
        raise TypeError(
            "config.attributes['connection'] must be a sqlalchemy Connection "
            f"(the sync side of an AsyncConnection), not {type(shared).__name__}"
        )


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
