"""``gloo-bots bench``: what the service adds on top of Gloo, measured on the simulator.

Every figure goes through the production path: the composition root, the Gloo client on
the in-process simulator, the durable inbox and the :class:`~core.delivery.Dispatcher`
(insert, claim, answer, finish), and for P2/P5 the real platform adapters against their
fake platforms (``tools/devtools/*/fake.py``), driven by the bench drivers that
``tools/devtools/*/bench.py`` register in the ``gloo_bots.bench`` entry-point group
(:class:`BenchDriver`). The product never imports this package: ``gloo-bots bench`` finds
:func:`devtools.benchmain.run_bench` (which runs these and the W rows) through the
``gloo_bots.tools`` entry-point group (see ``core.cli``).

* **P1** overhead ratio = (mean end-to-end − simulated answer time) / simulated answer
  time, 100 conversations at once, 500 ms simulated latency. End to end is from
  ``Dispatcher.submit`` to the end of the responder's ``deliver``; the simulated answer
  time is the whole time the simulator spends waiting on purpose: the first-chunk latency
  plus the per-chunk latency between the chunks that follow (P1 runs with no per-chunk
  latency, so it is exactly the first-chunk latency). Target ≤ 0.02.
* **P2** (per platform) time to the first visible text on the fake platform minus the
  simulator's first chunk; target ≤ one fake-platform round trip + 50 ms.
* **P3** 1,000 conversations in flight at once: errors (target 0) and the process's peak
  resident memory during the run (target ≤ 300 MB).
* **P4** answers per second with a zero-latency simulator, SQLite and PostgreSQL (target
  ≥ 1,000/s on PostgreSQL).
* **P5** (per platform) platform API calls per answer, the most edits of one message
  within the platform's interval (Slack 1 s, Discord 1.2 s: at most 1, the final change
  excepted where the fake platform lets it through) and 429 answers.
* **P6** (per platform) complete text (the final change, with its buttons) on the fake
  platform minus the end of the simulator's stream: median (target 150 ms) and p95.
* **W1–W4** (per platform) workspace scale, issue 13 (:mod:`devtools.benchscale`): 60 people
  asking within 3 s in 5 channels, the fake platforms enforcing the published rate limits:
  answers complete, first text and complete answer from the question, 429s per call.

Results are printed as a table and written as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import resource
import secrets
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Final, Protocol

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from core.adapters import Adapter, adapter_names, load_adapter
from core.bootstrap import build
from core.delivery import Job, PostedCallback
from core.settings import Settings
from core.simulator import Simulator, SimulatorConfig, SimulatorTransport
from core.store.engine import normalize_database_url
from core.types import Question, Reply, ThreadKey

__all__ = [
    "DRIVER_GROUP",
    "BenchDriver",
    "BenchResult",
    "FirstChunkClock",
    "PlatformRun",
    "Progress",
    "bench_drivers",
    "bench_settings",
    "edit_rates",
    "lags_from",
    "platform_results",
    "platform_simulator",
]

P1_TARGET: Final = 0.02
P2_SLACK_MS: Final = 50.0
P3_RSS_TARGET_MB: Final = 300.0
P4_TARGET: Final = 1000.0
#: The local PostgreSQL server P4 uses when ``--database-url`` names none.
LOCAL_POSTGRES: Final = "postgresql://postgres@127.0.0.1:5432/postgres"

Detail = dict[str, float | int | str]


@dataclass(frozen=True)
class BenchResult:
    """One figure: its name (``P1`` …), what it was measured on, and whether it met its target.

    ``figure`` is ``nan`` and ``measured`` false when the run could not be made (no
    PostgreSQL server); such a result never counts as met.
    """

    key: str
    name: str
    platform: str
    figure: float
    unit: str
    target: str
    met: bool
    answers: int = 0
    errors: int = 0
    seconds: float = 0.0
    measured: bool = True
    detail: Detail = field(default_factory=dict)


#: The entry-point group of the platform bench drivers (name = the adapter's name).
DRIVER_GROUP: Final = "gloo_bots.bench"


class BenchDriver(Protocol):
    """Measures one platform adapter against its fake platform (P2 and P5)."""

    async def __call__(
        self,
        adapter: Adapter,
        settings: Settings,
        *,
        conversations: int,
        latency: float,
        chunk_latency: float = ...,
        progress: Progress | None = None,
    ) -> list[BenchResult]: ...


def bench_drivers(platforms: Sequence[str] | None = None) -> list[tuple[Adapter, BenchDriver]]:
    """The installed adapters that have a bench driver (all, or those named), with it."""
    installed = set(adapter_names())
    found = {ep.name: ep for ep in entry_points(group=DRIVER_GROUP) if ep.name in installed}
    names = sorted(found) if platforms is None else [n for n in platforms if n in found]
    pairs: list[tuple[Adapter, BenchDriver]] = []
    for name in names:
        driver: BenchDriver = found[name].load()
        pairs.append((load_adapter(name), driver))
    return pairs


class Progress:
    """A plain progress display on stderr: one line per step, a bar while answers arrive."""

    def __init__(self, steps: int, write: Callable[[str], object] | None = None) -> None:
        self._steps = steps
        self._step = 0
        self._write = write or _stderr
        self._label = ""
        self._total = 0
        self._done = 0
        self._shown = -1

    def step(self, label: str, total: int = 0) -> None:
        self._step += 1
        self._label, self._total, self._done, self._shown = label, total, 0, -1
        self._write(f"[{self._step}/{self._steps}] {label}")

    def advance(self, count: int = 1) -> None:
        self._done += count
        if not self._total:
            return
        tenth = min(10, self._done * 10 // self._total)
        if tenth != self._shown:
            self._shown = tenth
            bar = "#" * tenth + "." * (10 - tenth)
            self._write(f"      [{bar}] {self._done}/{self._total} answers")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- the simulator's first chunk --------------------------------------------------------------


class FirstChunkClock(SimulatorTransport):
    """A :class:`SimulatorTransport` that notes when each answer's first chunk left Gloo.

    Keyed by the question (``query``) of the request, so callers should ask distinct
    questions; times are ``time.perf_counter()``.
    """

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.first_chunk: dict[str, float] = {}
        #: question → when the simulator sent the last chunk of its answer's stream.
        self.stream_end: dict[str, float] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.method != "POST" or response.status_code != 200:
            return response
        try:
            query = json.loads(request.content or b"{}").get("query")
        except (ValueError, AttributeError):
            return response
        if not isinstance(query, str) or not isinstance(response.stream, httpx.AsyncByteStream):
            return response
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Clocked(response.stream, lambda: self._mark(query), lambda: self._end(query)),
            request=request,
        )

    def _mark(self, query: str) -> None:
        self.first_chunk.setdefault(query, time.perf_counter())

    def _end(self, query: str) -> None:
        self.stream_end[query] = time.perf_counter()


class _Clocked(httpx.AsyncByteStream):
    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        first: Callable[[], None],
        each: Callable[[], None] | None = None,
    ) -> None:
        self._inner = inner
        self._first: Callable[[], None] | None = first
        self._each = each

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            if chunk and self._first is not None:
                self._first()
                self._first = None
            if chunk and self._each is not None:
                self._each()  # the latest chunk so far: the stream's end once it ends
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


# --- edits per message ------------------------------------------------------------------------


def edit_rates(times: Sequence[float], window: float) -> tuple[int, float]:
    """The most edits of one message within any ``window`` seconds, and the shortest gap.

    ``times`` are one message's edit times (any order). A message edited at most once per
    ``window`` gives 1 (and a gap of at least ``window``); ``inf`` when there is one edit.
    """
    ordered = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    return most, min(gaps, default=math.inf)


# --- P2 and P5 from a platform run ------------------------------------------------------------


@dataclass
class PlatformRun:
    """What a bench driver observed on its fake platform (for :func:`platform_results`)."""

    platform: str
    conversations: int
    answered: int
    seconds: float
    #: Per answered question: first visible text on the platform − the simulator's first chunk.
    first_text_lag: list[float]
    #: The fake platform's round trip as the adapter's client library sees it (median).
    round_trip: float
    #: Platform API calls made while answering (not counting the round-trip probes).
    calls: int
    calls_by_method: dict[str, int]
    #: Per message: the times of its edits.
    edits: list[list[float]]
    edit_window: float
    rate_limited: int
    #: Per answered question: complete text (with its buttons) on the platform − the end of
    #: the simulator's stream (issue 15; empty when the driver does not measure it).
    complete_text_lag: list[float] = field(default_factory=list)


#: Issue 15: the answer is complete on the platform within this of Gloo's stream end (median).
P6_COMPLETE_MS: Final = 150.0


def complete_text_results(run: PlatformRun) -> list[BenchResult]:
    """P6 for one platform: complete text − the simulator's stream end, median and p95."""
    if not run.complete_text_lag:
        return []
    lags = sorted(run.complete_text_lag)
    median = statistics.median(lags)
    p95 = statistics.quantiles(lags, n=20)[-1] if len(lags) >= 20 else lags[-1]
    errors = run.conversations - run.answered
    return [
        BenchResult(
            key="P6",
            name="complete text - simulator's stream end (median)",
            platform=run.platform,
            figure=median * 1000,
            unit="ms",
            target=f"<= {P6_COMPLETE_MS:.0f} ms",
            met=errors == 0 and median * 1000 <= P6_COMPLETE_MS,
            answers=run.answered,
            errors=errors,
            seconds=run.seconds,
            detail={
                "p95_ms": round(p95 * 1000, 1),
                "max_ms": round(lags[-1] * 1000, 1),
                "measured": len(lags),
            },
        )
    ]


