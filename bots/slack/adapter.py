"""The Slack adapter: a bolt ``AsyncApp`` in HTTP mode or socket mode, answering via the core.

* **Socket mode** when ``SLACK_APP_TOKEN`` is set: bolt's aiohttp socket-mode handler.
* **HTTP mode** otherwise: ``POST /slack/events`` on the process's web server (``$PORT``),
  signature-verified with ``SLACK_SIGNING_SECRET`` before bolt parses it (:mod:`bots.slack.verify`).
* **OAuth** (many workspaces) when ``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET`` are set:
  ``/slack/install`` and ``/slack/oauth_redirect``, installations in the project database.

``SLACK_API_URL`` (ending in ``/``) points every Web API client somewhere else (tests: a
fake Slack on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.background import Background
from bots.slack.clients import Sleep, WebClients
from bots.slack.handlers import PLATFORM, SlackHandlers
from bots.slack.lifecycle import Lifecycle
from bots.slack.limits import slack_rates
from bots.slack.oauth import (
    BOT_SCOPES,
    INSTALL_PATH,
    REDIRECT_PATH,
    build_oauth_flow,
    install_rate_limit,
)
from bots.slack.responder import SlackResponder, slack_error
from bots.slack.steps import StepsMemory
from bots.slack.verify import SlackRequestVerifier
from core.adapters import Runtime
from core.bootstrap import StartupError
from core.budget import Budget, Rate
from core.doctor import Finding
from core.settings import Settings

log = structlog.get_logger(__name__)

EVENTS_PATH = "/slack/events"
#: Errors meaning "these credentials are wrong", as opposed to Slack being unreachable.
REFUSED = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


#: Errors meaning Slack could not be reached at all (slack_sdk's aiohttp client raises
#: aiohttp's connection errors once its retry handler gave up).
UNREACHABLE_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


def unreachable(where: str | None, exc: BaseException) -> str:
    """The sentence for a Slack that does not answer at ``where`` (SLACK_API_URL)."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    place = where or "slack.com"
    return (
        f"Slack could not be reached at {place} ({reason}) — check the network, and "
        "SLACK_API_URL if it is set"
    )


