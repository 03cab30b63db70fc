"""What the Discord adapter does with gateway events: questions in, jobs to the dispatcher.

Thread keys: ``ThreadKey("discord", guild_id or "@dm", channel_id, "")`` where
``channel_id`` is the DM channel, or the thread the conversation lives in (a guild mention
in a channel starts a public thread from the message, so the key names that thread from
the start). Job keys: ``discord:{message id}`` for messages, ``discord:interaction:{id}``
for button clicks and ``/ask``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal

import discord
import structlog

from bots.discord import messages as texts
from bots.discord.render import FEEDBACK_VALUES, asked_line, render_history, thread_name
from core import intake, messages
from core.adapters import Runtime
from core.delivery import Job
from core.service import AnswerFailed, ConversationService, UnknownSuggestion
from core.types import Question, ThreadKey

__all__ = ["PLATFORM", "DiscordBot", "thread_key"]

log = structlog.get_logger(__name__)

PLATFORM = "discord"
DM_WORKSPACE = "@dm"
NO_MENTIONS = discord.AllowedMentions.none()
#: Discord's error code for "a thread has already been created for this message".
THREAD_ALREADY_CREATED = 160004
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)
_THREAD_PARENT_TYPES = (discord.ChannelType.text, discord.ChannelType.news)


def workspace(guild_id: int | None) -> str:
    return str(guild_id) if guild_id is not None else DM_WORKSPACE


def thread_key(guild_id: int | None, channel_id: int) -> ThreadKey:
    return ThreadKey(PLATFORM, workspace(guild_id), str(channel_id), "")


def question_text(message: discord.Message, bot_id: int) -> str:
    """The message without the bot's mention; other user mentions become @names."""
    names = {user.id: user.display_name for user in message.mentions}

    def replace(match: re.Match[str]) -> str:
        user_id = int(match.group(1))
        if user_id == bot_id:
            return ""
        return f"@{names[user_id]}" if user_id in names else match.group(0)

    return " ".join(_USER_MENTION.sub(replace, message.content).split())


def _in_thread(channel: Any) -> bool:
    if isinstance(channel, discord.Thread):
        return True
    # A channel discord.py has not cached (e.g. a thread after a restart) is partial.
    return isinstance(channel, discord.PartialMessageable)


