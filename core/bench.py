"""``gloo-bots bench``: how much the core adds on top of Gloo, measured on the simulator.

Two figures, both through the production wiring (composition root, Gloo client, store):

* **overhead** — many conversations at once against a simulator with a fixed latency;
  overhead ratio = (mean end-to-end time − simulated latency) / simulated latency.
* **throughput** — answers per second with a zero-latency simulator.

Results are printed as a table and written as JSON.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from core.bootstrap import build
from core.settings import Settings
from core.simulator import Simulator, SimulatorConfig, SimulatorTransport
from core.types import Question, ThreadKey

OVERHEAD_TARGET = 0.02


@dataclass(frozen=True)
class BenchResult:
    name: str
    answers: int
    errors: int
    seconds: float
    figure: float
    unit: str
    target: str
    met: bool
    detail: dict[str, float]


async def _conversations(
    settings: Settings,
    config: SimulatorConfig,
    *,
    conversations: int,
    questions: int,
    on_answer: Callable[[float], None],
) -> tuple[int, int, float]:
    """Run ``conversations`` threads at once, each asking ``questions`` in turn."""
    simulator = Simulator(config)
    errors = 0
    async with build(settings, transport=SimulatorTransport(simulator)) as container:
        service = container.service

        async def one(index: int) -> None:
            nonlocal errors
            thread = ThreadKey("bench", "W", f"C{index % 50}", f"T{index}")
            for turn in range(questions):
                started = time.perf_counter()
                try:
                    await service.ask(Question(thread, f"Question {turn} about topic {index}"))
                except Exception:
                    errors += 1
                    continue
                on_answer(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(conversations)))
        elapsed = time.perf_counter() - started
    return conversations * questions - errors, errors, elapsed


async def overhead(
    settings: Settings, *, latency: float, conversations: int, questions: int
) -> BenchResult:
    times: list[float] = []
    config = SimulatorConfig(first_chunk_latency=latency, chunk_latency=0.0)
    answers, errors, elapsed = await _conversations(
        settings, config, conversations=conversations, questions=questions, on_answer=times.append
    )
    mean = statistics.fmean(times) if times else float("nan")
    ratio = (mean - latency) / latency
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 20 else max(times, default=0.0)
    return BenchResult(
        name=f"overhead at {latency * 1000:.0f} ms latency, {conversations} conversations",
        answers=answers,
        errors=errors,
        seconds=elapsed,
        figure=ratio,
        unit="ratio",
        target=f"<= {OVERHEAD_TARGET}",
        met=errors == 0 and ratio <= OVERHEAD_TARGET,
        detail={"mean_s": mean, "p95_s": p95, "simulated_s": latency},
    )


async def throughput(settings: Settings, *, conversations: int, questions: int) -> BenchResult:
    config = SimulatorConfig(first_chunk_latency=0.0, chunk_latency=0.0)
    answers, errors, elapsed = await _conversations(
        settings, config, conversations=conversations, questions=questions, on_answer=lambda _: None
    )
    rate = answers / elapsed if elapsed else float("nan")
    return BenchResult(
        name=f"throughput, zero latency, {conversations} conversations",
        answers=answers,
        errors=errors,
        seconds=elapsed,
        figure=rate,
        unit="answers/s",
        target="errors = 0",
        met=errors == 0,
        detail={},
    )


def render(results: list[BenchResult]) -> str:
    rows = [("benchmark", "answers", "errors", "figure", "target", "met")]
    for r in results:
        figure = f"{r.figure:.4f} {r.unit}" if r.unit == "ratio" else f"{r.figure:.0f} {r.unit}"
        met = "yes" if r.met else "NO"
        rows.append((r.name, str(r.answers), str(r.errors), figure, r.target, met))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


async def run_bench(
    base: Settings,
    *,
    latency: float = 0.5,
    conversations: int = 100,
    questions: int = 3,
    output: Path = Path("bench/results.json"),
    database_url: str | None = None,
    echo: Callable[[str], object] = print,
) -> list[BenchResult]:
    with tempfile.TemporaryDirectory(prefix="gloo-bench-") as folder:
        url = database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        settings = base.model_copy(
            update={"gloo_backend": "simulator", "database_url": url, "gloo_stream": True}
        )
        runs: list[Callable[[], Awaitable[BenchResult]]] = [
            lambda: overhead(
                settings, latency=latency, conversations=conversations, questions=questions
            ),
            lambda: throughput(settings, conversations=conversations, questions=questions * 3),
        ]
        results = []
        for run in runs:
            result = await run()
            echo(f"  done: {result.name} ({result.seconds:.2f} s)")
            results.append(result)
    echo(render(results))
    await asyncio.to_thread(write_results, results, output)
    echo(f"Results written to {output}")
    return results


def write_results(results: list[BenchResult], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
