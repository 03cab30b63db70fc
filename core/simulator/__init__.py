"""A Gloo-compatible simulator: the offline default of the product and the base of its tests.

Use it in process through :class:`SimulatorTransport` (an httpx transport), or as a real
HTTP server with :func:`start_server` / :func:`serve`. Both answer from the same
:class:`Simulator` engine: OAuth2 client-credential tokens, ``POST /ai/v1/message``
(JSON or SSE/NDJSON streams) with per-chat memory, ``GET /ai/v1/chat``, and injectable
latency and faults.
"""

from core.simulator.config import SimulatorConfig, StreamFormat, TextMode
from core.simulator.engine import (
    FAULT_KINDS,
    FaultKind,
    Headers,
    RequestRecord,
    SimRequest,
    SimResponse,
    Simulator,
    StreamDropped,
)
from core.simulator.server import RunningServer, build_app, serve, start_server
from core.simulator.transport import SIMULATOR_BASE_URL, SimulatorTransport, simulator_client

__all__ = [
    "FAULT_KINDS",
    "SIMULATOR_BASE_URL",
    "FaultKind",
    "Headers",
    "RequestRecord",
    "RunningServer",
    "SimRequest",
    "SimResponse",
    "Simulator",
    "SimulatorConfig",
    "SimulatorTransport",
    "StreamDropped",
    "StreamFormat",
    "TextMode",
    "build_app",
    "serve",
    "simulator_client",
    "start_server",
]
