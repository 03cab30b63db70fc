"""What one answer costs the process: CPU, database transactions and statements.

``python -m devtools.benchcost`` drives ``--answers`` questions through the production core — the
composition root, the Gloo client, the durable inbox and the
:class:`~core.delivery.Dispatcher` — with the Gloo simulator **in its own process over real
HTTP** (``gloo-bots simulator``), so its CPU is not the product's. The platform side is a
minimal responder that posts one message on the first text, changes it as the dispatcher
paces it (once a second, as on Slack) and records the posted id, as a platform adapter does;
it costs almost nothing, so the figure is the core's own.

Transactions and statements are counted with SQLAlchemy engine events (``begin``,
``before_cursor_execute``) on the store's engine, on a fresh PostgreSQL database (or the
``--database-url`` given). ``--profile`` prints the functions that took the most CPU and the
CPU by package (cProfile); ``--sample`` the CPU by subsystem from stack samples.
``--platform slack`` measures the real Slack adapter instead (:mod:`devtools.benchcost_slack`).
The result and the counter live in :mod:`devtools.benchcost_common` and are re-exported here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterator, Sequence
from typing import Final

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from core import eventloop
from core.bootstrap import build, network_transport
from core.delivery import Job, PostedCallback
from core.logs import configure_logging
from core.store.engine import normalize_database_url
from core.store.sql import SqlStore
from core.types import Question, Reply, ThreadKey
from devtools.benchcost_common import API_KEY as _API_KEY
from devtools.benchcost_common import (
    CORE_POINTS,
    CORE_SUBSYSTEMS,
    CostResult,
    Counter,
    count_server_transactions,
    count_statements,
    product_settings,
)
from devtools.benchcost_common import free_port as _free_port
from devtools.benchprofile import EntryPoint, Profiler, report
from devtools.benchsample import StackSampler, summary

__all__ = [
    "CORE_POINTS",
    "CORE_SUBSYSTEMS",
    "CostResult",
    "Counter",
    "count_statements",
    "main",
    "measure",
]

LOCAL_POSTGRES: Final = "postgresql://postgres@127.0.0.1:5432/postgres"


class _Platform:
    """A platform that posts one message per answer and edits it as text streams."""

    def __init__(self, pace: float = 1.0) -> None:
        self.done: dict[str, asyncio.Future[None]] = {}
        self.pace = pace  # seconds between two changes, as on Slack
        self.calls = 0
        self.failures: list[str] = []

    def expect(self, key: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.done[key] = future
        return future

    async def working(self, job: Job) -> None:
        return None

    async def still_working(self, job: Job) -> None:
        return None

    async def recover(self, job: Job, known: Collection[str]) -> list[str]:
        return []

    async def open(self, job: Job, posted: PostedCallback) -> _Surface:
        return _Surface(self, job, posted)

    def _resolve(self, key: str) -> None:
        future = self.done.get(key)
        if future is not None and not future.done():
            future.set_result(None)


class _Surface:
    """One answer: a message posted with the first text, then changed at Slack's pace."""

    def __init__(self, platform: _Platform, job: Job, posted: PostedCallback) -> None:
        self._platform = platform
        self._job = job
        self._posted = posted
        self._shown = bool(job.posted)

    def pace(self) -> float:
        return self._platform.pace

    async def progress(self, text: str) -> None:
        self._platform.calls += 1
        if not self._shown:
            self._shown = True
            await self._posted([f"m-{self._job.key}"])

    async def final(self, reply: Reply) -> None:
        self._platform.calls += 1
        self._platform._resolve(self._job.key)

    def close(self) -> None:
        return None

    async def halt(self) -> None:
        return None

    async def failure(self, sentence: str) -> None:
        self._platform.failures.append(sentence)
        self._platform._resolve(self._job.key)


@contextlib.contextmanager
def _simulator(chunk_latency: float, first_chunk_latency: float) -> Iterator[str]:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "core",
        "simulator",
        "--port",
        str(port),
        "--first-chunk-latency",
        str(first_chunk_latency),
        "--chunk-latency",
        str(chunk_latency),
        "--api-key",
        _API_KEY,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def _fresh_postgres(admin_url: str) -> Iterator[str]:
    admin = make_url(normalize_database_url(admin_url))
    libpq = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"cost_{secrets.token_hex(4)}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


