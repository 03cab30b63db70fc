"""The dispatcher: accepted once, answered once, retried, ordered, handed back, limited."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
import structlog

from core import messages
from core.delivery import Dispatcher, PostedCallback, trace_id
from core.ports import Finished
from core.simulator import Simulator, SimulatorConfig
from core.store.sql import SqlStore
from core.types import Job, Question, Reply, ThreadKey
from tests.harness import core_on_simulator, wait_until

THREAD = ThreadKey("test", "W1", "C1", "t1")
FAST: dict[str, Any] = {
    "inbox_retry_base": 0.0,
    "inbox_max_attempts": 3,
    "quota_user_per_minute": 0,
}


@dataclass
class Delivered:
    job: Job
    message_ids: tuple[str, ...]
    text: str
    reply: Reply


@dataclass
class RecordingResponder:
    """A platform that records what it was asked to show; can crash on demand."""

    crash_times: int = 0
    signalled: list[str] = field(default_factory=list)
    kept_alive: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)
    failures: list[tuple[Job, str]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    async def working(self, job: Job) -> None:
        self.signalled.append(job.key)

    async def still_working(self, job: Job) -> None:
        self.kept_alive.append(job.key)

    async def recover(self, job: Job, known: Collection[str]) -> list[str]:
        """Messages "found" on the platform: ``orphans`` not yet known to the inbox."""
        return [m for m in self.orphans if m not in known]

    async def open(self, job: Job, posted: PostedCallback) -> RecordingSurface:
        surface = RecordingSurface(self, job, posted, list(job.posted))
        await surface.start()
        return surface


@dataclass
class RecordingSurface:
    """One attempt's "message": a placeholder posted as the attempt starts (unless an earlier
    attempt's is there), edited until the answer ends."""

    platform: RecordingResponder
    job: Job
    posted: PostedCallback
    message_ids: list[str]
    text: str = ""

    def pace(self) -> float:
        return 0.0

    async def start(self) -> None:
        self.platform.started.append(self.job.key)
        self.platform.traces.append(structlog.contextvars.get_contextvars().get("trace", ""))
        if not self.message_ids:
            self.message_ids.append(f"msg-{next(self.platform.ids)}")
            await self.posted(list(self.message_ids))

    async def progress(self, text: str) -> None:
        self.text = text
        if self.platform.crash_times:
            self.platform.crash_times -= 1
            raise RuntimeError("renderer bug")

    async def final(self, reply: Reply) -> None:
        self.platform.delivered.append(
            Delivered(self.job, tuple(self.message_ids), self.text, reply)
        )

    def close(self) -> None:
        self.platform.closed.append(self.job.key)

    async def halt(self) -> None:
        return None

    async def failure(self, sentence: str) -> None:
        job = replace(self.job, posted=tuple(self.message_ids))
        self.platform.failures.append((job, sentence))


def question_job(key: str, text: str = "What is grace?", **kw: object) -> Job:
    thread = kw.pop("thread", THREAD)
    assert isinstance(thread, ThreadKey)
    user = str(kw.get("user", "U1"))
    return Job(
        key=key, question=Question(thread, text, user_id=user, locale=str(kw.get("locale", "")))
    )


@asynccontextmanager
async def dispatcher_for(
    store: SqlStore, sim: Simulator | None = None, **settings: object
) -> AsyncIterator[tuple[Dispatcher, RecordingResponder, Simulator]]:
    async with core_on_simulator(store, simulator=sim, **{**FAST, **settings}) as (c, simulator):
        responder = RecordingResponder()
        c.dispatcher.register("test", responder)
        yield c.dispatcher, responder, simulator


async def test_a_job_is_answered_once_and_its_messages_remembered(store: SqlStore) -> None:
    async with dispatcher_for(store) as (dispatcher, responder, sim):
        assert await dispatcher.submit(question_job("k1"))
        assert not await dispatcher.submit(question_job("k1"))  # a redelivery
        await dispatcher.drain(retries=True)
    assert len(responder.delivered) == 1
    delivered = responder.delivered[0]
    assert delivered.text == delivered.reply.text
    assert responder.signalled == ["k1"]
    assert responder.traces == [trace_id("k1")]  # every log line of the answer carries it
    assert len(sim.message_records) == 1
    record = await store.get_answer(delivered.reply.answer_id)
    assert record is not None
    assert record.platform_message_ids == delivered.message_ids
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.status == "answered"


