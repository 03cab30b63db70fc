"""The composition root: builds every long-lived object from :class:`Settings`, once.

Adapters, the console and the CLI get a :class:`Container`; nothing else constructs
clients, engines or stores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace

import httpx
import stamina.instrumentation
import structlog
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from core.delivery import DeliveryPolicy, Dispatcher
from core.gloo.auth import Authenticator, ClientCredentialsAuth, build_authenticator
from core.gloo.backend import GlooBackend
from core.gloo.client import MessageBackend
from core.gloo.completions import build_completions_backend
from core.gloo.errors import GlooConfigError
from core.gloo.retry import RetryPolicy
from core.leader import Leadership
from core.metrics import Metrics
from core.ports import Store
from core.quotas import QuotaLimits, Quotas
from core.service import ConversationService, error_code
from core.settings import Settings
from core.simulator import Simulator, SimulatorConfig, SimulatorTransport
from core.store.engine import normalize_database_url
from core.store.sql import SqlStore

log = structlog.get_logger(__name__)

SIMULATOR_URL = "http://gloo-simulator.invalid"
USER_AGENT = "gloo-bots/0.1"


class StartupError(Exception):
    """The service cannot start; the message says what to change."""


@dataclass
class Container:
    settings: Settings
    http: httpx.AsyncClient
    auth: Authenticator
    gloo: GlooBackend
    store: Store
    service: ConversationService
    dispatcher: Dispatcher
    metrics: Metrics
    #: Who runs the once-per-deployment jobs; None for a store that is not SQL (tests).
    leadership: Leadership | None = None
    simulator: Simulator | None = None


def http_timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.gloo_timeout, connect=settings.gloo_connect_timeout)


def simulator_config(settings: Settings) -> SimulatorConfig:
    return SimulatorConfig(
        seed=settings.gloo_simulator_seed,
        first_chunk_latency=settings.gloo_simulator_first_chunk_latency,
        chunk_latency=settings.gloo_simulator_chunk_latency,
    )


@asynccontextmanager
async def build(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    store: Store | None = None,
) -> AsyncIterator[Container]:
    """Build the container; everything is closed when the block exits.

    ``transport`` replaces the network under the one shared ``httpx.AsyncClient`` (tests);
    ``store`` replaces the SQL store (tests).
    """
    # Retries are logged once, as gloo.retry by the retry policy, not again by stamina.
    stamina.instrumentation.set_on_retry_hooks([])
    async with AsyncExitStack() as stack:
        metrics = Metrics()
        simulator: Simulator | None = None
        api_url, token_url = settings.gloo_api_url, settings.token_url
        if settings.uses_simulator and transport is None:
            simulator = Simulator(simulator_config(settings))
            transport = SimulatorTransport(simulator)
            api_url, token_url = SIMULATOR_URL, f"{SIMULATOR_URL}/oauth2/token"
        http = httpx.AsyncClient(
            transport=transport,
            timeout=http_timeout(settings),
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        stack.push_async_callback(http.aclose)

        auth: Authenticator
        if settings.uses_simulator:
            # The simulator enforces OAuth like Gloo, so the real token path is exercised.
            auth = ClientCredentialsAuth(http, token_url, "simulator", "simulator")
        else:
            try:
                auth = build_authenticator(http, settings)
            except GlooConfigError as exc:
                raise StartupError(exc.message) from exc
        retry = replace(
            RetryPolicy.from_settings(settings),
            on_retry=lambda exc: metrics.gloo_retries.labels(error_code(exc)).inc(),
        )

        if store is None:
            store = await _open_store(settings, stack)
        gloo: GlooBackend
        if settings.gloo_api == "completions":
            # Completions V2 is stateless: the thread's earlier turns come from the store.
            gloo = build_completions_backend(
                http,
                auth,
                api_url,
                transcripts=store,
                retry=retry,
                model=settings.gloo_completions_model,
                history_chars=settings.gloo_history_chars,
                stream_enabled=settings.gloo_stream,
            )
        else:
            gloo = MessageBackend(
                http, auth, api_url, retry=retry, stream_enabled=settings.gloo_stream
            )
        leadership = Leadership(store.engine) if isinstance(store, SqlStore) else None
        if leadership is not None:
            stack.push_async_callback(leadership.release)

        service = ConversationService(
            gloo,
            store,
            settings.channel_defaults(),
            metrics=metrics,
            question_max_chars=settings.question_max_chars,
        )
        dispatcher = Dispatcher(
            service,
            store,
            policy=DeliveryPolicy.from_settings(settings),
            quotas=Quotas(store, QuotaLimits.from_settings(settings)),
            metrics=metrics,
        )
        log.info(
            "bootstrap.ready",
            api=settings.gloo_api,
            simulator=simulator is not None,
            database=_safe_url(settings.database_url),
        )
        yield Container(
            settings=settings,
            http=http,
            auth=auth,
            gloo=gloo,
            store=store,
            service=service,
            dispatcher=dispatcher,
            metrics=metrics,
            leadership=leadership,
            simulator=simulator,
        )


async def _open_store(settings: Settings, stack: AsyncExitStack) -> SqlStore:
    try:
        sql = await SqlStore.open(settings.database_url, migrate=settings.database_auto_migrate)
    except ValueError as exc:  # an unsupported or malformed URL
        raise StartupError(f"DATABASE_URL is not usable: {exc}") from exc
    except (SQLAlchemyError, OSError) as exc:
        log.exception("store.open_failed", database=_safe_url(settings.database_url))
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StartupError(
            f"Could not open the database {_safe_url(settings.database_url)}: {reason}"
        ) from exc
    stack.push_async_callback(sql.close)
    return sql


def _safe_url(url: str) -> str:
    """A database URL without its password, for logs and messages."""
    try:
        return make_url(normalize_database_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable URL)"