class DiscordBot:
    """Turns messages, clicks and slash commands into jobs and short replies."""

    def __init__(self, runtime: Runtime, client: discord.Client) -> None:
        self._runtime = runtime
        self._client = client

    @property
    def service(self) -> ConversationService:
        return self._runtime.dispatcher.service

    # --- messages -----------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        try:
            await self._on_message(message)
        except Exception:
            log.exception("discord.message_failed", message_id=message.id)
            try:
                await message.channel.send(
                    messages.INTERNAL_ERROR,
                    reference=message.to_reference(fail_if_not_exists=False),
                    allowed_mentions=NO_MENTIONS,
                )
            except discord.HTTPException:
                log.warning("discord.error_notice_failed", exc_info=True)

    async def _on_message(self, message: discord.Message) -> None:
        me = self._client.user
        if me is None or self._runtime.stopping.is_set():
            return
        if message.author.bot or message.author.id == me.id or message.webhook_id:
            return
        if message.type not in _ANSWERED_TYPES:
            return
        if message.guild is None:
            thread = thread_key(None, message.channel.id)
            await self._submit(message, thread, question_text(message, me.id))
            return
        guild_id = message.guild.id
        if me.id in message.raw_mentions:  # a real @mention, not @everyone/@here/a role
            text = question_text(message, me.id)
            if intake.is_blank(text):  # nothing visible: no thread, no Gloo call
                await message.channel.send(
                    messages.EMPTY_QUESTION,
                    reference=message.to_reference(fail_if_not_exists=False),
                    allowed_mentions=NO_MENTIONS,
                )
                return
            channel_id = message.channel.id
            if not _in_thread(message.channel):
                channel_id = await self._start_thread(message, text)
            await self._submit(message, thread_key(guild_id, channel_id), text)
            return
        if _in_thread(message.channel):
            thread = thread_key(guild_id, message.channel.id)
            if await self._runtime.dispatcher.is_active(thread):
                await self._submit(message, thread, question_text(message, me.id))

    async def _start_thread(self, message: discord.Message, text: str) -> int:
        """A public thread started from ``message`` (its id is the message's)."""
        try:
            data = await self._client.http.start_thread_with_message(
                message.channel.id,
                message.id,
                name=thread_name(text),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except discord.HTTPException as exc:
            if exc.code == THREAD_ALREADY_CREATED:
                return message.id
            # No permission to create threads here: answer in the channel instead.
            log.warning("discord.thread_not_created", status=exc.status, code=exc.code)
            return message.channel.id
        thread_id = int(data["id"])
        await self._inherit_settings(
            message.guild.id if message.guild else None, message.channel.id, thread_id
        )
        return thread_id

    async def _inherit_settings(self, guild_id: int | None, parent_id: int, thread_id: int) -> None:
        """A new thread answers the way its channel was set up with /settings."""
        space = workspace(guild_id)
        try:
            parent = await self.service.settings_for(PLATFORM, space, str(parent_id))
            if parent != self.service.defaults:
                fields = {f.name: getattr(parent, f.name) for f in dataclasses.fields(parent)}
                await self.service.update_settings(PLATFORM, space, str(thread_id), **fields)
        except Exception:
            log.warning("discord.settings_not_inherited", exc_info=True)

    async def _submit(self, message: discord.Message, thread: ThreadKey, text: str) -> None:
        question = Question(
            thread=thread,
            text=text,
            user_id=str(message.author.id),
            user_name=message.author.display_name,
            message_ref=str(message.id),
        )
        await self._runtime.dispatcher.submit(Job(key=f"discord:{message.id}", question=question))

    # --- buttons --------------------------------------------------------------------------

    async def suggestion_clicked(self, interaction: discord.Interaction[Any], ref: str) -> None:
        await interaction.response.defer()
        try:
            click = await self.service.resolve_suggestion(ref)
        except UnknownSuggestion as exc:
            await interaction.followup.send(
                exc.user_message, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        except Exception:
            log.exception("discord.suggestion_failed")
            await interaction.followup.send(
                messages.INTERNAL_ERROR, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        user = interaction.user
        asked = await interaction.followup.send(
            asked_line(user.display_name, click.text), allowed_mentions=NO_MENTIONS, wait=True
        )
        thread = thread_key(interaction.guild_id, _channel_id(interaction))
        question = Question(
            thread=thread,
            text=click.text,
            user_id=str(user.id),
            user_name=user.display_name,
            message_ref=str(asked.id),
        )
        job = Job(
            key=f"discord:interaction:{interaction.id}", question=question, chat_id=click.chat_id
        )
        await self._submit_interaction(interaction, job)

    async def feedback_clicked(self, interaction: discord.Interaction[Any], payload: str) -> None:
        answer_id, _, value = payload.rpartition(":")
        score = FEEDBACK_VALUES.get(value)
        recorded = False
        if answer_id and score is not None:
            try:
                recorded = await self.service.record_feedback(
                    answer_id, str(interaction.user.id), score
                )
            except Exception:
                log.exception("discord.feedback_failed")
                await interaction.response.send_message(
                    messages.INTERNAL_ERROR, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
                return
        await interaction.response.send_message(
            texts.FEEDBACK_THANKS if recorded else texts.UNKNOWN_FEEDBACK,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    # --- slash commands -----------------------------------------------------------------------

    async def ask(self, interaction: discord.Interaction[Any], question: str) -> None:
        text = " ".join(question.split())
        if not text:
            await interaction.response.send_message(
                messages.EMPTY_QUESTION, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        await interaction.response.defer(thinking=True)
        asked = await interaction.edit_original_response(
            content=asked_line(interaction.user.display_name, text), allowed_mentions=NO_MENTIONS
        )
        channel_id = _channel_id(interaction)
        channel = interaction.channel
        if interaction.guild_id is not None and getattr(channel, "type", None) in (
            _THREAD_PARENT_TYPES
        ):
            try:
                data = await self._client.http.start_thread_with_message(
                    channel_id,
                    asked.id,
                    name=thread_name(text),
                    auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                )
                await self._inherit_settings(interaction.guild_id, channel_id, int(data["id"]))
                channel_id = int(data["id"])
            except discord.HTTPException as exc:
                log.warning("discord.thread_not_created", status=exc.status, code=exc.code)
        asked_question = Question(
            thread=thread_key(interaction.guild_id, channel_id),
            text=text,
            user_id=str(interaction.user.id),
            user_name=interaction.user.display_name,
            message_ref=str(asked.id),
        )
        job = Job(key=f"discord:interaction:{interaction.id}", question=asked_question)
        await self._submit_interaction(interaction, job)

    async def _submit_interaction(self, interaction: discord.Interaction[Any], job: Job) -> None:
        """Hand the job over; if it cannot be stored (shutting down, database gone), say so."""
        try:
            await self._runtime.dispatcher.submit(job)
        except Exception:
            log.exception("discord.job_not_accepted", job=job.key)
            await interaction.followup.send(
                messages.INTERNAL_ERROR, ephemeral=True, allowed_mentions=NO_MENTIONS
            )

    async def reset(self, interaction: discord.Interaction[Any]) -> None:
        thread = thread_key(interaction.guild_id, _channel_id(interaction))
        had_chat = await self.service.reset(thread)
        await interaction.response.send_message(
            texts.RESET_DONE if had_chat else texts.RESET_NOTHING,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    async def history(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        thread = thread_key(interaction.guild_id, _channel_id(interaction))
        try:
            content = render_history(await self.service.history(thread))
        except AnswerFailed as exc:
            content = exc.user_message
        await interaction.followup.send(content, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def settings(self, interaction: discord.Interaction[Any], **changes: Any) -> None:
        space = workspace(interaction.guild_id)
        channel = str(_channel_id(interaction))
        wanted = {k: v for k, v in changes.items() if v is not None}
        if "publishers" in wanted:
            raw = str(wanted["publishers"]).strip()
            wanted["publishers"] = tuple(
                p.strip() for p in raw.split(",") if p.strip() and raw != "-"
            )
        try:
            if wanted:
                current = await self.service.update_settings(PLATFORM, space, channel, **wanted)
            else:
                current = await self.service.settings_for(PLATFORM, space, channel)
        except ValueError as exc:
            await interaction.response.send_message(
                texts.SETTINGS_INVALID.format(reason=exc),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        lines = [
            "**Gloo settings for this channel**" + (" (updated)" if wanted else ""),
            *(f"{label}: {value}" for label, value in self.service.describe_settings(current)),
        ]
        await interaction.response.send_message(
            "\n".join(lines), ephemeral=True, allowed_mentions=NO_MENTIONS
        )


def _channel_id(interaction: discord.Interaction[Any]) -> int:
    if interaction.channel_id is None:
        raise ValueError("the interaction has no channel")
    return interaction.channel_id
