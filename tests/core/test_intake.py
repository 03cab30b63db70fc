"""Intake hygiene (core/intake.py): what any platform sends is stored, and only real questions
of a sensible length reach Gloo.

Issue 14, finding 4: a Slack mention containing U+0000 was refused by PostgreSQL (Slack got
500 four times and the question was lost); text of only zero-width characters was sent to
Gloo; a 40,000-character question was sent in full. The inbox tests run on SQLite and on
PostgreSQL (the ``store`` fixture is parametrized over both).
"""

from __future__ import annotations

import pytest

from core import intake, messages
from core.service import UnknownSuggestion
from core.store.sql import SqlStore
from core.types import Job, Question, ThreadKey
from tests.core.test_delivery import THREAD, dispatcher_for, question_job
from tests.harness import core_on_simulator, settings_for_tests

# Characters that show nothing: zero-width space, non-joiner, joiner, word joiner, the
# byte-order mark (Slack and Discord both pass U+FEFF through in message text), a no-break
# space, an ideographic space, the Hangul filler and the braille blank.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00a0\u3000\u3164\u2800"


def test_control_characters_and_lone_surrogates_are_removed_and_line_ends_unified() -> None:
    raw = "What\x00 is\x07 grace?\r\nAnd\rhope?\x1b[31m\x85\ud800\tok"
    assert intake.clean(raw) == "What is grace?\nAnd\nhope?[31m\tok"


@pytest.mark.parametrize("control", list(intake.BIDI_CONTROLS))
def test_bidirectional_controls_are_removed(control: str) -> None:
    # Trojan Source (CVE-2021-42574): U+202E made "?gnp.exe" read as "exe.png?".
    assert intake.clean(f"Is{control} this safe?") == "Is this safe?"
    assert not intake.is_plain_id(f"abc{control}")


def test_every_bidirectional_control_is_named() -> None:
    controls = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}
    assert set(intake.BIDI_CONTROLS) == controls | {"\u200e", "\u200f", "\u061c"}


async def test_a_question_with_bidi_controls_reaches_gloo_without_them(store: SqlStore) -> None:
    async with dispatcher_for(store) as (dispatcher, _, sim):
        assert await dispatcher.submit(
            question_job("k-bidi", "Is \u202egpj.exe\u202c or \u2066x\u2069 safe?")
        )
        await dispatcher.drain(retries=True)
    assert [r.query for r in sim.asked] == ["Is gpj.exe or x safe?"]
    entry = await store.inbox_entry("k-bidi")
    assert entry is not None
    assert entry.job.question.text == "Is gpj.exe or x safe?"


def test_visible_text_is_kept_as_written() -> None:
    # Emoji sequences keep their joiners; right-to-left and accented text is unchanged.
    text = "Is 👩\u200d👩\u200d👧 a family? مرحبا — café, naïve"
    assert intake.clean(text) == text
    assert not intake.is_blank(text)


@pytest.mark.parametrize(
    "text", ["", "   ", INVISIBLE, "\n\t" + INVISIBLE, "\ufe0f\U000e0100\U000e0020"]
)
def test_text_of_only_invisible_characters_is_blank(text: str) -> None:
    assert intake.is_blank(text)
    assert intake.refusal(text, 4000) == messages.EMPTY_QUESTION


def test_a_question_over_the_limit_is_refused_with_the_limit_stated() -> None:
    sentence = intake.refusal("x" * 40_000, 4000)
    assert sentence == (
        "Your question is 40,000 characters long; I can take at most 4,000. "
        "Please shorten it and ask again."
    )
    assert intake.refusal("x" * 4000, 4000) is None
    assert intake.refusal("  " + "x" * 4000 + "\n", 4000) is None  # surrounding space is free
    assert intake.refusal("x" * 40_000, None) is None


