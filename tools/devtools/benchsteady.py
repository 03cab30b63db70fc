"""Steady load (issue 12): ``--rate`` answers a second for ``--seconds``, and what the service adds.

``python -m devtools.benchsteady`` submits questions **open loop**: question *i* is handed to
:meth:`~core.delivery.Dispatcher.submit` at ``t0 + i / rate`` whether or not the earlier
answers are done, so a slow service cannot slow the arrivals down (no coordinated omission).
Everything is measured from the scheduled time; when the submitting loop itself falls
behind, ``submit_late_ms`` says by how much.

The path is the production core, as in :mod:`devtools.benchcost` (whose pieces this module
reuses): the composition root, the Gloo client over real HTTP to the Gloo simulator **in its
own process** (``gloo-bots simulator``), the durable inbox on PostgreSQL (a fresh database,
or ``--database-url``) and the dispatcher, with the serving process's scheduler
(:func:`core.scheduler.build_scheduler`: the re-drive of questions whose kick found no free
slot, every ``INBOX_POLL_INTERVAL``), quotas off and the product's default
``inbox_concurrency``. The platform is benchcost's minimal one (one posted message per answer,
changed at Slack's pace of one change a second), which notes when it got each answer's first
text and its final change.

Threads: by default a fifth of the questions (``--follow-ups 0.2``, evenly spread) are
follow-ups in the thread of the question asked ``--follow-up-after`` seconds (10) earlier,
when there was one; the others each start a new thread. ``--follow-ups 0`` puts every
question in its own thread.

Added latency of an answer = (when the platform got its final change) − (its scheduled submit
time) − (the simulated Gloo time: ``--latency`` before the first chunk, plus
``--chunk-latency`` for each chunk after the first, as ``devtools.bench`` counts it). Chunks
are counted on the wire (the SSE ``data:`` frames of each answer's response) only when
``--chunk-latency`` is above zero; the default is zero, so the simulated time is exactly
``--latency`` and only one simulator timer's overshoot counts as added. With a per-chunk
latency, every chunk's timer overshoot in the simulator process counts as added too.

An answer not complete within ``--timeout`` seconds of its scheduled time, or one the
platform was told had failed, is an error. Besides the quantiles the result gives the
process's CPU utilisation (``process_time`` / wall), database transactions and statements
per answer (SQLAlchemy engine events), the event loop's lag and the database pool's
checked-out connections (sampled every 50 ms), the wall time of each statement (which
includes the event loop's own delays), and what :mod:`devtools.benchprobes` sees: the
machine's busy share, the event loop thread's wait for a CPU, the simulator's CPU, and the
database's backends (running, waiting for a lock, idle in a transaction) and their CPU.
``--profile`` prints the top CPU functions to stderr. The output is JSON on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import math
import os
import pstats
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from core import eventloop
from core.bootstrap import build, network_transport
from core.delivery import Job, PostedCallback
from core.logs import configure_logging
from core.metrics import Metrics
from core.scheduler import build_scheduler
from core.store.sql import SqlStore
from core.types import Question, Reply, ThreadKey
from devtools.bench import BenchResult, Detail
from devtools.benchcost import (
    LOCAL_POSTGRES,
    _fresh_postgres,
    _Platform,
    _simulator,
    _Surface,
    count_statements,
)
from devtools.benchcost_common import product_settings
from devtools.benchprobes import PostgresSampler, cpu_between, cpu_snapshot

__all__ = ["SteadyResult", "main", "measure_steady", "steady_result"]

#: Issue 12's target: p95 added latency at 50 answers/s for 60 s, 500 ms Gloo latency.
S1_TARGET_MS: Final = 100.0
_PLATFORM: Final = "steady"
_QUESTION: Final = re.compile(rb"Steady question (\d+)\b")
_SAMPLE_INTERVAL_S: Final = 0.05
_WARM_UP: Final = 5


def question_text(index: int) -> str:
    """The ``index``-th question (distinct, so its response can be told apart on the wire)."""
    return f"Steady question {index}: what is grace?"


# --- the platform: when the first text and the final change arrived -------------------------


class _ClockedPlatform(_Platform):
    """benchcost's platform, noting when each answer's first text and final change came."""

    def __init__(self) -> None:
        super().__init__()
        self.first_at: dict[str, float] = {}
        self.final_at: dict[str, float] = {}
        self.failed: set[str] = set()

    async def open(self, job: Job, posted: PostedCallback) -> _ClockedSurface:
        return _ClockedSurface(self, job, posted)


class _ClockedSurface(_Surface):
    def __init__(self, platform: _ClockedPlatform, job: Job, posted: PostedCallback) -> None:
        super().__init__(platform, job, posted)
        self._clocked = platform
        self._key = job.key

    async def progress(self, text: str) -> None:
        self._clocked.first_at.setdefault(self._key, time.perf_counter())
        await super().progress(text)

    async def final(self, reply: Reply) -> None:
        self._clocked.final_at[self._key] = time.perf_counter()
        await super().final(reply)

    async def failure(self, sentence: str) -> None:
        self._clocked.failed.add(self._key)
        await super().failure(sentence)


# --- chunks per answer, counted on the wire ------------------------------------------------------


class _ChunkCounter(httpx.AsyncBaseTransport):
    """Counts the SSE frames of each steady question's streamed answer (question index → n)
    and notes when its last bytes arrived."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.chunks: dict[int, int] = {}
        self.last_at: dict[int, float] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "POST" or response.status_code != 200:
            return response
        found = _QUESTION.search(request.content)
        if found is None or not isinstance(response.stream, httpx.AsyncByteStream):
            return response
        index = int(found.group(1))
        self.chunks[index] = 0
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Frames(response.stream, index, self.chunks, self.last_at),
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Frames(httpx.AsyncByteStream):
    """A response body passed through, its ``data:`` frames (not ``[DONE]``) counted."""

    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        index: int,
        counts: dict[int, int],
        last_at: dict[int, float],
    ) -> None:
        self._inner = inner
        self._index = index
        self._counts = counts
        self._last_at = last_at

    async def __aiter__(self) -> AsyncIterator[bytes]:
        tail = b""  # the last bytes before this read: a frame marker may straddle two reads
        done = False
        async for chunk in self._inner:
            window = tail + chunk
            # Counted as they pass (the client may stop reading once it has the answer).
            self._counts[self._index] += (
                window[1:].count(b"data:") if tail else window.count(b"data:")
            )
            if not done and b"[DONE]" in window:
                done = True
                self._counts[self._index] -= 1
            tail = window[-5:]
            self._last_at[self._index] = time.perf_counter()
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


