"""What one answer costs through the real Slack adapter, the fake Slack in another process.

``python -m devtools.benchcost --platform slack`` (and :func:`measure_slack`) runs the
product as it serves Slack — the composition root (:func:`core.bootstrap.build`, through
:func:`core.adapters.serving`), the real :class:`~bots.slack.adapter.SlackAdapter` in HTTP
mode on a free port of 127.0.0.1 (``/slack/events``, signature verified, bolt, slack_sdk),
the Gloo client, the inbox and the dispatcher — in this process, with both of its
neighbours in processes of their own, reached over real HTTP as in production:

* Gloo: the simulator (``gloo-bots simulator``, :func:`devtools.benchcost._simulator`);
* Slack: :mod:`devtools.slack.workspace`, the fake Slack (published rate limits of one
  workspace on) and the people who ask in it: signed ``app_mention`` events, then plain
  follow-ups in the thread, each posted once the thread's previous answer is complete.

After a warm-up (a few answers in one thread), the measured phase asks ``answers``
questions in ``threads`` threads, ``concurrency`` at a time, and ends when every answer is
complete and the adapter has settled. Over that phase only it measures this process's CPU
(``time.process_time()``), the database's transactions and statements
(:func:`devtools.benchcost_common.count_statements`) and, from the workspace's summary, the Slack
calls per answer (by method) and the 429s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any, Final

from pydantic import SecretStr

from bots.slack.adapter import EVENTS_PATH, SlackAdapter
from core.adapters import serving
from core.settings import Settings
from core.store.sql import SqlStore
from devtools.benchcost_common import (
    CORE_POINTS,
    CORE_SUBSYSTEMS,
    CostResult,
    count_server_transactions,
    count_statements,
    free_port,
    product_settings,
)
from devtools.benchprofile import EntryPoint, Profiler
from devtools.slack.fake import BOT_TOKEN

__all__ = [
    "SIGNING_SECRET",
    "SLACK_POINTS",
    "SLACK_SUBSYSTEMS",
    "WorkspaceProcess",
    "measure_slack",
    "workspace_process",
]

SIGNING_SECRET: Final = "cost-bench-signing-secret"  # noqa: S105 - the fake workspace's
#: Seconds to wait for the workspace process to start, and for a phase's summary.
START_WITHIN: Final = 30.0
PHASE_WITHIN: Final = 1800.0

#: Entry points of a Slack answer's work (``--sample``: their inclusive CPU).
SLACK_POINTS: Final = (
    EntryPoint(
        "incoming HTTP requests (aiohttp server)", "aiohttp/web_protocol.py", "_handle_request"
    ),
    EntryPoint("  signature gate, then bolt", "bots/slack/verify.py", "handle"),
    EntryPoint("    signature and shape checks", "bots/slack/verify.py", "check"),
    EntryPoint("    bolt dispatch", "slack_bolt/app/async_app.py", "async_dispatch"),
    EntryPoint("      on_mention listener", "bots/slack/handlers.py", "on_mention"),
    EntryPoint("      on_message listener", "bots/slack/handlers.py", "on_message"),
    *CORE_POINTS,
    EntryPoint("  working signal (reactions.add)", "bots/slack/responder.py", "working"),
    EntryPoint("  progress (first text)", "bots/slack/responder.py", "progress"),
    EntryPoint("  final change", "bots/slack/responder.py", "final"),
    EntryPoint("Slack Web API calls (slack_sdk)", "slack_sdk/web/async_base_client.py", "api_call"),
    EntryPoint("  aiohttp client requests", "aiohttp/client.py", "_request"),
    EntryPoint("  aiohttp client protocol (responses read)", "aiohttp/client_proto.py", "*"),
    EntryPoint("Slack budget waits", "core/budget.py", "acquire"),
)
#: A Slack answer's subsystems (``--sample``: each sample goes to the innermost that names
#: it, so the database under a bolt listener counts as the database).
SLACK_SUBSYSTEMS: Final = (
    *(
        EntryPoint("Slack Web API client (slack_sdk, aiohttp client)", f, "*")
        for f in ("/slack_sdk/", "aiohttp/client", "aiohttp/connector.py")
    ),
    EntryPoint("incoming events: signature gate (bots.slack.verify)", "bots/slack/verify.py", "*"),
    EntryPoint("incoming events: bolt (slack_bolt)", "/slack_bolt/", "*"),
    EntryPoint("incoming events: aiohttp server", "aiohttp/web", "*"),
    EntryPoint("Slack listeners, responder, rendering (bots.slack)", "bots/slack/", "*"),
    *CORE_SUBSYSTEMS,
)


class WorkspaceProcess:
    """The running :mod:`devtools.slack.workspace` process: its API URL and its phases."""

    def __init__(self, process: asyncio.subprocess.Process, api_url: str) -> None:
        self._process = process
        self.api_url = api_url

    async def phase(self, name: str, *, within: float = PHASE_WITHIN) -> dict[str, Any]:
        """Run the phase ``name`` (``warm-up`` or ``start``) and return its summary."""
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(f"{name}\n".encode())
        await stdin.drain()
        summary = await _read_json(self._process, within)
        if "error" in summary:
            raise RuntimeError(f"the Slack workspace refused the phase {name!r}: {summary}")
        return summary


@contextlib.asynccontextmanager
async def workspace_process(
    events_url: str,
    *,
    answers: int,
    threads: int,
    concurrency: int,
    signing_secret: str = SIGNING_SECRET,
) -> AsyncIterator[WorkspaceProcess]:
    """Start :mod:`devtools.slack.workspace` asking at ``events_url``; stopped at the end."""
    command = [
        sys.executable,
        "-m",
        "devtools.slack.workspace",
        "--events-url",
        events_url,
        "--signing-secret",
        signing_secret,
        "--answers",
        str(answers),
        "--threads",
        str(threads),
        "--concurrency",
        str(concurrency),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    try:
        hello = await _read_json(process, START_WITHIN)
        yield WorkspaceProcess(process, str(hello["api_url"]))
    finally:
        if process.stdin is not None:
            process.stdin.close()  # end of input: the workspace closes its fake Slack
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _read_json(process: asyncio.subprocess.Process, within: float) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), within)
    if not line:
        raise RuntimeError(f"the Slack workspace process ended (exit code {process.returncode})")
    found: dict[str, Any] = json.loads(line)
    return found


def _settings(
    database_url: str, gloo_url: str, *, port: int, slack_api_url: str, concurrency: int
) -> Settings:
    """The product's settings: Slack in HTTP mode on ``port``, Gloo at ``gloo_url``."""
    return product_settings(
        database_url,
        gloo_url,
        # Room above the bench's own limit, as in devtools.benchcost.measure.
        inbox_concurrency=2 * concurrency,
        host="127.0.0.1",
        port=port,
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_app_token=None,
        slack_client_id=None,
        slack_client_secret=None,
        slack_api_url=slack_api_url,
    )


