"""Whether new Message API chats stream: the choice, what is recorded, and when it is read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from core.gloo.learning import CARRIED, MISSING, NewChatStreaming, stream_fact_name
from core.ports import LearnedFact
from tests.clock import FakeClock


@dataclass
class MemoryFacts:
    """The store's facts in a dict; ``fail`` makes reads and writes raise."""

    facts: dict[str, LearnedFact]
    writes: int = 0
    fail: bool = False

    async def read_fact(self, name: str) -> LearnedFact | None:
        if self.fail:
            raise OSError("database is down")
        return self.facts.get(name)

    async def record_fact(self, name: str, value: str, seen_at: datetime | None = None) -> None:
        if self.fail:
            raise OSError("database is down")
        self.writes += 1
        self.facts[name] = LearnedFact(name, value, seen_at or datetime.now(UTC))


NAME = stream_fact_name("https://platform.ai.gloo.com/")


def recorded(value: str) -> MemoryFacts:
    return MemoryFacts({NAME: LearnedFact(NAME, value, datetime(2026, 12, 1, tzinfo=UTC))})


def learning(mode: str, facts: MemoryFacts, clock: FakeClock | None = None) -> NewChatStreaming:
    return NewChatStreaming(
        mode,  # type: ignore[arg-type]
        facts=facts,
        fact_name=NAME,
        clock=clock or FakeClock(),
    )


def test_the_record_is_named_for_one_gloo() -> None:
    assert NAME == "gloo.message.stream_chat_id https://platform.ai.gloo.com"
    assert stream_fact_name("http://staging.example") != NAME


async def test_auto_streams_new_chats_when_nothing_was_recorded() -> None:
    new_chats = learning("auto", MemoryFacts({}))
    assert await new_chats.load() is None
    assert new_chats.new_chat_streams() is True


async def test_auto_follows_what_an_earlier_process_recorded() -> None:
    new_chats = learning("auto", recorded(MISSING))
    fact = await new_chats.load()
    assert fact is not None
    assert fact.value == MISSING
    assert new_chats.new_chat_streams() is False
    carried = learning("auto", recorded(CARRIED))
    await carried.load()
    assert carried.new_chat_streams() is True


async def test_a_stream_without_chat_id_is_followed_at_once_and_recorded_once() -> None:
    facts = MemoryFacts({})
    new_chats = learning("auto", facts)
    await new_chats.load()
    with capture_logs() as logs:
        new_chats.observed(False)
        assert new_chats.new_chat_streams() is False
        new_chats.observed(False)  # the same again: nothing more to write
        await new_chats.aclose()
    assert facts.facts[NAME].value == MISSING
    assert facts.writes == 1
    assert [e["event"] for e in logs] == ["gloo.stream.fact_recorded"]
    new_chats.observed(True)
    await new_chats.aclose()
    assert facts.facts[NAME].value == CARRIED
    assert facts.writes == 2
    assert new_chats.new_chat_streams() is True


async def test_what_was_read_is_not_written_again() -> None:
    facts = recorded(CARRIED)
    new_chats = learning("auto", facts)
    await new_chats.load()
    new_chats.observed(True)
    await new_chats.aclose()
    assert facts.writes == 0


async def test_learn_starts_unstreamed_and_ignores_the_record_but_keeps_it_current() -> None:
    facts = recorded(CARRIED)
    new_chats = learning("learn", facts)
    await new_chats.load()
    assert new_chats.new_chat_streams() is False
    new_chats.observed(False)
    await new_chats.aclose()
    assert facts.facts[NAME].value == MISSING
    new_chats.observed(True)
    assert new_chats.new_chat_streams() is True


async def test_always_streams_whatever_was_seen() -> None:
    facts = recorded(MISSING)
    new_chats = learning("always", facts)
    await new_chats.load()
    assert new_chats.new_chat_streams() is True
    new_chats.observed(True)
    new_chats.observed(False)
    await new_chats.aclose()
    assert new_chats.new_chat_streams() is True
    assert facts.facts[NAME].value == MISSING  # observations are still recorded


async def test_auto_reads_the_record_again_after_five_minutes() -> None:
    facts = MemoryFacts({})
    clock = FakeClock()
    new_chats = learning("auto", facts, clock)
    await new_chats.load()
    # Another process saw a stream without a chat id.
    facts.facts[NAME] = LearnedFact(NAME, MISSING, datetime.now(UTC))
    clock.advance(299)
    assert new_chats.new_chat_streams() is True
    await new_chats.aclose()
    assert new_chats.new_chat_streams() is True  # not yet read again
    clock.advance(1)
    assert new_chats.new_chat_streams() is True  # read in the background, not waited for
    await new_chats.aclose()
    assert new_chats.new_chat_streams() is False


async def test_a_store_that_cannot_be_read_or_written_is_logged_and_the_choice_kept() -> None:
    facts = MemoryFacts({}, fail=True)
    new_chats = learning("auto", facts)
    with capture_logs() as logs:
        assert await new_chats.load() is None
        assert new_chats.new_chat_streams() is True
        new_chats.observed(False)
        await new_chats.aclose()
    assert [e["event"] for e in logs] == ["gloo.stream.fact_unread", "gloo.stream.fact_unrecorded"]
    assert new_chats.new_chat_streams() is False
    facts.fail = False
    new_chats.observed(False)  # the failed write is tried again
    await new_chats.aclose()
    assert facts.facts[NAME].value == MISSING


@pytest.mark.parametrize("mode", ["auto", "learn", "always"])
async def test_without_a_store_the_process_learns_alone(mode: str) -> None:
    new_chats = NewChatStreaming(mode)  # type: ignore[arg-type]
    assert await new_chats.load() is None
    new_chats.observed(True)
    assert new_chats.new_chat_streams() is True
    await new_chats.aclose()