# --- what is sampled while the load runs --------------------------------------------------------


@dataclass
class _Samples:
    loop_lag: list[float] = field(default_factory=list)
    checked_out: list[int] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)
    statement: list[float] = field(default_factory=list)


async def _sample(samples: _Samples, engine: AsyncEngine, in_flight: Callable[[], int]) -> None:
    """Every 50 ms until cancelled: the loop's lag, the pool's checked-out connections, and
    the answers in flight (``in_flight()``)."""
    loop = asyncio.get_running_loop()
    pool = engine.sync_engine.pool
    while True:
        expected = loop.time() + _SAMPLE_INTERVAL_S
        await asyncio.sleep(_SAMPLE_INTERVAL_S)
        samples.loop_lag.append(max(0.0, loop.time() - expected))
        if isinstance(pool, QueuePool):
            samples.checked_out.append(pool.checkedout())
        samples.in_flight.append(in_flight())


@contextlib.contextmanager
def _statement_times(engine: AsyncEngine, into: list[float]) -> Iterator[None]:
    """The wall time of every statement ``engine`` runs while the block runs, into ``into``."""
    sync = engine.sync_engine
    started: dict[int, float] = {}

    def before(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        at = started.pop(id(cursor), None)
        if at is not None:
            into.append(time.perf_counter() - at)

    event.listen(sync, "before_cursor_execute", before)
    event.listen(sync, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(sync, "before_cursor_execute", before)
        event.remove(sync, "after_cursor_execute", after)


# --- the result ---------------------------------------------------------------------------------


def quantiles(values: Sequence[float], scale: float = 1000.0) -> dict[str, float]:
    """p50, p95, p99 (nearest rank), max and mean of ``values`` times ``scale``; NaN if none."""
    if not values:
        return {name: math.nan for name in ("p50", "p95", "p99", "max", "mean")}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)] * scale

    return {
        "p50": round(rank(0.50), 2),
        "p95": round(rank(0.95), 2),
        "p99": round(rank(0.99), 2),
        "max": round(ordered[-1] * scale, 2),
        "mean": round(sum(ordered) / len(ordered) * scale, 2),
    }


