"""The seam between the core and the platform adapters, and the process that runs them.

The core never imports an adapter. Adapters announce themselves as entry points in the
``gloo_bots.adapters`` group (see ``pyproject.toml``); each names a zero-argument factory of
an :class:`Adapter`. ``gloo-bots run`` starts every configured adapter in one process;
``gloo-bots slack`` / ``gloo-bots discord`` start one, or run its own sub-commands
(``gloo-bots discord sync``).

A serving process builds the container once, gives every adapter the same
:class:`Runtime` — the container, the :class:`~core.delivery.Dispatcher`, and the web
application served on ``$PORT`` (health endpoints, Slack's HTTP endpoints) — calls
:meth:`Adapter.prepare` on each, starts the web server, then runs :meth:`Adapter.serve` on
each until SIGTERM/SIGINT or until one of them ends.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

import httpx
import structlog
from aiohttp import web

from core.bootstrap import Container, StartupError, build
from core.delivery import Dispatcher
from core.doctor import Diagnosable
from core.eventloop import loop_name
from core.registry import ENTRY_POINT_GROUP, adapter_entry_point, adapter_names
from core.scheduler import build_scheduler
from core.settings import Settings
from core.web import ReadinessCheck, build_web_app, start_web

__all__ = [
    "ENTRY_POINT_GROUP",
    "Adapter",
    "AdapterCommands",
    "Diagnosable",
    "Runtime",
    "SettingsCheck",
    "adapter_names",
    "check_adapter_settings",
    "load_adapter",
    "run_worker",
    "serve_adapters",
    "serving",
]

log = structlog.get_logger(__name__)

#: Seconds a stopping process gives the questions in flight to finish.
SHUTDOWN_GRACE: Final = 25.0


@dataclass
class Runtime:
    """What a serving process shares with its adapters."""

    container: Container
    dispatcher: Dispatcher
    #: Served on ``settings.host:settings.port`` once every adapter is prepared; add routes
    #: in :meth:`Adapter.prepare`, not later (aiohttp freezes the router on start).
    web: web.Application
    #: Set when the process is asked to stop; adapters stop taking new work.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    #: Filled by :func:`serve_adapters` once the web server listens (the bound port).
    web_url: str | None = None
    #: Readiness checks served at ``/readyz``; adapters add their platform connection's.
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)

    #: The adapters :func:`serve_adapters` runs; the ``ready`` line waits for all of them.
    expected: tuple[str, ...] = ()
    #: What each adapter said it serves when it connected (:meth:`connected`).
    connections: dict[str, str] = field(default_factory=dict)
    #: Set once every expected adapter connected (the ``ready`` line was logged).
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def settings(self) -> Settings:
        return self.container.settings

    def connected(self, name: str, how: str) -> None:
        """Adapter ``name`` is connected to its platform and serves people (``how``).

        Once every adapter of the process said so, one ``ready`` line names what serves
        where, e.g. ``ready discord=connected slack=socket-mode web=http://0.0.0.0:3000``.
        """
        self.connections[name] = how
        if self.ready.is_set() or not set(self.expected) <= set(self.connections):
            return
        self.ready.set()
        log.info("ready", **dict(sorted(self.connections.items())), web=self.web_url)


class Adapter(Protocol):
    """A platform adapter, as the process runner sees it: what serving needs.

    The optional parts sit beside it, each found with ``isinstance``:
    :class:`AdapterCommands` (``gloo-bots NAME`` options and sub-commands) and
    :class:`~core.doctor.Diagnosable` (``gloo-bots doctor`` checks). Bench drivers are
    development tools, registered apart (the ``gloo_bots.bench`` entry points of
    ``devtools``).
    """

    #: The CLI sub-command and the ``ThreadKey.platform`` value, e.g. ``"slack"``.
    name: str
    #: One line for ``gloo-bots --help``.
    help: str

    def configured(self, settings: Settings) -> bool:
        """True when the settings hold what this adapter needs to serve."""

    async def prepare(self, runtime: Runtime) -> None:
        """Register the responder with the dispatcher and any web routes; connect nothing yet."""

    async def serve(self, runtime: Runtime) -> None:
        """Connect and serve until cancelled; clean up on cancellation.

        Call ``runtime.connected(name, how)`` once the platform is connected, so the process
        logs its one ``ready`` line when every adapter has.

        Return (or raise :class:`~core.bootstrap.StartupError` with a sentence saying what
        to change) when the platform refuses the credentials.
        """


@runtime_checkable
class AdapterCommands(Protocol):
    """Optional part of an adapter: its own options and sub-commands of ``gloo-bots NAME``."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this adapter's own options and sub-commands to ``gloo-bots NAME``."""

    async def command(self, args: argparse.Namespace, settings: Settings) -> int | None:
        """Run a non-serving sub-command (``discord invite``) and return its exit code.

        Return ``None`` to serve (``gloo-bots NAME`` with no sub-command).
        """


@runtime_checkable
class SettingsCheck(Protocol):
    """Optional part of an adapter: refuse settings that cannot work, before anything starts.

    :func:`serve_adapters` calls it before the database is opened or migrated, so a missing
    setting is one sentence and nothing was created.
    """

    def check_settings(self, settings: Settings) -> None:
        """Raise :class:`~core.bootstrap.StartupError` saying what to set."""


def check_adapter_settings(settings: Settings, adapters: Iterable[Adapter]) -> None:
    """Every adapter's :class:`SettingsCheck` (raising the first :class:`StartupError`)."""
    for adapter in adapters:
        if isinstance(adapter, SettingsCheck):
            adapter.check_settings(settings)


