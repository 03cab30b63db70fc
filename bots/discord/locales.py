"""Which language a Discord person is answered in (the catalogs: :mod:`core.i18n`)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from core.i18n import DEFAULT_LOCALE, Message, locale_for, localize

__all__ = ["CatalogTranslator", "interaction_locale", "message_locale"]


def interaction_locale(interaction: discord.Interaction[Any]) -> str:
    """The language to answer an interaction in: the person's own (``locale``), else their
    server's (``guild_locale``). discord-api-docs, interactions/receiving-and-responding,
    "Interaction Object": ``locale``, "Selected language of the invoking user" (on every
    interaction but PING); ``guild_locale``, "Guild's preferred locale, if invoked in a
    guild"."""
    chosen = getattr(interaction, "locale", None) or getattr(interaction, "guild_locale", None)
    return str(getattr(chosen, "value", chosen) or "")


def message_locale(message: discord.Message) -> str:
    """The language to answer a message in: a message carries no locale, so its server's
    preferred one (discord-api-docs, resources/guild, "Guild Object": ``preferred_locale``,
    "en-US" unless set); a DM outside any server: English."""
    if message.guild is None:
        return DEFAULT_LOCALE
    chosen = getattr(message.guild, "preferred_locale", None)
    return str(getattr(chosen, "value", chosen) or "")


class CatalogTranslator(app_commands.Translator):
    """Names and descriptions of the commands in the shipped languages, for ``discord sync``
    (discord.py asks for every Discord locale; Discord shows each person their own).

    Only strings marked as core messages (``locale_str(t("..."))``) are translated; anything
    else, and any locale without a catalog, is left to Discord's default (the English).
    """

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        message = string.message
        if not isinstance(message, Message) or locale_for(locale.value) == DEFAULT_LOCALE:
            return None
        translated = localize(message, locale.value)
        return translated if translated != str(message) else None