@dataclass(frozen=True)
class SteadyResult:
    """One steady-load run. Times in ms unless named otherwise; quantile dicts as
    :func:`quantiles` gives them."""

    rate: float
    seconds: float
    latency: float
    chunk_latency: float
    inbox_concurrency: int
    questions: int
    follow_ups: int
    answers: int
    errors: int
    timeouts: int
    failures: int
    #: final change − scheduled submit − simulated Gloo time (the figure of issue 12).
    added_ms: dict[str, float]
    #: first text on the platform − scheduled submit − first-chunk latency.
    first_text_added_ms: dict[str, float]
    #: when ``submit`` was called − its scheduled time (the arrival loop falling behind).
    submit_late_ms: dict[str, float]
    #: when ``submit`` returned (the question committed to the inbox) − its scheduled time.
    accepted_ms: dict[str, float]
    #: final change − when the answer's last bytes arrived from Gloo (only with a per-chunk
    #: latency, when chunks are counted on the wire; else NaN).
    after_last_chunk_ms: dict[str, float]
    #: the simulated Gloo time per answer, in seconds (mean).
    simulated_s: float
    chunks_per_answer: float
    wall_seconds: float
    cpu_utilisation: float
    cpu_ms_per_answer: float
    transactions_per_answer: float
    statements_per_answer: float
    statement_ms: dict[str, float]
    loop_lag_ms: dict[str, float]
    pool_checked_out_max: int
    pool_checked_out_mean: float
    in_flight_max: int
    in_flight_mean: float
    load_average: tuple[float, float]
    #: answers shown at all, in time or late (what the per-answer costs divide by).
    delivered: int = 0
    #: the machine's busy share, the event loop thread's wait for a CPU, the simulator's CPU
    #: (:func:`devtools.benchprobes.cpu_between`).
    cpu: dict[str, float] = field(default_factory=dict)
    #: the same while questions were arriving (``t0`` to the last submit): the steady part.
    arrival_cpu_utilisation: float = math.nan
    arrival_cpu: dict[str, float] = field(default_factory=dict)
    #: questions the serving process's re-drive (every ``INBOX_POLL_INTERVAL``) took up:
    #: ones whose kick found no free slot or whose claim failed.
    redriven: int = 0
    #: the bench database's backends per sample, by state or wait event, and their CPU.
    postgres_backends: dict[str, float] = field(default_factory=dict)
    postgres_cpu_utilisation: float = math.nan

    @property
    def met(self) -> bool:
        return (
            self.errors == 0
            and self.answers == self.questions
            and self.added_ms["p95"] <= S1_TARGET_MS
        )


def steady_result(result: SteadyResult) -> BenchResult:
    """The ``gloo-bots bench`` row of a steady run (key ``S1``)."""
    detail: Detail = {
        "rate_per_s": result.rate,
        "seconds": result.seconds,
        "latency_s": result.latency,
        "chunk_latency_s": result.chunk_latency,
        "follow_ups": result.follow_ups,
        "timeouts": result.timeouts,
        "failures": result.failures,
        "cpu_utilisation": result.cpu_utilisation,
        "transactions_per_answer": result.transactions_per_answer,
        "pool_checked_out_max": result.pool_checked_out_max,
        "in_flight_max": result.in_flight_max,
        **{k: v for k, v in result.cpu.items() if k != "cpus"},
    }
    for name, values in (
        ("added", result.added_ms),
        ("first_text_added", result.first_text_added_ms),
        ("submit_late", result.submit_late_ms),
        ("loop_lag", result.loop_lag_ms),
    ):
        detail.update({f"{name}_{q}_ms": v for q, v in values.items() if q != "mean"})
    return BenchResult(
        key="S1",
        name=(
            f"steady {result.rate:g}/s for {result.seconds:g} s, "
            f"{result.latency * 1000:.0f} ms Gloo: p95 added latency"
        ),
        platform="core/postgres",
        figure=result.added_ms["p95"],
        unit="ms",
        target=f"<= {S1_TARGET_MS:.0f} ms, 0 errors",
        met=result.met,
        answers=result.answers,
        errors=result.errors,
        seconds=result.wall_seconds,
        detail=detail,
    )


