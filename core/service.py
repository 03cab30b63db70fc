"""The conversation service: the one place that knows how a platform thread talks to Gloo.

Adapters call it with neutral :class:`~core.types.Question` objects and render what comes
back; it maps threads to Gloo chats, keeps every answer so buttons work after a restart,
serializes each thread, and turns every failure into one plain sentence.

A caller that has claimed the question from the inbox can hand :meth:`ConversationService.stream`
the claim's :class:`~core.types.AnswerContext` (then the service reads nothing from the store)
and a :data:`Keep` callable (then it writes nothing either: the caller stores the answer and
its chat binding with its own bookkeeping, e.g. :meth:`core.ports.Inbox.finish_answered`).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TypeVar

import structlog

from core import intake, messages
from core import text as text_step
from core.access import AccessPolicy, AdminCheck, NotAllowed, Requester
from core.bounds import SETTING_RANGES, check_setting
from core.gloo.backend import GlooAnswer, GlooBackend, GlooDelta, GlooRequest, Turn
from core.gloo.errors import GlooError, GlooNotFound, GlooUsageLimited
from core.metrics import Metrics
from core.ports import AnswerRecord, ConversationStore, ConversationSummary
from core.presentation import present
from core.steps import searches_sources
from core.types import (
    MODEL_FAMILIES,
    PERSONAL_PREFIX,
    TRADITIONS,
    AnswerContext,
    AuditEntry,
    ChannelSettings,
    ChatHistory,
    HistoryMessage,
    Question,
    Reply,
    SearchingSources,
    Source,
    SourcesFound,
    Step,
    TextDelta,
    ThreadKey,
    parse_suggestion_ref,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")

StreamEvent = TextDelta | Step | Reply

#: How many answers the chat view of a backend that keeps no chats at Gloo shows.
HISTORY_VIEW_TURNS = 200

#: Stores an answer instead of the service: ``keep(record, bind)`` gets the record
#: ``save_answer`` would have got, and whether its chat is to be bound to its thread.
Keep = Callable[[AnswerRecord, bool], Awaitable[None]]


class AnswerFailed(Exception):
    """Answering failed. ``user_message`` is the sentence to show; the cause is logged.

    ``partial_text`` is what had already been streamed to the user, if anything.
    ``retryable`` says whether asking again later can help (issue-level re-drives use it).
    """

    def __init__(
        self,
        user_message: str,
        *,
        cause: BaseException | None = None,
        partial_text: str = "",
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.cause = cause
        self.partial_text = partial_text
        self.retryable = retryable
        self.retry_after = retry_after


class UnknownSuggestion(Exception):
    """A suggestion button whose id is malformed, forged, or refers to nothing we stored."""

    user_message = messages.UNKNOWN_SUGGESTION


class ClickElsewhere(UnknownSuggestion):
    """A suggestion or feedback button clicked outside the workspace and channel where its
    answer lives (a forged or copied id): nothing is asked, nothing is posted."""

    user_message = messages.CLICK_ELSEWHERE


@dataclass(frozen=True, slots=True)
class SuggestionClick:
    """What a clicked suggestion resolves to: ask ``text`` in ``thread`` on ``chat_id``."""

    answer_id: str
    thread: ThreadKey
    chat_id: str
    text: str


def new_answer_id() -> str:
    """A short, URL- and custom_id-safe id (12 characters, 72 random bits)."""
    return secrets.token_urlsafe(9)


class _ThreadLocks:
    """One asyncio.Lock per thread, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class ConversationService:
    def __init__(
        self,
        gloo: GlooBackend,
        store: ConversationStore,
        defaults: ChannelSettings,
        *,
        id_factory: Callable[[], str] = new_answer_id,
        metrics: Metrics | None = None,
        notice: str = "",
        access: AccessPolicy | None = None,
        question_max_chars: int | None = None,
    ) -> None:
        #: A line under every answer's text (the simulator's "simulated" note), or "".
        self._notice = notice
        self._access = access
        self._gloo = gloo
        self._question_max_chars = question_max_chars
        self._store = store
        self._defaults = defaults
        self._new_id = id_factory
        self._metrics = metrics
        self._locks = _ThreadLocks()

    # --- asking -----------------------------------------------------------------------------

    async def ask(self, question: Question, *, chat_id: str | None = None) -> Reply:
        """Ask and wait for the whole answer."""
        reply: Reply | None = None
        async for event in self.stream(question, chat_id=chat_id):
            if isinstance(event, Reply):
                reply = event
        assert reply is not None  # stream() always ends with a Reply or raises
        return reply

    async def stream(
        self,
        question: Question,
        *,
        chat_id: str | None = None,
        context: AnswerContext | None = None,
        keep: Keep | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Yield :class:`TextDelta` events as Gloo streams, then exactly one :class:`Reply`.

        A question that makes Gloo search its sources (:func:`core.steps.searches_sources`)
        also yields its steps: :class:`SearchingSources` before Gloo is asked and
        :class:`SourcesFound` just before the reply.

        Questions in the same thread are answered one at a time, in arrival order. ``chat_id``
        continues a specific chat (a clicked suggestion); otherwise the thread's chat is used,
        and a new one is bound when the first answer arrives.

        ``context`` (what an inbox claim read, :class:`~core.types.AnswerContext`) replaces
        the store reads: its settings (or the defaults) and, without ``chat_id``, its chat.
        ``keep`` takes the writes over: instead of saving the answer and binding its chat,
        the service awaits ``keep(record, bind)`` just before yielding the :class:`Reply`
        (``bind``: the record's chat is new and should be bound to the thread), so the
        caller can store both with the rest of its bookkeeping. What ``keep`` raises
        propagates. Only forgetting a chat Gloo no longer knows stays a direct store call.

        Raises :class:`AnswerFailed` with a plain sentence when no answer can be given.
        """
        text = intake.clean(question.text)
        refused = intake.refusal(text, self._question_max_chars)
        if refused is not None:
            log.info("question.refused", thread=question.thread.as_str(), chars=len(text))
            raise AnswerFailed(refused)
        text = text.strip()

        async with self._locks.hold(question.thread.as_str()):
            async for event in self._answer(question, text, chat_id, context, keep):
                yield event

    async def _answer(
        self,
        question: Question,
        text: str,
        explicit_chat_id: str | None,
        context: AnswerContext | None,
        keep: Keep | None,
    ) -> AsyncGenerator[StreamEvent, None]:
        thread = question.thread
        started = time.monotonic()
        if context is not None:
            settings = context.settings or self._defaults
        else:
            settings = await self._settings_or_defaults(thread)
        chat_id = explicit_chat_id
        if chat_id is None and context is not None:
            chat_id = context.chat_id
        elif chat_id is None:
            try:
                chat_id = await self._store.get_chat_id(thread)
            except Exception as exc:
                # Without the mapping a follow-up would silently start a new chat: refuse
                # instead, so the user asks again when the database is back.
                log.exception("store.unavailable", thread=thread.as_str())
                raise AnswerFailed(messages.STORE_UNAVAILABLE, cause=exc, retryable=True) from exc
        request = _request(text, chat_id, settings, await self._earlier_turns(chat_id))
        log.info(
            "question.received",
            thread=thread.as_str(),
            chat_id=chat_id,
            chars=len(text),
            continuing=chat_id is not None,
        )
        searching = searches_sources(self._gloo, request)
        if searching:
            yield SearchingSources()
        streamed = ""
        shown = ""  # what has been yielded: streamed text with honest links
        answer: GlooAnswer | None = None
        bind = chat_id is None  # a new chat is bound to the thread when its answer arrives
        try:
            for restarted in (False, True):
                try:
                    asked = time.monotonic()
                    async for event in self._gloo.stream(request):
                        if isinstance(event, GlooDelta):
                            if event.text:
                                if not streamed and self._metrics is not None:
                                    self._metrics.gloo_first_chunk.observe(time.monotonic() - asked)
                                streamed += event.text
                                safe = text_step.stable_honest_links(streamed)
                                if len(safe) > len(shown) and safe.startswith(shown):
                                    delta, shown = safe[len(shown) :], safe
                                    yield TextDelta(delta=delta, text=shown)
                        else:
                            answer = event
                    if self._metrics is not None:
                        self._metrics.gloo_total.observe(time.monotonic() - asked)
                    break
                except GlooNotFound:
                    if restarted or chat_id is None or streamed:
                        raise
                    # Gloo no longer knows this thread's chat: start a fresh one instead of
                    # failing every later message in the thread.
                    log.warning(
                        "chat.not_found_restarting", thread=thread.as_str(), chat_id=chat_id
                    )
                    await self._store_call(self._store.forget_thread(thread))
                    chat_id, request = None, replace(request, chat_id=None, history=())
                    bind = True
        except GlooError as exc:
            if self._metrics is not None:
                self._metrics.gloo_errors.labels(error_code(exc)).inc()
                if isinstance(exc, GlooUsageLimited):
                    self._metrics.gloo_usage_limits.inc()
            log.warning(
                "answer.failed",
                thread=thread.as_str(),
                chat_id=chat_id,
                error=type(exc).__name__,
                status=getattr(exc, "status_code", None),
                detail=exc.detail,
                message=exc.message,
                streamed_chars=len(streamed),
            )
            raise AnswerFailed(
                messages.for_error(exc),
                cause=exc,
                partial_text=shown,
                retryable=exc.retryable,
                retry_after=getattr(exc, "retry_after", None),
            ) from exc
        except Exception as exc:  # a bug or an unexpected library error: say so plainly
            log.exception("answer.crashed", thread=thread.as_str(), chat_id=chat_id)
            raise AnswerFailed(
                messages.INTERNAL_ERROR, cause=exc, partial_text=shown, retryable=True
            ) from exc
        if answer is None:  # a backend that ended without its final event
            raise AnswerFailed(messages.for_error(GlooError("no answer")), partial_text=shown)

        if bind and keep is None:
            bound = await self._store_call(self._store.bind_chat_id(thread, answer.chat_id))
            if bound is not None and bound != answer.chat_id:
                log.warning(
                    "chat.bind_lost_race", thread=thread.as_str(), kept=bound, got=answer.chat_id
                )
        kept, record = self._record(question, text, answer)
        if keep is None:
            # The user gets the answer even if it cannot be stored; only its buttons would
            # not survive, and the log says why.
            await self._store_call(self._store.save_answer(record))
        else:
            await keep(record, bind)
        # What is shown follows the channel's settings, the same on every platform.
        reply = present(kept, settings)
        log.info(
            "answer.done",
            thread=thread.as_str(),
            chat_id=reply.chat_id,
            answer_id=reply.answer_id,
            chars=len(reply.text),
            sources=len(reply.sources),
            suggestions=len(reply.suggestions),
            seconds=round(time.monotonic() - started, 3),
        )
        if searching:
            yield SourcesFound(reply.sources)
        yield reply

    async def _earlier_turns(self, chat_id: str | None) -> tuple[Turn, ...]:
        """The chat's earlier turns, oldest first, when the backend wants them (a stateless
        API such as Completions V2); none for a new chat or a backend that keeps chats."""
        wanted = self._gloo.history_turns
        if chat_id is None or wanted <= 0:
            return ()
        try:
            records = await self._store.chat_answers(chat_id, wanted)
        except Exception as exc:
            # Answering without the earlier turns would answer out of context: refuse
            # instead, so the user asks again when the database is back.
            log.exception("store.unavailable", chat_id=chat_id)
            raise AnswerFailed(messages.STORE_UNAVAILABLE, cause=exc, retryable=True) from exc
        return tuple(Turn(question=r.question, answer=r.text) for r in records)

    def _record(
        self, question: Question, text: str, answer: GlooAnswer
    ) -> tuple[Reply, AnswerRecord]:
        """The reply (before presentation) and the record that keeps it."""
        # Model output is shown (and its suggestions asked) with honest links.
        answer = replace(
            answer,
            text=text_step.honest_links(answer.text),
            suggestions=tuple(text_step.honest_links(s) for s in answer.suggestions),
            sources=tuple(_honest_source(s) for s in answer.sources),
        )
        reply = Reply(
            text=_with_notice(answer.text, self._notice),
            sources=answer.sources,
            suggestions=answer.suggestions,
            answer_id=self._new_id(),
            chat_id=answer.chat_id,
        )
        record = AnswerRecord(
            answer_id=reply.answer_id,
            thread=question.thread,
            chat_id=answer.chat_id,
            question=text,
            text=answer.text,
            sources=answer.sources,
            suggestions=answer.suggestions,
            user_id=question.user_id,
            gloo_message_id=answer.message_id,
            gloo_query_id=answer.query_id,
        )
        return reply, record

    async def _store_call(self, call: Awaitable[T]) -> T | None:
        try:
            return await call
        except Exception:
            log.exception("store.failed")
            return None

    # --- buttons ------------------------------------------------------------------------------

    async def resolve_suggestion(
        self, ref: str, *, where: ThreadKey | None = None
    ) -> SuggestionClick:
        """Turn a suggestion button's short id into what to ask, where, on which chat.

        With ``where`` (the conversation the click came from), a button of an answer given in
        another workspace or channel raises :class:`ClickElsewhere`.
        """
        parsed = parse_suggestion_ref(ref)
        if parsed is None or not intake.is_plain_id(parsed[0]):
            log.info("suggestion.malformed", ref=intake.clean(ref[:120]))
            raise UnknownSuggestion(ref)
        answer_id, index = parsed
        record = await self._store.get_answer(answer_id)
        if record is None or index >= len(record.suggestions):
            log.info("suggestion.unknown", answer_id=answer_id, index=index)
            raise UnknownSuggestion(ref)
        _check_place(record, where)
        return SuggestionClick(
            answer_id=answer_id,
            thread=record.thread,
            chat_id=record.chat_id,
            text=record.suggestions[index],
        )

    async def answer_suggestion(
        self,
        ref: str,
        *,
        user_id: str = "",
        user_name: str = "",
        where: ThreadKey | None = None,
    ) -> tuple[SuggestionClick, AsyncGenerator[StreamEvent, None]]:
        """Resolve a clicked suggestion and start answering it on the same chat."""
        click = await self.resolve_suggestion(ref, where=where)
        question = Question(
            thread=click.thread, text=click.text, user_id=user_id, user_name=user_name
        )
        return click, self.stream(question, chat_id=click.chat_id)

    async def record_feedback(
        self,
        answer_id: str,
        user_id: str,
        value: int,
        *,
        where: ThreadKey | None = None,
        requester: Requester | None = None,
    ) -> bool:
        """Store 👍 (+1) / 👎 (-1). False if the answer is unknown.

        With ``where``, a vote from outside the answer's workspace and channel raises
        :class:`ClickElsewhere` and is not stored. With ``requester``, a person the access
        lists refuse there (see :meth:`require_access`) raises
        :class:`~core.access.NotAllowed` and nothing is stored.
        """
        if value not in (1, -1):
            raise ValueError("feedback is +1 or -1")
        if where is not None:
            await self.require_access(where, requester, "feedback")
        if not intake.is_plain_id(answer_id):
            return False
        record = await self._store.get_answer(answer_id)
        if record is None:
            return False
        _check_place(record, where)
        if where is None:
            await self.require_access(record.thread, requester, "feedback")
        await self._store.set_feedback(answer_id, intake.clean(user_id), value)
        log.info("feedback.recorded", answer_id=answer_id, value=value)
        return True

    async def attach_messages(self, answer_id: str, message_ids: Sequence[str]) -> None:
        """Remember which platform messages show an answer."""
        await self._store.add_platform_message_ids(answer_id, message_ids)

    async def get_answer(self, answer_id: str) -> AnswerRecord | None:
        return await self._store.get_answer(answer_id)

    # --- thread management ----------------------------------------------------------------------

    async def is_active(self, thread: ThreadKey) -> bool:
        """True when the bot has a conversation in this thread (follow-ups need no mention)."""
        return await self._store.get_chat_id(thread) is not None

    async def require_access(
        self, thread: ThreadKey, requester: Requester | None, action: str
    ) -> None:
        """Raise :class:`~core.access.NotAllowed` with the sentence asking would get when the
        access lists of ``thread``'s workspace refuse ``requester`` there.

        Resetting, reading a chat's history and voting are held to the lists as asking is:
        a person blocked from asking may not read another person's chat (fetched from Gloo),
        vote, or start a thread's conversation over. ``None`` is no person (the local
        console): nothing to check. Workspaces of no organisation (:data:`PERSONAL_PREFIX`,
        Discord's direct messages) have no lists.
        """
        if requester is None or thread.workspace.startswith(PERSONAL_PREFIX):
            return
        refusal = await self.access.check(thread.platform, thread.workspace, requester)
        if refusal is not None:
            log.info(
                "access.action_refused",
                action=action,
                thread=thread.as_str(),
                user=requester.user_id,
            )
            raise NotAllowed(refusal)

    async def reset(self, thread: ThreadKey, *, requester: Requester | None = None) -> bool:
        """The next message in this thread starts a new Gloo chat.

        With ``requester``, a person the access lists refuse raises
        :class:`~core.access.NotAllowed` (:meth:`require_access`) and nothing is forgotten.
        """
        await self.require_access(thread, requester, "reset")
        forgotten = await self._store.forget_thread(thread)
        log.info("thread.reset", thread=thread.as_str(), had_chat=forgotten)
        return forgotten

    async def history(
        self, thread: ThreadKey, *, requester: Requester | None = None
    ) -> ChatHistory | None:
        """The thread's chat as neutral data, or ``None`` when there is no chat yet.

        Raises :class:`AnswerFailed` with a plain sentence if Gloo cannot be asked, and
        :class:`~core.access.NotAllowed` when the access lists refuse ``requester``
        (:meth:`require_access`; then neither the store nor Gloo is read).
        """
        await self.require_access(thread, requester, "history")
        chat_id = await self._store.get_chat_id(thread)
        if chat_id is None:
            return None
        if not self._gloo.keeps_chats:  # Completions V2: show what we kept
            return await self._kept_history(chat_id)
        try:
            history = await self._gloo.history(chat_id)
        except GlooError as exc:
            log.warning(
                "history.failed", chat_id=chat_id, error=type(exc).__name__, detail=exc.detail
            )
            raise AnswerFailed(messages.for_error(exc), cause=exc, retryable=exc.retryable) from exc
        turns = tuple(
            replace(m, text=text_step.honest_links(m.text)) if m.role != "user" else m
            for m in history.messages
        )
        return replace(history, messages=await self._with_askers(chat_id, turns))

    async def _with_askers(
        self, chat_id: str, turns: tuple[HistoryMessage, ...]
    ) -> tuple[HistoryMessage, ...]:
        """``turns`` (Gloo's copy of a chat) with each question's asker, where this service
        kept the question: Gloo's history does not say who asked. Questions are matched in
        order by their text; without the store, the turns stay unattributed."""
        try:
            records = await self._store.chat_answers(chat_id, HISTORY_VIEW_TURNS)
        except Exception as exc:
            log.warning("history.askers_unavailable", chat_id=chat_id, error=type(exc).__name__)
            return turns
        askers = [(r.question, r.user_id) for r in records]
        out: list[HistoryMessage] = []
        for turn in turns:
            if turn.role == "user" and not turn.user_id:
                for index, (question, user_id) in enumerate(askers):
                    if question == turn.text:
                        turn = replace(turn, user_id=user_id)
                        del askers[: index + 1]
                        break
            out.append(turn)
        return tuple(out)

    async def _kept_history(self, chat_id: str) -> ChatHistory:
        """The chat as this service kept it: every stored question and answer."""
        records = await self._store.chat_answers(chat_id, HISTORY_VIEW_TURNS)
        turns: list[HistoryMessage] = []
        for record in records:
            turns.append(
                HistoryMessage(
                    role="user",
                    text=record.question,
                    timestamp=record.created_at,
                    user_id=record.user_id,
                )
            )
            turns.append(
                HistoryMessage(
                    role="assistant",
                    text=record.text,
                    timestamp=record.created_at,
                    sources=record.sources,
                    suggestions=record.suggestions,
                )
            )
        return ChatHistory(chat_id=chat_id, title=None, messages=tuple(turns))

    # --- settings ---------------------------------------------------------------------------------

    @property
    def defaults(self) -> ChannelSettings:
        return self._defaults

    @property
    def question_max_chars(self) -> int | None:
        """The longest question asked of Gloo (``QUESTION_MAX_CHARS``; ``None``: no cap)."""
        return self._question_max_chars

    def describe_settings(self, settings: ChannelSettings) -> list[tuple[str, str]]:
        """Channel settings as (label, value) lines for people; adapters render them."""
        if not self._gloo.offers_suggestions:
            suggestions = "not offered by the Gloo API in use"
        else:
            suggestions = "on" if settings.enable_suggestions else "off"
        sources = "on" if settings.enable_sources else "off"
        if settings.enable_sources and settings.sources_limit is not None:
            sources += f", at most {settings.sources_limit}"
        length = (
            f"at most {settings.character_limit} characters"
            if settings.character_limit
            else "no limit"
        )
        publishers = _shown_publishers(settings.publishers)
        lines = [
            ("Sources", sources),
            ("Suggestions", suggestions),
            ("Answer length", length),
            ("Publishers", publishers),
            ("Ask about a message", "on" if settings.enable_shortcuts else "off"),
        ]
        if not self._gloo.offers_suggestions:  # Completions V2: its own knobs
            lines.append(("Tradition", settings.tradition or "Gloo's default"))
            lines.append(("Model family", settings.model_family or "automatic"))
        return lines

    async def settings_for(self, platform: str, workspace: str, channel: str) -> ChannelSettings:
        stored = await self._store.get_channel_settings(platform, workspace, channel)
        return stored or self._defaults

    async def update_settings(
        self,
        platform: str,
        workspace: str,
        channel: str,
        *,
        by: str | None = None,
        admins: AdminCheck | None = None,
        **changes: object,
    ) -> ChannelSettings:
        """Change some fields of a channel's settings (``channel=""`` for the workspace).

        A change a person makes names them (``by``) and their platform's ``admins`` check:
        only administrators may change settings (:class:`~core.access.NotAllowed`
        otherwise), and the change is stored in the audit trail with who and when. Without
        ``by`` the change is the bot's own (a new thread inheriting its channel's settings).
        """
        if by is not None:
            if admins is None:
                raise ValueError("a person's settings change needs an AdminCheck")
            await self.access.require_admin(platform, workspace, by, admins)
        current = await self.settings_for(platform, workspace, channel)
        updated = replace(current, **changes)  # type: ignore[arg-type]
        _validate(updated)
        await self._store.save_channel_settings(platform, workspace, channel, updated)
        change = _describe_change(current, updated)
        log.info(
            "settings.updated",
            platform=platform,
            workspace=workspace,
            channel=channel,
            by=by,
            change=change,
        )
        if by is not None and change:
            await self.access.record(
                AuditEntry(platform, workspace, channel, by, "settings", change)
            )
        return updated

    @property
    def access(self) -> AccessPolicy:
        """Admin rules, access lists and the audit trail (:mod:`core.access`)."""
        if self._access is None:
            raise RuntimeError("this ConversationService was built without an AccessPolicy")
        return self._access

    async def _settings_or_defaults(self, thread: ThreadKey) -> ChannelSettings:
        found = await self._store_call(
            self._store.get_channel_settings(thread.platform, thread.workspace, thread.channel)
        )
        return found or self._defaults

    # --- a person's conversations (Slack's Home tab) ---------------------------------------

    async def recent_conversations(
        self, platform: str, workspace: str, user_id: str, limit: int = 10
    ) -> list[ConversationSummary]:
        """The person's most recent conversations (first question, when, thread), newest first."""
        return await self._store.user_conversations(platform, workspace, user_id, limit)

    async def conversation_of(
        self, thread: ThreadKey, user_id: str, limit: int = 200
    ) -> ConversationSummary | None:
        """``thread``'s conversation if ``user_id`` asked in it (among their ``limit`` latest)."""
        found = await self._store.user_conversations(
            thread.platform, thread.workspace, user_id, limit
        )
        return next((c for c in found if c.thread == thread), None)

    async def stored_settings(self, platform: str, workspace: str) -> dict[str, ChannelSettings]:
        """The settings stored for a workspace, by channel (``""``: the workspace's own)."""
        return await self._store.list_channel_settings(platform, workspace)


#: How many publishers a channel can name, and how long each name can be.
MAX_PUBLISHERS = 20
MAX_PUBLISHER_CHARS = 100


#: Characters of the publishers line of :meth:`ConversationService.describe_settings`.
PUBLISHERS_SHOWN_CHARS = 500


def _shown_publishers(publishers: Sequence[str]) -> str:
    """``"A, B and 3 more"``: as many whole names as fit in the line, the rest counted."""
    if not publishers:
        return "all"
    shown: list[str] = []
    for name in publishers:
        if len(", ".join([*shown, name])) > PUBLISHERS_SHOWN_CHARS:
            break
        shown.append(name)
    more = len(publishers) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _check_place(record: AnswerRecord, where: ThreadKey | None) -> None:
    """Raise :class:`ClickElsewhere` when ``where`` is not the answer's workspace and channel."""
    if where is None:
        return
    home = record.thread
    if (home.platform, home.workspace, home.channel) != (
        where.platform,
        where.workspace,
        where.channel,
    ):
        log.warning(
            "click.elsewhere",
            answer_id=record.answer_id,
            answer_thread=home.as_str(),
            clicked_in=where.as_str(),
        )
        raise ClickElsewhere(record.answer_id)


def _describe_change(old: ChannelSettings, new: ChannelSettings) -> str:
    """``"publishers: all → A, B; sources limit: default → 3"`` (empty when nothing changed)."""

    def shown(name: str, value: object) -> str:
        if name == "publishers":
            return ", ".join(value) if isinstance(value, tuple) and value else "all"
        if value is None:
            return "default"
        if isinstance(value, bool):
            return "on" if value else "off"
        return str(value)

    parts = [
        f"{name.replace('_', ' ')}: {shown(name, getattr(old, name))} → "
        f"{shown(name, getattr(new, name))}"
        for name in ChannelSettings.__dataclass_fields__
        if getattr(old, name) != getattr(new, name)
    ]
    return "; ".join(parts)


def _honest_source(source: Source) -> Source:
    """A source whose title names another host than its link is shown by its link."""
    if source.url and source.title and text_step.misleads(source.title, source.url):
        return replace(source, title=source.url)
    return source


def _validate(settings: ChannelSettings) -> None:
    if len(settings.publishers) > MAX_PUBLISHERS:
        raise ValueError(messages.too_many_publishers(MAX_PUBLISHERS))
    if any(len(name) > MAX_PUBLISHER_CHARS for name in settings.publishers):
        raise ValueError(messages.publisher_too_long(MAX_PUBLISHER_CHARS))
    for name in SETTING_RANGES:  # every numeric setting, one table for every platform
        check_setting(name, getattr(settings, name))
    if settings.tradition is not None and settings.tradition not in TRADITIONS:
        raise ValueError(
            f"tradition must be one of {', '.join(TRADITIONS)} (or unset), "
            f"not {settings.tradition!r}"
        )
    if settings.model_family is not None and settings.model_family not in MODEL_FAMILIES:
        raise ValueError(
            f"model family must be one of {', '.join(MODEL_FAMILIES)} (or unset), "
            f"not {settings.model_family!r}"
        )


def _request(
    text: str, chat_id: str | None, settings: ChannelSettings, history: tuple[Turn, ...] = ()
) -> GlooRequest:
    return GlooRequest(
        query=text,
        chat_id=chat_id,
        history=history,
        character_limit=settings.character_limit,
        sources_limit=settings.sources_limit,
        publishers=settings.publishers,
        intent=settings.intent,
        enable_sources=settings.enable_sources,
        enable_suggestions=settings.enable_suggestions,
        tradition=settings.tradition,
        model_family=settings.model_family,
    )


def error_code(exc: BaseException) -> str:
    """A Gloo failure as a metric label: its HTTP status, or the kind of failure."""
    if isinstance(exc, GlooUsageLimited):
        return "usage_limit"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return str(status)
    return type(exc).__name__.removeprefix("Gloo").lower() or "error"


def _with_notice(text: str, notice: str) -> str:
    if not notice:
        return text
    return f"{text}\n\n{notice}" if text else notice