async def test_a_transient_failure_is_retried_and_edits_what_was_posted(store: SqlStore) -> None:
    sim = Simulator(SimulatorConfig())
    sim.inject(*["500"] * 3)  # the Gloo client's own three attempts all fail
    async with dispatcher_for(store, sim) as (dispatcher, responder, sim):
        await dispatcher.submit(question_job("k1"))
        await dispatcher.drain(retries=True)
    assert responder.failures == []
    assert responder.started == ["k1", "k1"]
    [delivered] = responder.delivered
    assert delivered.job.attempt == 2
    assert delivered.message_ids == ("msg-0",)  # the first attempt's message, edited
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.status == "answered"
    assert entry.attempts == 2


async def test_a_crash_while_rendering_is_retried(store: SqlStore) -> None:
    async with dispatcher_for(store) as (dispatcher, responder, _sim):
        responder.crash_times = 1
        await dispatcher.submit(question_job("k1"))
        await dispatcher.drain(retries=True)
    assert len(responder.delivered) == 1
    assert responder.failures == []


async def test_a_question_that_keeps_failing_is_told_so_once(store: SqlStore) -> None:
    sim = Simulator(SimulatorConfig(error_500=1.0))
    async with dispatcher_for(store, sim) as (dispatcher, responder, sim):
        await dispatcher.submit(question_job("k1"))
        await dispatcher.drain(retries=True)
    assert responder.delivered == []
    [(job, message)] = responder.failures
    assert job.attempt == 3
    assert message.startswith("Sorry, I tried 3 times")
    assert job.posted == ("msg-0",)  # the placeholder to turn into the sentence
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.status == "failed"


async def test_a_question_gloo_refuses_is_not_retried(store: SqlStore) -> None:
    async with dispatcher_for(store) as (dispatcher, responder, _sim):
        await dispatcher.submit(question_job("k1", text="   "))
        await dispatcher.drain(retries=True)
    [(job, message)] = responder.failures
    assert message == messages.EMPTY_QUESTION
    assert job.attempt == 1


async def test_questions_of_one_thread_are_answered_in_order(store: SqlStore) -> None:
    sim = Simulator(SimulatorConfig(first_chunk_latency=0.02))
    async with dispatcher_for(store, sim) as (dispatcher, responder, sim):
        for i in range(4):
            await dispatcher.submit(question_job(f"k{i}", text=f"Question {i}?"))
        await dispatcher.drain(retries=True)
    assert [d.job.key for d in responder.delivered] == ["k0", "k1", "k2", "k3"]
    chats = {record.response_chat_id for record in sim.message_records}
    assert len(chats) == 1  # one chat for the thread, created by the first answer
    assert sim.message_records[0].chat_id is None


async def test_messages_posted_at_once_are_all_recorded_before_the_finish(
    store: SqlStore,
) -> None:
    seen: list[tuple[str, ...]] = []

    class Continuing(RecordingSurface):
        async def progress(self, text: str) -> None:
            if "more-1" in self.message_ids:
                return
            # Two continuation messages posted together, as a long Discord answer does.
            self.message_ids += ["more-1", "more-2"]
            await asyncio.gather(self.posted(["more-1"]), self.posted(["more-2"]))

        async def final(self, reply: Reply) -> None:
            entry = await store.inbox_entry(self.job.key)
            assert entry is not None
            seen.append(entry.job.posted)  # what a re-drive would find, before the finish
            await super().final(reply)

    class Responder(RecordingResponder):
        async def open(self, job: Job, posted: PostedCallback) -> RecordingSurface:
            surface = Continuing(self, job, posted, list(job.posted))
            await surface.start()
            return surface

    async with core_on_simulator(store, **FAST) as (c, _sim):
        responder = Responder()
        c.dispatcher.register("test", responder)
        await c.dispatcher.submit(question_job("k1"))
        await c.dispatcher.drain(retries=True)
    assert seen == [("msg-0", "more-1", "more-2")]
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.job.posted == ("msg-0", "more-1", "more-2")