def platform_results(run: PlatformRun) -> list[BenchResult]:
    """P2, P5 (and P6 when measured) for one platform."""
    errors = run.conversations - run.answered
    lag = statistics.fmean(run.first_text_lag) if run.first_text_lag else math.nan
    p95 = (
        statistics.quantiles(run.first_text_lag, n=20)[-1]
        if len(run.first_text_lag) >= 20
        else max(run.first_text_lag, default=math.nan)
    )
    allowed = run.round_trip + P2_SLACK_MS / 1000
    rates = [edit_rates(times, run.edit_window) for times in run.edits if times]
    most = max((m for m, _ in rates), default=0)
    gap = min((g for _, g in rates), default=math.inf)
    per_answer = run.calls / run.answered if run.answered else math.nan
    window = f"{run.edit_window:g} s"
    detail: Detail = {
        "calls_per_answer": round(per_answer, 2),
        "max_edits_per_message_per_window": most,
        "edit_window_s": run.edit_window,
        "min_edit_gap_s": round(gap, 3) if math.isfinite(gap) else "none",
        "http_429": run.rate_limited,
        "messages_edited": len(rates),
    }
    detail.update({f"calls.{method}": n for method, n in sorted(run.calls_by_method.items())})
    return [
        BenchResult(
            key="P2",
            name="first visible text - simulator's first chunk (mean)",
            platform=run.platform,
            figure=lag * 1000,
            unit="ms",
            target=f"<= {allowed * 1000:.1f} ms (round trip {run.round_trip * 1000:.1f} + 50)",
            met=errors == 0 and lag <= allowed,
            answers=run.answered,
            errors=errors,
            seconds=run.seconds,
            detail={
                "p95_ms": round(p95 * 1000, 1),
                "max_ms": round(max(run.first_text_lag, default=math.nan) * 1000, 1),
                "round_trip_ms": round(run.round_trip * 1000, 2),
            },
        ),
        BenchResult(
            key="P5",
            name=f"API calls/answer; most edits of a message in {window}; 429s",
            platform=run.platform,
            figure=per_answer,
            unit="calls/answer",
            target=f"<= 1 edit per {window} per message, 0 x 429",
            met=errors == 0 and most <= 1 and run.rate_limited == 0,
            answers=run.answered,
            errors=errors,
            seconds=run.seconds,
            detail=detail,
        ),
        *complete_text_results(run),
    ]


