"""Answering a job on Discord: typing at once, streamed edits, then buttons.

Everything comes from the :class:`~core.delivery.Job` and the discord.py client: the
channel to answer in is ``job.question.thread.channel`` (a DM, a thread, or a channel),
reached as a ``PartialMessageable`` without any lookup; messages an earlier attempt posted
(``job.posted``) are edited instead of posted again.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any

import discord
import structlog

from bots.discord import messages as texts
from bots.discord.buttons import build_embed, build_view
from bots.discord.render import RenderedAnswer, render_answer, split_message, with_notice
from core.delivery import Job, PostedCallback, StreamEvent
from core.service import AnswerFailed
from core.types import Reply, TextDelta

__all__ = ["DEFAULT_EDIT_INTERVAL", "AnswerWriter", "DiscordResponder"]

log = structlog.get_logger(__name__)

#: Seconds between two edits of one message while an answer streams.
DEFAULT_EDIT_INTERVAL = 1.2

NO_MENTIONS = discord.AllowedMentions.none()


class AnswerWriter:
    """The messages showing one answer: posts the first chunk, edits at most once per
    ``interval`` per message while the answer streams (the final edit, with the buttons, goes
    at once), continues in new messages past 2,000 characters."""

    def __init__(
        self,
        channel: discord.PartialMessageable,
        posted: PostedCallback,
        *,
        existing: tuple[str, ...] = (),
        reference: discord.MessageReference | None = None,
        interval: float = DEFAULT_EDIT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._channel = channel
        self._posted = posted
        self._reference = reference
        self._interval = interval
        self._clock = clock
        self._ids: list[int] = [int(i) for i in existing]
        # What each message shows now; None for an earlier attempt's message (unknown).
        self._shown: list[str | None] = [None] * len(self._ids)
        self._edited_at: list[float] = [float("-inf")] * len(self._ids)
        self._pending: list[str] = []

    @property
    def message_ids(self) -> list[int]:
        return list(self._ids)

    async def update(self, text: str) -> None:
        """Show ``text`` (everything so far), within the edit interval."""
        self._pending = split_message(text)
        await self._flush(force=False)

    async def flush(self) -> None:
        """Show everything received so far now (before giving up on a failed answer)."""
        await self._flush(force=True)

    async def _flush(self, *, force: bool) -> None:
        for index, piece in enumerate(self._pending):
            if index >= len(self._ids):
                await self._send(piece)
            elif self._shown[index] != piece and (
                force or self._clock() - self._edited_at[index] >= self._interval
            ):
                await self._edit(index, content=piece)

    async def finish(self, rendered: RenderedAnswer) -> None:
        """Show the final answer; the last message carries the buttons and source list."""
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
                # Each message's final change goes at once, whatever the edit interval
                # says: it is one edit, and the reader waits for it.
                await self._edit(index, content=piece, **extras)
        # An earlier attempt may have posted more pieces than the final answer needs.
        for message_id in self._ids[len(pieces) :]:
            try:
                await self._channel.get_partial_message(message_id).delete()
            except discord.HTTPException:
                log.warning("discord.extra_message_not_deleted", message_id=message_id)

    async def notice(self, message: str) -> None:
        """Say ``message`` under what was shown (editing the last message when it fits)."""
        if self._ids:
            shown = self._shown[-1]
            combined = with_notice(shown, message) if shown is not None else None
            if combined is not None:
                await self._edit(len(self._ids) - 1, content=combined)
                return
        await self._send(message)

    async def _send(self, content: str, **extras: Any) -> None:
        reference = self._reference if not self._ids else None
        kwargs: dict[str, Any] = {k: v for k, v in extras.items() if v is not None}
        if reference is not None:
            kwargs["reference"] = reference
        message = await self._channel.send(content, allowed_mentions=NO_MENTIONS, **kwargs)
        self._ids.append(message.id)
        self._shown.append(content)
        self._edited_at.append(self._clock())
        await self._posted([str(message.id)])

    async def _edit(self, index: int, *, content: str, **extras: Any) -> None:
        kwargs: dict[str, Any] = {k: v for k, v in extras.items() if v is not None}
        message = self._channel.get_partial_message(self._ids[index])
        await message.edit(content=content, allowed_mentions=NO_MENTIONS, **kwargs)
        self._shown[index] = content
        self._edited_at[index] = self._clock()


class DiscordResponder:
    """The Discord side of the core's :class:`~core.delivery.Responder` protocol."""

    def __init__(
        self,
        client: discord.Client,
        *,
        edit_interval: float = DEFAULT_EDIT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.edit_interval = edit_interval
        self._clock = clock
        self._writers: dict[str, AnswerWriter] = {}

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

    async def deliver(
        self, job: Job, answer: AsyncIterator[StreamEvent], posted: PostedCallback
    ) -> None:
        writer = AnswerWriter(
            self.channel(job),
            posted,
            existing=job.posted,
            reference=self.reference(job),
            interval=self.edit_interval,
            clock=self._clock,
        )
        self._writers[job.key] = writer
        reply: Reply | None = None
        try:
            async for event in answer:
                if isinstance(event, TextDelta):
                    await writer.update(event.text)
                else:
                    reply = event
        except AnswerFailed:
            await writer.flush()  # leave what was streamed readable; failed() adds the note
            raise
        if reply is None:  # the service always ends with a Reply or raises
            raise RuntimeError("the answer stream ended without a reply")
        await writer.finish(render_answer(reply))
        self._writers.pop(job.key, None)

    async def failed(self, job: Job, message: str, posted: PostedCallback) -> None:
        writer = self._writers.pop(job.key, None)
        if writer is None:
            writer = AnswerWriter(
                self.channel(job),
                posted,
                existing=job.posted,
                reference=self.reference(job),
                interval=self.edit_interval,
                clock=self._clock,
            )
        await writer.notice(message)
