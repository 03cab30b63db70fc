"""What the Discord adapter does with gateway events: questions in, jobs to the dispatcher.

Thread keys: ``ThreadKey("discord", guild_id or "@dm", channel_id, "")`` where
``channel_id`` is the DM channel, or the thread the conversation lives in (a guild mention
in a channel starts a public thread from the message, so the key names that thread from
the start). Where the bot may not start threads (no Create Public Threads, or no Send
Messages in Threads), or when the channel's thread starts are spent for now (a bucket of
5 per 5 s, :mod:`bots.discord.limits`), it answers as a reply to the question, and a reply
chain is the conversation: ``ThreadKey("discord", guild_id, channel_id, root_message_id)``, the root
being the first question; a reply to one of the bot's answers continues the chain that
answer belongs to (found from the answer's own 👍 button, which carries its answer id).
Job keys: ``discord:{message id}`` for messages, ``discord:interaction:{id}`` for button
clicks and ``/ask``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any, Literal

import discord
import structlog

from bots.discord import messages as texts
from bots.discord.access import (
    DiscordGate,
    InteractionAdmins,
    audit_lines,
    fit,
    interaction_requester,
)
from bots.discord.limits import GLOBAL, REQUEST, THREAD_START, discord_scope
from bots.discord.locales import interaction_locale, message_locale
from bots.discord.render import (
    FEEDBACK_PREFIX,
    FEEDBACK_VALUES,
    asked_line,
    render_history,
    thread_name,
)
from core import intake, messages
from core.access import NotAllowed
from core.adapters import Runtime
from core.budget import Budget
from core.bursts import Burst, burst_scope
from core.delivery import Job
from core.i18n import localize
from core.quoting import DEFAULT_QUESTION, quoted_question
from core.service import AnswerFailed, ClickElsewhere, ConversationService, UnknownSuggestion
from core.types import Question, ThreadKey

__all__ = [
    "PLATFORM",
    "DiscordBot",
    "answer_id_of",
    "chain_key",
    "interaction_locale",
    "message_locale",
    "thread_key",
]

log = structlog.get_logger(__name__)

PLATFORM = "discord"
DM_WORKSPACE = "@dm"
NO_MENTIONS = discord.AllowedMentions.none()
#: Discord's error code for "a thread has already been created for this message".
THREAD_ALREADY_CREATED = 160004
#: Seconds /ask may spend reading the access lists before it must answer Discord (3 s).
ACCESS_CHECK_BUDGET_S = 1.5
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440
#: The longest a thread start waits for the global request budget.
THREAD_START_WAIT_S = 2.0
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)
_THREAD_PARENT_TYPES = (discord.ChannelType.text, discord.ChannelType.news)


def workspace(guild_id: int | None) -> str:
    return str(guild_id) if guild_id is not None else DM_WORKSPACE


def thread_key(guild_id: int | None, channel_id: int) -> ThreadKey:
    return ThreadKey(PLATFORM, workspace(guild_id), str(channel_id), "")


def chain_key(guild_id: int | None, channel_id: int, root_id: int) -> ThreadKey:
    """A conversation held as a reply chain in a channel, named by its first question."""
    return ThreadKey(PLATFORM, workspace(guild_id), str(channel_id), str(root_id))


def answer_id_of(message: discord.Message) -> str | None:
    """The answer id a message of the bot carries in its 👍/👎 buttons, if any."""
    for row in message.components:
        for child in getattr(row, "children", ()):
            custom_id = getattr(child, "custom_id", None) or ""
            if custom_id.startswith(FEEDBACK_PREFIX):
                answer_id = custom_id[len(FEEDBACK_PREFIX) :].rpartition(":")[0]
                return answer_id or None
    return None


def _reason(exc: BaseException) -> str:
    """A ValueError's sentence as raised (a core Message keeps its translations)."""
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, str) else str(exc)


