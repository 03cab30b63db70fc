"""``gloo-bots bench``: every benchmark in one run, P1–P6 (:mod:`devtools.bench`), the
workspace-scale W1–W6 (:mod:`devtools.benchscale`), and C1, C2 and S1 with Gloo over HTTP
(:mod:`devtools.benchhttp`).

The product finds :func:`run_bench` through the ``gloo_bots.tools`` entry-point group (see
``core.cli``). It lives apart from both benchmark modules so that neither imports the other's
runner (the scale bench builds on :mod:`devtools.bench`'s pieces).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

from core.bootstrap import StartupError
from core.settings import Settings
from core.store.engine import normalize_database_url
from devtools.bench import (
    P1_TARGET,
    PLATFORM_CHUNK_LATENCY,
    BenchResult,
    Progress,
    _fresh_postgres,
    _not_measured,
    _reset_postgres,
    bench_drivers,
    bench_settings,
    p1_overhead,
    p3_memory,
    p4_throughput,
    render,
    write_results,
)
from devtools.benchhttp import HttpConfig, run_http_rows
from devtools.benchscale import MEASURES, ScaleConfig, run_scale

__all__ = ["run_bench"]


async def run_bench(
    base: Settings,
    *,
    latency: float = 0.5,
    conversations: int = 100,
    questions: int = 3,
    in_flight: int = 1000,
    platform_conversations: int = 20,
    chunk_latency: float = PLATFORM_CHUNK_LATENCY,
    output: Path = Path("bench/results.json"),
    database_url: str | None = None,
    platforms: Sequence[str] | None = None,
    echo: Callable[[str], object] = print,
    progress_to: Callable[[str], object] | None = None,
    scale: ScaleConfig | None = None,
    http: HttpConfig | None = None,
) -> list[BenchResult]:
    """Measure P1–P5, print the table with ``echo`` and write ``output`` (JSON).

    ``database_url``: a PostgreSQL database for the PostgreSQL runs (its tables are dropped
    and recreated); without one a fresh database on 127.0.0.1:5432 is used when a server
    answers there. SQLite runs use temporary files. ``platforms``: the adapters to measure
    (default: every installed adapter with a bench driver in ``gloo_bots.bench``).
    ``scale``: the W1–W6 runs (default: issue 13's 60 people; ``people=0``: none).
    ``http``: the C1, C2 and S1 runs (default: issue 12's sizes).
    """
    scale = scale or ScaleConfig()
    http = http or HttpConfig()
    drivers = bench_drivers(platforms)
    scaled = [a.name for a, _ in drivers if a.name in MEASURES] if scale.people else []
    http_steps = (2 if http.cost_answers else 0) + (1 if http.steady_seconds else 0)
    progress = Progress(5 + len(drivers) + len(scaled) + http_steps, progress_to)
    results: list[BenchResult] = []

    async def timed(label: str, total: int, run: Callable[[], Awaitable[BenchResult]]) -> None:
        progress.step(label, total)
        result = await run()
        results.append(result)

    given = database_url
    if given is not None and make_url(normalize_database_url(given)).get_backend_name() != (
        "postgresql"
    ):
        raise StartupError(
            "--database-url must name a PostgreSQL database (the SQLite runs use temporary files)"
        )
    settings = bench_settings(base)
    with tempfile.TemporaryDirectory(prefix="gloo-bench-") as folder:

        def sqlite(name: str) -> Settings:
            url = f"sqlite+aiosqlite:///{folder}/{name}.db"
            return settings.model_copy(update={"database_url": url})

        answers = conversations * questions
        await timed(
            "P1 overhead on SQLite",
            answers,
            lambda: p1_overhead(
                sqlite("p1"),
                "sqlite",
                latency=latency,
                conversations=conversations,
                questions=questions,
                progress=progress,
            ),
        )
        await timed(
            "P4 throughput on SQLite",
            answers,
            lambda: p4_throughput(
                sqlite("p4"),
                "sqlite",
                conversations=conversations,
                questions=questions,
                progress=progress,
            ),
        )
        async with _fresh_postgres(given) as postgres:
            if postgres is None:
                why = "no PostgreSQL: pass --database-url or run a server on 127.0.0.1:5432"
                for key, label in (("P1", "overhead"), ("P4", "throughput")):
                    progress.step(f"{key} {label} on PostgreSQL: skipped ({why})")
                results.append(
                    _not_measured("P1", "overhead ratio", "core/postgres", f"<= {P1_TARGET}", why)
                )
                results.append(
                    _not_measured("P4", "answers/s, zero latency", "core/postgres", ">= 1000", why)
                )
            else:
                pg = settings.model_copy(update={"database_url": postgres})
                await _reset_postgres(postgres)
                await timed(
                    "P1 overhead on PostgreSQL",
                    answers,
                    lambda: p1_overhead(
                        pg,
                        "postgres",
                        latency=latency,
                        conversations=conversations,
                        questions=questions,
                        progress=progress,
                    ),
                )
                await _reset_postgres(postgres)
                await timed(
                    "P4 throughput on PostgreSQL",
                    answers,
                    lambda: p4_throughput(
                        pg,
                        "postgres",
                        conversations=conversations,
                        questions=questions,
                        progress=progress,
                    ),
                )
            results.extend(await run_http_rows(http, postgres, step=progress.step))
        await timed(
            f"P3 {in_flight} conversations in flight",
            in_flight,
            lambda: p3_memory(
                sqlite("p3"), latency=latency, conversations=in_flight, progress=progress
            ),
        )
        for adapter, driver in drivers:
            progress.step(f"P2/P5 on {adapter.name}", platform_conversations)
            results.extend(
                await driver(
                    adapter,
                    sqlite(f"platform-{adapter.name}"),
                    conversations=platform_conversations,
                    latency=latency,
                    chunk_latency=chunk_latency,
                    progress=progress,
                )
            )
        if scaled:
            results.extend(
                await run_scale(
                    settings, scale, platforms=scaled, progress=progress, database=sqlite
                )
            )
    results.sort(key=lambda r: r.key)
    echo(render(results))
    await asyncio.to_thread(write_results, results, output)
    echo(f"Results written to {output}")
    return results
