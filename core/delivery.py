"""How an accepted question travels to its answer on a platform.

An adapter turns a platform event into a :class:`Job` and hands it to the
:class:`Dispatcher` with :meth:`Dispatcher.submit`, then acknowledges the platform at once.
The dispatcher answers in the background: it owns the answer loop — the stream from the
:class:`~core.service.ConversationService`, the pacing clock, retries and the failure
bookkeeping — and runs each attempt into an :class:`~core.answering.AnswerSurface` that the
platform's :class:`Responder` opens for it, which only renders and posts or edits messages
natively. Everything a surface needs is in the job, so a job can be answered again by any
process after a crash or a failed attempt; the platform messages an earlier attempt already
posted travel with it (:attr:`Job.posted`), so the surface edits them instead of posting a
second answer.

Nothing accepted is lost: ``submit`` commits the job to the :class:`~core.ports.Inbox`
before it returns (so the adapter acknowledges the platform only for stored questions), and
is idempotent on :attr:`Job.key` — a platform's redelivery of the same event (Slack's Events
API retries, ``app_mention`` plus ``message`` for one message) is accepted once. A process
answers a job only while it holds the job's claim (a lease it keeps renewing); a failed
attempt that may succeed later is handed back with a backoff, and any serving process
re-drives due and abandoned jobs (:meth:`Dispatcher.redrive`). A job that exhausts its
attempts is told so in plain words and marked failed. Jobs of one thread are answered in
the order they were accepted, across processes.

Edits and deletions (:mod:`core.edits`): an answer whose question its asker deleted is
stopped where it is (:meth:`Dispatcher.withdrawn`, :mod:`core.stopping`), and an edit that
came while a question was being answered is offered beneath the answer once it is done
(:meth:`Dispatcher.offer_edit`).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import itertools
import os
import secrets
import socket
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Coroutine,
    Sequence,
)
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import structlog

from core import intake, messages
from core.active_threads import ActiveThreads
from core.answering import AnswerSurface, Clock, show_answer
from core.bursts import Burst, BurstWindows, Timers
from core.edits import EditOffers
from core.i18n import localize
from core.ports import QUOTA_ERROR, AnswerRecord, Change, ChangeStore, Finished, Inbox, utcnow
from core.service import AnswerFailed, ConversationService, StreamEvent
from core.stopping import AnswerStopped, StopsAnswers, StopSwitches
from core.types import Job, SearchingSources, SourcesFound, ThreadKey

if TYPE_CHECKING:
    from core.metrics import Metrics
    from core.quotas import Quotas
    from core.settings import Settings

__all__ = [
    "AnswerSurface",
    "DeliveryPolicy",
    "Dispatcher",
    "Job",
    "PostedCallback",
    "Responder",
    "StreamEvent",
    "trace_id",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: Inbox writes at the end of an answer are retried this often (0.1 s, 0.2 s, … apart).
PERSIST_ATTEMPTS: Final = 5
PERSIST_BACKOFF_S: Final = 0.1

PostedCallback = Callable[[Sequence[str]], Awaitable[None]]


class Responder(Protocol):
    """A platform's side of answering jobs (one per platform, registered by the adapter).

    It keeps nothing per job: each attempt opens its own :class:`AnswerSurface`, and the
    dispatcher runs the answer into it (:func:`core.answering.show_answer`).
    """

    async def working(self, job: Job) -> None:
        """Show at once that work has started (a reaction, a status, a typing indicator).

        Best effort: errors are logged by the dispatcher and answering goes on.
        """

    async def still_working(self, job: Job) -> None:
        """Gloo has not started answering yet: show again that work goes on.

        Called every ``slow_notice_after`` seconds until the first text arrives (a typing
        indicator that expires, a status, an "hourglass" reaction). Best effort, like
        :meth:`working`.
        """

    async def recover(self, job: Job, known: Collection[str]) -> list[str]:
        """Find the messages an earlier attempt posted for ``job`` without recording them.

        Called before a re-driven job is delivered when no posted message was recorded: the
        process answering it may have died between posting and recording. Return the ids of
        the bot's messages in the job's thread, newer than the question, that are not in
        ``known`` (every question and answer message the inbox knows in that thread), oldest
        first. Answers in a thread are given one at a time, so such a message can only be
        this job's.
        """

    async def open(self, job: Job, posted: PostedCallback) -> AnswerSurface:
        """The surface for one attempt at ``job``: it edits the messages in ``job.posted``
        (an earlier attempt's) rather than posting new ones, and awaits ``posted(ids)`` with
        the ids of the messages it posts as soon as they are posted, so a re-driven job
        knows about them. Opening calls nothing on the platform."""


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard and how long the dispatcher tries (from settings; tests shorten it)."""

    max_attempts: int = 4
    retry_base: float = 5.0
    retry_max: float = 300.0
    lease: float = 30.0
    poll_interval: float = 2.0
    concurrency: int = 200
    slow_notice_after: float = 8.0
    #: Seconds a burst's window stays open after each message (:mod:`core.bursts`); 0: off.
    burst_window_dm: float = 0.0
    burst_window_channel: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            max_attempts=settings.inbox_max_attempts,
            retry_base=settings.inbox_retry_base,
            retry_max=settings.inbox_retry_max,
            lease=settings.inbox_lease,
            poll_interval=settings.inbox_poll_interval,
            concurrency=settings.inbox_concurrency,
            slow_notice_after=settings.slow_notice_after,
            burst_window_dm=settings.burst_window_dm_seconds,
            burst_window_channel=settings.burst_window_channel_seconds,
        )

    def burst_window(self, burst: Burst | None) -> float:
        """The window of ``burst``'s kind of conversation (0 without one: no burst)."""
        if burst is None:
            return 0.0
        return self.burst_window_dm if burst.direct else self.burst_window_channel

    def retry_delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before attempt ``attempt + 1``: exponential, at least what Gloo asked."""
        backoff = min(self.retry_max, self.retry_base * 2.0 ** max(0, attempt - 1))
        return max(backoff, retry_after or 0.0)


def trace_id(key: str) -> str:
    """The trace id of the question ``key``: the same wherever it is logged.

    Derived from the job key, so an adapter can bind it when the event arrives (before the
    job is submitted) and every later log line of the question, in any process, matches.
    """
    return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


def new_owner_id() -> str:
    """This process's identity in claims: host, pid and a random part (pids repeat)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Dispatcher:
    """Accepts jobs into the inbox and answers them through their platform's responder."""

    def __init__(
        self,
        service: ConversationService,
        inbox: Inbox,
        *,
        policy: DeliveryPolicy | None = None,
        quotas: Quotas | None = None,
        metrics: Metrics | None = None,
        owner: str | None = None,
        clock: Clock = time.monotonic,
        timers: Timers | None = None,
        changes: ChangeStore | None = None,
    ) -> None:
        self._service = service
        #: Edits and deletions (:mod:`core.edits`): offers of edited questions need it.
        self._changes = changes
        #: The answers running here, which a deletion of their question stops.
        self._switches = StopSwitches()
        self._clock = clock
        self._inbox = inbox
        self._policy = policy or DeliveryPolicy()
        self._quotas = quotas
        self._metrics = metrics
        self.owner = owner or new_owner_id()
        self._responders: dict[str, Responder] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: set[str] = set()
        #: Claims this process holds and has not yet ended itself, by job key: a number per
        #: claim, so a lease renewal can tell a lost claim from one ended meanwhile.
        self._claims: dict[str, int] = {}
        self._claim_numbers = itertools.count()
        #: Threads this process is answering a question of (how many), and the questions
        #: submitted to them meanwhile, kicked again when that answer ends.
        self._answering: collections.Counter[str] = collections.Counter()
        self._waiting: dict[str, list[str]] = {}
        #: Answer slots taken: by claims under way and jobs being answered. A slot is taken
        #: before the claim, so a burst of submissions never overshoots ``concurrency``.
        self._reserved = 0
        self._timers: set[asyncio.TimerHandle] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._closed = False
        self._active = ActiveThreads(clock)
        #: Open burst windows, and the bursts whose sign of work is already showing.
        self.bursts = BurstWindows(timers)
        self._working_shown: set[str] = set()

    @property
    def service(self) -> ConversationService:
        return self._service

    @property
    def policy(self) -> DeliveryPolicy:
        return self._policy

    @property
    def platforms(self) -> frozenset[str]:
        return frozenset(self._responders)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def register(self, platform: str, responder: Responder) -> None:
        """Answer jobs of ``platform`` (``ThreadKey.platform``) through ``responder``."""
        self._responders[platform] = responder

    async def submit(self, job: Job, *, burst: Burst | None = None) -> bool:
        """Accept ``job`` and start answering it; False when its key was accepted before.

        Returns once the job is committed to the inbox, so the adapter can acknowledge the
        platform. Raises when the inbox cannot store it (the platform should redeliver).
        With ``burst`` and a window for its kind of conversation, the job joins the burst
        open in its scope, or opens one (:mod:`core.bursts`).
        """
        if self._closed:
            raise RuntimeError("the dispatcher is shut down")
        job = intake.clean_job(job)  # storable whatever the platform sent (U+0000, …)
        platform = job.question.thread.platform
        if platform not in self._responders:
            raise LookupError(f"no responder registered for platform {platform!r}")
        window = self._policy.burst_window(burst)
        if burst is not None and window > 0:
            return await self._submit_burst(job, burst, window)
        with structlog.contextvars.bound_contextvars(trace=trace_id(job.key)):
            if not await self._inbox.accept(job):
                log.info("job.duplicate", job=job.key)
                return False
            log.info("job.accepted", job=job.key, thread=job.question.thread.as_str())
        if self._metrics is not None:
            self._metrics.questions.labels(platform).inc()
        thread = job.question.thread.as_str()
        self._active.add(thread)
        if thread in self._answering:
            # Its claim may fail while the thread's open question finishes (the finish names
            # the next question from before this one was stored): start it after that.
            self._waiting.setdefault(thread, []).append(job.key)
        self._kick(job.key)
        return True

    async def is_active(self, thread: ThreadKey) -> bool:
        """True when the bot is in this conversation: follow-ups need no mention.

        That is from the moment its first question is accepted, not only once the first
        answer has bound a chat — a reply written while that answer streams counts too.
        Threads this process accepted a question in, or found active lately, are answered
        from memory (:mod:`core.active_threads`): a follow-up costs no database read.
        """
        key = thread.as_str()
        if key in self._active:
            return True
        if await self._inbox.has_questions(thread) or await self._service.is_active(thread):
            self._active.add(key)
            return True
        return False

    def stop(self, key: str) -> bool:
        """Stop the answer to ``key`` if this process is writing it (its question was
        withdrawn, :mod:`core.stopping`); False when it is not answered here."""
        stopped = self._switches.stop(key)
        if stopped:
            log.info("job.stopping", job=key)
        return stopped

    def withdrawn(self, change: Change) -> None:
        """A deletion withdrew a question (``withdrawn`` or ``stopped``): stop its answer if it
        is written here, and start the thread's next question, which no longer waits."""
        if change.key is not None:
            self._working_shown.discard(change.key)
            self.bursts.drop_key(change.key)
            if change.outcome == "stopped":
                self.stop(change.key)
        if change.next_key is not None:
            self._kick(change.next_key)

    def offer_soon(self, change: Change) -> None:
        """:meth:`offer_edit` in the background (best effort: a failure is logged)."""
        self._spawn(self._offer_quietly(change), f"offer:{change.key}")

    async def offer_edit(self, change: Change) -> bool:
        """Offer the edited question of ``change`` (``offer``: its text and where it was
        asked) beneath its answer: one suggestion button, through the platform's responder
        if it can (:class:`~core.edits.EditOffers`). False when nothing was offered."""
        if change.key is None or change.text is None or change.thread is None:
            return False
        responder = self._responders.get(change.thread.platform)
        if self._changes is None or not isinstance(responder, EditOffers):
            return False
        ref = await self._changes.offer_edit(change.key, change.text)
        if ref is None:
            log.info("job.edit_not_offered", job=change.key)
            return False
        await responder.offer_edit(
            change.thread, change.user_id, change.text, ref, locale=change.locale
        )
        log.info("job.edit_offered", job=change.key)
        return True

    async def redrive(self) -> int:
        """Claim and start due or abandoned jobs of this process's platforms, and bursts whose
        window passed; how many."""
        room = self._policy.concurrency - self._reserved
        if self._closed or room <= 0 or not self._responders:
            return 0
        # No slots are held during the claim, so a question submitted meanwhile is kicked at
        # once (it may then pass the limit by the few kicks of that moment; a burst of
        # submissions alone never does, since each kick takes its slot before claiming).
        claimed = await self._inbox.claim_due(
            self.owner, self._lease, platforms=self.platforms, limit=room
        )
        jobs = [job for job in claimed if job.key not in self._running]
        self._reserved += len(jobs)
        for job in jobs:
            log.info("job.redriven", job=job.key, attempt=job.attempt)
            self._start(job)
        if jobs and self._metrics is not None:
            self._metrics.redrives.inc(len(jobs))
        return len(jobs) + await self._open_due_bursts()

    async def _open_due_bursts(self) -> int:
        """Open the bursts whose window passed without closing here (their process died
        inside it) and start them; how many."""
        try:
            opened = await self._inbox.open_due_bursts(self.platforms)
        except Exception:
            log.warning("job.burst_redrive_failed", exc_info=True)
            return 0
        for key in opened:
            self.bursts.drop_key(key)
            log.info("job.burst_opened_by_redrive", job=key)
            self._kick(key)
        return len(opened)

    async def run_redrive_loop(self) -> None:
        """Re-drive every ``poll_interval`` seconds until cancelled."""
        while True:
            try:
                await self.redrive()
            except Exception:
                log.warning("job.redrive_failed", exc_info=True)
            await asyncio.sleep(self._policy.poll_interval)

    async def drain(self, *, retries: bool = False) -> None:
        """Wait until no job is being answered by this process.

        With ``retries``, also until the retries this process scheduled have run (tests).
        """
        while self._tasks or self.bursts or (retries and self._timers):
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            else:
                await asyncio.sleep(0.01)

    async def close(self, grace: float | None = None) -> None:
        """Stop accepting; let jobs in flight finish for ``grace`` seconds, hand back the rest."""
        self._closed = True
        self.bursts.cancel_all()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        try:
            await asyncio.wait_for(self.drain(), grace)
        except TimeoutError:
            log.warning("job.shutdown_with_jobs_in_flight", count=len(self._running))
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        released = await self._inbox.release_all(self.owner)
        if released:
            log.info("job.handed_back", count=released)

    # --- running a job --------------------------------------------------------------------

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self._policy.lease)

    def _kick(self, key: str) -> None:
        """Try to claim ``key`` and answer it here (it stays pending if that is not possible)."""
        # A key whose claim is under way is claimed again: that claim may fail because the
        # thread's earlier question was still open, and this kick comes after it ended.
        if self._closed or key in self._running or self._reserved >= self._policy.concurrency:
            return
        self._reserved += 1
        self._spawn(self._claim_and_run(key), f"claim:{key}")

    def _start(self, job: Job) -> None:
        self._running.add(job.key)
        self._claims[job.key] = next(self._claim_numbers)
        self._spawn(self._run(job), f"job:{job.key}")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _claim_and_run(self, key: str) -> None:
        """Runs with a slot reserved by :meth:`_kick`; gives it back unless the job runs."""
        try:
            job = await self._inbox.claim(key, self.owner, self._lease)
        except Exception:
            log.warning("job.claim_failed", job=key, exc_info=True)  # re-driven later
            job = None
        if job is None or job.key in self._running:
            self._reserved -= 1
            return
        self._running.add(job.key)
        self._claims[job.key] = next(self._claim_numbers)
        await self._run(job)

    async def _run(self, job: Job) -> None:
        structlog.contextvars.bind_contextvars(job=job.key, trace=trace_id(job.key))
        self._ensure_heartbeat()
        thread = job.question.thread.as_str()
        self._answering[thread] += 1
        finished: Finished | None = None
        try:
            finished = await self._attempt(job)
        except Exception:
            # The inbox could not be read (quota check) or the failure notice crashed: the
            # lease runs out and the job is taken up again.
            log.exception("job.crashed")
        finally:
            self._running.discard(job.key)
            self._claims.pop(job.key, None)
            self._reserved -= 1
            self._answering[thread] -= 1
            if self._answering[thread] <= 0:
                del self._answering[thread]
            structlog.contextvars.unbind_contextvars("job", "trace")
        waiting = self._waiting.pop(thread, []) if thread not in self._answering else []
        edited = None if finished is None else finished.edited_text
        if edited is not None and edited != job.question.text:
            change = Change(
                "offer",
                job.key,
                text=edited,
                thread=job.question.thread,
                user_id=job.question.user_id,
                locale=job.question.locale,
            )
            self.offer_soon(change)
        if finished is None:
            await self._kick_next(job)
        elif finished.next_key is not None:
            self._kick(finished.next_key)  # named by the finish itself: no lookup
        for key in waiting:
            if finished is None or key != finished.next_key:
                self._kick(key)

    async def _offer_quietly(self, change: Change) -> None:
        """Offer an edit that came while answering (best effort: logged when it fails)."""
        try:
            await self.offer_edit(change)
        except Exception:
            log.warning("job.edit_offer_failed", job=change.key, exc_info=True)

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._keep_leases(), name="inbox-leases")

    async def _keep_leases(self) -> None:
        """Renew the leases of every job this process answers — one statement, not one per
        job — every third of a lease, while any job runs."""
        while self._running:
            await asyncio.sleep(self._policy.lease / 3)
            if not self._running:
                return
            # Only a claim held from before the renewal until after it can have been lost by
            # it; one taken, finished or handed back while the statement ran is not.
            before = dict(self._claims)
            try:
                held = await self._inbox.extend_leases(self.owner, self._lease)
            except Exception:
                log.warning("job.lease_renewal_failed", exc_info=True)
                continue
            lost = sorted(
                key
                for key, number in before.items()
                if key not in held and self._claims.get(key) == number
            )
            if lost:
                log.warning("job.claims_lost", jobs=lost)

    async def _attempt(self, job: Job) -> Finished | None:
        """One attempt at ``job``; what its finish said when it was answered (else None)."""
        responder = self._responders[job.question.thread.platform]
        posted = list(job.posted)
        in_order = asyncio.Lock()

        async def record(ids: Sequence[str]) -> None:
            new = [i for i in ids if i not in posted]
            if not new:
                return
            posted.extend(new)
            # The whole list is written, so the writes go one at a time: a later, longer
            # list never lands before an earlier one.
            async with in_order:
                snapshot = tuple(posted)
                await self._persist(
                    lambda: self._inbox.set_posted(job.key, self.owner, snapshot), "set_posted"
                )

        def current() -> Job:
            return replace(job, posted=tuple(posted))

        if self._quotas is not None:
            refusal = await self._quotas.check(job)
            if refusal is not None:
                thread = job.question.thread
                if self._quotas.notes.due(
                    thread.platform, thread.workspace, job.question.user_id, "quota"
                ):
                    await self._give_up(responder, None, current(), refusal, QUOTA_ERROR, record)
                else:  # told within the window: ignored quietly (logged by the notes)
                    await self._finish_quietly(job, QUOTA_ERROR)
                return None

        if job.attempt == 1 and job.key in self._working_shown:
            self._working_shown.discard(job.key)  # shown when the burst's first message came
        elif job.attempt == 1:
            await self._show_working(responder, job)
        elif not posted:
            # The attempt before may have posted and died before recording it.
            job = await self._recover(responder, job, record)

        kept: list[tuple[AnswerRecord, bool]] = []

        async def keep(answer: AnswerRecord, bind: bool) -> None:
            kept.append((answer, bind))  # stored with the finish, in one transaction

        surface: AnswerSurface | None = None
        started = asyncio.Event()
        notice = asyncio.Lock()  # held while a "still working" sign is being shown
        keep_alive = asyncio.create_task(self._keep_alive(responder, job, started, notice))
        try:
            surface = await responder.open(job, record)
            stream = self._service.stream(
                job.question, chat_id=job.chat_id, context=job.context, keep=keep
            )
            async with aclosing(stream), aclosing(_after_notice(stream, started, notice)) as events:
                # Closed however the answer ends, so the thread's lock is never left held
                # by an abandoned stream.
                reply = await self._switches.run(
                    job.key, show_answer(surface, events, clock=self._clock)
                )
        except AnswerStopped:
            keep_alive.cancel()  # no "still working" sign after the stop's last change
            await self._stopped(surface)
            self._claims.pop(job.key, None)  # cleared by the withdrawal
            self._count(job, "withdrawn")
            log.info("job.stopped", attempt=job.attempt)
            return None
        except AnswerFailed as exc:
            log.info("job.attempt_failed", reason=exc.user_message, retryable=exc.retryable)
            await self._after_failure(
                responder,
                surface,
                current(),
                record,
                exc.user_message,
                exc.retryable,
                exc.retry_after,
            )
            return None
        except Exception as exc:
            # A crash while rendering: the question is not lost, it is tried again.
            log.exception("job.delivery_crashed")
            await self._after_failure(
                responder,
                surface,
                current(),
                record,
                messages.INTERNAL_ERROR,
                True,
                None,
                repr(exc),
            )
            return None
        finally:
            keep_alive.cancel()
            if surface is not None:
                surface.close()
        answer, bind = kept[-1] if kept else (None, False)
        if answer is not None:
            answer = replace(answer, platform_message_ids=tuple(posted))
        self._claims.pop(job.key, None)  # ended here, not lost
        # The answer, its chat binding, the messages showing it and the end of the claim
        # are one transaction, which also names the thread's next question.
        finished = await self._persist(
            lambda: self._inbox.finish_answered(
                job.key, self.owner, answer, bind=bind, posted=posted
            ),
            "finish",
        )
        if finished is not None and bind and finished.bound_chat_id != reply.chat_id:
            log.warning("chat.bind_lost_race", kept=finished.bound_chat_id, got=reply.chat_id)
        self._count(job, "answered")
        log.info("job.answered", attempt=job.attempt, messages=len(posted), reply=reply.answer_id)
        return finished

    async def _stopped(self, surface: AnswerSurface | None) -> None:
        """The question was deleted while being answered: leave what was shown readable and
        say why it ends there, if the surface can."""
        if surface is None:
            return
        try:
            if isinstance(surface, StopsAnswers):
                await surface.stopped()
            else:
                await surface.halt()
        except Exception:
            log.warning("job.stop_notice_failed", exc_info=True)

    async def _show_working(self, responder: Responder, job: Job) -> None:
        try:
            await responder.working(job)
        except Exception:
            log.warning("job.working_indicator_failed", exc_info=True)

    # --- bursts (core/bursts.py) ------------------------------------------------------------

    async def _submit_burst(self, job: Job, burst: Burst, window: float) -> bool:
        """Add ``job`` to the burst open in its scope, else open one with it."""
        until = utcnow() + timedelta(seconds=window)
        thread = job.question.thread.as_str()
        with structlog.contextvars.bound_contextvars(trace=trace_id(job.key)):
            open_key = self.bursts.key_of(burst.scope)
            if open_key is not None:
                added = await self._inbox.add_burst_part(open_key, job, until)
                if added is None:
                    log.info("job.duplicate", job=job.key)
                    return False
                if added:
                    parts = self.bursts.extend(burst.scope, window)
                    log.info("job.burst_part", job=job.key, burst=open_key, parts=parts)
                    return True
                self.bursts.drop(burst.scope)  # closed meanwhile: this one is a new question
            if not await self._inbox.accept(job, gathering_until=until):
                log.info("job.duplicate", job=job.key)
                return False
            log.info("job.accepted", job=job.key, thread=thread, gathering=window)
        if self._metrics is not None:
            self._metrics.questions.labels(job.question.thread.platform).inc()
        self._active.add(thread)

        def close() -> None:
            self._spawn(self._open_burst(job), f"burst:{job.key}")

        self.bursts.open(burst.scope, job.key, window, close)
        self._working_shown.add(job.key)
        responder = self._responders[job.question.thread.platform]
        self._spawn(self._show_working(responder, job), f"working:{job.key}")
        return True

    async def _open_burst(self, job: Job) -> None:
        """The window of ``job``'s burst closed: its joined question is answered."""
        with structlog.contextvars.bound_contextvars(trace=trace_id(job.key)):
            try:
                opened = await self._inbox.open_burst(job.key)
            except Exception:
                # Still gathering, its window passed: the next re-drive opens it.
                log.warning("job.burst_open_failed", job=job.key, exc_info=True)
                return
            if not opened:
                return  # a re-drive opened it first and kicked it
            log.info("job.burst_closed", job=job.key)
        thread = job.question.thread.as_str()
        if thread in self._answering:
            self._waiting.setdefault(thread, []).append(job.key)
        self._kick(job.key)

    async def _recover(self, responder: Responder, job: Job, record: PostedCallback) -> Job:
        try:
            known = await self._inbox.known_messages(job.question.thread)
            found = await responder.recover(job, known)
        except Exception:
            log.warning("job.recover_failed", exc_info=True)
            return job
        if not found:
            return job
        log.warning("job.recovered_unrecorded_messages", messages=found)
        await record(found)
        return replace(job, posted=tuple(found))

    async def _keep_alive(
        self, responder: Responder, job: Job, started: asyncio.Event, notice: asyncio.Lock
    ) -> None:
        """Until Gloo's first text, tell the responder every ``slow_notice_after`` seconds.

        Each notice is shown under ``notice``, and only while nothing has started: the
        answer's first text waits for one being shown (:func:`_after_notice`), so a late
        "still working" never lands after the answer (where Slack would keep showing it).
        """
        interval = self._policy.slow_notice_after
        if interval <= 0:
            return
        while True:
            try:
                await asyncio.wait_for(started.wait(), interval)
                return
            except TimeoutError:
                pass
            async with notice:
                if started.is_set():
                    return
                log.info("job.still_waiting_for_gloo")
                try:
                    await responder.still_working(job)
                except Exception:
                    log.warning("job.still_working_failed", exc_info=True)

    async def _after_failure(
        self,
        responder: Responder,
        surface: AnswerSurface | None,
        job: Job,
        record: PostedCallback,
        message: str,
        retryable: bool,
        retry_after: float | None,
        detail: str | None = None,
    ) -> None:
        if retryable and job.attempt < self._policy.max_attempts:
            delay = self._policy.retry_delay(job.attempt, retry_after)
            retry_at = utcnow() + timedelta(seconds=delay)
            self._claims.pop(job.key, None)
            released = await self._persist(
                lambda: self._inbox.release(job.key, self.owner, retry_at, detail or message),
                "release",
            )
            if released:
                log.info("job.retry_scheduled", attempt=job.attempt, delay=round(delay, 3))
                self._kick_later(job.key, delay)
            return
        final = message if not retryable else messages.gave_up(job.attempt, message)
        await self._give_up(responder, surface, job, final, detail or message, record)

    async def _give_up(
        self,
        responder: Responder,
        surface: AnswerSurface | None,
        job: Job,
        message: str,
        error: str,
        record: PostedCallback,
    ) -> None:
        """Say ``message`` on the attempt's surface (one is opened when the attempt had none)
        and mark the job failed."""
        opened: AnswerSurface | None = None
        try:
            if surface is None:
                surface = opened = await responder.open(job, record)
            # Said in the asker's language (a Message; a plain str is shown as it is).
            await surface.failure(localize(message, job.question.locale))
        except Exception:
            log.exception("job.failure_notice_failed")
        finally:
            if opened is not None:
                opened.close()
        self._claims.pop(job.key, None)
        await self._persist(
            lambda: self._inbox.finish(job.key, self.owner, "failed", error), "finish"
        )
        self._count(job, "quota" if error == QUOTA_ERROR else "failed")
        log.warning("job.failed", attempts=job.attempt, reason=error)

    async def _finish_quietly(self, job: Job, error: str) -> None:
        """Mark ``job`` failed without a note to its asker."""
        self._claims.pop(job.key, None)
        await self._persist(
            lambda: self._inbox.finish(job.key, self.owner, "failed", error), "finish"
        )
        self._count(job, "quota" if error == QUOTA_ERROR else "failed")
        log.info("job.failed_quietly", attempts=job.attempt, reason=error)

    def _count(self, job: Job, outcome: str) -> None:
        if self._metrics is None:
            return
        platform = job.question.thread.platform
        self._metrics.answers.labels(platform, outcome).inc()
        if outcome == "answered" and job.accepted_at is not None:
            elapsed = (utcnow() - job.accepted_at).total_seconds()
            self._metrics.end_to_end.labels(platform).observe(max(0.0, elapsed))

    async def _persist(self, write: Callable[[], Awaitable[T]], what: str) -> T | None:
        """Write to the inbox, riding out a short database outage.

        A write that still fails is logged and dropped: the claim's lease then runs out and
        the job is taken up again — at worst answered a second time into the same message,
        never lost.
        """
        for attempt in range(PERSIST_ATTEMPTS):
            try:
                return await write()
            except Exception:
                if attempt == PERSIST_ATTEMPTS - 1:
                    log.exception("job.inbox_write_failed", write=what)
                    return None
                log.warning("job.inbox_write_retry", write=what, attempt=attempt + 1)
                await asyncio.sleep(PERSIST_BACKOFF_S * 2**attempt)
        return None

    def _kick_later(self, key: str, delay: float) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(timer)
            self._kick(key)

        timer = loop.call_later(delay, fire)
        self._timers.add(timer)

    async def _kick_next(self, job: Job) -> None:
        """The thread's next question waited for this one: start it now."""
        try:
            key = await self._inbox.next_in_thread(job.question.thread)
        except Exception:
            log.warning("job.next_lookup_failed", exc_info=True)
            return
        if key is not None:
            self._kick(key)


async def _after_notice(
    events: AsyncIterator[StreamEvent], started: asyncio.Event, notice: asyncio.Lock
) -> AsyncGenerator[StreamEvent, None]:
    """``events``, the first of Gloo's text or reply held until a "still working" sign
    being shown is done (see :meth:`Dispatcher._keep_alive`); ``started`` is set then.
    Steps (a task card's "Searching Gloo's sources") are not Gloo's first text."""
    async for item in events:
        if not started.is_set() and not isinstance(item, SearchingSources | SourcesFound):
            started.set()
            async with notice:
                pass
        yield item
