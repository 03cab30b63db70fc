"""httpx transport that answers from an in-process :class:`~core.simulator.engine.Simulator`.

It behaves like a socket where it matters to a client: streamed bodies arrive chunk by
chunk as the engine produces them (time-to-first-chunk is real), the request's read
timeout applies to the response and to every chunk (a "hang" raises
:class:`httpx.ReadTimeout`), and a dropped connection raises
:class:`httpx.RemoteProtocolError`, before the response or part-way through the body.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from core.simulator.config import SimulatorConfig
from core.simulator.engine import Headers, SimRequest, Simulator, StreamDropped, first_values

__all__ = ["SIMULATOR_BASE_URL", "SimulatorTransport", "simulator_client"]

#: A base URL for in-process clients. ``.invalid`` never resolves (RFC 6761), so a client
#: built with it can never reach a real host by mistake.
SIMULATOR_BASE_URL = "http://gloo-simulator.invalid"


class SimulatorTransport(httpx.AsyncBaseTransport):
    """Route every request of an :class:`httpx.AsyncClient` to a simulator, in process."""

    def __init__(self, simulator: Simulator | SimulatorConfig | None = None) -> None:
        if isinstance(simulator, Simulator):
            self._simulator = simulator
        else:
            self._simulator = Simulator(simulator)

    @property
    def simulator(self) -> Simulator:
        return self._simulator

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        sim_request = SimRequest(
            method=request.method,
            path=request.url.path,
            query=first_values(request.url.params.multi_items()),
            headers=Headers(request.headers.multi_items()),
            body=body,
        )
        read_timeout = _read_timeout(request)
        try:
            async with asyncio.timeout(read_timeout):
                response = await self._simulator.handle(sim_request)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(
                "timed out waiting for the simulator to respond", request=request
            ) from exc
        except StreamDropped as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from exc
        if response.stream is None:
            return httpx.Response(
                response.status,
                headers=response.headers,
                content=response.body,
                request=request,
            )
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_SimulatorStream(response.stream, request, read_timeout),
            request=request,
        )


class _SimulatorStream(httpx.AsyncByteStream):
    """A response body pulled from the engine chunk by chunk, with socket-like failures."""

    def __init__(
        self, chunks: AsyncIterator[bytes], request: httpx.Request, read_timeout: float | None
    ) -> None:
        self._chunks = chunks
        self._request = request
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                async with asyncio.timeout(self._read_timeout):
                    chunk = await anext(self._chunks)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise httpx.ReadTimeout(
                    "timed out waiting for the next chunk from the simulator",
                    request=self._request,
                ) from exc
            except StreamDropped as exc:
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body "
                    "(incomplete chunked read)",
                    request=self._request,
                ) from exc
            yield chunk

    async def aclose(self) -> None:
        if isinstance(self._chunks, AsyncGenerator):
            await self._chunks.aclose()


def simulator_client(
    simulator: Simulator | SimulatorConfig | None = None,
    *,
    base_url: str = SIMULATOR_BASE_URL,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An :class:`httpx.AsyncClient` wired to a simulator in process (extra kwargs pass on)."""
    return httpx.AsyncClient(transport=SimulatorTransport(simulator), base_url=base_url, **kwargs)


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout")
    if isinstance(timeout, dict):
        value = timeout.get("read")
        if isinstance(value, int | float):
            return float(value)
    return None
