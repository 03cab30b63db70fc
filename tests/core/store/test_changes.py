"""Edits and deletions of asked messages in the store (core/store/changes.py), on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from core.ports import AnswerRecord
from core.store.sql import SqlStore
from core.store.tables import utcnow
from core.types import Job, Question, ThreadKey, suggestion_ref

THREAD = ThreadKey("slack", "T1", "C1", "1700.0001")
LEASE = timedelta(seconds=60)


def job(key: str, text: str = "What is grace?", thread: ThreadKey = THREAD) -> Job:
    return Job(key=key, question=Question(thread, text, user_id="U1", message_ref=key))


async def status(store: SqlStore, key: str) -> str:
    entry = await store.inbox_entry(key)
    assert entry is not None
    return entry.status


async def text_of(store: SqlStore, key: str) -> str:
    entry = await store.inbox_entry(key)
    assert entry is not None
    return entry.job.question.text


async def answered(store: SqlStore, key: str, posted: tuple[str, ...] = ("900.1",)) -> None:
    claimed = await store.claim(key, "p1", LEASE)
    assert claimed is not None
    answer = AnswerRecord(
        answer_id=f"a-{key}",
        thread=THREAD,
        chat_id="chat-1",
        question=claimed.question.text,
        text="Grace is a gift.",
        suggestions=("What is mercy?",),
    )
    finished = await store.finish_answered(key, "p1", answer, bind=True, posted=posted)
    assert finished.finished


async def test_an_edit_before_the_answer_replaces_the_question(store: SqlStore) -> None:
    await store.accept(job("k1"))
    change = await store.edit_question("k1", "What is mercy?")
    assert (change.outcome, change.key) == ("replaced", "k1")
    assert await text_of(store, "k1") == "What is mercy?"
    claimed = await store.claim("k1", "p1", LEASE)
    assert claimed is not None
    assert claimed.question.text == "What is mercy?"


async def test_an_edit_to_the_same_text_or_of_an_unknown_message_changes_nothing(
    store: SqlStore,
) -> None:
    await store.accept(job("k1"))
    assert (await store.edit_question("k1", "What is grace?")).outcome == "unchanged"
    assert (await store.edit_question("nope", "hi")).outcome == "unknown"
    assert (await store.edit_question("k1", "What is mercy?")).outcome == "replaced"
    # A redelivery of the same edit.
    assert (await store.edit_question("k1", "What is mercy?")).outcome == "unchanged"


async def test_an_edit_while_answering_comes_back_with_the_finish(store: SqlStore) -> None:
    await store.accept(job("k1"))
    claimed = await store.claim("k1", "p1", LEASE)
    assert claimed is not None
    change = await store.edit_question("k1", "What is mercy?")
    assert (change.outcome, change.owner) == ("kept", "p1")
    assert (await store.edit_question("k1", "What is mercy?")).outcome == "unchanged"
    assert await text_of(store, "k1") == "What is grace?"  # the answer is to what was asked
    answer = AnswerRecord("a1", THREAD, "chat-1", "What is grace?", "Grace is a gift.")
    finished = await store.finish_answered("k1", "p1", answer, bind=True, posted=["900.1"])
    assert finished.edited_text == "What is mercy?"


async def test_a_finish_without_an_edit_has_no_edited_text(store: SqlStore) -> None:
    await store.accept(job("k1"))
    assert await store.claim("k1", "p1", LEASE) is not None
    finished = await store.finish_answered("k1", "p1", None, bind=False, posted=[])
    assert finished.edited_text is None


async def test_an_edit_after_the_answer_is_offered_once_as_a_suggestion(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await answered(store, "k1")
    change = await store.edit_question("k1", "What is mercy, really?")
    assert (change.outcome, change.text) == ("offer", "What is mercy, really?")
    assert (await store.edit_question("k1", "What is mercy, really?")).outcome == "unchanged"
    ref = await store.offer_edit("k1", "What is mercy, really?")
    assert ref == suggestion_ref("a-k1", 1)
    assert await store.offer_edit("k1", "What is mercy, really?") == ref  # appended once
    record = await store.get_answer("a-k1")
    assert record is not None
    assert record.suggestions == ("What is mercy?", "What is mercy, really?")
    assert await status(store, "k1") == "answered"


async def test_an_offer_needs_a_stored_answer(store: SqlStore) -> None:
    await store.accept(job("k1"))
    assert await store.offer_edit("k1", "hi") is None
    assert await store.offer_edit("nope", "hi") is None


async def test_an_edit_of_a_burst_part_edits_the_burst(store: SqlStore) -> None:
    until = utcnow() + timedelta(seconds=30)
    await store.accept(job("k1", "hi"), gathering_until=until)
    assert await store.add_burst_part("k1", job("k2", "how do I pray?"), until)
    assert await store.add_burst_part("k1", job("k3", "in the morning"), until)
    change = await store.edit_question("k2", "how do I start praying?")
    assert (change.outcome, change.key) == ("replaced", "k1")
    assert await store.open_burst("k1")
    assert await text_of(store, "k1") == "hi\nhow do I start praying?\nin the morning"
    # Once the burst is closed, its joined question is edited in place.
    assert (await store.edit_question("k3", "at night")).outcome == "replaced"
    assert (await store.edit_question("k1", "hello")).outcome == "replaced"
    assert await text_of(store, "k1") == "hello\nhow do I start praying?\nat night"


async def test_deleting_a_pending_question_withdraws_it(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await store.accept(job("k2", "What is mercy?"))
    change = await store.delete_question("k1")
    assert (change.outcome, change.key, change.next_key) == ("withdrawn", "k1", "k2")
    assert await status(store, "k1") == "withdrawn"
    # It blocks nothing: the thread's next question is claimable at once.
    claimed = await store.claim("k2", "p1", LEASE)
    assert claimed is not None
    assert await store.claim("k1", "p1", LEASE) is None
    assert (await store.delete_question("k1")).outcome == "closed"  # a redelivery
    assert (await store.edit_question("k1", "hi")).outcome == "closed"
    assert (await store.delete_question("nope")).outcome == "unknown"


async def test_deleting_a_question_being_answered_stops_it(store: SqlStore) -> None:
    await store.accept(job("k1"))
    assert await store.claim("k1", "p1", LEASE) is not None
    change = await store.delete_question("k1")
    assert (change.outcome, change.owner) == ("stopped", "p1")
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert (entry.status, entry.claimed_by) == ("withdrawn", None)
    # The answering process's finish no longer counts, and nothing re-drives it.
    finished = await store.finish_answered("k1", "p1", None, bind=False, posted=[])
    assert not finished.finished
    assert await store.claim_due("p2", LEASE, platforms={"slack"}, limit=5) == []


async def test_an_answered_question_that_is_deleted_stays_answered(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await answered(store, "k1")
    assert (await store.delete_question("k1")).outcome == "answered"
    assert await status(store, "k1") == "answered"


async def test_a_deleted_burst_part_leaves_the_burst(store: SqlStore) -> None:
    until = utcnow() + timedelta(seconds=30)
    await store.accept(job("k1", "hi"), gathering_until=until)
    assert await store.add_burst_part("k1", job("k2", "oops"), until)
    assert await store.add_burst_part("k1", job("k3", "how do I pray?"), until)
    assert await store.add_burst_part("k1", job("k4", "daily"), until)
    assert (await store.delete_question("k2")).outcome == "dropped"
    assert await store.open_burst("k1")
    assert await text_of(store, "k1") == "hi\nhow do I pray?\ndaily"
    assert (await store.delete_question("k4")).outcome == "dropped"
    assert await text_of(store, "k1") == "hi\nhow do I pray?"


async def test_a_deleted_thread_root_withdraws_its_open_questions(store: SqlStore) -> None:
    other = ThreadKey("slack", "T1", "C1", "1700.0002")
    await store.accept(job("k0"))
    await answered(store, "k0")
    await store.accept(job("k1"))
    await store.accept(job("k2", "What is mercy?"))
    await store.accept(job("k3", thread=other))
    assert await store.claim("k1", "p1", LEASE) is not None
    changes = await store.withdraw_thread(THREAD)
    assert [(c.outcome, c.key) for c in changes] == [("stopped", "k1"), ("withdrawn", "k2")]
    assert [await status(store, k) for k in ("k0", "k1", "k2", "k3")] == [
        "answered",
        "withdrawn",
        "withdrawn",
        "pending",
    ]


async def test_a_deleted_bot_answer_is_forgotten(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await answered(store, "k1", posted=("900.1", "900.2"))
    assert await store.forget_posted(THREAD, "900.1")
    entry = await store.inbox_entry("k1")
    assert entry is not None
    assert entry.job.posted == ("900.2",)
    record = await store.get_answer("a-k1")
    assert record is not None
    assert record.platform_message_ids == ("900.2",)
    assert not await store.forget_posted(THREAD, "900.1")
    assert "900.1" not in await store.known_messages(THREAD)


async def test_withdrawn_questions_are_pruned(store: SqlStore) -> None:
    await store.accept(job("k1"))
    await store.delete_question("k1")
    assert await store.prune_inbox(utcnow() + timedelta(seconds=1)) == 1
    assert await store.inbox_entry("k1") is None


async def test_an_edit_back_to_what_was_asked_is_not_offered(store: SqlStore) -> None:
    await store.accept(job("k1"))
    assert await store.claim("k1", "p1", LEASE) is not None
    assert (await store.edit_question("k1", "What is mercy?")).outcome == "kept"
    assert (await store.edit_question("k1", "What is grace?")).outcome == "unchanged"
    finished = await store.finish_answered("k1", "p1", None, bind=False, posted=[])
    # The finish hands back the text as asked: the dispatcher offers nothing equal to it.
    assert finished.edited_text == "What is grace?"


async def test_an_offer_and_a_withdrawal_carry_the_askers_language(store: SqlStore) -> None:
    asked = Question(THREAD, "What is grace?", user_id="U1", message_ref="k1", locale="es-ES")
    await store.accept(Job(key="k1", question=asked))
    await answered(store, "k1")
    assert (await store.edit_question("k1", "¿Qué es la gracia?")).locale == "es-ES"
    await store.accept(Job(key="k2", question=replace(asked, message_ref="k2")))
    assert (await store.delete_question("k2")).locale == "es-ES"