class SlackAdapter:
    """``gloo-bots slack``: Gloo in Slack (see the module docstring)."""

    name = "slack"
    help = "serve the Slack app (socket mode with SLACK_APP_TOKEN, else HTTP on $PORT)"

    def __init__(
        self,
        *,
        update_interval: float = 1.0,
        streaming: bool = True,
        assistant: bool = True,
        retry_sleep: Sleep = asyncio.sleep,
        socket_ping_interval: float = 10.0,
        rates: Mapping[str, Rate] | None = None,
    ) -> None:
        self._update_interval = update_interval
        self._streaming = streaming
        self._assistant = assistant
        self._retry_sleep = retry_sleep
        self._ping_interval = socket_ping_interval
        #: The Slack rates answers spend from (default: the published ones; tests that do
        #: not check the limits pass ``{}``).
        self._rates = rates
        self.background = Background()
        self.app: AsyncApp | None = None
        self.clients: WebClients | None = None
        self._runtime: Runtime | None = None
        self._serving = False
        self._socket: AsyncSocketModeHandler | None = None
        #: "auto", "http" or "socket" (``gloo-bots slack --mode``).
        self.mode = "auto"

    # --- the CLI ---------------------------------------------------------------------------

    def configured(self, settings: Settings) -> bool:
        return settings.has_slack

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """No sub-commands: ``gloo-bots slack`` serves; ``--mode`` picks the connection."""
        parser.add_argument(
            "--mode",
            choices=("auto", "http", "socket"),
            default="auto",
            help="http: Events API on $PORT (SLACK_SIGNING_SECRET); socket: socket mode "
            "(SLACK_APP_TOKEN); auto (default): socket mode when SLACK_APP_TOKEN is set",
        )

    async def command(self, args: argparse.Namespace, settings: Settings) -> int | None:
        self.mode = args.mode
        return None

    async def diagnose(self, settings: Settings) -> list[Finding]:
        """``gloo-bots doctor``: the mode, the tokens Slack accepts, and the bot's scopes."""
        problem = _settings_problem(settings, self.mode)
        if problem is not None:
            missing, todo = problem
            return [
                Finding("Slack", False, missing, f"{todo[0].upper()}{todo[1:]}; see docs/slack.md.")
            ]
        mode = "socket mode" if self.socket_mode(settings) else "HTTP mode at /slack/events"
        if self.oauth_mode(settings):
            mode += ", installable in many workspaces (OAuth)"
        view = (
            "agent view (config/slack-manifest.yaml)"
            if settings.slack_messaging == "agent"
            else "the older assistant view (config/slack-manifest-assistant.yaml)"
        )
        findings = [Finding("Slack", True, f"configured for {mode}, {view}")]
        clients = WebClients(settings, retry_sleep=self._retry_sleep)
        checks = []  # asked at once: each waits on Slack, not on the other
        token = settings.slack_bot_token
        if token is not None:
            checks.append(_diagnose_bot_token(clients.build(token.get_secret_value())))
        app_token = settings.slack_app_token
        if app_token is not None:
            checks.append(_diagnose_app_token(clients.build(), app_token.get_secret_value()))
        findings.extend(await asyncio.gather(*checks))
        return findings

    def check_settings(self, settings: Settings) -> None:
        """Refuse Slack settings that cannot work, before anything is created."""
        _check_settings(settings, self.mode)

    # --- serving ---------------------------------------------------------------------------

    def socket_mode(self, settings: Settings) -> bool:
        if self.mode == "auto":
            return settings.slack_app_token is not None
        return self.mode == "socket"

    @staticmethod
    def oauth_mode(settings: Settings) -> bool:
        return bool(settings.slack_client_id and settings.slack_client_secret)

    async def prepare(self, runtime: Runtime) -> None:
        settings = runtime.settings
        _check_settings(settings, self.mode)
        self._runtime = runtime
        oauth_flow: AsyncOAuthFlow | None = None
        installation_store = None
        if self.oauth_mode(settings):
            oauth_flow = build_oauth_flow(settings, runtime.container.store)
            installation_store = oauth_flow.settings.installation_store
        self.clients = clients = WebClients(
            settings,
            installation_store=installation_store,
            retry_sleep=self._retry_sleep,
            metrics=runtime.container.metrics,
        )
        # One budget of Slack's published rates for every answer this process gives, split
        # evenly with the other serving processes (SERVING_PROCESSES).
        budget = Budget(
            slack_rates() if self._rates is None else self._rates,
            share=settings.serving_processes,
            metrics=runtime.container.metrics,
            platform=PLATFORM,
        )
        runtime.container.metrics.watch_budget(budget)
        responder = SlackResponder(
            clients,
            update_interval=self._update_interval,
            streaming=self._streaming,
            budget=budget,
            steps=StepsMemory(runtime.container.store),
        )
        runtime.dispatcher.register(PLATFORM, responder)

        secret = settings.slack_signing_secret
        app_kwargs: dict[str, Any] = {
            "name": "gloo-bots",
            "logger": logging.getLogger("bots.slack.bolt"),
            "signing_secret": secret.get_secret_value() if secret else "",
            "request_verification_enabled": not self.socket_mode(settings),
            "process_before_response": True,
            # Replaced by SlackHandlers' own filter, which keeps the deletion of one of the
            # bot's messages (bots/slack/handlers.py, KeepOwnDeletions).
            "ignoring_self_events_enabled": False,
        }
        if oauth_flow is not None:
            oauth_flow._async_client = clients.build()  # OAuth calls go to SLACK_API_URL too
            app_kwargs.update(client=clients.build(), oauth_flow=oauth_flow)
        else:
            token = settings.slack_bot_token
            app_kwargs["client"] = clients.build(token.get_secret_value() if token else None)
        self.app = app = AsyncApp(**app_kwargs)
        SlackHandlers(
            runtime.dispatcher,
            runtime.container.service,
            clients,
            self.background,
            messaging=settings.slack_messaging,
            changes=runtime.container.changes,
        ).register(app, assistant=self._assistant)
        Lifecycle(installation_store).register(app)  # app_uninstalled, tokens_revoked

        runtime.readiness[PLATFORM] = self._readiness
        if not self.socket_mode(settings):
            # Verified before bolt parses anything (bots/slack/verify.py).
            verifier = SlackRequestVerifier(
                secret.get_secret_value() if secret else "",
                max_body_bytes=settings.slack_max_body_bytes,
                read_timeout=settings.slack_body_timeout,
                max_concurrent_reads=settings.slack_max_body_reads,
            )
            runtime.web.router.add_post(EVENTS_PATH, verifier.handler(app.async_dispatch))
        if oauth_flow is not None:
            install = install_rate_limit(
                self._http_install, trusted_proxies=settings.trusted_proxies
            )
            runtime.web.router.add_get(INSTALL_PATH, install)
            runtime.web.router.add_get(REDIRECT_PATH, self._http_oauth_redirect)
        log.info(
            "slack.prepared",
            mode="socket" if self.socket_mode(settings) else "http",
            messaging=settings.slack_messaging,
            oauth=oauth_flow is not None,
            api_url=settings.slack_api_url,
        )

    async def serve(self, runtime: Runtime) -> None:
        settings = runtime.settings
        handler: AsyncSocketModeHandler | None = None
        try:
            if not self.oauth_mode(settings):
                await self._check_bot_token()
            if self.socket_mode(settings):
                handler = self._socket = await self._connect_socket(settings)
            self._serving = True
            runtime.connected(PLATFORM, "socket-mode" if handler is not None else "events-api")
            await runtime.stopping.wait()
            await self.background.wait()
        finally:
            self._serving = False
            if handler is not None:
                await handler.close_async()  # type: ignore[no-untyped-call]

    async def _readiness(self) -> str | None:
        """``/readyz``: None once Slack accepted the credentials (and the socket is up)."""
        if not self._serving:
            return "the Slack app is not connected yet"
        if self._socket is not None:
            connected = await self._socket.client.is_connected()
            if not connected:
                return "the Slack socket-mode connection is down"
        return None

    async def settle(self) -> None:
        """Until every acknowledged request and every job it started has been handled."""
        assert self._runtime is not None
        while True:
            await self.background.wait()
            await self._runtime.dispatcher.drain()
            if not self.background.busy and not self._runtime.dispatcher.in_flight:
                return

    async def _check_bot_token(self) -> None:
        assert self.clients is not None
        client = await self.clients.for_workspace("")
        try:
            response = await client.auth_test()
        except UNREACHABLE_ERRORS as exc:
            raise StartupError(unreachable(client.base_url, exc)) from exc
        except SlackApiError as exc:
            if slack_error(exc) in REFUSED:
                raise StartupError(
                    f"Slack refused SLACK_BOT_TOKEN ({slack_error(exc)}) — copy the Bot User "
                    "OAuth Token (xoxb-…) from the app's OAuth & Permissions page into it."
                ) from exc
            log.warning("slack.auth_test_failed", error=slack_error(exc))
            return
        log.info("slack.connected", team=response.get("team_id"), bot=response.get("user_id"))

    async def _connect_socket(self, settings: Settings) -> AsyncSocketModeHandler:
        assert self.app is not None
        assert self.clients is not None
        app_token = settings.slack_app_token
        assert app_token is not None
        handler = AsyncSocketModeHandler(
            self.app,
            app_token=app_token.get_secret_value(),
            web_client=self.clients.build(),
            ping_interval=self._ping_interval,
        )
        try:
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
        except UNREACHABLE_ERRORS as exc:
            await handler.close_async()  # type: ignore[no-untyped-call]
            raise StartupError(unreachable(settings.slack_api_url, exc)) from exc
        except SlackApiError as exc:
            await handler.close_async()  # type: ignore[no-untyped-call]
            if slack_error(exc) in REFUSED:
                raise StartupError(
                    f"Slack refused SLACK_APP_TOKEN ({slack_error(exc)}). Create an app-level "
                    "token (xapp-…) with the connections:write scope under Basic Information."
                ) from exc
            raise
        try:
            await handler.connect_async()  # type: ignore[no-untyped-call]
        except UNREACHABLE_ERRORS as exc:
            await handler.close_async()  # type: ignore[no-untyped-call]
            raise StartupError(unreachable("Slack's socket-mode URL", exc)) from exc
        log.info("slack.socket_mode_connected")
        return handler

    # --- HTTP endpoints ----------------------------------------------------------------------

    async def _http_install(self, request: web.Request) -> web.Response:
        assert self.app is not None
        assert self.app.oauth_flow is not None
        bolt_response = await self.app.oauth_flow.handle_installation(
            await to_bolt_request(request)
        )
        return await to_aiohttp_response(bolt_response)

    async def _http_oauth_redirect(self, request: web.Request) -> web.Response:
        assert self.app is not None
        assert self.app.oauth_flow is not None
        bolt_response = await self.app.oauth_flow.handle_callback(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)


