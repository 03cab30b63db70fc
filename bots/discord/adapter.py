"""The Discord adapter: ``gloo-bots discord`` serves, ``sync`` publishes slash commands,
``invite`` prints the invite URL.

Serving connects discord.py to the gateway (sharded as configured), registers the
:class:`~bots.discord.responder.DiscordResponder` with the core's dispatcher, and turns
gateway events into jobs (:mod:`bots.discord.bot`). ``DISCORD_API_URL`` /
``DISCORD_GATEWAY_URL`` point discord.py at another Discord (the test suite's fake).
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import discord
import structlog

from bots.discord import messages as texts
from bots.discord.bot import PLATFORM, DiscordBot
from bots.discord.client import INVITE_PERMISSIONS, INVITE_SCOPES, GlooClient, build_client
from bots.discord.endpoints import discord_endpoints
from bots.discord.limits import DISCORD_RATES
from bots.discord.responder import DEFAULT_EDIT_INTERVAL, DiscordResponder
from core.adapters import Runtime
from core.bootstrap import StartupError
from core.budget import Budget
from core.doctor import Finding
from core.settings import Settings

__all__ = ["DiscordAdapter"]

log = structlog.get_logger(__name__)


class DiscordAdapter:
    name = "discord"
    help = "Gloo in Discord: DMs, mentions in threads, buttons and slash commands"

    def __init__(self) -> None:
        #: Seconds between edits of one streaming message (tests make it small).
        self.edit_interval: float = DEFAULT_EDIT_INTERVAL
        #: Extra discord.py client options (tests: ``guild_ready_timeout``).
        self.client_options: dict[str, Any] = {}
        self.client: GlooClient | None = None
        self.bot: DiscordBot | None = None

    # --- CLI ------------------------------------------------------------------------------

    def configured(self, settings: Settings) -> bool:
        return settings.has_discord

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="discord_command", metavar="COMMAND")
        sync = sub.add_parser("sync", help="publish the slash commands to Discord, then exit")
        sync.add_argument(
            "--guild", type=int, default=None, help="only in this server (instant, for testing)"
        )
        invite = sub.add_parser("invite", help="print the URL that adds the bot to a server")
        invite.add_argument(
            "--client-id", default=None, help="the application id (default: asked from Discord)"
        )

    async def command(self, args: argparse.Namespace, settings: Settings) -> int | None:
        action = getattr(args, "discord_command", None)
        if action is None:
            return None
        if action == "invite" and args.client_id:
            print(invite_url(args.client_id))
            return 0
        token = _token(settings)
        client = build_client(settings, **self.client_options)
        with discord_endpoints(settings.discord_api_url, settings.discord_gateway_url):
            try:
                await _login(client, token, settings)
                if action == "invite":
                    print(invite_url(str(client.application_id)))
                    return 0
                guild = discord.Object(id=args.guild) if args.guild else None
                synced = await client.tree.sync(guild=guild)
                where = f"server {args.guild}" if args.guild else "every server (global)"
                menus = [c for c in synced if c.type != discord.AppCommandType.chat_input]
                slash = [c for c in synced if c.type == discord.AppCommandType.chat_input]
                print(f"Synced {len(slash)} slash commands to {where}: ", end="")
                print(", ".join(f"/{c.name}" for c in slash), end="")
                # Message commands show in a message's Apps menu.
                print("".join(f"; message command {c.name!r}" for c in menus))
                return 0
            finally:
                await client.close()

    async def diagnose(self, settings: Settings) -> list[Finding]:
        """``gloo-bots doctor``: the token, the message-content intent, where interactions go."""
        area = "Discord"
        try:
            token = _token(settings)
        except StartupError as exc:
            return [Finding(area, False, "DISCORD_BOT_TOKEN is not set", str(exc))]
        client = build_client(settings, **self.client_options)
        with discord_endpoints(settings.discord_api_url, settings.discord_gateway_url):
            try:
                await _login(client, token, settings)
            except StartupError as exc:
                return [Finding(area, False, "could not log in", str(exc))]
            finally:
                await client.close()
        app = client.application
        findings = [
            Finding(
                area,
                True,
                f"bot token accepted for {client.user} (application {app.id if app else '?'})",
            )
        ]
        flags = app.flags if app else None
        if flags is not None and not (
            flags.gateway_message_content or flags.gateway_message_content_limited
        ):
            findings.append(
                Finding(
                    area, False, "the Message Content intent is off", texts.MESSAGE_CONTENT_INTENT
                )
            )
        else:
            findings.append(Finding(area, True, "the Message Content intent is on"))
        if app is not None and app.interactions_endpoint_url:
            findings.append(
                Finding(
                    area,
                    False,
                    "buttons and slash commands go to an interactions endpoint URL",
                    texts.INTERACTIONS_URL,
                )
            )
        return findings

    def check_settings(self, settings: Settings) -> None:
        """Refuse a missing DISCORD_BOT_TOKEN before anything is created."""
        _token(settings)

    # --- serving --------------------------------------------------------------------------

    async def prepare(self, runtime: Runtime) -> None:
        client = build_client(
            runtime.settings, metrics=runtime.container.metrics, **self.client_options
        )
        # One budget of Discord's limits for every request this process's answers make,
        # split evenly with the other serving processes (SERVING_PROCESSES).
        budget = Budget(
            DISCORD_RATES,
            share=runtime.settings.serving_processes,
            metrics=runtime.container.metrics,
            platform=PLATFORM,
        )
        runtime.container.metrics.watch_budget(budget)
        bot = DiscordBot(runtime, client, budget)
        client.attach(bot)
        self.client, self.bot = client, bot
        responder = DiscordResponder(client, edit_interval=self.edit_interval, budget=budget)
        runtime.dispatcher.register(PLATFORM, responder)

        async def connected() -> str | None:
            if client.is_closed() or not client.is_ready():
                return "not connected to the Discord gateway"
            return None

        runtime.readiness[PLATFORM] = connected

    async def serve(self, runtime: Runtime) -> None:
        if self.client is None:
            raise RuntimeError("prepare() must run before serve()")
        client, settings = self.client, runtime.settings
        token = _token(settings)
        with discord_endpoints(settings.discord_api_url, settings.discord_gateway_url):
            try:
                await _login(client, token, settings)
                await client.connect(reconnect=True)
            except discord.PrivilegedIntentsRequired as exc:
                raise StartupError(texts.MESSAGE_CONTENT_INTENT) from exc
            finally:
                if not client.is_closed():
                    await client.close()
        log.info("discord.disconnected")


def _token(settings: Settings) -> str:
    if settings.discord_bot_token is None or not settings.discord_bot_token.get_secret_value():
        raise StartupError(texts.NO_TOKEN)
    return settings.discord_bot_token.get_secret_value()


async def _login(client: discord.Client, token: str, settings: Settings) -> None:
    try:
        await client.login(token)
    except discord.LoginFailure as exc:
        raise StartupError(texts.BAD_TOKEN) from exc
    except (aiohttp.ClientError, OSError, TimeoutError, discord.HTTPException) as exc:
        where = settings.discord_api_url or "discord.com"
        raise StartupError(texts.UNREACHABLE.format(where=where, error=exc)) from exc


def invite_url(client_id: str) -> str:
    return discord.utils.oauth_url(client_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES)
