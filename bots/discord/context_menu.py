"""The "Ask Gloo" message command (a context-menu command: Apps → Ask Gloo on a message).

Discord sends it as an APPLICATION_COMMAND interaction (type 2) whose ``data`` has
``type: 3`` (MESSAGE), the ``target_id`` of the message and the message itself in
``resolved.messages`` (discord-api-docs, interactions/receiving-and-responding, "Interaction
Object" / "Resolved Data Structure"; interactions/application-commands, "Message
Commands"). A message command takes no options, so the question is
:data:`core.quoting.DEFAULT_QUESTION` about the quoted message; the work is
:meth:`bots.discord.bot.DiscordBot.ask_about` (the access check, deferral and thread start
``/ask`` uses). Like the slash commands it is published only by ``gloo-bots discord sync``;
``/settings shortcut:False`` turns it off in a channel.
"""

from __future__ import annotations

from typing import Any, Final

import discord
from discord import app_commands

from core.i18n import t

__all__ = ["ASK_GLOO", "NAME_LIMIT", "build_context_menus"]

#: The command's name as the Apps menu shows it (1-32 characters, any case for menus), in
#: every shipped language (:class:`bots.discord.locales.CatalogTranslator`).
ASK_GLOO: Final = t("Ask Gloo")
#: discord-api-docs, interactions/application-commands, "Application Command Naming": a
#: context-menu command's name (and each of its localizations) is 1-32 characters.
NAME_LIMIT: Final = 32


def _bot(interaction: discord.Interaction[Any]) -> Any:
    return interaction.client.gloo_bot


async def _ask_gloo(interaction: discord.Interaction[Any], message: discord.Message) -> None:
    await _bot(interaction).ask_about(interaction, message)


def build_context_menus() -> list[app_commands.ContextMenu]:
    """Fresh context-menu commands for one client's tree."""
    return [app_commands.ContextMenu(name=app_commands.locale_str(ASK_GLOO), callback=_ask_gloo)]