#: The advice under a Slack that did not answer the doctor.
_UNREACHED = (
    "Check that this machine reaches slack.com (proxy, firewall), and SLACK_API_URL if it is "
    "set; then run 'gloo-bots doctor' again."
)


async def _diagnose_bot_token(client: AsyncWebClient) -> Finding:
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        return Finding(
            "Slack bot token",
            False,
            f"Slack refused SLACK_BOT_TOKEN ({slack_error(exc)})",
            "Copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page.",
        )
    except Exception as exc:
        return Finding("Slack bot token", False, f"Slack could not be reached ({exc})", _UNREACHED)
    granted = {s.strip() for s in response.headers.get("x-oauth-scopes", "").split(",")}
    missing = sorted(set(BOT_SCOPES) - granted) if granted != {""} else []
    summary = f"accepted for team {response.get('team_id')} as bot {response.get('user_id')}"
    if missing:
        return Finding(
            "Slack bot token",
            True,
            f"{summary}, but missing scopes: {', '.join(missing)}",
            "Update the app from config/slack-manifest.yaml and reinstall it.",
            warning=True,
        )
    return Finding("Slack bot token", True, summary)


async def _diagnose_app_token(client: AsyncWebClient, app_token: str) -> Finding:
    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        return Finding(
            "Slack app token",
            False,
            f"Slack refused SLACK_APP_TOKEN ({slack_error(exc)})",
            "Create an app-level token (xapp-…) with connections:write under Basic Information.",
        )
    except Exception as exc:
        return Finding("Slack app token", False, f"Slack could not be reached ({exc})", _UNREACHED)
    return Finding("Slack app token", True, "accepted: socket mode can connect")