async def measure(
    database_url: str,
    gloo_url: str,
    *,
    answers: int,
    threads: int,
    concurrency: int,
    profile: Profiler | None = None,
) -> CostResult:
    """Answer ``answers`` questions in ``threads`` threads, ``concurrency`` at a time."""
    settings = product_settings(
        database_url,
        gloo_url,
        # Room above the bench's own limit: a finished answer still holds its slot for a
        # moment after the platform has shown it.
        inbox_concurrency=2 * concurrency,
    )
    platform = _Platform()
    errors = 0
    async with build(settings, transport=network_transport(settings)) as container:
        store = container.store
        assert isinstance(store, SqlStore)
        container.dispatcher.register("cost", platform)
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int) -> None:
            nonlocal errors
            name = f"T{index % threads}" if index >= 0 else "warm-up"
            thread = ThreadKey("cost", "W", f"C{index % 10}", name)
            key = f"cost:{index}"
            question = Question(
                thread, f"Question {index} about grace", user_id="U1", message_ref=key
            )
            async with gate:
                done = platform.expect(key)
                await container.dispatcher.submit(Job(key, question))
                try:
                    await asyncio.wait_for(done, 120)
                except TimeoutError:
                    errors += 1

        # Warm up: connections, the token, statement caches, and a stream that carries its
        # chat id (until then the client asks new chats without streaming).
        for index in range(-5, 0):
            await one(index)
        await container.dispatcher.drain()
        platform.calls = 0
        async with count_server_transactions(store.engine) as server:
            with count_statements(store.engine) as counter:
                cpu = time.process_time()
                started = time.perf_counter()
                if profile is not None:
                    profile.enable()
                await asyncio.gather(*(one(i) for i in range(answers)))
                await container.dispatcher.drain()
                if profile is not None:
                    profile.disable()
                seconds = time.perf_counter() - started
                cpu = time.process_time() - cpu
        errors += len(platform.failures)
    return CostResult(
        answers=answers,
        errors=errors,
        seconds=round(seconds, 3),
        cpu_ms_per_answer=round(cpu * 1000 / answers, 2),
        transactions_per_answer=round(counter.transactions / answers, 2),
        statements_per_answer=round(counter.statements / answers, 2),
        responder_calls_per_answer=round(platform.calls / answers, 2),
        statements={k: round(v / answers, 2) for k, v in counter.kinds.most_common()},
        connections_opened=counter.connections,
        server_transactions_per_answer=(
            None if server.transactions is None else round(server.transactions / answers, 2)
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.benchcost", description=__doc__)
    parser.add_argument(
        "--platform",
        choices=("core", "slack"),
        default="core",
        help="core: the minimal in-process platform (default); slack: the real Slack adapter "
        "in HTTP mode, the fake Slack in another process (devtools.benchcost_slack)",
    )
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--threads", type=int, default=200, help="distinct threads asked in")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--chunk-latency", type=float, default=0.0)
    parser.add_argument("--first-chunk-latency", type=float, default=0.0)
    parser.add_argument("--database-url", help="a migrated-or-empty database (default: fresh)")
    parser.add_argument(
        "--loop",
        choices=("auto", "uvloop", "asyncio"),
        default="auto",
        help="the event loop, as EVENT_LOOP (core.eventloop; default: auto)",
    )
    how = parser.add_mutually_exclusive_group()
    how.add_argument(
        "--profile",
        action="store_true",
        help="print the top CPU functions and the CPU by package (cProfile)",
    )
    how.add_argument(
        "--sample",
        action="store_true",
        help="print the CPU by subsystem, root, package and entry point (stack samples)",
    )
    args = parser.parse_args(argv)
    configure_logging(level="WARNING")
    profile: cProfile.Profile | StackSampler | None = None
    if args.profile:
        # CPU time, not wall time: the loop's waits in epoll cost nothing.
        profile = cProfile.Profile(time.process_time)
    elif args.sample:
        profile = StackSampler()
    with contextlib.ExitStack() as stack:
        gloo = stack.enter_context(_simulator(args.chunk_latency, args.first_chunk_latency))
        url = args.database_url or stack.enter_context(_fresh_postgres(LOCAL_POSTGRES))
        run = measure
        points: Sequence[EntryPoint] = CORE_POINTS
        subsystems: Sequence[EntryPoint] = CORE_SUBSYSTEMS
        if args.platform == "slack":
            # Imported here: it imports this module's parts.
            from devtools.benchcost_slack import SLACK_POINTS, SLACK_SUBSYSTEMS, measure_slack

            run, points, subsystems = measure_slack, SLACK_POINTS, SLACK_SUBSYSTEMS
        result = eventloop.run(
            run(
                url,
                gloo,
                answers=args.answers,
                threads=args.threads,
                concurrency=args.concurrency,
                profile=profile,
            ),
            args.loop,
        )
    print(json.dumps(result.__dict__, indent=2))
    if isinstance(profile, cProfile.Profile):
        print(report(profile, top=30, per=args.answers))
    elif isinstance(profile, StackSampler):
        print(summary(profile, points=points, subsystems=subsystems, per=args.answers))
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
