"""The composition root: builds every long-lived object from :class:`Settings`, once.

Adapters, the console and the CLI get a :class:`Container`; nothing else constructs
clients, engines or stores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import httpx
import stamina.instrumentation
import structlog
from sqlalchemy.exc import SQLAlchemyError

from core.access import AccessPolicy
from core.delivery import DeliveryPolicy, Dispatcher
from core.edits import QuestionChanges
from core.failures import StartupError as StartupError  # re-exported: where callers look
from core.failures import explain, safe_database_url
from core.gloo.auth import Authenticator, ClientCredentialsAuth, build_authenticator
from core.gloo.backend import GlooBackend
from core.gloo.client import MessageBackend
from core.gloo.completions import build_completions_backend
from core.gloo.errors import GlooConfigError
from core.gloo.learning import NewChatStreaming, stream_fact_name
from core.gloo.retry import RetryPolicy
from core.leader import Leadership
from core.metrics import Metrics
from core.ports import Store
from core.quotas import QuotaLimits, Quotas
from core.service import ConversationService, error_code
from core.settings import Settings
from core.store.sql import SqlStore

if TYPE_CHECKING:  # the simulator is imported only where it is used (see build)
    from core.simulator.config import SimulatorConfig
    from core.simulator.engine import Simulator

log = structlog.get_logger(__name__)

SIMULATOR_URL = "http://gloo-simulator.invalid"
USER_AGENT = "gloo-bots/0.1"

#: The note under every answer the built-in simulator gave (every platform shows it, since
#: it is part of the neutral answer's text).
SIMULATED_NOTE = "(Simulated answer: this came from the built-in Gloo simulator, not Gloo AI.)"
#: Serving a platform without Gloo credentials, and without GLOO_BACKEND=simulator.
NO_GLOO_FOR_SERVING = (
    "No Gloo credentials are set, so there is nothing to answer people with: set "
    "GLOO_CLIENT_ID and GLOO_CLIENT_SECRET (or GLOO_API_KEY) in the environment or .env, or "
    "set GLOO_BACKEND=simulator to serve simulated answers on purpose."
)
API_NAMES = {"message": "the Message API", "completions": "Completions V2"}


def check_gloo_for_serving(settings: Settings) -> None:
    """Serving people needs the real Gloo, unless simulated answers were asked for.

    Raises :class:`StartupError` (one sentence naming the missing settings) when no Gloo
    credentials are set and ``GLOO_BACKEND`` is not ``simulator``. The console playground
    does not call this: it answers from the simulator with its banner.
    """
    if not settings.has_gloo_credentials and not settings.simulator_requested:
        raise StartupError(NO_GLOO_FOR_SERVING)


def describe_gloo(settings: Settings) -> str:
    """Which Gloo a serving process would answer from, in one line."""
    api = API_NAMES[settings.gloo_api]
    if settings.simulator_requested:
        return f"the built-in simulator speaking {api} (GLOO_BACKEND=simulator)"
    if not settings.has_gloo_credentials:
        return (
            f"the built-in simulator speaking {api}, for the console playground only: no Gloo "
            "credentials are set, so serving a platform refuses to start"
        )
    return f"Gloo AI at {settings.gloo_api_url}, {api} (GLOO_BACKEND={settings.gloo_backend})"


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
    #: Edits and deletions of asked messages (:mod:`core.edits`), for the adapters.
    changes: QuestionChanges
    #: Who runs the once-per-deployment jobs; None for a store that is not SQL (tests).
    leadership: Leadership | None = None
    simulator: Simulator | None = None
    #: Whether new Message API chats stream (None on Completions V2).
    new_chats: NewChatStreaming | None = None


def http_timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.gloo_timeout, connect=settings.gloo_connect_timeout)


def simulator_config(settings: Settings) -> SimulatorConfig:
    from core.simulator.config import SimulatorConfig

    return SimulatorConfig(
        seed=settings.gloo_simulator_seed,
        first_chunk_latency=settings.gloo_simulator_first_chunk_latency,
        chunk_latency=settings.gloo_simulator_chunk_latency,
    )


#: The pool of the one shared client: Gloo's answers stream, each holding a connection.
HTTP_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50)


def network_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    """The transport under the shared client (GLOO_HTTP_TRANSPORT): httpcore, httpx's own, or
    aiohttp's pool through httpx-aiohttp; both take the client's timeouts and keep connections
    alive between answers."""
    if settings.gloo_http_transport == "aiohttp":
        from core.gloo.aiohttp_transport import aiohttp_transport

        return aiohttp_transport(HTTP_LIMITS)
    return httpx.AsyncHTTPTransport(limits=HTTP_LIMITS)


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
            from core.simulator.engine import Simulator
            from core.simulator.transport import SimulatorTransport

            simulator = Simulator(simulator_config(settings))
            transport = SimulatorTransport(simulator)
            api_url, token_url = SIMULATOR_URL, f"{SIMULATOR_URL}/oauth2/token"
        http = httpx.AsyncClient(
            transport=transport if transport is not None else network_transport(settings),
            timeout=http_timeout(settings),
            headers={"User-Agent": USER_AGENT},
            limits=HTTP_LIMITS,
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
        store.use_encryption_keys(settings.encryption_key_list)
        if settings.slack_client_id and not settings.encryption_key_list:
            log.warning(
                "installations.unencrypted",
                note="OAuth installs keep bot tokens in the database in plain text",
                fix="set ENCRYPTION_KEYS (gloo-bots db new-key), then gloo-bots db reencrypt",
            )
        gloo: GlooBackend
        new_chats: NewChatStreaming | None = None
        if settings.gloo_api == "completions":
            # Completions V2 is stateless: the service hands it the chat's earlier turns.
            gloo = build_completions_backend(
                http,
                auth,
                api_url,
                retry=retry,
                model=settings.gloo_completions_model,
                history_chars=settings.gloo_history_chars,
                stream_enabled=settings.gloo_stream,
                completions_path=settings.gloo_completions_path,
                grounded_path=settings.gloo_grounded_path,
                grounded_by_default=settings.gloo_grounded_by_default,
                temperature=settings.gloo_temperature,
                max_tokens=settings.gloo_max_tokens,
            )
        else:
            new_chats = NewChatStreaming(
                settings.gloo_stream_new_chats,
                facts=store,
                fact_name=stream_fact_name(api_url),
            )
            await new_chats.load()
            stack.push_async_callback(new_chats.aclose)
            if simulator is not None and simulator.config.stream_chat_id:
                new_chats.streams = True  # the built-in simulator's streams name their chat
            gloo = MessageBackend(
                http,
                auth,
                api_url,
                retry=retry,
                stream_enabled=settings.gloo_stream,
                sources_level=settings.gloo_enable_sources,
                new_chats=new_chats,
            )
        leadership = Leadership(store.engine) if isinstance(store, SqlStore) else None
        if leadership is not None:
            stack.push_async_callback(leadership.release)

        service = ConversationService(
            gloo,
            store,
            settings.channel_defaults(),
            metrics=metrics,
            # Answers from the simulator built here carry the note; a caller that replaces
            # the network (``transport``: tests, the bench) brings its own Gloo.
            notice=SIMULATED_NOTE if simulator is not None else "",
            access=AccessPolicy(store, settings_admins=settings.settings_admins),
            question_max_chars=settings.question_max_chars,
        )
        dispatcher = Dispatcher(
            service,
            store,
            policy=DeliveryPolicy.from_settings(settings),
            # One person is told of a refusal (access lists or quota) once per window.
            quotas=Quotas(store, QuotaLimits.from_settings(settings), notes=service.access.notes),
            metrics=metrics,
            changes=store,
        )
        log.info(
            "bootstrap.built",
            api=settings.gloo_api,
            gloo=describe_gloo(settings),
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
            changes=QuestionChanges(store, dispatcher),
            leadership=leadership,
            simulator=simulator,
            new_chats=new_chats,
        )


async def _open_store(settings: Settings, stack: AsyncExitStack) -> SqlStore:
    try:
        sql = await SqlStore.open(
            settings.database_url,
            migrate=settings.database_auto_migrate,
            pool_size=settings.database_pool_size,
        )
    except ValueError as exc:  # an unsupported or malformed URL
        raise StartupError(f"DATABASE_URL is not usable: {exc}") from exc
    except (SQLAlchemyError, OSError) as exc:
        # One sentence (core/failures.py); the traceback shows at LOG_LEVEL=DEBUG only.
        log.debug("store.open_failed", database=_safe_url(settings.database_url))
        raise StartupError(explain(exc, database_url=settings.database_url)) from exc
    stack.push_async_callback(sql.close)
    return sql


def _safe_url(url: str) -> str:
    """A database URL without its password, for logs and messages."""
    return safe_database_url(url)