def load_adapter(name: str) -> Adapter:
    """Import and build the adapter called ``name``."""
    factory: Callable[[], Adapter] = adapter_entry_point(name).load()
    return factory()


async def serve_adapters(
    settings: Settings,
    adapters: Sequence[Adapter],
    *,
    on_ready: Callable[[Runtime], Awaitable[None]] | None = None,
    handle_signals: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Run ``adapters`` in this process until SIGTERM/SIGINT or until one of them ends.

    Stopping is graceful: ``runtime.stopping`` is set (adapters take no new work), the
    questions in flight are finished (for up to ``SHUTDOWN_GRACE`` seconds), then the
    adapters are cancelled and the web server closed. ``on_ready`` runs once the web server
    listens and every adapter's ``serve`` has started (tests use it to learn the port);
    ``transport`` replaces the network under the Gloo client (tests: a simulator).
    """
    if not adapters:
        raise StartupError("nothing to run: no adapter is configured")
    check_adapter_settings(settings, adapters)
    async with build(settings, transport=transport) as container:
        dispatcher = container.dispatcher
        readiness: dict[str, ReadinessCheck] = {}
        runtime = Runtime(
            container=container,
            dispatcher=dispatcher,
            web=build_web_app(container, readiness),
            readiness=readiness,
            expected=tuple(adapter.name for adapter in adapters),
        )
        for adapter in adapters:
            await adapter.prepare(runtime)
        server = await start_web(
            runtime.web,
            settings.host,
            settings.port,
            keepalive_timeout=settings.web_keepalive_timeout,
        )
        scheduler = build_scheduler(container, container.leadership)
        scheduler.start()
        runtime.web_url = server.url
        # Listening is not serving yet: the ``ready`` line comes once every adapter connected.
        log.info(
            "process.listening",
            url=server.url,
            connecting=[a.name for a in adapters],
            loop=loop_name(asyncio.get_running_loop()),
        )
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
        for sig in signals:
            loop.add_signal_handler(sig, runtime.stopping.set)
        tasks = [
            asyncio.create_task(adapter.serve(runtime), name=f"adapter:{adapter.name}")
            for adapter in adapters
        ]
        stop = asyncio.create_task(runtime.stopping.wait(), name="stopping")
        failure: BaseException | None = None
        try:
            if on_ready is not None:
                await on_ready(runtime)
            done, _ = await asyncio.wait([*tasks, stop], return_when=asyncio.FIRST_COMPLETED)
            failure = _first_failure(done - {stop})
            log.info("process.stopping", in_flight=dispatcher.in_flight)
            runtime.stopping.set()
            await scheduler.stop()
            await dispatcher.close(grace=SHUTDOWN_GRACE)
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            for task in [*tasks, stop]:
                task.cancel()
            await asyncio.gather(*tasks, stop, return_exceptions=True)
            await scheduler.stop()
            await server.close()
        if failure is not None:
            raise failure
        log.info("process.stopped")
        return 0


@asynccontextmanager
async def serving(
    settings: Settings,
    adapters: Sequence[Adapter],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    ready_within: float = 30.0,
) -> AsyncIterator[Runtime]:
    """A serving process inside this event loop, for benchmarks and tests.

    Yields the :class:`Runtime` once the process serves (raising its start-up error if it
    fails to start), and stops it gracefully when the block ends.
    """
    ready: asyncio.Future[Runtime] = asyncio.get_running_loop().create_future()

    async def on_ready(runtime: Runtime) -> None:
        ready.set_result(runtime)

    task = asyncio.create_task(
        serve_adapters(
            settings, adapters, on_ready=on_ready, handle_signals=False, transport=transport
        )
    )
    try:
        waiting: set[asyncio.Future[Any]] = {task, ready}
        done, _ = await asyncio.wait(
            waiting, timeout=ready_within, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            task.result()  # the start-up failure
            raise StartupError("the process stopped before it served")
        if ready not in done:
            raise StartupError(f"the process did not serve within {ready_within:g} s")
        runtime = ready.result()
        yield runtime
    finally:
        if ready.done() and not ready.cancelled() and ready.exception() is None:
            ready.result().stopping.set()
        else:
            task.cancel()
        results = await asyncio.gather(task, return_exceptions=True)
    if isinstance(results[0], BaseException) and not isinstance(results[0], asyncio.CancelledError):
        raise results[0]


async def run_worker(settings: Settings, *, handle_signals: bool = True) -> int:
    """The worker process: the once-per-deployment jobs (pruning), until SIGTERM/SIGINT.

    Questions are re-driven by the processes that serve their platform, which may prune
    too: whichever process holds the leader lock does. A worker is a leader candidate that
    never serves — optional, for deployments that want that job apart.
    """
    async with build(settings) as container:
        scheduler = build_scheduler(container, container.leadership, serving=False)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
        for sig in signals:
            loop.add_signal_handler(sig, stopping.set)
        scheduler.start()
        log.info("worker.started", jobs=sorted(scheduler.job_ids()))
        try:
            await stopping.wait()
        finally:
            await scheduler.stop()
            for sig in signals:
                loop.remove_signal_handler(sig)
        log.info("worker.stopped")
        return 0


def _first_failure(done: Iterable[asyncio.Task[Any]]) -> BaseException | None:
    for task in done:
        if not task.cancelled() and (exc := task.exception()) is not None:
            return exc
    return None