# --- the run ------------------------------------------------------------------------------------


def _follow_up_of(index: int, *, rate: float, share: float, after: float) -> int | None:
    """The earlier question whose thread question ``index`` follows up in, or None (new)."""
    if share <= 0 or math.floor((index + 1) * share) == math.floor(index * share):
        return None
    earlier = index - round(after * rate)
    return earlier if earlier >= 0 else None


async def measure_steady(
    database_url: str,
    gloo_url: str,
    *,
    rate: float,
    seconds: float,
    latency: float,
    chunk_latency: float = 0.0,
    follow_ups: float = 0.2,
    follow_up_after: float = 10.0,
    answer_timeout: float = 30.0,
    profile: cProfile.Profile | None = None,
) -> SteadyResult:
    """Submit ``rate`` questions a second for ``seconds``, open loop, and measure each answer.

    ``gloo_url`` is a Gloo simulator started with ``latency`` before the first chunk and
    ``chunk_latency`` between chunks, accepting benchcost's API key.
    """
    if rate <= 0 or seconds <= 0:
        raise ValueError("rate and seconds must be positive")
    settings = product_settings(database_url, gloo_url)
    count = round(rate * seconds)
    platform = _ClockedPlatform()
    counter_transport = _ChunkCounter(network_transport(settings)) if chunk_latency > 0 else None
    transport = counter_transport or network_transport(settings)
    threads: dict[int, ThreadKey] = {}
    scheduled: dict[int, float] = {}
    late: list[float] = []
    accepted: list[float] = []
    timeouts = 0
    submit_failures = 0
    follow_up_count = 0
    samples = _Samples()

    async with build(settings, transport=transport) as container:
        store = container.store
        assert isinstance(store, SqlStore)
        dispatcher = container.dispatcher
        dispatcher.register(_PLATFORM, platform)

        async with contextlib.AsyncExitStack() as running:
            # What a serving process runs beside its answers: re-drive, token refresh, the
            # inbox gauge (and pruning, in the leader); their first runs are in the warm-up.
            scheduler = build_scheduler(container, container.leadership)
            scheduler.start()
            running.push_async_callback(scheduler.stop)

            async def warm_up(n: int) -> None:
                # Connections, the token, statement caches, and a stream that carries its chat
                # id: until then the client asks new chats without streaming, so the warm-up is
                # one thread, whose follow-ups stream and teach it.
                thread = ThreadKey(_PLATFORM, "W", "C-warm", "warm")
                key = f"{_PLATFORM}:warm:{n}"
                done = platform.expect(key)
                await dispatcher.submit(
                    Job(key, Question(thread, f"Warm-up question {n} about grace", user_id="U0"))
                )
                await asyncio.wait_for(done, 60)

            for n in range(_WARM_UP):
                await warm_up(n)
            await dispatcher.drain()

            async def one(index: int, at: float) -> None:
                nonlocal submit_failures
                late.append(time.perf_counter() - at)
                thread = threads[index]
                key = f"{_PLATFORM}:{index}"
                question = Question(
                    thread, question_text(index), user_id=f"U{index % 500}", message_ref=key
                )
                done = platform.expect(key)
                try:
                    await dispatcher.submit(Job(key, question))
                except Exception:
                    submit_failures += 1
                    return
                accepted.append(time.perf_counter() - at)
                # Late answers are told from the times the platform noted, afterwards.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        done, max(0.0, at + answer_timeout - time.perf_counter())
                    )

            tasks: list[asyncio.Task[None]] = []
            redrives_before = _redrives(container.metrics)
            sampler = asyncio.create_task(
                _sample(samples, store.engine, lambda: dispatcher.in_flight)
            )
            running.push_async_callback(_cancel, sampler)
            postgres = PostgresSampler(database_url)
            postgres.start()
            running.callback(postgres.stop)
            load_before = os.getloadavg()[0]
            before = cpu_snapshot()
            with (
                count_statements(store.engine) as counter,
                _statement_times(store.engine, samples.statement),
            ):
                cpu = time.process_time()
                t0 = time.perf_counter()
                if profile is not None:
                    profile.enable()
                for index in range(count):
                    earlier = _follow_up_of(
                        index, rate=rate, share=follow_ups, after=follow_up_after
                    )
                    if earlier is None:
                        threads[index] = ThreadKey(_PLATFORM, "W", f"C{index % 10}", f"T{index}")
                    else:
                        threads[index] = threads[earlier]
                        follow_up_count += 1
                    at = t0 + index / rate
                    scheduled[index] = at
                    delay = at - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(one(index, at)))
                arrived = cpu_snapshot()
                arrival_cpu = time.process_time() - cpu
                await asyncio.gather(*tasks)
                await dispatcher.drain()
                if profile is not None:
                    profile.disable()
                wall = time.perf_counter() - t0
                cpu = time.process_time() - cpu
            after = cpu_snapshot()
            postgres.stop()
            load_after = os.getloadavg()[0]
            redriven = _redrives(container.metrics) - redrives_before

    added: list[float] = []
    first_added: list[float] = []
    simulated_all: list[float] = []
    chunk_counts: list[int] = []
    after_last: list[float] = []
    failures = 0
    for index, at in scheduled.items():
        key = f"{_PLATFORM}:{index}"
        if key in platform.failed:
            failures += 1
            continue
        final = platform.final_at.get(key)
        if final is None or final - at > answer_timeout:
            timeouts += 1  # not shown in time (or never submitted: a failure as well)
            continue
        simulated = latency
        if counter_transport is not None:
            chunks = counter_transport.chunks.get(index, 1)
            chunk_counts.append(chunks)
            simulated += chunk_latency * max(0, chunks - 1)
            last = counter_transport.last_at.get(index)
            if last is not None:
                after_last.append(final - last)
        simulated_all.append(simulated)
        added.append(final - at - simulated)
        first = platform.first_at.get(key)
        if first is not None:
            first_added.append(first - at - latency)
    answers = len(added)
    errors = count - answers
    delivered = sum(f"{_PLATFORM}:{index}" in platform.final_at for index in scheduled)
    per_answer = max(delivered, 1)
    return SteadyResult(
        rate=rate,
        seconds=seconds,
        latency=latency,
        chunk_latency=chunk_latency,
        inbox_concurrency=settings.inbox_concurrency,
        questions=count,
        follow_ups=follow_up_count,
        answers=answers,
        errors=errors,
        timeouts=timeouts - submit_failures,
        failures=failures + submit_failures,
        added_ms=quantiles(added),
        first_text_added_ms=quantiles(first_added),
        submit_late_ms=quantiles(late),
        accepted_ms=quantiles(accepted),
        after_last_chunk_ms=quantiles(after_last),
        simulated_s=round(sum(simulated_all) / len(simulated_all), 4)
        if simulated_all
        else math.nan,
        chunks_per_answer=round(sum(chunk_counts) / len(chunk_counts), 2)
        if chunk_counts
        else math.nan,
        wall_seconds=round(wall, 3),
        cpu_utilisation=round(cpu / wall, 3),
        cpu_ms_per_answer=round(cpu * 1000 / per_answer, 2),
        transactions_per_answer=round(counter.transactions / per_answer, 2),
        statements_per_answer=round(counter.statements / per_answer, 2),
        statement_ms=quantiles(samples.statement),
        loop_lag_ms=quantiles(samples.loop_lag),
        pool_checked_out_max=max(samples.checked_out, default=0),
        pool_checked_out_mean=round(sum(samples.checked_out) / max(len(samples.checked_out), 1), 2),
        in_flight_max=max(samples.in_flight, default=0),
        in_flight_mean=round(sum(samples.in_flight) / max(len(samples.in_flight), 1), 2),
        load_average=(load_before, load_after),
        delivered=delivered,
        cpu=cpu_between(before, after),
        arrival_cpu_utilisation=round(arrival_cpu / (arrived.at - before.at), 3)
        if arrived.at > before.at
        else math.nan,
        arrival_cpu=cpu_between(before, arrived),
        redriven=redriven,
        postgres_backends=postgres.backends(),
        postgres_cpu_utilisation=postgres.cpu_utilisation(),
    )


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _redrives(metrics: Metrics) -> int:
    """Questions re-driven so far (the ``gloo_bots_redrives`` counter)."""
    for family in metrics.redrives.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                return int(sample.value)
    return 0


