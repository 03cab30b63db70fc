"""Discord's side of access control (:mod:`core.access`).

* :class:`InteractionAdmins` answers "is this person an administrator of this server?" from
  the interaction itself: Discord sends the invoking member's ``permissions`` — "total
  permissions of the member in the channel, including overwrites" (discord-api-docs,
  Interactions → Receiving and Responding, interaction object ``member``) — and a member
  with Manage Server (``1 << 5``) or Administrator (``1 << 3``) counts
  (discord-api-docs, Topics → Permissions). Discord also hides ``/settings`` and ``/access``
  from everyone else by default (``default_member_permissions``); the bot checks again,
  because server admins can hand commands to other roles in Server Settings → Integrations,
  and ``SETTINGS_ADMINS`` is this bot's way to name more administrators.
* ``/access`` shows and changes the server's access lists (users, roles, channels).
* :class:`DiscordGate` refuses questions the lists do not allow. Ephemeral messages exist only
  as interaction responses (discord-api-docs, message flags: ``EPHEMERAL`` "only visible to
  the user who invoked the Interaction"), so: ``/ask`` and button clicks get an ephemeral
  reply; a refused *message* gets a direct message, which only its author sees, and — when
  the person accepts no direct messages from the server (Discord error 50007) — a short
  reply that deletes itself after :data:`REPLY_SECONDS`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final, Literal

import discord
import structlog
from discord import app_commands

from bots.discord import messages as texts
from bots.discord.locales import interaction_locale, message_locale
from core import messages
from core.access import AccessLists, NotAllowed, Requester, describe_audit
from core.i18n import localize
from core.service import ConversationService
from core.types import AuditEntry

__all__ = [
    "REPLY_SECONDS",
    "SHOWN_PER_LIST",
    "DiscordGate",
    "InteractionAdmins",
    "access_command",
    "access_text",
    "audit_lines",
    "fit",
    "interaction_requester",
    "message_requester",
    "run_access",
]

log = structlog.get_logger(__name__)

PLATFORM: Final = "discord"
NO_MENTIONS: Final = discord.AllowedMentions.none()
#: Seconds a refusal reply stays in a channel when its author takes no direct messages.
REPLY_SECONDS: Final = 30.0
#: Discord's error code for "Cannot send messages to this user".
CANNOT_DM: Final = 50007

Action = Literal["show", "allow", "block", "remove"]


class InteractionAdmins:
    """:class:`core.access.AdminCheck` for the member who invoked ``interaction``."""

    def __init__(self, interaction: discord.Interaction[Any]) -> None:
        self._interaction = interaction

    async def is_admin(self, workspace: str, user_id: str) -> bool:
        interaction = self._interaction
        if interaction.guild_id is None or workspace != str(interaction.guild_id):
            return False
        if user_id != str(interaction.user.id):
            return False
        permissions = interaction.permissions
        return bool(permissions.manage_guild or permissions.administrator)


def _roles(user: object) -> tuple[str, ...]:
    if isinstance(user, discord.Member):
        return tuple(str(role.id) for role in user.roles if not role.is_default())
    return ()


def _channels(channel: object, channel_id: int | None) -> tuple[str, ...]:
    ids = [str(channel_id)] if channel_id is not None else []
    parent = getattr(channel, "parent_id", None)
    if parent is not None:
        ids.append(str(parent))
    return tuple(ids)


def message_requester(message: discord.Message) -> Requester:
    return Requester(
        user_id=str(message.author.id),
        channels=_channels(message.channel, message.channel.id),
        roles=_roles(message.author),
    )


def interaction_requester(interaction: discord.Interaction[Any]) -> Requester:
    channels = (
        ()
        if interaction.guild_id is None
        else _channels(interaction.channel, interaction.channel_id)
    )
    return Requester(str(interaction.user.id), channels=channels, roles=_roles(interaction.user))


class DiscordGate:
    """Refuses what a server's access lists do not allow (direct messages belong to no server:
    the lists do not apply there)."""

    def __init__(self, service: ConversationService) -> None:
        self._service = service

    async def interaction_refusal(self, interaction: discord.Interaction[Any]) -> str | None:
        if interaction.guild_id is None:
            return None
        return await self._service.access.check(
            PLATFORM, str(interaction.guild_id), interaction_requester(interaction)
        )

    async def refused(self, message: discord.Message) -> bool:
        """True (after telling the author privately) when ``message`` may not be answered."""
        if message.guild is None:
            return False
        sentence = await self._service.access.check(
            PLATFORM, str(message.guild.id), message_requester(message)
        )
        if sentence is None:
            return False
        sentence = localize(sentence, message_locale(message))
        if not self._service.access.notes.due(
            PLATFORM, str(message.guild.id), str(message.author.id), "access"
        ):
            return True  # told within the window: ignored quietly (the core logs it)
        try:
            await message.author.send(sentence, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            if exc.code != CANNOT_DM:
                log.warning("discord.refusal_dm_failed", status=exc.status, code=exc.code)
            try:
                await message.reply(
                    sentence,
                    mention_author=False,
                    allowed_mentions=NO_MENTIONS,
                    delete_after=REPLY_SECONDS,
                )
            except discord.HTTPException as again:
                log.warning("discord.refusal_reply_failed", status=again.status, code=again.code)
        return True


def fit(text: str, limit: int = 2000) -> str:
    """``text`` within Discord's 2,000 characters of content, cut after a whole line."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = head.rfind("\n")
    return (head[:cut] if cut > 0 else head).rstrip() + "…"


