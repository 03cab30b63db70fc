"""Edits and deletions through the core (core/edits.py, the dispatcher): replaced, offered
once beneath the answer, withdrawn, stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from core.delivery import Dispatcher, PostedCallback
from core.edits import QuestionChanges
from core.service import ConversationService
from core.store.sql import SqlStore
from core.types import Job, ThreadKey
from tests.core.test_delivery import FAST, RecordingResponder, RecordingSurface, question_job
from tests.harness import core_on_simulator, wait_until

THREAD = ThreadKey("test", "W1", "C1", "t1")


@dataclass
class EditingResponder(RecordingResponder):
    """Offers edits (records them); holds the answer to ``hold`` in ``open`` or in its first
    change until ``gate`` is set; its surfaces can say they stopped."""

    offers: list[tuple[ThreadKey, str, str, str]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    hold: str = ""
    hold_in: str = "open"
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    holding: asyncio.Event = field(default_factory=asyncio.Event)

    async def offer_edit(
        self, thread: ThreadKey, user_id: str, text: str, ref: str, *, locale: str = ""
    ) -> None:
        self.offers.append((thread, user_id, text, ref))

    async def open(self, job: Job, posted: PostedCallback) -> RecordingSurface:
        if job.key == self.hold and self.hold_in == "open":
            self.holding.set()
            await self.gate.wait()
        surface = StoppableSurface(self, job, posted, list(job.posted))
        await surface.start()
        return surface


@dataclass
class StoppableSurface(RecordingSurface):
    async def progress(self, text: str) -> None:
        await super().progress(text)
        platform = self.platform
        assert isinstance(platform, EditingResponder)
        if self.job.key == platform.hold and platform.hold_in == "progress":
            platform.holding.set()
            await platform.gate.wait()

    async def stopped(self) -> None:
        platform = self.platform
        assert isinstance(platform, EditingResponder)
        platform.stopped.append(self.job.key)


@asynccontextmanager
async def editing(
    store: SqlStore, **responder: object
) -> AsyncIterator[tuple[Dispatcher, EditingResponder, QuestionChanges, ConversationService]]:
    async with core_on_simulator(store, **FAST) as (c, _):
        platform = EditingResponder(**responder)  # type: ignore[arg-type]
        c.dispatcher.register("test", platform)
        yield c.dispatcher, platform, c.changes, c.service


def answered_texts(platform: RecordingResponder) -> dict[str, str]:
    return {d.job.key: d.job.question.text for d in platform.delivered}


async def test_an_edit_before_the_answer_starts_is_what_is_asked(store: SqlStore) -> None:
    async with editing(store, hold="k1") as (dispatcher, platform, changes, _):
        await dispatcher.submit(question_job("k1"))
        await platform.holding.wait()
        await dispatcher.submit(question_job("k2", "What is mrecy?"))  # waits for k1
        change = await changes.edited("k2", "What is mercy?")
        assert change.outcome == "replaced"
        platform.gate.set()
        await dispatcher.drain(retries=True)
    assert answered_texts(platform) == {"k1": "What is grace?", "k2": "What is mercy?"}
    assert platform.offers == []


async def test_an_edit_while_answering_is_offered_once_after_the_answer(
    store: SqlStore,
) -> None:
    async with editing(store, hold="k1") as (dispatcher, platform, changes, service):
        await dispatcher.submit(question_job("k1"))
        await platform.holding.wait()
        assert (await changes.edited("k1", "What is grace, really?")).outcome == "kept"
        assert (await changes.edited("k1", "What is grace, really?")).outcome == "unchanged"
        platform.gate.set()
        await dispatcher.drain(retries=True)
        await wait_until(lambda: bool(platform.offers))
        # The answer was to what was asked; the edit is one suggestion beneath it.
        assert answered_texts(platform) == {"k1": "What is grace?"}
        [(thread, user, text, ref)] = platform.offers
        assert (thread, user, text) == (THREAD, "U1", "What is grace, really?")
        click = await service.resolve_suggestion(ref)
        assert (click.text, click.thread) == ("What is grace, really?", THREAD)


async def test_an_edit_after_the_answer_is_offered_at_once(store: SqlStore) -> None:
    async with editing(store) as (dispatcher, platform, changes, service):
        await dispatcher.submit(question_job("k1"))
        await dispatcher.drain(retries=True)
        assert (await changes.edited("k1", "What is mercy?")).outcome == "offer"
        assert (await changes.edited("k1", "What is mercy?")).outcome == "unchanged"
        await dispatcher.drain()
        [(_, _, text, ref)] = platform.offers
        assert (await service.resolve_suggestion(ref)).text == text == "What is mercy?"
        assert len(platform.delivered) == 1  # never a silent second answer


async def test_a_question_deleted_before_it_is_answered_is_not_asked(store: SqlStore) -> None:
    async with editing(store, hold="k1") as (dispatcher, platform, changes, _):
        await dispatcher.submit(question_job("k1"))
        await platform.holding.wait()
        await dispatcher.submit(question_job("k2", "What is mercy?"))
        await dispatcher.submit(question_job("k3", "What is hope?"))
        [change] = await changes.deleted("k2")
        assert change.outcome == "withdrawn"
        platform.gate.set()
        await dispatcher.drain(retries=True)
    assert answered_texts(platform) == {"k1": "What is grace?", "k3": "What is hope?"}
    entry = await store.inbox_entry("k2")
    assert entry is not None
    assert entry.status == "withdrawn"


async def test_a_question_deleted_while_being_answered_stops_the_answer(
    store: SqlStore,
) -> None:
    async with editing(store, hold="k1", hold_in="progress") as (
        dispatcher,
        platform,
        changes,
        _,
    ):
        await dispatcher.submit(question_job("k1"))
        await platform.holding.wait()
        await dispatcher.submit(question_job("k2", "What is mercy?"))
        [change] = await changes.deleted("k1")
        assert change.outcome == "stopped"
        await dispatcher.drain(retries=True)
        assert platform.stopped == ["k1"]
        assert answered_texts(platform) == {"k2": "What is mercy?"}
        assert "k1" in platform.closed  # the attempt's surface was given back
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert (entry.status, entry.claimed_by) == ("withdrawn", None)


async def test_a_deleted_thread_root_withdraws_the_thread(store: SqlStore) -> None:
    other = ThreadKey("test", "W1", "C1", "t2")
    async with editing(store, hold="k1", hold_in="progress") as (
        dispatcher,
        platform,
        changes,
        _,
    ):
        await dispatcher.submit(question_job("k1"))
        await platform.holding.wait()
        await dispatcher.submit(question_job("k2", "What is mercy?"))
        await dispatcher.submit(question_job("k3", "What is hope?", thread=other))
        changes_made = await changes.deleted("root-message", root=THREAD)
        assert [(c.outcome, c.key) for c in changes_made] == [
            ("unknown", None),
            ("stopped", "k1"),
            ("withdrawn", "k2"),
        ]
        await dispatcher.drain(retries=True)
    assert answered_texts(platform) == {"k3": "What is hope?"}


async def test_a_deleted_bot_answer_is_forgotten_for_recovery(store: SqlStore) -> None:
    async with editing(store) as (dispatcher, platform, changes, _):
        await dispatcher.submit(question_job("k1"))
        await dispatcher.drain(retries=True)
        [delivered] = platform.delivered
        assert await changes.answer_deleted(THREAD, delivered.message_ids[0])
        assert delivered.message_ids[0] not in await store.known_messages(THREAD)
