"""New conversations stream from the first question, and what a stream teaches is shared.

Each "process" below is a whole core built by the composition root on its own store
connection to one database (SQLite and PostgreSQL), at the default GLOO_STREAM_NEW_CHATS
(``auto``), in front of one simulated Gloo. The Message API's stream format is unpublished
(seeds: the API reference documents ``chat_id`` on the non-streamed answer only), so the
simulator is run both ways: streams that name their chat and streams that do not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.bootstrap import Container
from core.gloo.learning import CARRIED, MISSING, stream_fact_name
from core.settings import Settings
from core.simulator import Simulator, SimulatorConfig
from core.store.sql import SqlStore
from core.types import Question, ThreadKey
from tests.harness import core_on_simulator


def thread(n: int) -> ThreadKey:
    return ThreadKey("slack", "T1", "C1", f"1700000000.{n:06d}")


@asynccontextmanager
async def process(database_url: str, sim: Simulator) -> AsyncIterator[Container]:
    """A fresh process: its own store connection, the default new-chat setting."""
    store = await SqlStore.open(database_url)
    try:
        async with core_on_simulator(store, simulator=sim, gloo_stream_new_chats="auto") as (
            container,
            _sim,
        ):
            yield container
    finally:
        await store.close()


def streamed(sim: Simulator) -> list[bool | None]:
    return [record.stream for record in sim.message_records]


def test_the_default_is_auto() -> None:
    assert Settings(_env_file=None).gloo_stream_new_chats == "auto"


async def test_a_fresh_process_streams_its_first_new_chat(database_url: str) -> None:
    sim = Simulator(SimulatorConfig())
    async with process(database_url, sim) as core:
        for n in range(5):
            reply = await core.service.ask(Question(thread(n), f"Question {n}?"))
            assert reply.chat_id
    # Five new threads in a row, each asked once and streamed.
    assert streamed(sim) == [True] * 5


async def test_a_stream_without_chat_id_flips_the_record_for_every_process(
    database_url: str,
) -> None:
    sim = Simulator(SimulatorConfig(stream_chat_id=False))
    async with process(database_url, sim) as first, process(database_url, sim) as second:
        name = stream_fact_name(first.settings.gloo_api_url)
        # The first new chat streams; its stream names no chat, so the answer is completed
        # from a non-streamed one and the thread still has its chat.
        reply = await first.service.ask(Question(thread(1), "What is grace?"))
        assert reply.chat_id
        assert await first.store.get_chat_id(thread(1)) == reply.chat_id
        assert streamed(sim) == [True, False]
        assert first.new_chats is not None
        await first.new_chats.aclose()
        fact = await first.store.read_fact(name)
        assert fact is not None
        assert fact.value == MISSING
        # This process asks its next new chat unstreamed at once.
        await first.service.ask(Question(thread(2), "What is hope?"))
        assert streamed(sim)[2:] == [False]
        # A process started now reads the record: no double asking.
        async with process(database_url, sim) as third:
            await third.service.ask(Question(thread(3), "What is mercy?"))
            assert streamed(sim)[3:] == [False]
        # A process already running reads it again within five minutes (read at start here,
        # before the record existed; see tests/core/gloo/test_learning.py for the refresh).
        assert second.new_chats is not None
        assert second.new_chats.streams is True

    # Gloo's streams start naming their chat: a follow-up's stream teaches that.
    sim.config.stream_chat_id = True
    async with process(database_url, sim) as fourth:
        before = len(sim.message_records)
        await fourth.service.ask(Question(thread(3), "And then?"))
        assert streamed(sim)[before:] == [True]  # a follow-up streams whatever is recorded
        assert fourth.new_chats is not None
        await fourth.new_chats.aclose()
        fact = await fourth.store.read_fact(name)
        assert fact is not None
        assert fact.value == CARRIED
    async with process(database_url, sim) as fifth:
        before = len(sim.message_records)
        await fifth.service.ask(Question(thread(4), "A new one?"))
        assert streamed(sim)[before:] == [True]
