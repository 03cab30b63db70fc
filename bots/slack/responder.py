"""Answering a job on Slack: status, streamed text, the final blocks, and failures.

Everything comes from the :class:`~core.delivery.Job` (thread key, question, posted message
timestamps) plus a Web API client for the job's workspace, so any process can (re)answer a
job. In threads the answer streams natively (``chat.startStream``/``appendStream``/
``stopStream`` through slack_sdk's ``chat_stream`` helper); where that is unavailable or
fails, one placeholder message is edited with ``chat.update``. Either way the first text
shows at once and the message then changes at most once per ``update_interval`` seconds
while Gloo streams; when the stream ends, the last text, the buttons and the end of the
stream go at once (one ``chat.stopStream``, or the ``chat.update`` of the fallback path),
whatever the pacing clock says: it is the message's one final change. The reply arrives
presented for its channel (:mod:`core.presentation`), so nothing is read back from the
service. The final message always carries the full blocks. If Slack
refuses the blocks (``invalid_blocks``, ``msg_too_long``…) the answer goes out as plain text
followed by the buttons, instead of being dropped.

Visible steps: when Gloo searches its sources (:mod:`core.steps`) a streamed answer shows a
task card (``task_update`` chunks, :mod:`bots.slack.render`): "Searching Gloo's sources"
from the start of the stream, then "Found N sources" carrying them with the stream's stop;
an answer that breaks off closes the card as ``error``, never leaving it in progress. Every
stream sends its text as ``markdown_text`` chunks, with or without a card. While the card
shows the search, the "Gloo is slow" status is not shown too. Where Slack refuses the card
(:mod:`bots.slack.steps`) the stream goes on without it, and the workspace gets none again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack import render
from bots.slack.clients import WebClients, retry_after_header, split_workspace
from bots.slack.limits import SLACK_RATES, slack_scope
from bots.slack.render import SlackMessage
from bots.slack.steps import CHUNK_REFUSALS, StepsMemory
from core import messages as core_messages
from core.budget import Budget, Reservation
from core.delivery import Job, PostedCallback
from core.i18n import localize
from core.presentation import thread_title
from core.types import Reply, SearchingSources, SourcesFound, Step, ThreadKey

log = structlog.get_logger(__name__)

#: Slack errors that mean "these blocks/this text cannot be posted as is": fall back to text.
CONTENT_ERRORS: Final = frozenset(
    {
        "msg_too_long",
        "msg_blocks_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "markdown_text_too_long",
        "too_many_blocks",
    }
)
#: ``limit`` for conversations.replies/history: the most non-Marketplace apps may ask for.
RECOVERY_LIMIT: Final = 15
WORKING_REACTION: Final = "eyes"
#: The status Slack shows as "<App name> <status>" under the thread's last message
#: (docs.slack.dev/reference/methods/assistant.threads.setStatus, "Usage info"), with
#: ``loading_messages`` it rotates through (at most 10).
WORKING_STATUS: Final = "is thinking…"
WORKING_LOADING: Final = ("Reading your question…", "Asking Gloo…", "Gathering sources…")
SLOW_REACTION: Final = "hourglass_flowing_sand"
SLOW_STATUS: Final = "is still working — Gloo is slow right now…"
SLOW_LOADING: Final = ("Gloo is slow right now…", "Still working on your answer…")
SET_STATUS: Final = "assistant.threads.setStatus"
#: setStatus errors that mean statuses cannot be shown there (the reaction is used instead):
#: in the workspace (a token without the scope) or in the channel (the others).
STATUS_UNAVAILABLE_IN_WORKSPACE: Final = frozenset(
    {"missing_scope", "not_allowed_token_type", "method_deprecated"}
)
STATUS_UNAVAILABLE_IN_CHANNEL: Final = frozenset(
    {"channel_not_found", "not_in_channel", "channel_type_not_supported", "access_denied"}
)
#: Titles the DM thread in the app's history ("This will be shown when a user views the DM
#: history with your app": docs.slack.dev/reference/methods/assistant.threads.setTitle; Tier
#: 4, bot scope ``assistant:write``). Slack's templates set it from the user's message
#: (slack-samples/bolt-js-assistant-template listeners/assistant/message.js, before
#: setStatus; bolt-python's ``set_title`` utility); we set it once, for the first question.
SET_TITLE: Final = "assistant.threads.setTitle"
#: setTitle errors (its reference page, "Errors") after which titles are not tried again: in
#: the workspace (the token or app may not) or in the channel.
TITLE_UNAVAILABLE_IN_WORKSPACE: Final = frozenset(
    {
        "missing_scope",
        "not_allowed_token_type",
        "method_deprecated",
        "deprecated_endpoint",
        "enterprise_is_restricted",
        "is_bot",
    }
)
TITLE_UNAVAILABLE_IN_CHANNEL: Final = frozenset({"channel_not_found", "access_denied"})
#: The longest a call that cannot be skipped (a final change, a failure sentence, the first
#: posted text) waits for the workspace's budget before going anyway.
BUDGET_WAIT_S: Final = 20.0
#: The longest an answer not shown yet waits before it looks again for room to post.
POST_RETRY_S: Final = 1.0


def slack_error(exc: SlackApiError) -> str:
    response = getattr(exc, "response", None)
    try:
        return str(response["error"]) if response is not None else "unknown"
    except (KeyError, TypeError):
        return "unknown"


def is_dm_thread(thread: ThreadKey) -> bool:
    """A thread inside a direct message (the assistant view lives there)."""
    return thread.channel.startswith("D") and bool(thread.thread)


def opens_conversation(job: Job) -> bool:
    """``job``'s question is the first of its conversation: no Gloo chat is bound to its
    thread (as read with the claim) or named by the job (a clicked suggestion continues
    one). Without the claim's context: the question is its thread's root (agent view)."""
    if job.chat_id is not None:
        return False
    if job.context is not None:
        return job.context.chat_id is None
    return job.question.message_ref == job.question.thread.thread


def waiting_status(ahead: int) -> str:
    """The status of an answer ready to show whose channel has no room to post yet."""
    if ahead <= 0:
        return "is answering you next…"
    noun = "question" if ahead == 1 else "questions"
    return f"is answering {ahead} {noun} ahead of yours…"


class ChannelQueues:
    """Answers with text to show that wait for their channel's posting budget, in order.

    Slack allows about one new message a second per channel (:mod:`bots.slack.limits`), so
    in a busy channel answers queue for it; each one's status says how many are ahead.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, list[str]] = {}

    def join(self, channel: str, key: str) -> int:
        """Queue ``key`` in ``channel`` (once); how many wait ahead of it."""
        queue = self._waiting.setdefault(channel, [])
        if key not in queue:
            queue.append(key)
        return queue.index(key)

    def leave(self, channel: str, key: str) -> None:
        queue = self._waiting.get(channel)
        if queue is None or key not in queue:
            return
        queue.remove(key)
        if not queue:
            del self._waiting[channel]

    def ahead(self, channel: str, key: str) -> int | None:
        queue = self._waiting.get(channel) or []
        return queue.index(key) if key in queue else None