async def median_round_trip(call: Callable[[], Awaitable[object]], times: int = 9) -> float:
    """The median time of ``times`` calls of ``call`` (a fake platform's round trip)."""
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bench_question(index: int) -> str:
    """The ``index``-th question a platform bench asks (distinct, so answers can be told apart)."""
    return f"Bench question {index}: what is grace?"


_BENCH_QUESTION: Final = re.compile(r"Bench question (\d+)\b")


def lags_from(started: Mapping[str, float], shown_at: Callable[[int], float | None]) -> list[float]:
    """Per answered bench question: ``shown_at`` of the question's index minus its time in
    ``started`` (query text → when the simulator sent its first chunk, ended its stream, or
    the question was asked)."""
    lags: list[float] = []
    for query, at in started.items():
        found = _BENCH_QUESTION.search(query)
        if found is None:
            continue
        shown = shown_at(int(found.group(1)))
        if shown is not None:
            lags.append(shown - at)
    return lags


def first_text_lags(clock: FirstChunkClock, shown_at: Callable[[int], float | None]) -> list[float]:
    """Per answered bench question: when its first text showed on the platform (``shown_at``
    of the question's index) minus when its first chunk left the simulator."""
    return lags_from(clock.first_chunk, shown_at)


def complete_text_lags(
    clock: FirstChunkClock, completed_at: Callable[[int], float | None]
) -> list[float]:
    """Per answered bench question: when its complete answer showed on the platform
    (``completed_at`` of the question's index) minus when the simulator's stream ended."""
    return lags_from(clock.stream_end, completed_at)