def question_text(message: discord.Message, bot_id: int) -> str:
    """The message without the bot's mention; other user mentions become @names."""
    names = {user.id: user.display_name for user in message.mentions}

    def replace(match: re.Match[str]) -> str:
        user_id = int(match.group(1))
        if user_id == bot_id:
            return ""
        return f"@{names[user_id]}" if user_id in names else match.group(0)

    return " ".join(_USER_MENTION.sub(replace, message.content).split())


def _job_key(message_id: int) -> str:
    """One key per Discord message: its question, its edits and its deletion name it."""
    return f"discord:{message_id}"


def _in_thread(channel: Any) -> bool:
    if isinstance(channel, discord.Thread):
        return True
    # A channel discord.py has not cached (e.g. a thread after a restart) is partial.
    return isinstance(channel, discord.PartialMessageable)


class DiscordBot:
    """Turns messages, clicks and slash commands into jobs and short replies."""

    def __init__(
        self, runtime: Runtime, client: discord.Client, budget: Budget | None = None
    ) -> None:
        self._runtime = runtime
        self._client = client
        #: The bot's request budget, shared with its answers (a thread start spends from it).
        self._budget = budget
        #: Channels already told that the bot cannot start threads there (this process).
        self._told_no_threads: set[int] = set()
        self._gate = DiscordGate(runtime.dispatcher.service)

    @property
    def service(self) -> ConversationService:
        return self._runtime.dispatcher.service

    def connected(self) -> None:
        """The gateway said READY (every shard): the process may say it is ready."""
        self._runtime.connected(PLATFORM, "connected")

    # --- messages -----------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        try:
            await self._on_message(message)
        except Exception:
            log.exception("discord.message_failed", message_id=message.id)
            try:
                await message.channel.send(
                    localize(messages.INTERNAL_ERROR, message_locale(message)),
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
            await self._submit(message, thread, question_text(message, me.id), direct=True)
            return
        guild_id = message.guild.id
        mentioned = me.id in message.raw_mentions  # a real @mention, not @everyone/@here/a role
        chain = None if _in_thread(message.channel) else await self._reply_chain(message, me.id)
        if mentioned or chain is not None:
            text = question_text(message, me.id)
            if intake.is_blank(text):  # nothing visible: no thread, no Gloo call
                await message.channel.send(
                    localize(messages.EMPTY_QUESTION, message_locale(message)),
                    reference=message.to_reference(fail_if_not_exists=False),
                    allowed_mentions=NO_MENTIONS,
                )
                return
            if await self._gate.refused(message):
                return
            if chain is not None:  # a reply to one of the bot's answers: that conversation
                await self._submit(message, chain, text)
                return
            thread = thread_key(guild_id, message.channel.id)
            if not _in_thread(message.channel):
                started = await self._start_thread(message, text)
                if started is None:  # no thread here: this message starts a reply chain
                    thread = chain_key(guild_id, message.channel.id, message.id)
                    await self._submit(message, thread, text)
                    return
                thread = thread_key(guild_id, started)
                await self._submit(message, thread, text)
                return
            await self._submit(message, thread, text, direct=False)  # a mention in a thread
            return
        if _in_thread(message.channel):
            thread = thread_key(guild_id, message.channel.id)
            if await self._runtime.dispatcher.is_active(thread):
                if await self._gate.refused(message):
                    return
                await self._submit(message, thread, question_text(message, me.id), direct=False)

    async def _start_thread(self, message: discord.Message, text: str) -> int | None:
        """A public thread started from ``message`` (its id is the message's), or None when
        Discord will not start one here, or not now (the answer then replies to the question)."""
        if not self._thread_room(message.guild.id if message.guild else None, message.channel.id):
            return None
        try:
            await self._spend_request()
            data = await self._client.http.start_thread_with_message(
                message.channel.id,
                message.id,
                name=thread_name(text),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except discord.HTTPException as exc:
            if exc.code == THREAD_ALREADY_CREATED:
                return message.id
            log.warning(
                "discord.thread_not_created",
                status=exc.status,
                code=exc.code,
                channel=message.channel.id,
            )
            if isinstance(exc, discord.Forbidden):
                await self._tell_no_threads(message.channel, message, message_locale(message))
            return None
        thread_id = int(data["id"])
        await self._inherit_settings(
            message.guild.id if message.guild else None, message.channel.id, thread_id
        )
        return thread_id

    def _thread_room(self, guild_id: int | None, channel_id: int) -> bool:
        """Whether the channel's thread starts have room now (5 per 5 s, bots.discord.limits).

        When they do not, the answer replies to the question at once, which roots a reply
        chain, rather than waiting up to 5 s for the bucket (or meeting its 429) while Gloo
        has already started to answer: in a busy channel the first text is then on screen
        at Gloo's first chunk for everyone, and the conversation goes on as a reply chain.
        """
        if self._budget is None:
            return True
        scope = discord_scope(THREAD_START, workspace(guild_id), str(channel_id))
        if self._budget.take(scope, THREAD_START):
            return True
        log.info("discord.thread_budget_spent", channel=channel_id, outcome="reply chain")
        return False

    async def _spend_request(self) -> None:
        """One request of the global budget, waited for briefly (a thread start cannot be
        skipped; discord.py honours Discord's own headers after that)."""
        if self._budget is not None and not await self._budget.acquire(
            GLOBAL, REQUEST, timeout=THREAD_START_WAIT_S
        ):
            log.info("discord.over_budget", method="threads.start", outcome="sent anyway")

    async def _tell_no_threads(self, channel: Any, question: discord.Message, locale: str) -> None:
        """Say once per channel (per process), plainly, as a reply to ``question``, why the
        answers come as replies and which permissions would let the bot use threads (in
        ``locale``, the asker's)."""
        if channel.id in self._told_no_threads:
            return
        self._told_no_threads.add(channel.id)
        try:
            await channel.send(
                localize(texts.NO_THREAD_PERMISSION, locale),
                reference=question.to_reference(fail_if_not_exists=False),
                allowed_mentions=NO_MENTIONS,
            )
        except discord.HTTPException:
            log.warning("discord.no_threads_notice_failed", channel=channel.id, exc_info=True)

    async def _reply_chain(self, message: discord.Message, bot_id: int) -> ThreadKey | None:
        """The reply-chain conversation ``message`` continues: it replies to one of the bot's
        answers in this channel. None for anything else (or when it cannot be told)."""
        ref = message.reference
        if (
            message.type != discord.MessageType.reply
            or ref is None
            or ref.message_id is None
            or (ref.channel_id is not None and ref.channel_id != message.channel.id)
        ):
            return None
        replied = ref.resolved
        if replied is None:
            # discord-api-docs (resources/message, referenced_message): absent means Discord
            # did not fetch it, so its state is unknown: ask for it.
            try:
                replied = await message.channel.fetch_message(ref.message_id)
            except discord.HTTPException:
                log.info("discord.reply_target_unknown", message_id=ref.message_id)
                return None
        if not isinstance(replied, discord.Message) or replied.author.id != bot_id:
            return None  # a reply to a person, or to a deleted message
        answer_id = answer_id_of(replied)
        earlier_piece = answer_id is None
        if earlier_piece:
            answer_id = await self._answer_after(replied, bot_id)
        if answer_id is None:
            return None
        try:
            record = await self.service.get_answer(answer_id)
        except Exception:
            log.warning("discord.reply_chain_lookup_failed", exc_info=True)
            return None
        if (
            record is None
            or record.thread.channel != str(message.channel.id)
            or (earlier_piece and str(replied.id) not in record.platform_message_ids)
        ):
            log.info("discord.reply_chain_unknown", answer_id=answer_id)
            return None
        if not record.thread.thread:
            return None  # the channel's old shared conversation: a mention starts a chain
        return record.thread

    async def _answer_after(self, replied: discord.Message, bot_id: int) -> str | None:
        """An answer longer than one message carries its buttons on its last message: the
        answer id of the bot's next message with buttons after ``replied`` (the caller
        checks that ``replied`` is one of that answer's messages)."""
        try:
            async for later in replied.channel.history(after=replied, limit=10, oldest_first=True):
                if later.author.id == bot_id and (found := answer_id_of(later)):
                    return found
        except discord.HTTPException:
            log.info("discord.reply_chain_history_failed", exc_info=True)
        return None

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

    # --- edits and deletions (core/edits.py) -------------------------------------------

    async def on_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """``MESSAGE_UPDATE`` (discord.com/developers/docs/events/gateway-events#message-update):
        the message as it is now. Only a person's changed text is an edit: a bot's message
        (our answers being written) and updates that keep the text (an embed unfurled) are
        ignored before any read."""
        me, message = self._client.user, payload.message
        if me is None or message.author.bot or message.webhook_id or message.edited_at is None:
            return
        cached = payload.cached_message
        if cached is not None and cached.content == message.content:
            return
        try:
            await self._runtime.container.changes.edited(
                _job_key(message.id), question_text(message, me.id)
            )
        except Exception:
            log.exception("discord.edit_failed", message_id=message.id)

    async def on_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """``MESSAGE_DELETE`` (…/gateway-events#message-delete: ``id``, ``channel_id``,
        ``guild_id``)."""
        await self._deleted(payload.guild_id, payload.channel_id, payload.message_id, payload)

    async def on_bulk_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """``MESSAGE_DELETE_BULK`` (…/gateway-events#message-delete-bulk: ``ids``)."""
        for message_id in sorted(payload.message_ids):
            await self._deleted(payload.guild_id, payload.channel_id, message_id, None)

    async def _deleted(
        self,
        guild_id: int | None,
        channel_id: int,
        message_id: int,
        payload: discord.RawMessageDeleteEvent | None,
    ) -> None:
        """A person's deleted message withdraws its question; the bot's deleted message (an
        answer) is forgotten. Without the message in discord.py's cache, both are tried."""
        me = self._client.user
        cached = payload.cached_message if payload is not None else None
        mine = cached is not None and me is not None and cached.author.id == me.id
        changes = self._runtime.container.changes
        try:
            if cached is None or mine:
                await changes.answer_deleted(thread_key(guild_id, channel_id), str(message_id))
            if not mine:
                await changes.deleted(_job_key(message_id))
        except Exception:
            log.exception("discord.delete_failed", message_id=message_id)

    async def _submit(
        self, message: discord.Message, thread: ThreadKey, text: str, *, direct: bool | None = None
    ) -> None:
        """Submit ``message``'s question; with ``direct`` (True in a DM, False in a thread) it
        may join its sender's burst there (:mod:`core.bursts`). A message that starts a thread
        or a reply chain is a conversation of its own."""
        question = Question(
            thread=thread,
            text=text,
            user_id=str(message.author.id),
            user_name=message.author.display_name,
            message_ref=str(message.id),
            locale=message_locale(message),
        )
        burst = None
        if direct is not None:
            user = str(message.author.id)
            burst = Burst(burst_scope(PLATFORM, thread.workspace, thread.channel, user), direct)
        job = Job(key=_job_key(message.id), question=question)
        await self._runtime.dispatcher.submit(job, burst=burst)

    # --- buttons --------------------------------------------------------------------------

    async def suggestion_clicked(self, interaction: discord.Interaction[Any], ref: str) -> None:
        await interaction.response.defer()
        locale = interaction_locale(interaction)
        refusal = await self._gate.interaction_refusal(interaction)
        if refusal is not None:
            await interaction.followup.send(
                localize(refusal, locale), ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        try:
            click = await self.service.resolve_suggestion(
                ref, where=thread_key(interaction.guild_id, _channel_id(interaction))
            )
        except UnknownSuggestion as exc:
            await interaction.followup.send(
                localize(exc.user_message, locale), ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        except Exception:
            log.exception("discord.suggestion_failed")
            await interaction.followup.send(
                localize(messages.INTERNAL_ERROR, locale),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        user = interaction.user
        asked = await interaction.followup.send(
            asked_line(user.display_name, click.text, locale),
            allowed_mentions=NO_MENTIONS,
            wait=True,
        )
        thread = thread_key(interaction.guild_id, _channel_id(interaction))
        if click.thread.platform == PLATFORM and click.thread.channel == thread.channel:
            thread = click.thread  # the clicked answer's conversation (a reply chain too)
        question = Question(
            thread=thread,
            text=click.text,
            user_id=str(user.id),
            user_name=user.display_name,
            message_ref=str(asked.id),
            locale=locale,
        )
        job = Job(
            key=f"discord:interaction:{interaction.id}", question=question, chat_id=click.chat_id
        )
        await self._submit_interaction(interaction, job)

    async def feedback_clicked(self, interaction: discord.Interaction[Any], payload: str) -> None:
        await _acknowledge(interaction)
        answer_id, _, value = payload.rpartition(":")
        score = FEEDBACK_VALUES.get(value)
        recorded = False
        if answer_id and score is not None:
            try:
                recorded = await self.service.record_feedback(
                    answer_id,
                    str(interaction.user.id),
                    score,
                    where=thread_key(interaction.guild_id, _channel_id(interaction)),
                    requester=interaction_requester(interaction),
                )
            except (ClickElsewhere, NotAllowed) as exc:
                await _respond(interaction, exc.user_message)
                return
            except Exception:
                log.exception("discord.feedback_failed")
                await _respond(interaction, messages.INTERNAL_ERROR)
                return
        await _respond(interaction, texts.FEEDBACK_THANKS if recorded else texts.UNKNOWN_FEEDBACK)

    # --- slash commands -----------------------------------------------------------------------

    async def ask(self, interaction: discord.Interaction[Any], question: str) -> None:
        text = " ".join(question.split())
        if not text:
            await interaction.response.send_message(
                localize(messages.EMPTY_QUESTION, interaction_locale(interaction)),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        if not await self._defer_unless_refused(interaction):
            return
        asked = await interaction.edit_original_response(
            content=asked_line(
                interaction.user.display_name, text, interaction_locale(interaction)
            ),
            allowed_mentions=NO_MENTIONS,
        )
        thread = await self._conversation_for(interaction, asked, start_from=asked.id, name=text)
        await self._submit_asked(interaction, thread, text, asked.id)

    async def ask_about(
        self, interaction: discord.Interaction[Any], target: discord.Message
    ) -> None:
        """The "Ask Gloo" message command: Gloo is asked about ``target``, quoted, and answers
        in a thread started from it (a reply chain where threads are not allowed), or in the
        thread or DM it is in. The same access check, deferral and thread start as ``/ask``."""
        me = self._client.user
        quote = question_text(target, me.id) if me is not None else target.content
        if intake.is_blank(quote):
            await interaction.response.send_message(
                localize(texts.SHORTCUT_NO_TEXT, interaction_locale(interaction)),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        if not await self._defer_unless_refused(interaction, shortcut=True):
            return
        text = quoted_question(quote, DEFAULT_QUESTION, self.service.question_max_chars)
        asked = await interaction.edit_original_response(
            content=asked_line(
                interaction.user.display_name, DEFAULT_QUESTION, interaction_locale(interaction)
            ),
            allowed_mentions=NO_MENTIONS,
        )
        thread = await self._conversation_for(interaction, asked, start_from=target.id, name=quote)
        # In a thread started from the message, the thread's id is the message's: the answer
        # needs no reply reference there (the responder's rule); elsewhere it replies to the
        # asked line, which Discord shows as a reply to the message.
        ref = target.id if thread.channel == str(target.id) else asked.id
        await self._submit_asked(interaction, thread, text, ref)

    async def _defer_unless_refused(
        self, interaction: discord.Interaction[Any], *, shortcut: bool = False
    ) -> bool:
        """Defer ``interaction`` ("thinking…", public) unless the asker is refused: a refusal
        must be ephemeral, which only the first response can choose, so the access lists (and,
        for the message command, whether the channel turned it off) are read before
        acknowledging, within a budget that leaves Discord's 3 s intact. Past it, the person
        is asked to try again. False when refused (the refusal is sent)."""

        async def refusal() -> str | None:
            if shortcut:
                settings = await self.service.settings_for(
                    PLATFORM, workspace(interaction.guild_id), str(_channel_id(interaction))
                )
                if not settings.enable_shortcuts:
                    return texts.SHORTCUT_OFF
            return await self._gate.interaction_refusal(interaction)

        try:
            sentence = await asyncio.wait_for(refusal(), ACCESS_CHECK_BUDGET_S)
        except Exception:
            log.exception("discord.access_check_failed")
            sentence = messages.INTERNAL_ERROR
        if sentence is not None:
            await interaction.response.send_message(
                localize(sentence, interaction_locale(interaction)),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return False
        await interaction.response.defer(thinking=True)
        return True

    async def _conversation_for(
        self,
        interaction: discord.Interaction[Any],
        asked: discord.Message,
        *,
        start_from: int,
        name: str,
    ) -> ThreadKey:
        """Where an interaction's question is answered: in a guild text channel, a thread
        started from the message ``start_from`` (or the thread it already has); where the bot
        may not start one, or the channel's thread starts are spent, a reply chain rooted at
        the ``asked`` line; in a thread or a DM, there."""
        channel_id = _channel_id(interaction)
        channel = interaction.channel
        thread = thread_key(interaction.guild_id, channel_id)
        if interaction.guild_id is None or getattr(channel, "type", None) not in (
            _THREAD_PARENT_TYPES
        ):
            return thread
        if not self._thread_room(interaction.guild_id, channel_id):
            return chain_key(interaction.guild_id, channel_id, asked.id)
        try:
            await self._spend_request()
            data = await self._client.http.start_thread_with_message(
                channel_id,
                start_from,
                name=thread_name(name),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except discord.HTTPException as exc:
            if exc.code == THREAD_ALREADY_CREATED:
                return thread_key(interaction.guild_id, start_from)
            log.warning("discord.thread_not_created", status=exc.status, code=exc.code)
            # No thread: the answer replies to the asked line, which roots a reply chain.
            if isinstance(exc, discord.Forbidden) and channel is not None:
                await self._tell_no_threads(channel, asked, interaction_locale(interaction))
            return chain_key(interaction.guild_id, channel_id, asked.id)
        await self._inherit_settings(interaction.guild_id, channel_id, int(data["id"]))
        return thread_key(interaction.guild_id, int(data["id"]))

    async def _submit_asked(
        self, interaction: discord.Interaction[Any], thread: ThreadKey, text: str, ref: int
    ) -> None:
        question = Question(
            thread=thread,
            text=text,
            user_id=str(interaction.user.id),
            user_name=interaction.user.display_name,
            message_ref=str(ref),
            locale=interaction_locale(interaction),
        )
        job = Job(key=f"discord:interaction:{interaction.id}", question=question)
        await self._submit_interaction(interaction, job)

    async def _submit_interaction(self, interaction: discord.Interaction[Any], job: Job) -> None:
        """Hand the job over; if it cannot be stored (shutting down, database gone), say so."""
        try:
            await self._runtime.dispatcher.submit(job)
        except Exception:
            log.exception("discord.job_not_accepted", job=job.key)
            await interaction.followup.send(
                localize(messages.INTERNAL_ERROR, interaction_locale(interaction)),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )

    async def reset(self, interaction: discord.Interaction[Any]) -> None:
        await _acknowledge(interaction)
        thread = thread_key(interaction.guild_id, _channel_id(interaction))
        try:
            had_chat = await self.service.reset(
                thread, requester=interaction_requester(interaction)
            )
        except NotAllowed as exc:
            await _respond(interaction, exc.user_message)
            return
        except Exception:
            log.exception("discord.reset_failed", thread=thread.as_str())
            await _respond(interaction, messages.INTERNAL_ERROR)
            return
        await _respond(interaction, texts.RESET_DONE if had_chat else texts.RESET_NOTHING)

    async def history(self, interaction: discord.Interaction[Any]) -> None:
        await _acknowledge(interaction)
        thread = thread_key(interaction.guild_id, _channel_id(interaction))
        try:
            chat = await self.service.history(thread, requester=interaction_requester(interaction))
            content = render_history(
                chat, viewer=str(interaction.user.id), locale=interaction_locale(interaction)
            )
        except (AnswerFailed, NotAllowed) as exc:
            content = exc.user_message
        except Exception:
            log.exception("discord.history_failed", thread=thread.as_str())
            content = messages.INTERNAL_ERROR
        await _respond(interaction, content)

    async def settings(self, interaction: discord.Interaction[Any], **changes: Any) -> None:
        await _acknowledge(interaction)
        space = workspace(interaction.guild_id)
        channel = str(_channel_id(interaction))
        wanted = {k: v for k, v in changes.items() if v is not None}
        if "publishers" in wanted:
            raw = str(wanted["publishers"]).strip()
            wanted["publishers"] = tuple(
                p.strip() for p in raw.split(",") if p.strip() and raw != "-"
            )
        note = ""
        for key in ("tradition", "model_family"):  # '-' clears them
            if key in wanted and str(wanted[key]).strip() in ("", "-"):
                wanted[key] = None
        try:
            try:
                if wanted:
                    current = await self.service.update_settings(
                        PLATFORM,
                        space,
                        channel,
                        by=str(interaction.user.id),
                        admins=InteractionAdmins(interaction),
                        **wanted,
                    )
                else:
                    current = await self.service.settings_for(PLATFORM, space, channel)
            except NotAllowed as exc:
                note = localize(exc.user_message, interaction_locale(interaction)) + "\n\n"
                wanted = {}
                current = await self.service.settings_for(PLATFORM, space, channel)
            history = await self.service.access.history(PLATFORM, space, [channel])
        except ValueError as exc:
            await _respond(interaction, texts.settings_invalid(_reason(exc)))
            return
        except Exception:
            log.exception("discord.settings_failed", channel=channel)
            await _respond(interaction, messages.INTERNAL_ERROR)
            return
        lines = [
            note + "**Gloo settings for this channel**" + (" (updated)" if wanted else ""),
            *(f"{label}: {value}" for label, value in self.service.describe_settings(current)),
            *audit_lines(history),
        ]
        await _respond(interaction, fit("\n".join(lines)))


async def _acknowledge(interaction: discord.Interaction[Any]) -> None:
    """Answer Discord at once, before any database work: an interaction not acknowledged
    within 3 s of its arrival is gone ("Unknown interaction", 10062). Only the person sees
    the "thinking…" placeholder, which :func:`_respond` then fills in."""
    await interaction.response.defer(ephemeral=True, thinking=True)


async def _respond(interaction: discord.Interaction[Any], content: str) -> None:
    """Fill in the acknowledged interaction's ephemeral placeholder (the token lasts 15 min),
    in the person's language (``content`` a Message; a plain str is sent as it is)."""
    await interaction.edit_original_response(
        content=localize(content, interaction_locale(interaction)), allowed_mentions=NO_MENTIONS
    )


def _channel_id(interaction: discord.Interaction[Any]) -> int:
    if interaction.channel_id is None:
        raise ValueError("the interaction has no channel")
    return interaction.channel_id
