"""Alembic migrations, on SQLite and PostgreSQL: from empty, idempotent, no drift."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from core.store import migrate
from core.store.engine import create_engine
from core.store.migrate import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    is_up_to_date,
    upgrade,
    upgrade_engine,
)
from core.store.sql import SqlStore
from core.store.tables import metadata
from core.types import ThreadKey

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TABLES = set(metadata.tables)


async def _table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def _version_rows(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return [row[0] for row in result]
    finally:
        await engine.dispose()


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def test_there_is_one_linear_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [head_revision()]
    assert head_revision() == "0010"


async def test_migrations_apply_from_empty(database_url: str) -> None:
    assert await current_revision(database_url) is None
    assert not await is_up_to_date(database_url)
    assert not (await _table_names(database_url)) & TABLES

    await upgrade(database_url)

    assert await current_revision(database_url) == head_revision()
    assert await is_up_to_date(database_url)
    assert await _table_names(database_url) >= TABLES | {"alembic_version"}


async def test_upgrading_twice_is_a_no_op(database_url: str) -> None:
    await upgrade(database_url)
    store = await SqlStore.open(database_url, migrate=False)
    try:
        await store.bind_chat_id(ThreadKey("slack", "T1", "C1", "1.0"), "chat-1")
    finally:
        await store.close()

    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()

    assert await _version_rows(database_url) == [head_revision()]
    store = await SqlStore.open(database_url)
    try:
        assert await store.get_chat_id(ThreadKey("slack", "T1", "C1", "1.0")) == "chat-1"
    finally:
        await store.close()


async def test_concurrent_upgrades_in_one_process_all_succeed(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await asyncio.gather(
            *(upgrade(database_url) for _ in range(3)),
            *(upgrade_engine(engine) for _ in range(3)),
        )
    finally:
        await engine.dispose()
    assert await _version_rows(database_url) == [head_revision()]


async def test_concurrent_upgrades_from_several_processes_all_succeed(database_url: str) -> None:
    """Bot processes starting together: the database lock lets one migrate, the rest wait."""
    code = (
        "import asyncio, logging, sys\n"
        "from core.store.migrate import upgrade\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "asyncio.run(upgrade(sys.argv[1]))\n"
    )
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            database_url,
            cwd=PROJECT_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [(await process.communicate())[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    assert sum("Running upgrade" in output for output in outputs) == 1, outputs
    assert await _version_rows(database_url) == [head_revision()]


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(_schema_diff)
    finally:
        await engine.dispose()
    assert diff == []


async def test_autogenerate_check_through_env_py_finds_nothing_to_do(database_url: str) -> None:
    await upgrade(database_url)
    # command.check runs env.py with only the URL in the Config (its own engine and loop).
    await asyncio.to_thread(command.check, alembic_config(database_url))


async def test_drift_is_detected(database_url: str) -> None:
    """The no-drift test above is not vacuous: a missing column shows up."""
    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP INDEX ix_answers_created_at"))
        async with engine.connect() as connection:
            diff = await connection.run_sync(_schema_diff)
    finally:
        await engine.dispose()
    assert [entry[0] for entry in diff] == ["add_index"]
    assert diff[0][1].name == "ix_answers_created_at"


async def test_downgrade_to_base_and_back(database_url: str) -> None:
    await upgrade(database_url)
    await downgrade(database_url, "base")
    assert await current_revision(database_url) is None
    assert not (await _table_names(database_url)) & TABLES

    await upgrade(database_url)
    assert await is_up_to_date(database_url)
    assert await _table_names(database_url) >= TABLES


async def test_in_memory_database_is_migrated_on_the_store_engine() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        await upgrade_engine(engine)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
            diff = await connection.run_sync(_schema_diff)
    finally:
        await engine.dispose()
    assert set(names) >= TABLES
    assert diff == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://nobody@localhost/nothing", "TIMESTAMP WITH TIME ZONE"),
        ("sqlite+aiosqlite:///nothing.db", "DATETIME"),
    ],
)
def test_offline_mode_renders_sql(url: str, expected: str) -> None:
    config = alembic_config(url)
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, "head", sql=True)
    script = buffer.getvalue()
    for table in TABLES:
        assert f"CREATE TABLE {table}" in script
    assert expected in script
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in script


def test_alembic_config_escapes_percent_signs() -> None:
    config = alembic_config("postgres://bot:p%40ss@db/gloo")
    assert config.get_main_option("sqlalchemy.url") == "postgresql+psycopg://bot:p%40ss@db/gloo"


def test_env_py_refuses_a_config_without_url() -> None:
    with pytest.raises(RuntimeError, match=r"no sqlalchemy\.url"):
        command.upgrade(alembic_config(), "head", sql=True)


async def test_an_upgrade_cancelled_while_waiting_for_another_frees_the_lock(
    sqlite_url: str,
) -> None:
    engine = create_engine(sqlite_url)
    try:
        assert migrate._alembic_lock.acquire(timeout=5)  # another migration is running
        waiting = asyncio.create_task(upgrade_engine(engine))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        migrate._alembic_lock.release()  # the other migration ends

        await asyncio.wait_for(upgrade_engine(engine), timeout=30)
    finally:
        await engine.dispose()
    assert await current_revision(sqlite_url) == head_revision()
    assert not migrate._alembic_lock.locked()


async def test_downgrading_0009_makes_withdrawn_questions_failed(database_url: str) -> None:
    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO inbox (key, platform, workspace, channel, thread, text, user_id,"
                    " user_name, status, attempts, next_attempt_at, posted, accepted_at,"
                    " updated_at, edited_text) VALUES ('k1', 'slack', 'T1', 'C1', '', 'hi', '',"
                    " '', 'withdrawn', 0, '2026-12-07 00:00:00+00:00', '[]',"
                    " '2026-12-07 00:00:00+00:00', '2026-12-07 00:00:00+00:00', 'hello')"
                )
            )
    finally:
        await engine.dispose()
    await downgrade(database_url, "0008")
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            status = (await connection.execute(text("SELECT status FROM inbox"))).scalar_one()
            columns = await connection.run_sync(
                lambda c: {column["name"] for column in inspect(c).get_columns("inbox")}
            )
    finally:
        await engine.dispose()
    assert status == "failed"
    assert "edited_text" not in columns
    await upgrade(database_url)
    assert await is_up_to_date(database_url)
