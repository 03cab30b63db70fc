"""The ``gloo-bots bench`` rows of issue 12 that reach Gloo as production does: the simulator in
its own process, over real HTTP, on PostgreSQL.

* **C1** what one answer costs the process through the core (:func:`devtools.benchcost.measure`,
  a minimal platform): CPU ms, transactions and statements per answer.
* **C2** the same through the real Slack adapter in HTTP mode, with the fake Slack and the
  people asking in a process of their own (:func:`devtools.benchcost_slack.measure_slack`).
  Target for both: ≤ 8 ms CPU and ≤ 5 transactions per answer.
* **S1** a steady load, open loop (:func:`devtools.benchsteady.measure_steady`): p95 added
  latency ≤ 100 ms and no errors.

Each row gets an empty database and a simulator process of its own (zero latency for C1/C2,
``steady_latency`` before the first chunk for S1).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from devtools.bench import BenchResult, Detail, _not_measured, _reset_postgres
from devtools.benchcost import _simulator, measure
from devtools.benchcost_common import CostResult
from devtools.benchcost_slack import measure_slack
from devtools.benchsteady import measure_steady, steady_result

__all__ = ["COST_CPU_TARGET_MS", "COST_TRANSACTIONS_TARGET", "HttpConfig", "run_http_rows"]

COST_CPU_TARGET_MS: Final = 8.0
COST_TRANSACTIONS_TARGET: Final = 5.0


@dataclass(frozen=True)
class HttpConfig:
    """The sizes of the C and S rows (``cost_answers=0`` / ``steady_seconds=0``: skip them)."""

    cost_answers: int = 300
    cost_threads: int = 20
    cost_concurrency: int = 20
    steady_rate: float = 50.0
    steady_seconds: float = 60.0
    steady_latency: float = 0.5


def cost_row(key: str, platform: str, result: CostResult) -> BenchResult:
    """A C row from one cost run."""
    # PostgreSQL's own count where there is one (the measure: pg_stat_database over
    # the phase, read-only transactions and the pool's reconnections included).
    server = result.server_transactions_per_answer
    transactions = result.transactions_per_answer if server is None else server
    detail: Detail = {
        "transactions_per_answer": result.transactions_per_answer,
        "connections_opened": result.connections_opened,
        "statements_per_answer": result.statements_per_answer,
        "platform_calls_per_answer": round(sum(result.platform_calls.values()), 2)
        if result.platform_calls
        else result.responder_calls_per_answer,
        "platform_429": result.platform_429,
    }
    if server is not None:
        detail["server_transactions_per_answer"] = server
    met = (
        result.errors == 0
        and result.cpu_ms_per_answer <= COST_CPU_TARGET_MS
        and transactions <= COST_TRANSACTIONS_TARGET
    )
    return BenchResult(
        key=key,
        name="CPU ms per answer (transactions in the detail), Gloo over HTTP",
        platform=platform,
        figure=result.cpu_ms_per_answer,
        unit="ms",
        target=f"<= {COST_CPU_TARGET_MS:g} ms, <= {COST_TRANSACTIONS_TARGET:g} transactions",
        met=met,
        answers=result.answers,
        errors=result.errors,
        seconds=result.seconds,
        detail=detail,
    )


async def run_http_rows(
    config: HttpConfig,
    postgres: str | None,
    *,
    step: Callable[[str, int], object],
) -> list[BenchResult]:
    """Run C1, C2 and S1 on ``postgres`` (emptied before each; ``None``: not measured)."""
    rows: list[tuple[str, str, str, int]] = []
    if config.cost_answers:
        rows.append(("C1", "core/postgres", "cost per answer, core", config.cost_answers))
        rows.append(("C2", "slack/postgres", "cost per answer, Slack", config.cost_answers))
    if config.steady_seconds:
        questions = round(config.steady_rate * config.steady_seconds)
        rows.append(("S1", "core/postgres", "steady load", questions))
    if postgres is None:
        why = "no PostgreSQL: pass --database-url or run a server on 127.0.0.1:5432"
        for key, _, label, _ in rows:
            step(f"{key} {label}: skipped ({why})", 0)
        return [_not_measured(key, label, on, "", why) for key, on, label, _ in rows]
    results: list[BenchResult] = []
    for key, on, label, total in rows:
        step(f"{key} {label} (Gloo over HTTP)", total)
        await _reset_postgres(postgres)
        results.append(await _one(key, on, config, postgres))
    return results


async def _one(key: str, on: str, config: HttpConfig, postgres: str) -> BenchResult:
    latency = config.steady_latency if key == "S1" else 0.0
    with contextlib.ExitStack() as stack:
        gloo = await asyncio.to_thread(stack.enter_context, _simulator(0.0, latency))
        if key == "S1":
            steady = await measure_steady(
                postgres,
                gloo,
                rate=config.steady_rate,
                seconds=config.steady_seconds,
                latency=latency,
            )
            return steady_result(steady)
        cost = measure if key == "C1" else measure_slack
        result = await cost(
            postgres,
            gloo,
            answers=config.cost_answers,
            threads=config.cost_threads,
            concurrency=config.cost_concurrency,
        )
        return cost_row(key, on, result)
