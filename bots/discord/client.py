"""The discord.py client the adapter runs: intents, sharding, buttons and commands."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import discord
import structlog
from discord import app_commands

from bots.discord import buttons
from bots.discord.commands import build_commands
from bots.discord.context_menu import build_context_menus
from bots.discord.locales import CatalogTranslator
from core.metrics import Metrics
from core.settings import Settings

if TYPE_CHECKING:
    from bots.discord.bot import DiscordBot

__all__ = ["INVITE_PERMISSIONS", "INVITE_SCOPES", "GlooClient", "build_client", "intents"]

log = structlog.get_logger(__name__)

#: What the bot needs in a server: read and answer, in threads it starts, and a 👀 on a
#: question in a busy channel (bots.discord.responder).
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    add_reactions=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    read_message_history=True,
    embed_links=True,
)
INVITE_SCOPES = ("bot", "applications.commands")
#: Seconds between two shards identifying (discord.py's default pacing).
IDENTIFY_DELAY = 5.0


def intents() -> discord.Intents:
    """Guilds, guild and DM messages, and the privileged message-content intent
    (follow-ups in a thread come without a mention)."""
    wanted = discord.Intents.default()
    wanted.message_content = True
    wanted.typing = False
    wanted.dm_typing = False
    wanted.presences = False
    wanted.members = False
    return wanted


class GlooClient(discord.AutoShardedClient):
    """An AutoShardedClient: Discord's recommended shard count, or the configured shards."""

    def __init__(
        self,
        *,
        shard_count: int | None = None,
        shard_ids: list[int] | None = None,
        gateway_url: str | None = None,
        identify_delay: float = IDENTIFY_DELAY,
        **options: Any,
    ) -> None:
        if shard_ids is not None:
            options["shard_ids"] = shard_ids
        super().__init__(
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            shard_count=shard_count,
            **options,
        )
        self.tree = app_commands.CommandTree(self)
        self.gloo_bot: DiscordBot | None = None
        self.gloo_buttons: DiscordBot | None = None
        self._gateway_url = gateway_url
        self._identify_delay = identify_delay
        _guard_parsers(self._connection.parsers)

    def attach(self, bot: DiscordBot) -> None:
        self.gloo_bot = bot
        self.gloo_buttons = bot

    async def setup_hook(self) -> None:
        buttons.register(self)
        await self.tree.set_translator(CatalogTranslator())  # the commands' own languages
        for command in build_commands():
            self.tree.add_command(command)
        for menu in build_context_menus():  # "Ask Gloo" on a message (bots/discord/context_menu.py)
            self.tree.add_command(menu)
        if self._gateway_url:
            # Discord names the gateway in GET /gateway/bot; an override wins.
            original = self.http.get_bot_gateway
            override = self._gateway_url

            async def get_bot_gateway() -> tuple[int, str, Any]:
                shards, _, limits = await original()
                return shards, override, limits

            self.http.get_bot_gateway = get_bot_gateway  # type: ignore[method-assign]

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py's own pacing of shard log-ins (Discord allows one per 5 s per bucket).
        if not initial and self._identify_delay > 0:
            await asyncio.sleep(self._identify_delay)

    async def on_message(self, message: discord.Message) -> None:
        if self.gloo_bot is not None:
            await self.gloo_bot.on_message(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        if self.gloo_bot is not None:
            await self.gloo_bot.on_edit(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if self.gloo_bot is not None:
            await self.gloo_bot.on_delete(payload)

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        if self.gloo_bot is not None:
            await self.gloo_bot.on_bulk_delete(payload)

    async def on_shard_ready(self, shard_id: int) -> None:
        log.info("discord.shard_ready", shard=shard_id, guilds=len(self.guilds))

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "discord.ready",
            user=str(user) if user else None,
            shards=self.shard_count,
            guilds=len(self.guilds),
        )
        if self.gloo_bot is not None:
            self.gloo_bot.connected()


def _guard_parsers(parsers: dict[str, Callable[[Any], None]]) -> None:
    """A gateway event discord.py cannot parse is logged and dropped.

    discord.py lets a parser's exception end the connection (and so the process); one
    malformed event must not take the bot down for everybody.
    """

    def guarded(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
        def parse_or_drop(data: Any) -> None:
            try:
                parse(data)
            except Exception:
                log.exception("discord.malformed_event", gateway_event=event)

        return parse_or_drop

    for event, parse in list(parsers.items()):
        parsers[event] = guarded(event, parse)


def http_metrics(metrics: Metrics) -> aiohttp.TraceConfig:
    """Count every Discord REST call by route and result, through aiohttp's tracing.

    Routes are labelled with their ids replaced (``POST /channels/:id/messages``), so the
    label set stays small; a 429 counts as ``rate_limited`` (discord.py waits and retries).
    """
    trace = aiohttp.TraceConfig()

    async def on_request_end(
        session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestEndParams
    ) -> None:
        path = _ROUTE_IDS.sub("/:id", params.url.path.split("/api/v10", 1)[-1])
        status = params.response.status
        result = "ok" if status < 400 else ("rate_limited" if status == 429 else "error")
        metrics.platform_call("discord", f"{params.method} {path}", result)

    trace.on_request_end.append(on_request_end)
    return trace


_ROUTE_IDS: Final = re.compile(r"/(\d{5,}|[A-Za-z0-9_-]{60,})")


def build_client(
    settings: Settings, *, metrics: Metrics | None = None, **options: Any
) -> GlooClient:
    """A client for these settings (``options`` go to discord.py, e.g. guild_ready_timeout)."""
    if metrics is not None:
        options.setdefault("http_trace", http_metrics(metrics))
    shard_ids = list(settings.discord_shard_ids) or None
    if settings.discord_shard_count is not None and shard_ids is None:
        shard_ids = list(range(settings.discord_shard_count))
    return GlooClient(
        shard_count=settings.discord_shard_count,
        shard_ids=shard_ids,
        gateway_url=settings.discord_gateway_url,
        **options,
    )