async def measure_slack(
    database_url: str,
    gloo_url: str,
    *,
    answers: int,
    threads: int,
    concurrency: int,
    profile: Profiler | None = None,
) -> CostResult:
    """Answer ``answers`` Slack questions in ``threads`` threads, ``concurrency`` at a time,
    through the real Slack adapter; what the measured phase cost this process."""
    port = free_port()
    events_url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
    async with workspace_process(
        events_url, answers=answers, threads=threads, concurrency=concurrency
    ) as workspace:
        settings = _settings(
            database_url,
            gloo_url,
            port=port,
            slack_api_url=workspace.api_url,
            concurrency=concurrency,
        )
        adapter = SlackAdapter()
        async with serving(settings, [adapter]) as runtime:
            store = runtime.container.store
            assert isinstance(store, SqlStore)
            warm = await workspace.phase("warm-up")
            if warm["errors"]:
                raise RuntimeError(f"the warm-up was not answered: {warm}")
            await adapter.settle()
            async with count_server_transactions(store.engine) as server:
                with count_statements(store.engine) as counter:
                    cpu = time.process_time()
                    started = time.perf_counter()
                    if profile is not None:
                        profile.enable()
                    summary = await workspace.phase("start")
                    await adapter.settle()
                    if profile is not None:
                        profile.disable()
                    seconds = time.perf_counter() - started
                    cpu = time.process_time() - cpu
    calls: dict[str, int] = summary["calls_by_method"]
    return CostResult(
        answers=answers,
        errors=int(summary["errors"]),
        seconds=round(seconds, 3),
        cpu_ms_per_answer=round(cpu * 1000 / answers, 2),
        transactions_per_answer=round(counter.transactions / answers, 2),
        statements_per_answer=round(counter.statements / answers, 2),
        responder_calls_per_answer=round(int(summary["calls"]) / answers, 2),
        statements={k: round(v / answers, 2) for k, v in counter.kinds.most_common()},
        connections_opened=counter.connections,
        platform_calls={method: round(n / answers, 2) for method, n in calls.items()},
        platform_429=int(summary["http_429"]),
        server_transactions_per_answer=_per(server.transactions, answers),
    )


def _per(count: int | None, answers: int) -> float | None:
    return None if count is None else round(count / answers, 2)
