"""Slash commands: /ask, /reset, /history, /settings.

They are registered on the client's command tree at start-up and published to Discord
only by ``gloo-bots discord sync`` (never on every start). Each hands the work to the
:class:`~bots.discord.bot.DiscordBot` the client carries.
"""

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str

from bots.discord.access import access_command
from core.bounds import SETTING_RANGES
from core.i18n import t

# Discord's client keeps to these (the options' min_value/max_value); the core checks again.
_SOURCES = SETTING_RANGES["sources_limit"]
_CHARACTERS = SETTING_RANGES["character_limit"]

__all__ = ["build_commands"]


def _bot(interaction: discord.Interaction[Any]) -> Any:
    return interaction.client.gloo_bot


@app_commands.describe(question="What do you want to ask Gloo?")
async def _ask(interaction: discord.Interaction[Any], question: str) -> None:
    await _bot(interaction).ask(interaction, question)


async def _reset(interaction: discord.Interaction[Any]) -> None:
    await _bot(interaction).reset(interaction)


async def _history(interaction: discord.Interaction[Any]) -> None:
    await _bot(interaction).history(interaction)


@app_commands.describe(
    sources="Show the sources an answer is based on",
    suggestions="Offer suggested follow-up questions",
    sources_limit=f"At most this many sources ({_SOURCES.low}-{_SOURCES.high})",
    character_limit=(
        f"Keep answers under this many characters ({_CHARACTERS.low}-{_CHARACTERS.high:,})"
    ),
    publishers="Only these publishers, comma-separated ('-' for all)",
    tradition="Completions V2: the theological perspective ('-' for Gloo's default)",
    model_family="Completions V2: the model provider family ('-' for automatic)",
    shortcut="Offer 'Ask Gloo' in the Apps menu of messages here",
)
@app_commands.choices(
    tradition=[
        app_commands.Choice(name=name, value=value)
        for name, value in (
            ("Gloo's default", "-"),
            ("Evangelical", "evangelical"),
            ("Catholic", "catholic"),
            ("Mainline", "mainline"),
            ("Not faith specific", "not_faith_specific"),
        )
    ],
    model_family=[
        app_commands.Choice(name=name, value=value)
        for name, value in (
            ("Automatic", "-"),
            ("OpenAI", "openai"),
            ("Anthropic", "anthropic"),
            ("Google", "google"),
            ("Open source", "open source"),
        )
    ],
)
@app_commands.default_permissions(manage_guild=True)
async def _settings(
    interaction: discord.Interaction[Any],
    sources: bool | None = None,
    suggestions: bool | None = None,
    sources_limit: app_commands.Range[int, _SOURCES.low, _SOURCES.high] | None = None,
    character_limit: app_commands.Range[int, _CHARACTERS.low, _CHARACTERS.high] | None = None,
    publishers: str | None = None,
    tradition: str | None = None,
    model_family: str | None = None,
    shortcut: bool | None = None,
) -> None:
    await _bot(interaction).settings(
        interaction,
        enable_sources=sources,
        enable_suggestions=suggestions,
        sources_limit=sources_limit,
        character_limit=character_limit,
        publishers=publishers,
        tradition=tradition,
        model_family=model_family,
        enable_shortcuts=shortcut,
    )


def build_commands() -> list[app_commands.Command[Any, ..., None]]:
    """Fresh command objects for one client's tree."""
    return [
        app_commands.Command(
            name="ask",
            description=locale_str(t("Ask Gloo (answers in a new thread, or here in a DM)")),
            callback=_ask,
        ),
        app_commands.Command(
            name="reset",
            description=locale_str(t("Start a new conversation in this channel")),
            callback=_reset,
        ),
        app_commands.Command(
            name="history",
            description=locale_str(t("Show this conversation (only you see it)")),
            callback=_history,
        ),
        app_commands.Command(
            name="settings",
            description=locale_str(t("Show or change how Gloo answers here")),
            callback=_settings,
        ),
        access_command(),
    ]