def platform_simulator(latency: float, chunk_latency: float) -> tuple[Simulator, FirstChunkClock]:
    """The simulator platform benches answer from, and the transport that clocks it."""
    simulator = Simulator(
        SimulatorConfig(seed=7, first_chunk_latency=latency, chunk_latency=chunk_latency)
    )
    return simulator, FirstChunkClock(simulator)


#: Per-chunk latency of the platform runs: answers stream for a few seconds, as Gloo's do,
#: so the platforms' edit pacing is exercised (P2 and P5 only; P1 streams with none).
PLATFORM_CHUNK_LATENCY: Final = 0.06


# --- the core path: submit → inbox → dispatcher → responder ------------------------------------


class _Recorder:
    """The bench's platform: notes when each job's answer was delivered (or refused)."""

    def __init__(self, progress: Progress | None) -> None:
        self.done: dict[str, asyncio.Future[float]] = {}
        self.deltas: dict[str, int] = {}
        self.failures: dict[str, str] = {}
        self._progress = progress

    def expect(self, key: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.done[key] = future
        return future

    async def working(self, job: Job) -> None:
        return None

    async def still_working(self, job: Job) -> None:
        return None

    async def recover(self, job: Job, known: Collection[str]) -> list[str]:
        return []

    async def open(self, job: Job, posted: PostedCallback) -> _RecorderSurface:
        return _RecorderSurface(self, job.key)

    def _resolve(self, key: str) -> None:
        future = self.done.get(key)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())
        if self._progress is not None:
            self._progress.advance()


@dataclass
class _RecorderSurface:
    """One answer on the bench's platform: counts the changes it is handed, unpaced."""

    recorder: _Recorder
    key: str
    changes: int = 0

    def pace(self) -> float:
        return 0.0

    async def progress(self, text: str) -> None:
        self.changes += 1

    async def final(self, reply: Reply) -> None:
        self.recorder.deltas[self.key] = self.changes
        self.recorder._resolve(self.key)

    def close(self) -> None:
        return None

    async def halt(self) -> None:
        return None

    async def failure(self, sentence: str) -> None:
        self.recorder.failures[self.key] = sentence
        self.recorder._resolve(self.key)


@dataclass
class _Run:
    times: list[float]  # end to end, per answered question
    simulated: list[float]  # the simulator's deliberate waiting, per answered question
    errors: int
    seconds: float
    peak_rss_mb: float


