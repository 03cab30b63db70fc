"""The simulator as a real HTTP server (aiohttp), for the CLI, demos and end-to-end tests.

Streamed answers are written chunk by chunk as the engine produces them. A "drop" fault
closes the socket without terminating the chunked body, so clients see exactly what a
broken upstream connection looks like.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType

import structlog
from aiohttp import web

from core.simulator.config import SimulatorConfig
from core.simulator.engine import Headers, SimRequest, Simulator, StreamDropped, first_values
from core.web import WebServer, start_web

__all__ = ["RunningServer", "build_app", "serve", "start_server"]

log = structlog.get_logger(__name__)

SIMULATOR_KEY = web.AppKey("simulator", Simulator)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def build_app(simulator: Simulator) -> web.Application:
    """An aiohttp application that routes every request to ``simulator``."""
    app = web.Application()
    app[SIMULATOR_KEY] = simulator
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app


@dataclass(slots=True)
class RunningServer:
    """A started simulator server; ``close()`` (or ``async with``) stops it."""

    simulator: Simulator
    server: WebServer

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return self.server.url

    async def close(self) -> None:
        await self.server.close()
        log.info("simulator.stopped", url=self.url)

    async def __aenter__(self) -> RunningServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def start_server(
    config: SimulatorConfig | Simulator | None = None,
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    shutdown_timeout: float = 1.0,
) -> RunningServer:
    """Start serving on ``host:port`` (``0`` picks a free port) and return at once.

    Pass a :class:`Simulator` to serve an existing one (its memory and counters are
    shared), or a config to get a fresh one. Handlers of clients that disconnect are
    cancelled, so a hanging request ends when its client gives up.
    """
    simulator = config if isinstance(config, Simulator) else Simulator(config)
    server = await start_web(build_app(simulator), host, port, shutdown_timeout=shutdown_timeout)
    running = RunningServer(simulator=simulator, server=server)
    log.info(
        "simulator.listening",
        url=running.url,
        seed=simulator.config.seed,
        stream_format=simulator.config.stream_format,
        text_mode=simulator.config.text_mode,
    )
    return running


async def serve(
    config: SimulatorConfig | Simulator | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
) -> None:
    """Serve until cancelled (Ctrl-C in the CLI), then shut down gracefully."""
    running = await start_server(config, host, port, shutdown_timeout=5.0)
    try:
        await asyncio.Event().wait()
    finally:
        await running.close()


async def _handle(request: web.Request) -> web.StreamResponse:
    simulator = request.app[SIMULATOR_KEY]
    sim_request = SimRequest(
        method=request.method,
        path=request.path,
        query=first_values(request.query.items()),
        headers=Headers(request.headers.items()),
        body=await request.read(),
    )
    try:
        response = await simulator.handle(sim_request)
    except StreamDropped:
        _drop_connection(request)
        # Never reaches the client: the socket is closing, so aiohttp treats this as a
        # premature disconnect and writes nothing.
        return web.Response(status=502)
    if response.stream is None:
        return web.Response(status=response.status, headers=response.headers, body=response.body)

    stream_response = web.StreamResponse(status=response.status, headers=response.headers)
    await stream_response.prepare(request)
    try:
        async for chunk in response.stream:
            await stream_response.write(chunk)
    except StreamDropped:
        _drop_connection(request)
        return stream_response
    except ConnectionResetError:
        log.debug("simulator.client_disconnected", path=request.path)
        return stream_response
    finally:
        await response.aclose()
    await stream_response.write_eof()
    return stream_response


def _drop_connection(request: web.Request) -> None:
    """Close the socket now: buffered bytes are flushed, the chunked body is never ended."""
    transport = request.transport
    if transport is not None:
        transport.close()
