"""Persistent buttons: suggestions and 👍/👎 feedback, as ``discord.ui.DynamicItem`` classes.

A button's ``custom_id`` carries only the short answer id and an index
(``gloo:s:<answer_id>:<i>``, ``gloo:f:<answer_id>:up|down``); the text lives in the store,
so buttons keep working after a restart once :func:`register` has added the classes to the
client in ``setup_hook``. The templates accept anything after the prefix, so a forged or
stale id still reaches the handler, which answers it with a polite ephemeral note.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import discord
from discord import ui

from bots.discord.render import (
    FEEDBACK_PREFIX,
    SUGGESTION_PREFIX,
    ActionButton,
    Button,
    LinkButton,
    RenderedAnswer,
)

__all__ = ["ButtonHandler", "FeedbackButton", "SuggestionButton", "build_view", "register"]


class ButtonHandler(Protocol):
    """What a click is handed to (the adapter's interaction side)."""

    async def suggestion_clicked(self, interaction: discord.Interaction[Any], ref: str) -> None: ...

    async def feedback_clicked(
        self, interaction: discord.Interaction[Any], payload: str
    ) -> None: ...


def _handler(interaction: discord.Interaction[Any]) -> ButtonHandler:
    handler: ButtonHandler = interaction.client.gloo_buttons
    return handler


class SuggestionButton(
    ui.DynamicItem[ui.Button[Any]],
    template=re.compile(re.escape(SUGGESTION_PREFIX) + r"(?P<ref>.*)"),
):
    def __init__(self, custom_id: str, label: str | None = None, row: int | None = None) -> None:
        super().__init__(
            ui.Button(style=discord.ButtonStyle.secondary, label=label, custom_id=custom_id),
            row=row,
        )
        self.ref = custom_id[len(SUGGESTION_PREFIX) :]

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Item[Any], match: re.Match[str], /
    ) -> SuggestionButton:
        return cls(match.string, label=getattr(item, "label", None))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _handler(interaction).suggestion_clicked(interaction, self.ref)


class FeedbackButton(
    ui.DynamicItem[ui.Button[Any]],
    template=re.compile(re.escape(FEEDBACK_PREFIX) + r"(?P<rest>.*)"),
):
    def __init__(self, custom_id: str, emoji: str | None = None, row: int | None = None) -> None:
        super().__init__(
            ui.Button(style=discord.ButtonStyle.secondary, emoji=emoji, custom_id=custom_id),
            row=row,
        )
        self.payload = custom_id[len(FEEDBACK_PREFIX) :]

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Item[Any], match: re.Match[str], /
    ) -> FeedbackButton:
        emoji = getattr(item, "emoji", None)
        return cls(match.string, emoji=str(emoji) if emoji else None)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _handler(interaction).feedback_clicked(interaction, self.payload)


def register(client: discord.Client) -> None:
    """Make old buttons work: call from ``setup_hook``."""
    client.add_dynamic_items(SuggestionButton, FeedbackButton)


def _item(button: Button, row: int) -> ui.Item[Any]:
    if isinstance(button, LinkButton):
        return ui.Button(
            style=discord.ButtonStyle.link, label=button.label, url=button.url, row=row
        )
    assert isinstance(button, ActionButton)
    if button.kind == "suggestion":
        return SuggestionButton(button.custom_id, label=button.label, row=row)
    return FeedbackButton(button.custom_id, emoji=button.emoji, row=row)


def build_view(rendered: RenderedAnswer) -> ui.View | None:
    """The rendered rows as a view (no timeout: the buttons are persistent), or None."""
    if not rendered.rows:
        return None
    view = ui.View(timeout=None)
    for row, buttons in enumerate(rendered.rows):
        for button in buttons:
            view.add_item(_item(button, row))
    return view


def build_embed(rendered: RenderedAnswer) -> discord.Embed | None:
    if rendered.embed_description is None:
        return None
    return discord.Embed(title=rendered.embed_title, description=rendered.embed_description)