class SlackResponder:
    """The Slack side of :class:`core.delivery.Dispatcher` jobs.

    Every call an answer makes is spent from ``budget``, the process's one
    :class:`~core.budget.Budget` of Slack's published rates (:mod:`bots.slack.limits`),
    shared by every answer it gives in a workspace (see :class:`SlackSurface`).
    """

    def __init__(
        self,
        clients: WebClients,
        *,
        update_interval: float = 1.0,
        streaming: bool = True,
        budget: Budget | None = None,
        budget_wait: float = BUDGET_WAIT_S,
        steps: StepsMemory | None = None,
    ) -> None:
        self._clients = clients
        #: Where Slack refused task cards (kept in the learned facts when given a store).
        self.steps = steps if steps is not None else StepsMemory()
        #: Jobs whose task card shows Gloo's search (no "Gloo is slow" status meanwhile).
        self.searching: set[str] = set()
        self._interval = update_interval
        self._streaming = streaming
        self.budget = budget if budget is not None else Budget(SLACK_RATES, platform="slack")
        self._budget_wait = budget_wait
        self._identities: dict[str, frozenset[str]] = {}
        #: Where Slack refused statuses: workspaces, and "<workspace>/<channel>"s.
        self._no_status: set[str] = set()
        #: Where Slack refused titles: workspaces, and "<workspace>/<channel>"s.
        self._no_title: set[str] = set()
        #: Titles being set (kept until done: the loop holds tasks weakly).
        self._titles: set[asyncio.Task[None]] = set()
        self.queues = ChannelQueues()

    async def working(self, job: Job) -> None:
        """Work started: the thread's status (channel threads too, since Slack's changelog
        of 2026-03-05 opened ``assistant.threads.setStatus`` to ``chat:write``), else 👀 on
        the question (a top-level message, or where the status is refused). Then, for the
        first question of a DM thread, the thread's title (:meth:`set_title`), in the
        background: Gloo is asked meanwhile, a title never holds up the answer."""
        thread = job.question.thread
        client = await self._clients.for_workspace(thread.workspace, wait_on_rate_limit=False)
        title = asyncio.create_task(self._title_quietly(client, job))
        self._titles.add(title)
        title.add_done_callback(self._titles.discard)
        await self._signal(client, job, WORKING_STATUS, WORKING_LOADING, WORKING_REACTION)

    async def offer_edit(
        self, thread: ThreadKey, user_id: str, text: str, ref: str, *, locale: str = ""
    ) -> None:
        """The question was edited while or after it was answered: offer the edited text
        beneath the answer, as one suggestion button (:func:`render.edit_offer`)."""
        client = await self._clients.for_workspace(thread.workspace)
        offer = render.edit_offer(text, ref, locale=locale)
        await client.chat_postMessage(
            channel=thread.channel, thread_ts=thread.thread or None, **offer.as_kwargs()
        )

    async def _title_quietly(self, client: AsyncWebClient, job: Job) -> None:
        try:
            await self.set_title(client, job)
        except Exception:  # a title is a nicety: its failure is a log line, never the answer's
            log.warning("slack.title_failed", exc_info=True)

    async def still_working(self, job: Job) -> None:
        """Gloo is slow to start: the status says so, else an ⏳ on the question — unless
        the answer's task card shows Gloo searching its sources (it would say it twice)."""
        if job.key in self.searching:
            return
        thread = job.question.thread
        client = await self._clients.for_workspace(thread.workspace, wait_on_rate_limit=False)
        await self._signal(client, job, SLOW_STATUS, SLOW_LOADING, SLOW_REACTION)

    async def _signal(
        self,
        client: AsyncWebClient,
        job: Job,
        status: str,
        loading: tuple[str, ...],
        reaction: str,
    ) -> None:
        """The cheapest visible sign of work, when the budget has room for it (the text
        follows soon anyway: a sign is never worth a call an answer needs). Slack clears
        the status itself when the bot's answer arrives in the thread."""
        thread = job.question.thread
        if await self.set_status(client, thread, status, loading):
            return
        if job.question.message_ref and self._take(thread, "reactions.add"):
            try:
                await client.reactions_add(
                    channel=thread.channel, timestamp=job.question.message_ref, name=reaction
                )
            except SlackApiError as exc:
                self._refused(thread, "reactions.add", exc)
                if slack_error(exc) not in ("already_reacted", "ratelimited"):
                    raise

    def status_available(self, thread: ThreadKey) -> bool:
        """Whether a status can be tried in ``thread`` (a thread, not refused there)."""
        where = slack_scope(thread.workspace, SET_STATUS, thread.channel)
        return bool(thread.thread) and not {thread.workspace, where} & self._no_status

    async def set_status(
        self,
        client: AsyncWebClient,
        thread: ThreadKey,
        status: str,
        loading: tuple[str, ...] = (),
    ) -> bool:
        """Show ``status`` in ``thread`` when Slack allows it there and the channel's budget
        has room; True when shown. A refusal is logged and remembered for the workspace or
        channel (a 429 only for its wait)."""
        if not self.status_available(thread) or not self._take(thread, SET_STATUS):
            return False
        try:
            await client.assistant_threads_setStatus(
                channel_id=thread.channel,
                thread_ts=thread.thread,
                status=status,
                loading_messages=list(loading) or None,
            )
        except SlackApiError as exc:
            self._refused(thread, SET_STATUS, exc)
            error = slack_error(exc)
            if error in STATUS_UNAVAILABLE_IN_WORKSPACE:
                self._no_status.add(thread.workspace)
            elif error in STATUS_UNAVAILABLE_IN_CHANNEL:
                self._no_status.add(slack_scope(thread.workspace, SET_STATUS, thread.channel))
            log.info(
                "slack.status_unavailable",
                error=error,
                channel=thread.channel,
                outcome="a reaction instead",
            )
            return False
        return True

    async def set_title(self, client: AsyncWebClient, job: Job) -> bool:
        """Title the DM thread ``job`` opens (agent view, or an assistant thread) with its
        question (:func:`core.presentation.thread_title`); True when set. Not in channel
        threads (Slack shows titles in the DM history only), not for follow-ups, not
        where Slack refused titles before (remembered per workspace or channel), and
        skipped when the workspace's budget has no room: a title is never worth a wait."""
        thread = job.question.thread
        if not (is_dm_thread(thread) and opens_conversation(job)):
            return False
        channel = f"{thread.workspace}/{thread.channel}"
        title = thread_title(job.question.text)
        if not title or {thread.workspace, channel} & self._no_title:
            return False
        if not self._take(thread, SET_TITLE):
            return False
        try:
            await client.assistant_threads_setTitle(
                channel_id=thread.channel, thread_ts=thread.thread, title=title
            )
        except SlackApiError as exc:
            self._refused(thread, SET_TITLE, exc)
            error = slack_error(exc)
            if error in TITLE_UNAVAILABLE_IN_WORKSPACE:
                self._no_title.add(thread.workspace)
            elif error in TITLE_UNAVAILABLE_IN_CHANNEL:
                self._no_title.add(channel)
            log.info("slack.title_refused", error=error, channel=thread.channel)
            return False
        return True

    def _take(self, thread: ThreadKey, method: str) -> bool:
        taken = self.budget.take(slack_scope(thread.workspace, method, thread.channel), method)
        if not taken:
            log.info("slack.call_skipped", method=method, reason="over the workspace budget")
        return taken

    def _refused(self, thread: ThreadKey, method: str, exc: SlackApiError) -> None:
        refused(self.budget, thread, method, exc)

    async def recover(self, job: Job, known: Collection[str]) -> list[str]:
        """The bot's messages in the job's thread after the question, unknown to the inbox.

        ``conversations.replies``/``history`` allow apps outside the Slack Marketplace one
        call a minute and at most 15 results (docs.slack.dev changelog 2025-05-29, "Rate
        limit changes for non-Marketplace apps"): we ask for :data:`RECOVERY_LIMIT`, with a
        client that does not wait out a 429, and a refusal (or no budget left) finds
        nothing, so the answer is posted again (once) rather than held up or lost.
        """
        thread = job.question.thread
        client = await self._clients.for_workspace(thread.workspace, wait_on_rate_limit=False)
        method = "conversations.replies" if thread.thread else "conversations.history"
        if not self._take(thread, method):
            log.warning(
                "slack.recover_refused",
                error="over the workspace budget",
                thread=thread.as_str(),
                outcome="the answer is posted again",
            )
            return []
        me = await self._identity(thread.workspace, client)
        after = job.question.message_ref or "0"
        try:
            if thread.thread:
                response = await client.conversations_replies(
                    channel=thread.channel, ts=thread.thread, oldest=after, limit=RECOVERY_LIMIT
                )
            else:
                response = await client.conversations_history(
                    channel=thread.channel, oldest=after, limit=RECOVERY_LIMIT
                )
        except SlackApiError as exc:
            self._refused(thread, method, exc)
            log.warning(
                "slack.recover_refused",
                error=slack_error(exc),
                thread=thread.as_str(),
                outcome="the answer is posted again",
            )
            return []
        found = [
            str(m["ts"])
            for m in response.get("messages") or []
            if (m.get("user") in me or m.get("bot_id") in me)
            and str(m["ts"]) not in known
            and str(m["ts"]) != thread.thread
            and float(m["ts"]) > float(after)
        ]
        return sorted(found, key=float)

    async def _identity(self, workspace: str, client: AsyncWebClient) -> frozenset[str]:
        """The bot's user and bot ids in ``workspace`` (``auth.test``, asked once)."""
        known = self._identities.get(workspace)
        if known is None:
            response = await client.auth_test()
            ids = (response.get("user_id"), response.get("bot_id"))
            known = self._identities[workspace] = frozenset(str(i) for i in ids if i)
        return known

    async def open(self, job: Job, posted: PostedCallback) -> SlackSurface:
        """The messages of one attempt at ``job`` (no Slack call until the first text)."""
        waiting, immediate = await self._clients.pair_for_workspace(job.question.thread.workspace)
        stream = await self._open_stream(immediate, job)
        cards = stream is not None and await self.steps.allowed(job.question.thread.workspace)
        return SlackSurface(
            client=waiting,
            immediate=immediate,
            job=job,
            posted=posted,
            interval=self._interval,
            budget=self.budget,
            budget_wait=self._budget_wait,
            stream=stream,
            responder=self,
            cards=cards,
        )

    async def _open_stream(self, client: AsyncWebClient, job: Job) -> AsyncChatStream | None:
        thread = job.question.thread
        if not (self._streaming and thread.thread) or job.posted:
            return None
        _, team_id = split_workspace(thread.workspace)
        user_id = job.question.user_id or None
        # Builds the helper only; chat.startStream is called with the first text. Every
        # append is sent at once (buffer of 1): the dispatcher paces them.
        return await client.chat_stream(
            buffer_size=1,
            channel=thread.channel,
            thread_ts=thread.thread,
            recipient_team_id=team_id if user_id else None,
            recipient_user_id=user_id,
        )