async def test_a_thread_is_active_from_its_first_question_and_then_known_without_a_read(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = ThreadKey("test", "W1", "C1", "t-other")
    async with dispatcher_for(store) as (dispatcher, _responder, _sim):
        assert not await dispatcher.is_active(THREAD)
        await dispatcher.submit(question_job("k1"))
        reads: list[ThreadKey] = []

        async def has_questions(thread: ThreadKey) -> bool:
            reads.append(thread)
            return False

        monkeypatch.setattr(store, "has_questions", has_questions)
        assert await dispatcher.is_active(THREAD)  # accepted here: known
        assert not await dispatcher.is_active(other)  # unknown: the inbox is asked
        assert reads == [other]
        await dispatcher.drain(retries=True)


async def test_a_thread_another_process_answered_is_found_in_the_inbox_once(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.accept(question_job("k1"))  # accepted by another process
    async with dispatcher_for(store) as (dispatcher, _responder, _sim):
        assert await dispatcher.is_active(THREAD)

        async def unreadable(thread: ThreadKey) -> bool:
            raise AssertionError("asked the inbox again")

        monkeypatch.setattr(store, "has_questions", unreadable)
        assert await dispatcher.is_active(THREAD)


async def test_a_dead_process_s_job_is_redriven_by_another(store: SqlStore) -> None:
    await store.accept(question_job("k1"))
    await store.claim("k1", "dead-process", timedelta(seconds=-1))
    await store.set_posted("k1", "dead-process", ["msg-partial"])
    async with dispatcher_for(store) as (dispatcher, responder, _sim):
        assert await dispatcher.redrive() == 1
        await dispatcher.drain(retries=True)
    [delivered] = responder.delivered
    assert delivered.message_ids == ("msg-partial",)
    assert responder.signalled == []  # not a fresh question: no second "working" signal


async def test_closing_hands_unfinished_jobs_back(store: SqlStore) -> None:
    sim = Simulator(SimulatorConfig(hang=1.0, hang_seconds=30))
    async with dispatcher_for(store, sim) as (dispatcher, responder, sim):
        await dispatcher.submit(question_job("k1"))
        await wait_until(lambda: "k1" in responder.started)
        await dispatcher.close(grace=0.05)
        with pytest.raises(RuntimeError):
            await dispatcher.submit(question_job("k2"))
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.status == "pending"
    assert entry.claimed_by is None


async def test_a_user_over_the_quota_is_told_and_gloo_is_not_asked(store: SqlStore) -> None:
    async with dispatcher_for(store, quota_user_per_minute=2) as (dispatcher, responder, sim):
        for i in range(3):
            await dispatcher.submit(
                question_job(f"k{i}", thread=ThreadKey("test", "W1", "C", str(i)))
            )
        await dispatcher.submit(question_job("other", user="U2"))
        await dispatcher.drain(retries=True)
    assert len(responder.delivered) == 3
    [(job, message)] = responder.failures
    assert job.key == "k2"
    assert "limit of 2 questions per minute" in message
    assert len(sim.message_records) == 3


async def test_the_failure_sentence_is_said_in_the_askers_language(store: SqlStore) -> None:
    # The locale travels with the question through the inbox (claimed from its row), so a
    # sentence posted attempts later is in the asker's language; Gloo's errors are English.
    sim = Simulator(SimulatorConfig(error_500=1.0))
    async with dispatcher_for(store, sim) as (dispatcher, responder, sim):
        await dispatcher.submit(question_job("k1", locale="es-ES"))
        await dispatcher.drain(retries=True)
    [(job, message)] = responder.failures
    assert job.question.locale == "es-ES"
    assert message.startswith("Lo siento, lo intenté 3 veces pero no pude obtener una respuesta")
    assert "Si sigue pasando, avisa a un administrador." in message


async def test_a_usage_limit_note_is_said_in_the_askers_language(store: SqlStore) -> None:
    async with dispatcher_for(store, quota_user_per_minute=1) as (dispatcher, responder, _sim):
        for i in range(2):
            thread = ThreadKey("test", "W1", "C", str(i))
            await dispatcher.submit(question_job(f"k{i}", thread=thread, locale="pt-BR"))
        await dispatcher.drain(retries=True)
    [(_job, message)] = responder.failures
    assert message.startswith("Você atingiu o limite de 1 pergunta por minuto")


def test_trace_ids_are_short_stable_and_distinct() -> None:
    assert trace_id("slack:T1:C1:1700.1") == trace_id("slack:T1:C1:1700.1")
    assert trace_id("slack:T1:C1:1700.1") != trace_id("slack:T1:C1:1700.2")
    assert len(trace_id("k")) == 12


async def test_a_slow_gloo_gets_still_working_notices_until_text_arrives(store: SqlStore) -> None:
    sim = Simulator(SimulatorConfig(first_chunk_latency=0.35))
    async with dispatcher_for(store, sim, slow_notice_after=0.1) as (dispatcher, responder, _):
        await dispatcher.submit(question_job("slow"))
        await dispatcher.drain()
        notices = responder.kept_alive.count("slow")
        await asyncio.sleep(0.25)  # nothing more once the answer has come
    assert notices >= 2  # every 0.1 s until the first text, at about 0.35 s
    assert responder.kept_alive.count("slow") == notices
    assert len(responder.delivered) == 1


@dataclass
class SlowNoticeResponder(RecordingResponder):
    """Its "still working" sign takes long to show: it ends once the answer's text shows,
    or after ``notice_s`` when the text waits for it."""

    notice_s: float = 0.5
    order: list[str] = field(default_factory=list)
    text_shown: asyncio.Event = field(default_factory=asyncio.Event)

    async def still_working(self, job: Job) -> None:
        self.order.append("notice")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.text_shown.wait(), self.notice_s)
        self.order.append("notice shown")

    async def open(self, job: Job, posted: PostedCallback) -> RecordingSurface:
        surface = await super().open(job, posted)
        progress = surface.progress

        async def shown(text: str) -> None:
            self.order.append("text")
            self.text_shown.set()
            await progress(text)

        surface.progress = shown  # type: ignore[method-assign]
        return surface


async def test_the_answer_text_waits_for_a_still_working_sign_being_shown(
    store: SqlStore,
) -> None:
    """A sign shown after the answer's first text would stay up (Slack clears a status when
    the reply posts, not when a late setStatus lands after it)."""
    sim = Simulator(SimulatorConfig(first_chunk_latency=0.15))
    async with core_on_simulator(store, simulator=sim, **{**FAST, "slow_notice_after": 0.1}) as (
        c,
        _,
    ):
        responder = SlowNoticeResponder()
        c.dispatcher.register("test", responder)
        await c.dispatcher.submit(question_job("slow"))
        await c.dispatcher.drain()
    assert responder.order[:3] == ["notice", "notice shown", "text"]
    assert responder.order.count("notice") == 1  # none once the text is on its way
    assert len(responder.delivered) == 1


async def test_a_long_answer_keeps_its_claim_past_the_first_lease(store: SqlStore) -> None:
    sim = Simulator(SimulatorConfig(first_chunk_latency=2.0))
    async with (
        dispatcher_for(store, sim, inbox_lease=1.0) as (busy, responder, _),
        dispatcher_for(store, sim, inbox_lease=1.0) as (other, other_responder, _),
    ):
        await busy.submit(question_job("long"))
        await asyncio.sleep(1.5)  # past the first lease: renewed, not abandoned
        assert await other.redrive() == 0
        await busy.drain()
    assert [d.job.key for d in responder.delivered] == ["long"]
    assert other_responder.started == []


async def test_a_redriven_job_adopts_what_its_dead_attempt_posted_unrecorded(
    store: SqlStore,
) -> None:
    await store.accept(question_job("k1"))
    await store.claim("k1", "dead-process", timedelta(seconds=-1))  # died before recording
    async with dispatcher_for(store) as (dispatcher, responder, _):
        responder.orphans = ["msg-unrecorded"]
        assert await dispatcher.redrive() == 1
        await dispatcher.drain(retries=True)
    [delivered] = responder.delivered
    assert delivered.message_ids == ("msg-unrecorded",)  # edited, not posted again
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.job.posted == ("msg-unrecorded",)


@dataclass
class GatedResponder(RecordingResponder):
    """Holds every answer until released, counting how many are being answered at once."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    now: int = 0
    most: int = 0

    async def open(self, job: Job, posted: PostedCallback) -> RecordingSurface:
        self.now += 1
        self.most = max(self.most, self.now)
        await self.gate.wait()
        surface = GatedSurface(self, job, posted, list(job.posted))
        await surface.start()
        return surface


@dataclass
class GatedSurface(RecordingSurface):
    async def final(self, reply: Reply) -> None:
        await super().final(reply)
        assert isinstance(self.platform, GatedResponder)
        self.platform.now -= 1


async def test_a_burst_never_has_more_answers_in_flight_than_the_limit(store: SqlStore) -> None:
    # 40 mentions in 40 threads with INBOX_CONCURRENCY=5: before the slot was reserved ahead
    # of the claim, all 40 claims were started (28 answered at once in the bench).
    async with core_on_simulator(store, **{**FAST, "inbox_concurrency": 5}) as (c, _):
        responder = GatedResponder()
        c.dispatcher.register("test", responder)
        dispatcher = c.dispatcher
        for i in range(40):
            thread = ThreadKey("test", "W1", "C1", f"burst-{i}")
            assert await dispatcher.submit(question_job(f"b{i}", thread=thread))
        await wait_until(lambda: responder.now == 5)
        # Every claim started by the burst has ended: the five held are all there are.
        await wait_until(lambda: len(dispatcher._tasks) == 5)
        assert await dispatcher.redrive() == 0  # no room left for a re-drive either
        assert responder.most == 5
        responder.gate.set()
        while len(responder.delivered) < 40:
            await dispatcher.drain()
            await dispatcher.redrive()
            assert dispatcher.in_flight <= 5
    assert responder.most == 5
    assert sorted(d.job.key for d in responder.delivered) == sorted(f"b{i}" for i in range(40))


async def test_a_claim_ended_while_its_lease_is_renewed_is_not_reported_lost(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's finish commits, then the renewal runs before the job has left the running
    set: the claim ended here, it was not lost (and a stolen claim still is)."""
    finished, renewed = asyncio.Event(), asyncio.Event()
    finish, extend = store.finish_answered, store.extend_leases

    async def slow_finish(key: str, owner: str, *args: Any, **kwargs: Any) -> Finished:
        done = await finish(key, owner, *args, **kwargs)
        finished.set()
        await renewed.wait()  # the job stays "running" until a renewal has looked
        return done

    async def watched_extend(owner: str, lease: timedelta) -> set[str]:
        held = await extend(owner, lease)
        if finished.is_set():
            renewed.set()
        return held

    monkeypatch.setattr(store, "finish_answered", slow_finish)
    monkeypatch.setattr(store, "extend_leases", watched_extend)
    sim = Simulator(SimulatorConfig(first_chunk_latency=0.05))
    with structlog.testing.capture_logs() as logs:
        async with dispatcher_for(store, sim, inbox_lease=0.15) as (dispatcher, responder, _):
            await dispatcher.submit(question_job("k1"))
            await dispatcher.drain()
    assert [d.job.key for d in responder.delivered] == ["k1"]
    assert renewed.is_set()
    assert not [e for e in logs if e["event"] == "job.claims_lost"]


async def test_a_stolen_claim_is_reported_lost(store: SqlStore) -> None:
    sim = Simulator(SimulatorConfig(first_chunk_latency=0.4))
    with structlog.testing.capture_logs() as logs:
        async with dispatcher_for(store, sim, inbox_lease=0.15) as (dispatcher, responder, _):
            await dispatcher.submit(question_job("k1"))
            await wait_until(lambda: "k1" in responder.started)
            # Another process takes the question over (its lease had run out, say).
            await store.release_all(dispatcher.owner)
            assert await store.claim("k1", "other-process", timedelta(seconds=30)) is not None
            await wait_until(lambda: any(e["event"] == "job.claims_lost" for e in logs))
            await dispatcher.drain()
    lost = [e["jobs"] for e in logs if e["event"] == "job.claims_lost"]
    assert lost
    assert all(jobs == ["k1"] for jobs in lost)  # at every renewal until it ends


async def test_every_surface_opened_is_closed_however_its_attempt_ends(store: SqlStore) -> None:
    sim = Simulator(SimulatorConfig())
    sim.inject(*["500"] * 3)  # k1's first attempt fails, the second is answered
    async with dispatcher_for(store, sim, quota_user_per_minute=2) as (dispatcher, responder, _):
        responder.crash_times = 1  # a renderer crash on the way
        for key in ("k1", "k2", "k3"):  # k3 is over the quota: refused, never asked
            thread = ThreadKey("test", "W1", "C1", key)
            await dispatcher.submit(question_job(key, thread=thread))
            await dispatcher.drain(retries=True)
    assert sorted(d.job.key for d in responder.delivered) == ["k1", "k2"]
    assert [job.key for job, _ in responder.failures] == ["k3"]
    assert sorted(responder.closed) == sorted(responder.started)
    assert len(responder.closed) > 3  # the failed and crashed attempts were closed too


async def test_a_follow_up_stored_while_its_thread_finishes_starts_when_that_answer_ends(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finish names the thread's next question from before the follow-up was stored,
    and the follow-up's own claim failed while the first answer was still open: it is
    started when that answer ends, not at the next re-drive."""
    gate, at_finish = asyncio.Event(), asyncio.Event()
    finish = store.finish_answered

    async def racing_finish(key: str, owner: str, *args: Any, **kwargs: Any) -> Finished:
        if key == "k1":
            at_finish.set()
            await gate.wait()
            done = await finish(key, owner, *args, **kwargs)
            return replace(done, next_key=None)  # looked before the follow-up was stored
        return await finish(key, owner, *args, **kwargs)

    monkeypatch.setattr(store, "finish_answered", racing_finish)
    async with dispatcher_for(store, inbox_poll_interval=3600) as (dispatcher, responder, _):
        await dispatcher.submit(question_job("k1"))
        await at_finish.wait()
        await dispatcher.submit(question_job("k2", text="And mercy?"))
        await wait_until(lambda: len(dispatcher._tasks) == 1)  # k2's claim has failed
        assert [d.job.key for d in responder.delivered] == ["k1"]
        gate.set()
        await dispatcher.drain()
    assert [d.job.key for d in responder.delivered] == ["k1", "k2"]
