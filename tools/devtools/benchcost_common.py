"""What the two cost benches share: the result, the statement counter, the free port.

:mod:`devtools.benchcost` (the core, and the CLI) and :mod:`devtools.benchcost_slack` (the
real Slack adapter) both report a :class:`CostResult`, count the store's transactions and
statements with :func:`count_statements`, and name the core's subsystems for ``--sample``
(:data:`CORE_POINTS`, :data:`CORE_SUBSYSTEMS`). ``devtools.benchcost`` re-exports them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import psycopg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from devtools.benchprofile import EntryPoint

__all__ = [
    "API_KEY",
    "CORE_POINTS",
    "CORE_SUBSYSTEMS",
    "CostResult",
    "Counter",
    "ServerCounter",
    "count_server_transactions",
    "count_statements",
    "free_port",
    "product_settings",
]

#: The simulator's API key in the cost benches (the product is given the same).
API_KEY: Final = "cost-bench-key"


def product_settings(database_url: str, gloo_url: str, **overrides: Any) -> Settings:
    """The serving process's settings in the HTTP benches: the Message API at ``gloo_url``
    (a simulator accepting :data:`API_KEY`), ``database_url``, quotas off, warnings only."""
    values: dict[str, Any] = {
        "gloo_backend": "message",
        "gloo_api_url": gloo_url,
        "gloo_api_key": API_KEY,
        "database_url": database_url,
        "quota_user_per_minute": 0,
        "quota_user_per_day": 0,
        "quota_workspace_per_day": 0,
        "log_level": "WARNING",
    }
    return Settings(_env_file=None, **{**values, **overrides})


_VERB: Final = re.compile(r"^\s*(\w+)\s+(\w+)")
_TABLE: Final = re.compile(r"\b(?:FROM|INTO)\s+(\w+)", re.I)

#: Entry points of the core's work on an answer (``--sample``: their inclusive CPU).
CORE_POINTS: Final = (
    EntryPoint("question accepted (Dispatcher.submit)", "core/delivery.py", "submit"),
    EntryPoint("job run (claim, answer, finish)", "core/delivery.py", "_run"),
    EntryPoint("  answer streamed to the surface", "core/answering.py", "show_answer"),
    EntryPoint("  Gloo stream (client, SSE parsing)", "core/gloo/client.py", "stream"),
    EntryPoint("  httpx requests (Gloo)", "httpx/_client.py", "send"),
    EntryPoint("SQLAlchemy async calls", "sqlalchemy/util/concurrency.py", "greenlet_spawn"),
)
#: The core's subsystems (``--sample``: each sample goes to the innermost that names it).
CORE_SUBSYSTEMS: Final = (
    *(
        EntryPoint("database (SQLAlchemy, psycopg, core.store)", f, "*")
        for f in ("/sqlalchemy/", "/psycopg/", "/psycopg_pool/", "core/store/")
    ),
    *(
        EntryPoint("Gloo client (core.gloo, httpx, httpcore, h11, anyio)", f, "*")
        for f in ("core/gloo/", "/httpx/", "/httpcore/", "/h11/", "/anyio/")
    ),
    *(
        EntryPoint("logging (structlog, logging)", f, "*")
        for f in ("/structlog/", "core/logs.py", "/logging/")
    ),
    *(
        EntryPoint("metrics (prometheus_client)", f, "*")
        for f in ("/prometheus_client/", "core/metrics.py")
    ),
    *(
        EntryPoint("answer: service, pump, presentation (core)", f, "*")
        for f in (
            "core/service.py",
            "core/answering.py",
            "core/presentation.py",
            "core/text.py",
            "core/types.py",
        )
    ),
    *(
        EntryPoint("dispatcher, inbox, budget (core)", f, "*")
        for f in (
            "core/delivery.py",
            "core/budget.py",
            "core/quotas.py",
            "core/access.py",
        )
    ),
    *(
        EntryPoint("the bench's minimal platform", "devtools/benchcost.py", name)
        for name in (
            "working",
            "open",
            "progress",
            "final",
            "failure",
            "_resolve",
            "expect",
            "pace",
        )
    ),
)


@dataclass
class Counter:
    """Transactions begun, statements executed and connections opened on one engine."""

    transactions: int = 0
    statements: int = 0
    connections: int = 0
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)

    def reset(self) -> None:
        self.transactions = 0
        self.statements = 0
        self.connections = 0
        self.kinds.clear()


@contextlib.contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[Counter]:
    """Count what ``engine`` does while the block runs (listeners removed afterwards)."""
    counter = Counter()
    sync = engine.sync_engine

    def on_begin(conn: Any) -> None:
        counter.transactions += 1

    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        counter.connections += 1

    def on_execute(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        counter.statements += 1
        match = _VERB.match(statement)
        if match is not None:
            verb = match.group(1).upper()
            found = None if verb == "UPDATE" else _TABLE.search(statement)
            table = match.group(2) if verb == "UPDATE" else (found.group(1) if found else "")
            counter.kinds[f"{verb} {table}".strip()] += 1

    event.listen(sync, "begin", on_begin)
    event.listen(sync, "before_cursor_execute", on_execute)
    event.listen(sync, "connect", on_connect)
    try:
        yield counter
    finally:
        event.remove(sync, "begin", on_begin)
        event.remove(sync, "before_cursor_execute", on_execute)
        event.remove(sync, "connect", on_connect)


@dataclass
class ServerCounter:
    """PostgreSQL's own count of the bench database's transactions (``xact_commit +
    xact_rollback`` in ``pg_stat_database``) at the start and the end of the measured phase;
    ``None`` on SQLite."""

    before: int | None = None
    after: int | None = None

    @property
    def transactions(self) -> int | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


#: How long the server's count may take to settle, and how often it is read meanwhile.
_SETTLE_WITHIN_S: Final = 15.0
_SETTLE_POLL_S: Final = 0.05
_SETTLED_READS: Final = 20


@contextlib.asynccontextmanager
async def count_server_transactions(engine: AsyncEngine) -> AsyncIterator[ServerCounter]:
    """Count, as PostgreSQL does, every transaction of ``engine``'s database while the block
    runs: every backend's, read-only ones, pings and the background jobs' included.

    A backend reports its counts when it ends (an idle one up to 10 s later), so the pool is
    emptied at both ends and the count read until it stops moving. It is read from the
    ``postgres`` database, so the reads themselves are not counted."""
    counter = ServerCounter()
    if engine.dialect.name != "postgresql":
        yield counter
        return
    database = engine.url.database
    conninfo = engine.url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as reader:
        counter.before = await _settled_count(reader, engine, database)
        yield counter
        counter.after = await _settled_count(reader, engine, database)


async def _settled_count(
    reader: psycopg.AsyncConnection[Any], engine: AsyncEngine, database: str | None
) -> int:
    """The database's count once the pool's backends have ended and reported: the number of
    its backends and the count both unchanged over :data:`_SETTLED_READS` reads."""
    await engine.dispose()  # the pooled backends end, and report what they did
    query = (
        "SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s),"
        " (SELECT count(*) FROM pg_stat_activity WHERE datname = %s)"
    )
    seen: list[tuple[int, int]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _SETTLE_WITHIN_S
    while loop.time() < deadline:
        await reader.execute("SELECT pg_stat_clear_snapshot()")
        row = await (await reader.execute(query, (database, database))).fetchone()
        seen.append((int(row[0] or 0), int(row[1] or 0)) if row is not None else (0, 0))
        if len(seen) >= _SETTLED_READS and len(set(seen[-_SETTLED_READS:])) == 1:
            break
        await asyncio.sleep(_SETTLE_POLL_S)
    return seen[-1][0]


@dataclass(frozen=True)
class CostResult:
    answers: int
    errors: int
    seconds: float
    cpu_ms_per_answer: float
    transactions_per_answer: float
    statements_per_answer: float
    responder_calls_per_answer: float
    statements: dict[str, float]
    #: Platform API calls per answer by method, when the platform is a real one (Slack).
    platform_calls: dict[str, float] = field(default_factory=dict)
    #: Platform calls answered HTTP 429 over the run.
    platform_429: int = 0
    #: PostgreSQL's own count per answer (:func:`count_server_transactions`); None on SQLite.
    server_transactions_per_answer: float | None = None
    #: Database connections (server backends) opened over the measured phase.
    connections_opened: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