async def _core_run(
    settings: Settings,
    config: SimulatorConfig,
    *,
    conversations: int,
    questions: int,
    progress: Progress | None,
    watch_memory: bool = False,
) -> _Run:
    """``conversations`` threads at once, each asking ``questions`` in turn, through the inbox."""
    recorder = _Recorder(progress)
    simulator = Simulator(config)
    times: list[float] = []
    simulated: list[float] = []
    errors = 0
    async with build(settings, transport=SimulatorTransport(simulator)) as container:
        dispatcher = container.dispatcher
        dispatcher.register("bench", recorder)

        async def one(index: int) -> None:
            nonlocal errors
            thread = ThreadKey("bench", "W", f"C{index % 50}", f"T{index}")
            for turn in range(questions):
                key = f"bench:{index}:{turn}"
                question = Question(
                    thread,
                    f"Question {turn} about topic {index}",
                    user_id=f"U{index}",
                    user_name=f"user{index}",
                    message_ref=key,
                )
                done = recorder.expect(key)
                started = time.perf_counter()
                try:
                    await dispatcher.submit(Job(key, question))
                    finished = await asyncio.wait_for(done, 300)
                except Exception:
                    errors += 1
                    continue
                if key in recorder.failures:
                    errors += 1
                    continue
                times.append(finished - started)
                deltas = recorder.deltas.get(key, 1)
                simulated.append(
                    config.first_chunk_latency + max(0, deltas - 1) * config.chunk_latency
                )

        if watch_memory:
            _reset_peak_rss()
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(conversations)))
        await dispatcher.drain()
        elapsed = time.perf_counter() - started
        peak = _peak_rss_mb()
    return _Run(times, simulated, errors, elapsed, peak)


def _reset_peak_rss() -> None:
    """Start a new peak-memory measurement (Linux: VmHWM is reset by ``clear_refs`` 5)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    """The process's peak resident set size in MB (since the last reset, on Linux)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def p1_overhead(
    settings: Settings,
    backend: str,
    *,
    latency: float,
    conversations: int,
    questions: int,
    progress: Progress | None = None,
) -> BenchResult:
    config = SimulatorConfig(first_chunk_latency=latency, chunk_latency=0.0)
    run = await _core_run(
        settings, config, conversations=conversations, questions=questions, progress=progress
    )
    mean = statistics.fmean(run.times) if run.times else math.nan
    simulated = statistics.fmean(run.simulated) if run.simulated else math.nan
    ratio = (mean - simulated) / simulated if simulated else math.nan
    p95 = statistics.quantiles(run.times, n=20)[-1] if len(run.times) >= 20 else math.nan
    return BenchResult(
        key="P1",
        name=f"overhead ratio, {latency * 1000:.0f} ms latency, {conversations} conversations",
        platform=f"core/{backend}",
        figure=ratio,
        unit="ratio",
        target=f"<= {P1_TARGET}",
        met=run.errors == 0 and ratio <= P1_TARGET,
        answers=len(run.times),
        errors=run.errors,
        seconds=run.seconds,
        detail={
            "mean_s": round(mean, 4),
            "p95_s": round(p95, 4),
            "simulated_s": round(simulated, 4),
            "overhead_ms": round((mean - simulated) * 1000, 1),
        },
    )


async def p3_memory(
    settings: Settings,
    *,
    latency: float,
    conversations: int,
    progress: Progress | None = None,
) -> BenchResult:
    # Every conversation is in flight at once: the dispatcher may run them all.
    settings = settings.model_copy(
        update={"inbox_concurrency": max(settings.inbox_concurrency, conversations)}
    )
    config = SimulatorConfig(first_chunk_latency=latency, chunk_latency=0.0)
    run = await _core_run(
        settings,
        config,
        conversations=conversations,
        questions=1,
        progress=progress,
        watch_memory=True,
    )
    return BenchResult(
        key="P3",
        name=f"{conversations} conversations in flight: errors, peak RSS",
        platform="core/sqlite",
        figure=run.peak_rss_mb,
        unit="MB",
        target=f"errors = 0, <= {P3_RSS_TARGET_MB:.0f} MB",
        met=run.errors == 0 and run.peak_rss_mb <= P3_RSS_TARGET_MB,
        answers=len(run.times),
        errors=run.errors,
        seconds=run.seconds,
        detail={
            "mean_s": round(statistics.fmean(run.times), 4) if run.times else math.nan,
            "simulated_s": latency,
        },
    )


