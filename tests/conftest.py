"""Fixtures for the whole suite: instant retries everywhere, and databases.

* ``instant_retries`` (autouse) — retry waits are zero in every test (each policy keeps its
  attempt count); nothing in the suite ever sleeps through a backoff.

* ``sqlite_url`` — a file database under the test's ``tmp_path``.
* ``postgres_url`` — a PostgreSQL database of this test session's own
  (``gloo_test_<random>``, dropped at the end), emptied before every test that asks for
  it. The server comes from ``TEST_POSTGRES_URL`` (default
  ``postgresql://postgres@127.0.0.1:5432/test``). When it is unreachable the tests are
  skipped, unless ``CI=true``: then they fail.
* ``database_url`` — parametrized over ``sqlite`` and ``postgres`` (the latter marked
  ``postgres``).
* ``store`` — a migrated :class:`SqlStore` on ``database_url``, closed afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from core.gloo.retry import set_instant_retries
from core.logs import configure_logging
from core.store.sql import SqlStore

DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
_CONNECT_TIMEOUT_S = 5


def configure_test_logging() -> None:
    """The production log pipeline (plain tracebacks, redaction) at DEBUG, for every test.

    structlog's default development renderer draws rich tracebacks with every frame's
    locals, which takes about a second per logged exception.
    """
    configure_logging(level="DEBUG", fmt="console")


def pytest_configure(config: pytest.Config) -> None:
    configure_test_logging()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chaos-scale",
        type=int,
        default=1,
        help="multiply the sizes of the chaos scenarios in tests/chaos (make chaos: 7)",
    )


@pytest.fixture(autouse=True)
def instant_retries() -> Iterator[None]:
    with set_instant_retries():
        yield


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _libpq_url(url: URL) -> str:
    """The URL as psycopg wants it (no SQLAlchemy driver suffix)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_admin_url() -> URL:
    """The PostgreSQL server the suite creates its databases on."""
    return make_url(os.environ.get("TEST_POSTGRES_URL") or DEFAULT_TEST_POSTGRES_URL)


@pytest.fixture(scope="session")
def _postgres_database(postgres_admin_url: URL) -> Iterator[URL]:
    admin = _libpq_url(postgres_admin_url)
    safe_admin = postgres_admin_url.render_as_string(hide_password=True)
    try:
        connection = psycopg.connect(admin, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        message = f"PostgreSQL at {safe_admin} is unreachable ({exc.__class__.__name__}: {exc})"
        if _in_ci():
            pytest.fail(f"{message}; CI=true, so Postgres tests must run", pytrace=False)
        pytest.skip(f"{message}; set TEST_POSTGRES_URL to run the Postgres tests")

    name = f"gloo_test_{uuid.uuid4().hex[:16]}"
    with connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield postgres_admin_url.set(drivername="postgresql+psycopg", database=name)
    finally:
        with psycopg.connect(
            admin, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
        ) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def postgres_url(_postgres_database: URL) -> str:
    """This session's PostgreSQL database, empty (public schema recreated, no sessions)."""
    with psycopg.connect(
        _libpq_url(_postgres_database), autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
    ) as connection:
        # Connections a previous test leaked would block the DROP: end them first.
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        connection.execute("DROP SCHEMA IF EXISTS public CASCADE")
        connection.execute("CREATE SCHEMA public")
    return _postgres_database.render_as_string(hide_password=False)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file (not created yet) under this test's ``tmp_path``."""
    return f"sqlite+aiosqlite:///{tmp_path / 'db' / 'gloo-bots.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each supported backend."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(request.getfixturevalue("sqlite_url"))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    """A migrated :class:`SqlStore` on ``database_url``."""
    opened = await SqlStore.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()