def retry_after(exc: SlackApiError) -> float | None:
    """Seconds Slack asked to wait, when ``exc`` is its 429 (``ratelimited``)."""
    response = getattr(exc, "response", None)
    if response is None or getattr(response, "status_code", None) != 429:
        return None
    return retry_after_header(getattr(response, "headers", None))


def refused(budget: Budget, thread: ThreadKey, method: str, exc: SlackApiError) -> None:
    """Tell the budget about Slack's 429 for ``method`` (nothing for other errors)."""
    wait = retry_after(exc)
    if wait is not None:
        budget.refused(slack_scope(thread.workspace, method, thread.channel), method, wait)
        log.warning("slack.rate_limited", method=method, retry_after=wait)


@dataclass
class SlackSurface:
    """One attempt's messages on Slack: the native stream, or a message edited in place.

    The dispatcher paces :meth:`progress` (:meth:`pace` seconds apart) and calls
    :meth:`final` at once when the answer is complete. Every call is spent from the
    workspace's budget, shared by all the answers live there:

    * the answer streams (``chat.startStream``, Tier 2) only when the budget has a start
      for it *and* can hold its ``chat.stopStream`` (Tier 2) for the final change;
      otherwise it shows its first text as a posted message (``chat.postMessage``, counted
      per channel) with a ``chat.update`` (Tier 3) held for its final change, and counts as
      degraded;
    * changes while streaming (``chat.appendStream``, ``chat.update``) go only when the
      budget allows, with a client that raises a 429 instead of waiting it out, and the
      pace widens as more answers share the workspace (:meth:`Budget.interval`); a skipped
      change costs nothing, its text goes with a later one;
    * the final change spends the call held for it, so it goes at once; failure sentences
      and extra pages wait for their budget (at most ``budget_wait`` seconds).
    """

    client: AsyncWebClient  # waits out a 429: for final changes
    immediate: AsyncWebClient  # raises a 429 at once: for changes that can be skipped
    job: Job
    posted: PostedCallback
    interval: float
    budget: Budget
    budget_wait: float
    stream: AsyncChatStream | None
    #: The responder, for statuses and the channel's queue (None: neither).
    responder: SlackResponder | None = None
    ids: list[str] = field(default_factory=list)
    sent: str = ""  # defanged text handed to the stream so far
    shown: str = ""  # defanged text the message shows
    started: bool = False  # the stream has its message (chat.startStream went)
    held: Reservation | None = None  # the call held for the final change
    #: Whether this stream may show task cards (the workspace has not refused them).
    cards: bool = False
    #: The search's card: "" none, "pending" (goes with the stream's start), "searching"
    #: (shown in progress), "closed".
    card: str = ""
    found: SourcesFound | None = None  # the finished search, shown with the final change
    _live: ExitStack = field(default_factory=ExitStack)
    _told_ahead: int | None = None  # the queue position the status shows

    def __post_init__(self) -> None:
        self.ids = list(self.job.posted)
        self._live.enter_context(self.budget.answering(self.workspace))

    @property
    def thread(self) -> ThreadKey:
        return self.job.question.thread

    @property
    def workspace(self) -> str:
        return self.thread.workspace

    def _scope(self, method: str) -> str:
        return slack_scope(self.workspace, method, self.thread.channel)

    def pace(self) -> float:
        if not self.ids:
            # Not shown yet: the first in the channel's queue looks again the moment the
            # channel has room for a new message; the others at most POST_RETRY_S apart.
            wait = self.budget.delay(self._scope("chat.postMessage"), "chat.postMessage")
            if self._queue_ahead() == 0:
                return min(max(wait, 0.02), POST_RETRY_S)
            return max(self.interval, min(wait, POST_RETRY_S))
        method = "chat.appendStream" if self.stream is not None else "chat.update"
        return self.budget.pace(self.workspace, method, floor=self.interval)

    def _may_change(self, method: str) -> bool:
        """An ordinary (skippable) change of ``method`` now: only while the budget keeps a
        call spare for every answer live in the workspace (their final changes and first
        texts come first)."""
        spare = self.budget.spare(self.workspace, method)
        if spare is not None and spare <= self.budget.sharing(self.workspace):
            return False
        return self.budget.take(self.workspace, method)

    def close(self) -> None:
        """Leave the workspace's live answers and the channel's queue; give back a final
        call never made."""
        self._unqueue()
        self._card_state("closed" if self.card == "searching" else self.card)
        self._live.close()

    # --- the search's task card --------------------------------------------------------------

    async def step(self, step: Step) -> None:
        """Show a step: the search starts the stream with its card (when the channel and
        the budget have room now; else the card goes with the first text); the search's
        end is kept for the final change."""
        if isinstance(step, SourcesFound):
            if self.card in ("pending", "searching"):
                self.found = step
            return
        if not isinstance(step, SearchingSources) or not self.cards or self.stream is None:
            return
        if self.started or self.card:
            return
        self.card = "pending"
        if not self.ids and not self._channel_turn():
            return  # the card goes with the first text, when the channel has room
        if not self._may_start():
            return  # progress() decides: stream later, or post and edit (no card)
        await self._stream_chunks(None)

    def _card_state(self, state: str) -> None:
        self.card = state
        if self.responder is None:
            return
        if state == "searching":
            self.responder.searching.add(self.job.key)
        else:
            self.responder.searching.discard(self.job.key)

    def _pending_tasks(self) -> list[Any]:
        locale = self.job.question.locale
        return [render.searching_task(locale)] if self.card == "pending" else []

    async def _cards_refused(self, exc: SlackApiError) -> bool:
        """True when ``exc`` refuses the task card: no cards from now on (remembered)."""
        error = slack_error(exc)
        if error not in CHUNK_REFUSALS or retry_after(exc) is not None:
            return False
        self.cards = False
        self._card_state("")
        self.found = None
        if self.responder is not None:
            await self.responder.steps.refused(self.workspace, error)
        return True

    async def _stream_chunks(self, new: str | None) -> bool:
        """Start or append to the stream: ``new`` text (as a ``markdown_text`` chunk) and the
        pending card, if any. A refused card is dropped and the text sent again without
        it. True when sent; a failure other than a 429 on a started stream breaks it."""
        assert self.stream is not None
        method = "chat.appendStream" if self.started else "chat.startStream"
        text = [render.text_chunk(new)] if new else []
        tasks = self._pending_tasks()
        if tasks and self.responder is not None:
            # The card is on its way: a "Gloo is slow" sign now would say it twice.
            self.responder.searching.add(self.job.key)
        try:
            try:
                await self.stream.append(chunks=[*text, *tasks])
            except SlackApiError as exc:
                if not tasks or not await self._cards_refused(exc):
                    raise
                if not text:
                    return False  # the text starts the stream without a card
                await self.stream.append(chunks=text)
        except SlackApiError as exc:
            self._card_state(self.card)  # the card is not shown: signs may be again
            if self.started and retry_after(exc) is not None:
                refused(self.budget, self.thread, method, exc)
                return False  # Slack refused this change; the stream goes on
            await self._stream_broke(exc)
            return False
        if tasks:
            self._card_state("searching")
        self.started = True
        self._unqueue()
        if self.stream.ts and self.stream.ts not in self.ids:
            await self._remember(self.stream.ts)
        return True

    def _closing_tasks(self, *, answered: bool) -> list[Any]:
        """The card's last change, for the stream's stop: found (answered) or stopped."""
        if self.card != "searching":
            return []
        locale = self.job.question.locale
        if answered and self.found is not None:
            return [render.found_task(self.found.sources, locale)]
        return [render.found_task((), locale) if answered else render.stopped_task(locale)]

    async def _stop(
        self, stream: AsyncChatStream, *, answered: bool, text: str | None = None, **kwargs: Any
    ) -> None:
        """Stop ``stream`` with ``text`` and the card's last change; a refused card is
        dropped and the stop sent again without it."""
        chunks = [render.text_chunk(text)] if text else []
        tasks = self._closing_tasks(answered=answered)
        try:
            await stream.stop(chunks=[*chunks, *tasks], **kwargs)
        except SlackApiError as exc:
            if not tasks or not await self._cards_refused(exc):
                raise
            await stream.stop(chunks=chunks, **kwargs)
        if tasks:
            self._card_state("closed")

    # --- the channel's queue for new messages ----------------------------------------------

    @property
    def _queue_key(self) -> str:
        return self.job.key

    def _queue_ahead(self) -> int | None:
        if self.responder is None:
            return None
        return self.responder.queues.ahead(self._scope("chat.postMessage"), self._queue_key)

    def _channel_turn(self) -> bool:
        """Whether this answer may start a new message in the channel now: the channel has
        room (Slack: about one a second, :mod:`bots.slack.limits`) and every answer that
        was waiting for it before this one has gone (first come, first shown)."""
        scope = self._scope("chat.postMessage")
        room = self.budget.delay(scope, "chat.postMessage") <= 0
        if self.responder is None:
            return room
        return self.responder.queues.join(scope, self._queue_key) == 0 and room

    async def _tell_queued(self) -> None:
        """The status says how many answers wait ahead of this one for the channel."""
        ahead = self._queue_ahead()
        if self.responder is None or ahead is None:
            return
        # Told once, then as the queue moves (every second place: statuses share the
        # channel's budget with the signs of work of new questions).
        if self._told_ahead is not None and ahead > self._told_ahead - 2:
            return
        if await self.responder.set_status(self.immediate, self.thread, waiting_status(ahead)):
            self._told_ahead = ahead

    def _unqueue(self) -> None:
        if self.responder is not None:
            self.responder.queues.leave(self._scope("chat.postMessage"), self._queue_key)

    def _hold(self, method: str) -> bool:
        """Hold one call of ``method`` for the final change (True when held)."""
        self._let_go()
        self.held = self._live.enter_context(self.budget.reservation(self._scope(method), method))
        return self.held.held

    async def _spend_surely(self, method: str) -> None:
        """A call that cannot be skipped (the final change, a failure sentence, a posted
        message): the one held for it, else wait for the budget — a while at most, then go
        anyway (the client waits out Slack's own 429)."""
        held = self.held
        if held is not None and held.method == method:
            if held.spend() or await held.acquire(timeout=self.budget_wait):
                return
        elif await self.budget.acquire(self._scope(method), method, timeout=self.budget_wait):
            return
        log.warning("slack.over_budget", method=method, outcome="sent anyway")

    async def _remember(self, ts: str) -> None:
        self._unqueue()
        if ts not in self.ids:
            self.ids.append(ts)
        await self.posted([ts])

    # --- while streaming -----------------------------------------------------------------

    async def progress(self, text: str) -> None:
        if not self.ids and not self._channel_turn():
            await self._tell_queued()  # shown when the channel has room, or with the final
            return
        if self.stream is not None and not self.started and not self._may_start():
            self.stream = None
            self.budget.degraded(self.workspace)
            log.info("slack.stream_degraded", outcome="posted and edited instead")
        if self.stream is not None:
            await self._append(text)
            if self.stream is not None:
                return
        await self._update_message(text)

    def _may_start(self) -> bool:
        """Stream only with a start now and the final stop held (Tier 2 both). The stream's
        message is a new message in the channel: it spends the channel's posting budget
        too (checked by :meth:`_channel_turn`)."""
        if not self._hold("chat.stopStream"):
            return False
        if self.budget.take(self.workspace, "chat.startStream"):
            self.budget.take(self._scope("chat.postMessage"), "chat.postMessage")
            return True
        self._let_go()
        return False

    def _let_go(self) -> None:
        """Give back the call held for the final change (another method will make it)."""
        if self.held is not None:
            self.held.close()
            self.held = None

    async def _append(self, text: str) -> None:
        assert self.stream is not None
        safe = render.stable_defanged(text)[: render.MARKDOWN_LIMIT]
        new = safe[len(self.sent) :]
        if not new:
            return
        method = "chat.appendStream" if self.started else "chat.startStream"
        if self.started and not self._may_change(method):
            return  # over budget: this text goes with a later change
        if await self._stream_chunks(new):
            self.sent = safe

    async def _stream_broke(self, exc: SlackApiError) -> None:
        """Streaming failed: carry on with the stream's message (if any) as a placeholder."""
        log.warning("slack.stream_failed", error=slack_error(exc), started=self.started)
        refused(self.budget, self.thread, "chat.startStream", exc)
        if self.card == "pending":
            self._card_state("")  # never shown: nothing to close
        stream, self.stream = self.stream, None
        if stream is not None and stream.ts and stream.ts not in self.ids:
            await self._remember(stream.ts)
        self._let_go()  # the stop held for the stream; the message is edited instead

    async def _update_message(self, text: str) -> None:
        message = render.progress_message(text, self.job.question.locale)
        if not self.ids:
            if not self.budget.take(self._scope("chat.postMessage"), "chat.postMessage"):
                return  # the channel is busy: shown when it has room, or with the final
            await self._remember(await self._post(message, spent=True))
            self._hold("chat.update")
        elif not self._may_change("chat.update"):
            return  # over budget: this text goes with a later change
        else:
            try:
                await self._update(self.ids[0], message, client=self.immediate)
            except SlackApiError as exc:  # the final update tries again
                refused(self.budget, self.thread, "chat.update", exc)
                log.info("slack.progress_update_failed", error=slack_error(exc))
                return
        self.shown = render.stable_defanged(text)

    async def halt(self) -> None:
        """The answer broke off: close the stream, so what streamed stays readable."""
        stream, self.stream = self.stream, None
        if stream is not None and stream.ts:
            await self._spend_surely("chat.stopStream")
            try:
                await self._stop(stream, answered=False)
            except SlackApiError as exc:
                log.info("slack.stream_stop_failed", error=slack_error(exc))
            self.shown = self.sent
        elif stream is not None:
            self.shown = ""

    async def stopped(self) -> None:
        """The question was deleted while being answered (:mod:`core.stopping`), in place
        of :meth:`halt`. A stream is stopped with one line saying why it ends there (in
        the asker's language, the stream's last chunk). When this answer showed nothing in
        the thread yet, its status (the sign of work) is cleared instead of saying Gloo is
        at work until Slack's two-minute timeout
        (docs.slack.dev/reference/methods/assistant.threads.setStatus; an empty status
        clears it); a message shown clears the status itself."""
        stream = self.stream
        if stream is not None and stream.ts and self.sent.strip():
            self.stream = None
            note = localize(core_messages.ANSWER_STOPPED, self.job.question.locale)
            await self._spend_surely("chat.stopStream")
            try:
                await self._stop(stream, answered=False, text=f"\n\n_{note}_")
            except SlackApiError as exc:
                log.info("slack.stream_stop_failed", error=slack_error(exc))
            self.shown = self.sent
            return
        await self.halt()
        if self.ids or self.started or self.responder is None:
            return
        await self.responder.set_status(self.immediate, self.thread, "")

    async def failure(self, sentence: str) -> None:
        """Say ``sentence``: under what this attempt showed, else instead of the placeholder
        or partial answer an earlier attempt left (edited), else as a new message."""
        if self.card == "searching":
            await self.halt()  # the card is closed, never left in progress
        notice = render.text_message(sentence)
        if self.ids and not self.shown:
            await self._spend_surely("chat.update")
            try:
                await self.client.chat_update(
                    channel=self.thread.channel, ts=self.ids[0], **notice.as_kwargs()
                )
                return
            except SlackApiError as exc:
                log.warning("slack.failure_edit_failed", error=slack_error(exc))
        await self._spend_surely("chat.postMessage")
        response = await self.client.chat_postMessage(
            channel=self.thread.channel, thread_ts=self.thread.thread or None, **notice.as_kwargs()
        )
        await self._remember(str(response["ts"]))

    # --- the final answer ----------------------------------------------------------------

    async def final(self, reply: Reply) -> None:
        """The final change, at once: Slack allows one call, and the reader waits for it."""
        pages = render.render_reply(reply, self.job.question.locale)
        if self.stream is not None and await self._finish_stream(reply, pages):
            return
        try:
            await self._publish(pages)
        except SlackApiError as exc:
            if slack_error(exc) not in CONTENT_ERRORS:
                raise
            log.warning("slack.blocks_refused", error=slack_error(exc), fallback="plain text")
            await self._publish(render.plain_pages(reply.text))
            buttons = render.buttons_message(reply, self.job.question.locale)
            try:
                for message in buttons:
                    await self._remember(await self._post(message))
            except SlackApiError as exc2:
                log.warning("slack.buttons_refused", error=slack_error(exc2))

    async def _finish_stream(self, reply: Reply, pages: list[SlackMessage]) -> bool:
        """End the native stream; True when the streamed message is the final answer."""
        stream = self.stream
        assert stream is not None
        self.stream = None
        if not self.started:
            # Nothing streamed yet (an answer that came at once): one posted message is the
            # cheapest way to show it (a stream would cost a start and a stop).
            return False
        full = render.defang(reply.text)
        await self._spend_surely("chat.stopStream")
        if len(pages) == 1 and full.startswith(self.sent) and len(full) <= render.MARKDOWN_LIMIT:
            extras = render.reply_extras(reply, self.job.question.locale)
            try:
                await self._stop(
                    stream, answered=True, text=full[len(self.sent) :] or None, blocks=extras
                )
            except SlackApiError as exc:
                log.warning("slack.stream_stop_failed", error=slack_error(exc))
                if stream.ts and stream.ts not in self.ids:
                    await self._remember(stream.ts)
                return False
            if stream.ts and stream.ts not in self.ids:
                await self._remember(stream.ts)
            return True
        # Several pages, or the final text differs from what streamed: close the stream and
        # rewrite its message with the final blocks.
        if stream.ts:
            try:
                await self._stop(stream, answered=True)
            except SlackApiError as exc:
                log.info("slack.stream_stop_failed", error=slack_error(exc))
            if stream.ts not in self.ids:
                await self._remember(stream.ts)
        return False

    async def _publish(self, messages: list[SlackMessage]) -> None:
        for i, message in enumerate(messages):
            if i < len(self.ids):
                await self._spend_surely("chat.update")
                await self._update(self.ids[i], message)
            else:
                await self._remember(await self._post(message))

    # --- Web API -----------------------------------------------------------------------------

    async def _post(self, message: SlackMessage, *, spent: bool = False) -> str:
        """Post ``message`` in the thread once the channel's budget has room (Slack counts
        ``chat.postMessage`` per channel); ``spent``: the call was taken already."""
        if not spent:
            await self._spend_surely("chat.postMessage")
        response = await self.client.chat_postMessage(
            channel=self.thread.channel,
            thread_ts=self.thread.thread or None,
            unfurl_links=False,
            unfurl_media=False,
            **message.as_kwargs(),
        )
        return str(response["ts"])

    async def _update(
        self, ts: str, message: SlackMessage, *, client: AsyncWebClient | None = None
    ) -> None:
        kwargs = message.as_kwargs()
        kwargs.setdefault("blocks", [])
        await (client or self.client).chat_update(channel=self.thread.channel, ts=ts, **kwargs)