async def p4_throughput(
    settings: Settings,
    backend: str,
    *,
    conversations: int,
    questions: int,
    progress: Progress | None = None,
) -> BenchResult:
    config = SimulatorConfig(first_chunk_latency=0.0, chunk_latency=0.0)
    cpu = time.process_time()
    run = await _core_run(
        settings, config, conversations=conversations, questions=questions, progress=progress
    )
    cpu = time.process_time() - cpu
    answers = len(run.times)
    rate = answers / run.seconds if run.seconds else math.nan
    target = P4_TARGET if backend == "postgres" else None
    return BenchResult(
        key="P4",
        name=f"answers/s, zero latency, {conversations} conversations",
        platform=f"core/{backend}",
        figure=rate,
        unit="answers/s",
        target=f">= {P4_TARGET:.0f}" if target else "errors = 0 (target is for PostgreSQL)",
        met=run.errors == 0 and (target is None or rate >= target),
        answers=answers,
        errors=run.errors,
        seconds=run.seconds,
        detail={"cpu_ms_per_answer": round(cpu * 1000 / answers, 2) if answers else math.nan},
    )


def _not_measured(key: str, name: str, platform: str, target: str, why: str) -> BenchResult:
    return BenchResult(
        key=key,
        name=name,
        platform=platform,
        figure=math.nan,
        unit="",
        target=target,
        met=False,
        measured=False,
        detail={"why": why},
    )


# --- databases ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _fresh_postgres(given: str | None) -> AsyncIterator[str | None]:
    """The PostgreSQL URL to use: ``given``, else a new database on the local server (dropped
    afterwards), else ``None`` when no server answers."""
    if given is not None:
        yield normalize_database_url(given)
        return
    name = f"gloo_bench_{secrets.token_hex(6)}"
    try:
        await asyncio.to_thread(_admin, LOCAL_POSTGRES, sql.SQL("CREATE DATABASE {}"), name)
    except psycopg.Error:
        yield None
        return
    try:
        yield (
            make_url(normalize_database_url(LOCAL_POSTGRES))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        await asyncio.to_thread(
            _admin, LOCAL_POSTGRES, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)"), name
        )


def _admin(url: str, statement: sql.SQL, name: str) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as connection:
        connection.execute(statement.format(sql.Identifier(name)))


async def _reset_postgres(url: str) -> None:
    """Empty a PostgreSQL database the bench reuses between runs (the schema is recreated)."""

    def reset() -> None:
        libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq, autocommit=True, connect_timeout=3) as connection:
            connection.execute("DROP SCHEMA IF EXISTS public CASCADE")
            connection.execute("CREATE SCHEMA public")

    await asyncio.to_thread(reset)


# --- the whole bench ------------------------------------------------------------------------------


def render(results: Sequence[BenchResult]) -> str:
    rows = [("", "benchmark", "on", "answers", "errors", "figure", "target", "met")]
    for r in results:
        if not r.measured:
            figure, met = "not measured", "NO"
        else:
            precision = 4 if r.unit == "ratio" else (1 if r.figure < 100 else 0)
            figure = f"{r.figure:.{precision}f} {r.unit}".strip()
            met = "yes" if r.met else "NO"
        rows.append(
            (r.key, r.name, r.platform, str(r.answers), str(r.errors), figure, r.target, met)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [
        f"  {r.key} {r.platform}: {r.detail['why']}"
        for r in results
        if not r.measured and "why" in r.detail
    ]
    return "\n".join(lines + notes)


def bench_settings(base: Settings) -> Settings:
    """``base`` answering from the in-process simulator, streamed, as every bench run does."""
    return base.model_copy(
        update={
            "gloo_backend": "simulator",
            "gloo_stream": True,
            "gloo_api": "message",
            # The default (auto): a fresh database, so new chats stream from question one.
            "gloo_stream_new_chats": "auto",
        }
    )


def write_results(results: Sequence[BenchResult], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for result in results:
        row = asdict(result)
        row["figure"] = None if math.isnan(result.figure) else result.figure
        row["detail"] = {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in result.detail.items()
        }
        rows.append(row)
    output.write_text(json.dumps(rows, indent=2, allow_nan=False) + "\n")