def _check_settings(settings: Settings, mode: str = "auto") -> None:
    """Raise :class:`StartupError` with what to set when the Slack settings cannot work."""
    problem = _settings_problem(settings, mode)
    if problem is not None:
        missing, todo = problem
        raise StartupError(f"{missing} — {todo}; see docs/slack.md.")


def _settings_problem(settings: Settings, mode: str = "auto") -> tuple[str, str] | None:
    """What is missing (the doctor's line) and what to do about it (a clause, lowercase),
    when the Slack settings cannot work in ``mode``; ``None`` when they can."""
    if mode == "http" and settings.slack_signing_secret is None:
        return (
            "SLACK_SIGNING_SECRET is not set (HTTP mode, --mode http)",
            "set SLACK_SIGNING_SECRET from the app's Basic Information page (Signing Secret), "
            "or run socket mode with SLACK_APP_TOKEN",
        )
    if mode == "socket" and settings.slack_app_token is None:
        return (
            "SLACK_APP_TOKEN is not set (socket mode, --mode socket)",
            "create an app-level token with connections:write (Basic Information → App-Level "
            "Tokens) and set SLACK_APP_TOKEN, or run HTTP mode with SLACK_SIGNING_SECRET",
        )
    if not settings.has_slack:
        return (
            "SLACK_BOT_TOKEN is not set (nor SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)",
            "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "(installable in many workspaces)",
        )
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        return (
            "SLACK_SIGNING_SECRET is not set (HTTP mode), nor SLACK_APP_TOKEN (socket mode)",
            "set SLACK_APP_TOKEN (socket mode) or SLACK_SIGNING_SECRET (HTTP mode on $PORT "
            "at /slack/events)",
        )
    if settings.slack_api_url and not settings.slack_api_url.endswith("/"):
        return (
            f"SLACK_API_URL does not end with '/' ({settings.slack_api_url!r})",
            "end it with '/'",
        )
    return None
