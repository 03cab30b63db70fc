"""Answering a job on Discord: typing at once, streamed edits, then buttons.

Everything comes from the :class:`~core.delivery.Job` and the discord.py client: the
channel to answer in is ``job.question.thread.channel`` (a DM, a thread, or a channel),
reached as a ``PartialMessageable`` without any lookup; messages an earlier attempt posted
(``job.posted``) are edited instead of posted again. The core's dispatcher paces the edits
(:meth:`DiscordSurface.pace`) and sends the final one at once.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import discord
import structlog

from bots.discord import messages as texts
from bots.discord.buttons import build_embed, build_view
from bots.discord.render import render_answer, split_message, with_notice
from core.delivery import Job, PostedCallback
from core.types import Reply

__all__ = ["DEFAULT_EDIT_INTERVAL", "DiscordResponder", "DiscordSurface"]

log = structlog.get_logger(__name__)

#: Seconds between two edits of one message while an answer streams.
DEFAULT_EDIT_INTERVAL = 1.2

NO_MENTIONS = discord.AllowedMentions.none()


class DiscordSurface:
    """The messages showing one answer, for one attempt: posts the first chunk, edits as the
    dispatcher paces it (:meth:`pace`), continues in new messages past 2,000 characters; the
    final edit carries the buttons and the source list."""

    def __init__(
        self,
        channel: discord.PartialMessageable,
        posted: PostedCallback,
        *,
        existing: tuple[str, ...] = (),
        reference: discord.MessageReference | None = None,
        interval: float = DEFAULT_EDIT_INTERVAL,
    ) -> None:
        self._channel = channel
        self._posted = posted
        self._reference = reference
        self._interval = interval
        self._ids: list[int] = [int(i) for i in existing]
        # What each message shows now; None for an earlier attempt's message (unknown).
        self._shown: list[str | None] = [None] * len(self._ids)

    @property
    def message_ids(self) -> list[int]:
        return list(self._ids)

    def pace(self) -> float:
        return self._interval

    async def progress(self, text: str) -> None:
        """Show ``text`` (everything so far): new pieces posted, changed ones edited."""
        for index, piece in enumerate(split_message(text)):
            if index >= len(self._ids):
                await self._send(piece)
            elif self._shown[index] != piece:
                await self._edit(index, content=piece)

    async def final(self, reply: Reply) -> None:
        """Show the final answer; the last message carries the buttons and source list."""
        rendered = render_answer(reply)
        pieces = list(rendered.pieces)
        last = len(pieces) - 1
        view = build_view(rendered)
        embed = build_embed(rendered)
        for index, piece in enumerate(pieces):
            extras: dict[str, Any] = {}
            if index == last:
                extras = {"view": view, "embed": embed}
            if index >= len(self._ids):
                await self._send(piece, **extras)
            elif self._shown[index] != piece or index == last:
                # Each message's final change goes at once: it is one edit, and the reader
                # waits for it.
                await self._edit(index, content=piece, **extras)
        # An earlier attempt may have posted more pieces than the final answer needs.
        for message_id in self._ids[len(pieces) :]:
            try:
                await self._channel.get_partial_message(message_id).delete()
            except discord.HTTPException:
                log.warning("discord.extra_message_not_deleted", message_id=message_id)

    def close(self) -> None:
        return None

    async def halt(self) -> None:
        """Nothing to close: what was streamed is shown as it is (the dispatcher showed the
        text it held before calling this)."""

    async def failure(self, sentence: str) -> None:
        """Say ``sentence`` under what was shown (editing the last message when it fits)."""
        if self._ids:
            shown = self._shown[-1]
            combined = with_notice(shown, sentence) if shown is not None else None
            if combined is not None:
                await self._edit(len(self._ids) - 1, content=combined)
                return
        await self._send(sentence)

    async def _send(self, content: str, **extras: Any) -> None:
        reference = self._reference if not self._ids else None
        kwargs: dict[str, Any] = {k: v for k, v in extras.items() if v is not None}
        if reference is not None:
            kwargs["reference"] = reference
        message = await self._channel.send(content, allowed_mentions=NO_MENTIONS, **kwargs)
        self._ids.append(message.id)
        self._shown.append(content)
        await self._posted([str(message.id)])

    async def _edit(self, index: int, *, content: str, **extras: Any) -> None:
        kwargs: dict[str, Any] = {k: v for k, v in extras.items() if v is not None}
        message = self._channel.get_partial_message(self._ids[index])
        await message.edit(content=content, allowed_mentions=NO_MENTIONS, **kwargs)
        self._shown[index] = content


class DiscordResponder:
    """The Discord side of the core's :class:`~core.delivery.Responder` protocol."""

    def __init__(
        self,
        client: discord.Client,
        *,
        edit_interval: float = DEFAULT_EDIT_INTERVAL,
    ) -> None:
        self._client = client
        self.edit_interval = edit_interval

    def channel(self, job: Job) -> discord.PartialMessageable:
        thread = job.question.thread
        guild_id = None if thread.workspace == "@dm" else int(thread.workspace)
        return self._client.get_partial_messageable(int(thread.channel), guild_id=guild_id)

    @staticmethod
    def reference(job: Job) -> discord.MessageReference | None:
        """Reply to the question, unless it is the message a new thread was started from
        (a thread started from a message has that message's id, and the message itself
        stays in the parent channel)."""
        ref, channel = job.question.message_ref, job.question.thread.channel
        if not ref or ref == channel:
            return None
        return discord.MessageReference(
            message_id=int(ref), channel_id=int(channel), fail_if_not_exists=False
        )

    async def working(self, job: Job) -> None:
        await self.channel(job).typing()

    async def recover(self, job: Job, known: Collection[str]) -> list[str]:
        """The bot's messages in the job's channel after the question, unknown to the inbox."""
        me = self._client.user
        if me is None:
            return []
        after = job.question.message_ref or job.question.thread.channel
        found = [
            str(message.id)
            async for message in self.channel(job).history(
                limit=100, after=discord.Object(id=int(after))
            )
            if message.author.id == me.id
            and str(message.id) not in known
            and message.content != texts.NO_THREAD_PERMISSION  # the adapter's note, not an answer
        ]
        return sorted(found, key=int)

    async def still_working(self, job: Job) -> None:
        """Gloo is slow to start: typing again (Discord shows it for about 10 s)."""
        await self.channel(job).typing()

    async def open(self, job: Job, posted: PostedCallback) -> DiscordSurface:
        """The messages of one attempt at ``job`` (nothing is sent until the first text)."""
        return DiscordSurface(
            self.channel(job),
            posted,
            existing=job.posted,
            reference=self.reference(job),
            interval=self.edit_interval,
        )
