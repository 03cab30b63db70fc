"""Answering a job on Discord: typing at once, streamed edits, then buttons.

Everything comes from the :class:`~core.delivery.Job` and the discord.py client: the
channel to answer in is ``job.question.thread.channel`` (a DM, a thread, or a channel),
reached as a ``PartialMessageable`` without any lookup; messages an earlier attempt posted
(``job.posted``) are edited instead of posted again. The core's dispatcher paces the edits
(:meth:`DiscordSurface.pace`) and sends the final one at once. Every request is spent from
the bot's one :class:`~core.budget.Budget` (:mod:`bots.discord.limits`), shared by every
answer the process gives, so many answers at once stay inside Discord's limits instead of
queueing behind discord.py's bucket waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from contextlib import ExitStack
from typing import Any

import discord
import structlog

from bots.discord import messages as texts
from bots.discord.buttons import build_embed, build_view
from bots.discord.limits import (
    DISCORD_RATES,
    GLOBAL,
    MESSAGE_CREATE,
    MESSAGE_EDIT,
    REACTION,
    REQUEST,
    TYPING,
    discord_keys,
    discord_scope,
)
from bots.discord.render import (
    CUSTOM_ID_LIMIT,
    SUGGESTION_PREFIX,
    ActionButton,
    RenderedAnswer,
    inert,
    label,
    render_answer,
    split_message,
    with_notice,
)
from core import messages as core_messages
from core.budget import Budget
from core.delivery import Job, PostedCallback
from core.i18n import DEFAULT_LOCALE, LOCALES, localize
from core.types import Reply, ThreadKey

__all__ = ["DEFAULT_EDIT_INTERVAL", "DiscordResponder", "DiscordSurface"]

log = structlog.get_logger(__name__)

#: The adapter's "no threads here" note in every shipped language (never an answer).
_NO_THREADS_NOTES = frozenset(
    localize(texts.NO_THREAD_PERMISSION, locale) for locale in (DEFAULT_LOCALE, *LOCALES)
)

#: Seconds between two edits of one message while an answer streams.
DEFAULT_EDIT_INTERVAL = 1.2
#: The longest a call that cannot be skipped (the first text, the final change) waits for
#: the budget before going anyway.
BUDGET_WAIT_S = 20.0
#: How soon an answer with nothing shown yet looks again for room to post its first text.
UNSHOWN_RETRY_S = 0.25
#: Global requests (of 50 a second) a skippable change leaves for changes that cannot wait.
GLOBAL_KEPT = 10
#: The sign of work on a question where typing is spent (as the Slack adapter's 👀), and
#: the longest it waits for the channel's reaction budget (late is better than nothing: the
#: text of such an answer waits for the channel's message bucket).
WORKING_REACTION = "\N{EYES}"
REACTION_WAIT_S = 3.0
#: discord-api-docs resources/channel, Trigger Typing Indicator: "expires after 10 seconds".
TYPING_SHOWN_S = 10.0

NO_MENTIONS = discord.AllowedMentions.none()


class Spending:
    """One answer's calls against the bot's :class:`~core.budget.Budget` (Discord's global
    50 a second and the per-channel message rates of :mod:`bots.discord.limits`)."""

    def __init__(self, budget: Budget, guild: str, channel: str, wait: float) -> None:
        self.budget = budget
        self._guild = guild
        self._channel = channel
        self._wait = wait

    def _keys(self, method: str) -> tuple[tuple[str, str], ...]:
        return discord_keys(method, self._guild, self._channel)

    def may(self, method: str, *, first: bool = False) -> bool:
        """Spend a skippable call now, leaving global requests spare for the live answers'
        first texts and final changes, and one call in the channel; False: skip it."""
        keys = self._keys(method)
        for scope, name in keys:
            spare = self.budget.spare(scope, name)
            # The global window is a second long: a fifth of it kept for the changes that
            # cannot be skipped is enough (it refills at once); a channel keeps one call.
            # An answer's first text is what the kept calls are for.
            keep = min(self.budget.sharing(GLOBAL), GLOBAL_KEPT) if scope == GLOBAL else 1
            if first:
                keep = 0
            if spare is not None and spare <= keep:
                return False
            if self.budget.delay(scope, name) > 0:
                return False
        return all(self.budget.take(scope, name) for scope, name in keys)

    async def soon(self, method: str, within: float) -> bool:
        """Spend a call that is worth making if its budget has room ``within`` seconds."""
        for scope, name in self._keys(method):
            if not await self.budget.acquire(scope, name, timeout=within):
                return False
        return True

    async def surely(self, method: str) -> None:
        """A call that cannot be skipped: wait for its budget (a while at most, then go:
        discord.py honours Discord's own headers and 429s)."""
        for scope, name in self._keys(method):
            if not await self.budget.acquire(scope, name, timeout=self._wait):
                log.warning("discord.over_budget", method=name, outcome="sent anyway")

    def pace(self, floor: float) -> float:
        """At least ``floor``; wider as more answers share the global rate, or the channel's
        edits run short."""
        channel = discord_scope(MESSAGE_EDIT, self._guild, self._channel)
        return max(
            self.budget.pace(GLOBAL, REQUEST, floor=floor),
            self.budget.pace(channel, MESSAGE_EDIT, floor=floor),
        )


class TypingShown:
    """Where the bot's "typing…" shows now, per channel: for 10 s from a typing call
    (discord-api-docs resources/channel, Trigger Typing Indicator: "expires after 10
    seconds"), or until the bot posts there (clients clear it then). While it shows, a new
    question in that channel needs no 👀 of its own: the reactions, one a second, are kept
    for those who would see nothing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}

    def typed(self, channel: str) -> None:
        self._until[channel] = self._clock() + TYPING_SHOWN_S

    def posted(self, channel: str) -> None:
        self._until.pop(channel, None)

    def showing(self, channel: str) -> bool:
        until = self._until.get(channel)
        if until is not None and until <= self._clock():
            del self._until[channel]
            return False
        return until is not None


class DiscordSurface:
    """The messages showing one answer, for one attempt: posts the first chunk, edits as the
    dispatcher paces it (:meth:`pace`), continues in new messages past 2,000 characters; the
    final edit carries the buttons and the source list.

    Changes while the answer streams are skipped when the budget has no room (their text
    goes with a later change); the first text and the final change wait for theirs.
    """

    def __init__(
        self,
        channel: discord.PartialMessageable,
        posted: PostedCallback,
        *,
        spending: Spending,
        existing: tuple[str, ...] = (),
        reference: discord.MessageReference | None = None,
        interval: float = DEFAULT_EDIT_INTERVAL,
        typing: TypingShown | None = None,
        locale: str = "",
    ) -> None:
        self._channel = channel
        self._locale = locale  # the asker's: the bot's own words of the answer are in it
        self._typing = typing
        self._posted = posted
        self._spending = spending
        self._reference = reference
        self._interval = interval
        self._ids: list[int] = [int(i) for i in existing]
        # What each message shows now; None for an earlier attempt's message (unknown).
        self._shown: list[str | None] = [None] * len(self._ids)
        self._live = ExitStack()
        self._live.enter_context(spending.budget.answering(GLOBAL))

    @property
    def message_ids(self) -> list[int]:
        return list(self._ids)

    def pace(self) -> float:
        if not self._ids:  # nothing shown yet: look again soon for room to post
            return min(self._interval, UNSHOWN_RETRY_S)
        return self._spending.pace(self._interval)

    async def progress(self, text: str) -> None:
        """Show ``text`` (everything so far): new pieces posted, changed ones edited, as
        far as the budget allows now."""
        for index, piece in enumerate(split_message(text)):
            if index >= len(self._ids):
                if not self._spending.may(MESSAGE_CREATE, first=not self._ids):
                    return  # this piece (and the ones after it) go with a later change
                await self._send(piece, spent=True)
            elif self._shown[index] != piece and self._spending.may(MESSAGE_EDIT):
                await self._edit(index, content=piece, spent=True)

    async def final(self, reply: Reply) -> None:
        """Show the final answer; the last message carries the buttons and source list."""
        rendered = render_answer(reply, self._locale)
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
                await self._spending.surely(REQUEST)
                await self._channel.get_partial_message(message_id).delete()
            except discord.HTTPException:
                log.warning("discord.extra_message_not_deleted", message_id=message_id)

    async def halt(self) -> None:
        """Nothing to close: what was streamed is shown as it is (the dispatcher showed the
        text it held before calling this)."""

    async def stopped(self) -> None:
        """The question was deleted while being answered (:mod:`core.stopping`), in place
        of :meth:`halt`: what was shown stays, with one line saying why it ends there;
        nothing shown, nothing said (the typing sign ends by itself)."""
        await self.halt()
        if self._ids:
            await self.failure(localize(core_messages.ANSWER_STOPPED, self._locale))

    def close(self) -> None:
        """No longer one of the live answers sharing the budget."""
        self._live.close()

    async def failure(self, sentence: str) -> None:
        """Say ``sentence`` under what was shown (editing the last message when it fits)."""
        if self._ids:
            shown = self._shown[-1]
            combined = with_notice(shown, sentence) if shown is not None else None
            if combined is not None:
                await self._edit(len(self._ids) - 1, content=combined)
                return
        await self._send(sentence)

    async def _send(self, content: str, *, spent: bool = False, **extras: Any) -> None:
        if not spent:
            await self._spending.surely(MESSAGE_CREATE)
        reference = self._reference if not self._ids else None
        kwargs: dict[str, Any] = {k: v for k, v in extras.items() if v is not None}
        if reference is not None:
            kwargs["reference"] = reference
        message = await self._channel.send(content, allowed_mentions=NO_MENTIONS, **kwargs)
        if self._typing is not None:
            self._typing.posted(str(self._channel.id))
        self._ids.append(message.id)
        self._shown.append(content)
        await self._posted([str(message.id)])

    async def _edit(self, index: int, *, content: str, spent: bool = False, **extras: Any) -> None:
        if not spent:
            await self._spending.surely(MESSAGE_EDIT)
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
        budget: Budget | None = None,
        budget_wait: float = BUDGET_WAIT_S,
    ) -> None:
        self._client = client
        self.edit_interval = edit_interval
        self.budget = budget if budget is not None else Budget(DISCORD_RATES, platform="discord")
        self._budget_wait = budget_wait
        #: 👀 reactions waiting for their channel's budget (kept until done).
        self._signs: set[asyncio.Task[None]] = set()
        self.typing = TypingShown()

    def channel(self, job: Job) -> discord.PartialMessageable:
        thread = job.question.thread
        guild_id = None if thread.workspace == "@dm" else int(thread.workspace)
        return self._client.get_partial_messageable(int(thread.channel), guild_id=guild_id)

    async def offer_edit(
        self, thread: ThreadKey, user_id: str, text: str, ref: str, *, locale: str = ""
    ) -> None:
        """The question was edited while or after it was answered: offer the edited text
        beneath the answer, as one suggestion button (clicked: asked as any suggestion)."""
        custom_id = f"{SUGGESTION_PREFIX}{ref}"
        if len(custom_id) > CUSTOM_ID_LIMIT:
            log.warning("discord.edit_offer_too_long", chars=len(custom_id))
            return
        sentence = localize(core_messages.EDIT_OFFER, locale)
        button = ActionButton("suggestion", custom_id, label=label(inert(text)))
        view = build_view(RenderedAnswer(pieces=(sentence,), rows=((button,),)))
        guild_id = None if thread.workspace == "@dm" else int(thread.workspace)
        channel = self._client.get_partial_messageable(int(thread.channel), guild_id=guild_id)
        kwargs: dict[str, Any] = {} if view is None else {"view": view}
        await channel.send(sentence, allowed_mentions=NO_MENTIONS, **kwargs)

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
        """Typing, when the budget has a request and the channel's typing bucket a call to
        spare; else a 👀 on the question where it is in the answer's channel (a reply chain
        or a DM: a busy channel's typing is spent first). The text follows soon anyway."""
        spending = self._spending(job)
        channel = job.question.thread.channel
        if spending.may(TYPING, first=True):
            await self.channel(job).typing()
            self.typing.typed(channel)
            return
        reference = self.reference(job)
        if reference is None or reference.message_id is None or self.typing.showing(channel):
            return
        question = self.channel(job).get_partial_message(reference.message_id)
        # In the background: the channel's reactions come one a second, so the 👀 may wait
        # for room (REACTION_WAIT_S at most), and discord.py sleeps out the bucket after each one
        # (bots.discord.limits); neither may hold up the answer.
        task = asyncio.create_task(self._react_soon(spending, question))
        self._signs.add(task)
        task.add_done_callback(self._signs.discard)

    async def _react_soon(self, spending: Spending, question: discord.PartialMessage) -> None:
        if spending.may(REACTION, first=True) or await spending.soon(REACTION, REACTION_WAIT_S):
            await self._react(question)

    @staticmethod
    async def _react(question: discord.PartialMessage) -> None:
        try:
            await question.add_reaction(WORKING_REACTION)
        except discord.HTTPException as exc:  # no Add Reactions here, or the question is gone
            log.info("discord.reaction_failed", status=exc.status, code=exc.code)

    def _spending(self, job: Job) -> Spending:
        thread = job.question.thread
        return Spending(self.budget, thread.workspace, thread.channel, self._budget_wait)

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
            and message.content not in _NO_THREADS_NOTES  # the adapter's note, not an answer
        ]
        return sorted(found, key=int)

    async def still_working(self, job: Job) -> None:
        """Gloo is slow to start: typing again (Discord shows it for about 10 s)."""
        await self.working(job)

    async def open(self, job: Job, posted: PostedCallback) -> DiscordSurface:
        """The messages of one attempt at ``job`` (nothing is sent until the first text)."""
        return DiscordSurface(
            self.channel(job),
            posted,
            spending=self._spending(job),
            existing=job.posted,
            reference=self.reference(job),
            interval=self.edit_interval,
            typing=self.typing,
            locale=job.question.locale,
        )