def audit_lines(history: Collection[AuditEntry]) -> list[str]:
    """Recent changes, one line each; people as ``<@id>`` (shown as names, pinging nobody:
    every message goes out with ``allowed_mentions`` none)."""
    if not history:
        return []
    return ["**Recent changes**", *describe_audit(history, lambda a: f"<@{a}>" if a else "someone")]


#: Entries shown per list (the rest is counted), so the reply stays under 2,000 characters.
SHOWN_PER_LIST: Final = 15


def _listed(tokens: list[str]) -> str:
    shown = ", ".join(tokens[:SHOWN_PER_LIST])
    more = len(tokens) - SHOWN_PER_LIST
    return f"{shown} and {more} more" if more > 0 else shown


def access_text(lists: AccessLists, history: Collection[AuditEntry], note: str = "") -> str:
    allowed_users = lists.subjects("user", "allow")
    allowed_roles = lists.subjects("role", "allow")
    allowed_channels = lists.subjects("channel", "allow")
    people = [f"<@{i}>" for i in allowed_users] + [f"<@&{i}>" for i in allowed_roles]
    channels = [f"<#{i}>" for i in allowed_channels]
    lines = [
        "**Who may use Gloo in this server**",
        f"People: {'only ' + _listed(people) if people else 'everyone'}",
        f"Channels: {'only ' + _listed(channels) if channels else 'all'}",
    ]
    if blocked := lists.subjects("user", "block"):
        lines.append("Blocked people: " + _listed([f"<@{i}>" for i in blocked]))
    if blocked := lists.subjects("role", "block"):
        lines.append("Blocked roles: " + _listed([f"<@&{i}>" for i in blocked]))
    if blocked := lists.subjects("channel", "block"):
        lines.append("Blocked channels: " + _listed([f"<#{i}>" for i in blocked]))
    lines.extend(audit_lines(history))
    text = "\n".join(lines)
    return f"{note}\n\n{text}" if note else text


ACCESS_HOW: Final = "Pick `allow`, `block` or `remove`, and a user, role or channel (or several)."


async def run_access(
    service: ConversationService,
    interaction: discord.Interaction[Any],
    action: Action,
    user: discord.User | discord.Member | None,
    role: discord.Role | None,
    channel: app_commands.AppCommandChannel | app_commands.AppCommandThread | None,
) -> None:
    """``/access``: show the server's access lists; administrators change them."""
    if interaction.guild_id is None:
        await interaction.response.send_message(
            localize(texts.ACCESS_IN_SERVER, interaction_locale(interaction)),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        return
    # Acknowledged before any database work (Discord's 3 s); the placeholder is filled below.
    await interaction.response.defer(ephemeral=True, thinking=True)
    space = str(interaction.guild_id)
    access = service.access
    targets = [
        (kind, str(item.id))
        for kind, item in (("user", user), ("role", role), ("channel", channel))
        if item is not None
    ]
    note = ""
    try:
        if action != "show":
            effect = None if action == "remove" else action
            try:
                if not targets:
                    raise ValueError(ACCESS_HOW)
                for kind, subject in targets:
                    await access.change(
                        PLATFORM,
                        space,
                        by=str(interaction.user.id),
                        admins=InteractionAdmins(interaction),
                        kind=kind,
                        subject=subject,
                        effect=effect,
                    )
                note = "Saved."
            except (ValueError, NotAllowed) as exc:
                reason = exc.user_message if isinstance(exc, NotAllowed) else str(exc)
                if isinstance(exc, ValueError) and exc.args and isinstance(exc.args[0], str):
                    reason = exc.args[0]  # a core Message keeps its translations
                note = localize(reason, interaction_locale(interaction))
        lists = await access.lists(PLATFORM, space)
        history = await access.history(PLATFORM, space, [""])
        content = fit(access_text(lists, history, note))
    except Exception:
        log.exception("discord.access_failed")
        content = localize(messages.INTERNAL_ERROR, interaction_locale(interaction))
    await interaction.edit_original_response(content=content, allowed_mentions=NO_MENTIONS)


@app_commands.describe(
    action="show the lists, or allow, block or remove someone or something",
    user="a person",
    role="a role (everyone with it)",
    channel="a channel (and its threads)",
)
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def _access(
    interaction: discord.Interaction[Any],
    action: Action = "show",
    user: discord.User | None = None,
    role: discord.Role | None = None,
    channel: app_commands.AppCommandChannel | None = None,
) -> None:
    bot = interaction.client.gloo_bot
    await run_access(bot.service, interaction, action, user, role, channel)


def access_command() -> app_commands.Command[Any, ..., None]:
    return app_commands.Command(
        name="access",
        description="Show or change who may use Gloo in this server",
        callback=_access,
    )
