"""How an accepted question travels to its answer on a platform.

An adapter turns a platform event into a :class:`Job` and hands it to the
:class:`Dispatcher` with :meth:`Dispatcher.submit`, then acknowledges the platform at once.
The dispatcher answers in the background: it streams the answer from the
:class:`~core.service.ConversationService` into the platform's :class:`Responder`, which
posts and edits messages natively. Everything a responder needs to answer is in the job,
so a job can be answered again by any process after a crash or a failed attempt; the
platform messages an earlier attempt already posted travel with it (:attr:`Job.posted`),
so the responder edits them instead of posting a second answer.

``submit`` is idempotent on :attr:`Job.key`: a platform's redelivery of the same event
(Slack's Events API retries, ``app_mention`` plus ``message`` for one message) is accepted
once and answered once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

import structlog

from core import messages
from core.service import AnswerFailed, ConversationService, StreamEvent
from core.types import Question, Reply

__all__ = [
    "Dispatcher",
    "Job",
    "PostedCallback",
    "Responder",
    "StreamEvent",
]

log = structlog.get_logger(__name__)

#: How many recently accepted job keys are remembered for de-duplication.
DEDUPE_CAPACITY: Final = 50_000


@dataclass(frozen=True, slots=True)
class Job:
    """One accepted question, with everything needed to answer it on its platform.

    ``key`` is unique per platform question and stable across redeliveries, e.g.
    ``slack:T1:C1:1700000000.000100`` (the message) or ``discord:interaction:123``.
    ``chat_id`` continues a specific Gloo chat (a clicked suggestion). ``posted`` lists the
    platform message ids already posted for this answer by earlier attempts, oldest first.
    """

    key: str
    question: Question
    chat_id: str | None = None
    posted: tuple[str, ...] = ()
    attempt: int = 1
    accepted_at: float = field(default_factory=time.time)


PostedCallback = Callable[[Sequence[str]], Awaitable[None]]


class Responder(Protocol):
    """A platform's side of answering a job (one per platform, registered by the adapter)."""

    async def working(self, job: Job) -> None:
        """Show at once that work has started (a reaction, a status, a typing indicator).

        Best effort: errors are logged by the dispatcher and answering goes on.
        """

    async def deliver(
        self, job: Job, answer: AsyncIterator[StreamEvent], posted: PostedCallback
    ) -> None:
        """Render the answer natively as it streams: text deltas, then exactly one Reply.

        Edit the messages in ``job.posted`` (an earlier attempt's) rather than posting new
        ones. Await ``posted(ids)`` with the ids of messages as soon as they are posted, so
        a re-driven job knows about them. Let :class:`~core.service.AnswerFailed` from
        ``answer`` propagate (after leaving any partial message readable).
        """

    async def failed(self, job: Job, message: str) -> None:
        """Tell the user in plain words that this question could not be answered.

        ``job.posted`` lists the messages posted so far (a placeholder or partial answer
        can be edited to carry the sentence).
        """


class _RecentKeys:
    """A bounded set of recently seen keys (oldest forgotten first)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """Remember ``key``; False when it was already there."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return True


class Dispatcher:
    """Accepts jobs once and answers each in the background through its platform's responder."""

    def __init__(
        self,
        service: ConversationService,
        *,
        dedupe_capacity: int = DEDUPE_CAPACITY,
    ) -> None:
        self._service = service
        self._responders: dict[str, Responder] = {}
        self._seen = _RecentKeys(dedupe_capacity)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def service(self) -> ConversationService:
        return self._service

    def register(self, platform: str, responder: Responder) -> None:
        """Answer jobs of ``platform`` (``ThreadKey.platform``) through ``responder``."""
        self._responders[platform] = responder

    async def submit(self, job: Job) -> bool:
        """Accept ``job`` and start answering it; False when its key was accepted before.

        Returns as soon as the job is accepted, so the adapter can acknowledge the platform.
        """
        if self._closed:
            raise RuntimeError("the dispatcher is shut down")
        platform = job.question.thread.platform
        if platform not in self._responders:
            raise LookupError(f"no responder registered for platform {platform!r}")
        if not self._seen.add(job.key):
            log.info("job.duplicate", job=job.key)
            return False
        log.info("job.accepted", job=job.key, thread=job.question.thread.as_str())
        task = asyncio.create_task(self._run(job), name=f"job:{job.key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until every accepted job has been answered (or told it failed)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop accepting jobs, and wait for the ones in flight."""
        self._closed = True
        await self.drain()

    async def _run(self, job: Job) -> None:
        responder = self._responders[job.question.thread.platform]
        structlog.contextvars.bind_contextvars(job=job.key)
        try:
            await self._answer(job, responder)
        finally:
            structlog.contextvars.unbind_contextvars("job")

    async def _answer(self, job: Job, responder: Responder) -> None:
        posted = list(job.posted)

        async def record(ids: Sequence[str]) -> None:
            posted.extend(i for i in ids if i not in posted)

        try:
            await responder.working(job)
        except Exception:
            log.warning("job.working_indicator_failed", exc_info=True)

        reply: Reply | None = None

        async def events() -> AsyncIterator[StreamEvent]:
            nonlocal reply
            async for event in self._service.stream(job.question, chat_id=job.chat_id):
                if isinstance(event, Reply):
                    reply = event
                yield event

        try:
            await responder.deliver(job, events(), record)
        except AnswerFailed as exc:
            log.info("job.failed", reason=exc.user_message, retryable=exc.retryable)
            await self._tell_failure(
                responder, replace(job, posted=tuple(posted)), exc.user_message
            )
            return
        except Exception:
            log.exception("job.delivery_crashed")
            await self._tell_failure(
                responder, replace(job, posted=tuple(posted)), messages.INTERNAL_ERROR
            )
            return
        if reply is not None and posted:
            try:
                await self._service.attach_messages(reply.answer_id, posted)
            except Exception:
                log.warning("job.attach_messages_failed", exc_info=True)
        log.info("job.answered", messages=len(posted))

    async def _tell_failure(self, responder: Responder, job: Job, message: str) -> None:
        try:
            await responder.failed(job, message)
        except Exception:
            log.exception("job.failure_notice_failed")