def test_a_job_is_cleaned_in_every_stored_field() -> None:
    job = Job(
        key="slack:T1:C1\x00:1.0",
        question=Question(
            ThreadKey("slack", "T1", "C1\x00", "1.0"),
            "grace\x00?",
            user_id="U1\x00",
            user_name="Ann\x00",
            message_ref="1.0\x00",
        ),
        chat_id="chat\x00",
        posted=("m\x001",),
    )
    cleaned = intake.clean_job(job)
    assert cleaned.key == "slack:T1:C1:1.0"
    assert cleaned.question == Question(
        ThreadKey("slack", "T1", "C1", "1.0"), "grace?", "U1", "Ann", "1.0"
    )
    assert (cleaned.chat_id, cleaned.posted) == ("chat", ("m1",))


async def test_a_question_with_u0000_is_stored_and_answered(store: SqlStore) -> None:
    async with dispatcher_for(store) as (dispatcher, responder, sim):
        # Before: PostgreSQL refused the row ("PostgreSQL text fields cannot contain NUL
        # (0x00) bytes"), submit raised, and Slack got 500 on every redelivery.
        assert await dispatcher.submit(question_job("k-nul", "What is\x00 grace?"))
        await dispatcher.drain(retries=True)
    entry = await store.inbox_entry("k-nul")
    assert entry is not None
    assert (entry.status, entry.job.question.text) == ("answered", "What is grace?")
    [delivered] = responder.delivered
    assert delivered.reply.text
    assert [r.query for r in sim.asked] == ["What is grace?"]


async def test_invisible_only_text_gets_a_sentence_and_no_gloo_call(store: SqlStore) -> None:
    async with dispatcher_for(store) as (dispatcher, responder, sim):
        assert await dispatcher.submit(question_job("k-blank", INVISIBLE))
        await dispatcher.drain(retries=True)
    assert sim.asked == []
    assert [(job.key, message) for job, message in responder.failures] == [
        ("k-blank", messages.EMPTY_QUESTION)
    ]
    entry = await store.inbox_entry("k-blank")
    assert entry is not None
    assert entry.status == "failed"


async def test_a_question_over_the_setting_is_not_sent_and_the_asker_told_the_limit(
    store: SqlStore,
) -> None:
    async with dispatcher_for(store, question_max_chars=500) as (dispatcher, responder, sim):
        assert await dispatcher.submit(question_job("k-long", "Why? " * 8000))
        assert await dispatcher.submit(question_job("k-ok", "What is grace?"))
        await dispatcher.drain(retries=True)
    assert [r.query for r in sim.asked] == ["What is grace?"]
    [(job, message)] = responder.failures
    assert job.key == "k-long"
    assert message == intake.too_long(len(("Why? " * 8000).strip()), 500)
    assert "at most 500" in message
    entry = await store.inbox_entry("k-long")
    assert entry is not None
    assert entry.status == "failed"
    assert entry.job.question.thread == THREAD  # kept whole in the inbox: nothing is lost
    assert entry.job.question.text == "Why? " * 8000


def test_the_default_limit_is_a_setting() -> None:
    assert settings_for_tests().question_max_chars == 4000
    assert settings_for_tests(question_max_chars=12).question_max_chars == 12


@pytest.mark.parametrize("value", ["ab\x00cd", "\ud800", "a b", "", "x" * 201])
def test_only_plain_ids_are_looked_up(value: str) -> None:
    assert not intake.is_plain_id(value)
    assert intake.is_plain_id("Qm9vAbC-_12x")


async def test_button_values_with_odd_characters_are_unknown_not_database_errors(
    store: SqlStore,
) -> None:
    """A click carries a value the platform's client sent back: found by the fuzz test, a
    feedback value with a lone surrogate (SQLite) or U+0000 (PostgreSQL) crashed the lookup."""
    async with core_on_simulator(store) as (container, _sim):
        service = container.service
        assert not await service.record_feedback("ab\x00cd", "U1", 1)
        assert not await service.record_feedback("\ud800", "U1", -1)
        for ref in ("ab\x00cd:1", "\udfff:0"):
            with pytest.raises(UnknownSuggestion):
                await service.resolve_suggestion(ref)
        reply = await service.ask(Question(THREAD, "What is grace?"))
        assert await service.record_feedback(reply.answer_id, "U1\x00", 1)  # user id cleaned