def to_json(result: SteadyResult) -> str:
    """The result as JSON (NaN as null), with whether it met the target."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    row = clean(asdict(result))
    row["target"] = f"p95 added <= {S1_TARGET_MS:.0f} ms, 0 errors"
    row["met"] = result.met
    return json.dumps(row, indent=2, allow_nan=False)


def _package(filename: str, name: str) -> str:
    """Where a profiled function lives: a site package, a stdlib module, a core module, or
    the C function itself (``select.epoll.poll`` is the event loop waiting: idle)."""
    path = filename.replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for root in ("core", "bots", "devtools"):
        if f"/{root}/" in path:
            module = path.rsplit(f"/{root}/", 1)[1].removesuffix(".py").replace("/", ".")
            return f"{root}.{module}"
    if "/lib/python3" in path:
        return "stdlib " + path.rsplit("/lib/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
    return f"C {name}" if path == "~" else path


def profile_by_package(stats: pstats.Stats, top: int = 20) -> str:
    """The profile's own time (``tottime``) summed by package, largest first, with shares."""
    totals: dict[str, float] = {}
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, tottime, *_rest) in raw.items():
        package = _package(filename, name)
        totals[package] = totals.get(package, 0.0) + tottime
    whole = sum(totals.values()) or 1.0
    lines = [f"own time by package (of {whole:.1f} s profiled):"]
    for package, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {seconds:8.2f} s  {seconds / whole:6.1%}  {package}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.benchsteady", description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0, help="questions a second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long questions arrive")
    parser.add_argument("--latency", type=float, default=0.5, help="Gloo's first-chunk latency")
    parser.add_argument("--chunk-latency", type=float, default=0.0, help="between Gloo chunks")
    parser.add_argument("--follow-ups", type=float, default=0.2, help="share of follow-ups")
    parser.add_argument("--follow-up-after", type=float, default=10.0, help="seconds later")
    parser.add_argument("--timeout", type=float, default=30.0, help="an answer later is an error")
    parser.add_argument("--database-url", help="a migrated-or-empty database (default: fresh)")
    parser.add_argument(
        "--loop",
        choices=("auto", "uvloop", "asyncio"),
        default="auto",
        help="the event loop, as EVENT_LOOP (core.eventloop; default: auto)",
    )
    parser.add_argument("--profile", action="store_true", help="the top CPU functions, stderr")
    args = parser.parse_args(argv)
    configure_logging(level="WARNING")
    profile = cProfile.Profile() if args.profile else None
    with contextlib.ExitStack() as stack:
        gloo = stack.enter_context(_simulator(args.chunk_latency, args.latency))
        url = args.database_url or stack.enter_context(_fresh_postgres(LOCAL_POSTGRES))
        result = eventloop.run(
            measure_steady(
                url,
                gloo,
                rate=args.rate,
                seconds=args.seconds,
                latency=args.latency,
                chunk_latency=args.chunk_latency,
                follow_ups=args.follow_ups,
                follow_up_after=args.follow_up_after,
                answer_timeout=args.timeout,
                profile=profile,
            ),
            args.loop,
        )
    print(to_json(result))
    if profile is not None:
        stats = pstats.Stats(profile, stream=sys.stderr)
        print(profile_by_package(stats), file=sys.stderr)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(35)
        print(out.getvalue(), file=sys.stderr)
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
