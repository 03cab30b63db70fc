"""The service's view of a person's conversations (what Slack's Home tab lists)."""

from __future__ import annotations

from core.store.sql import SqlStore
from core.types import ChannelSettings, Question, ThreadKey
from tests.harness import core_on_simulator

DM_THREAD = ThreadKey("slack", "T1", "D1", "1700000000.000100")
CHANNEL_THREAD = ThreadKey("slack", "T1", "C1", "1700000100.000100")


async def test_recent_conversations_list_what_the_person_asked_and_follow_reset(
    store: SqlStore,
) -> None:
    async with core_on_simulator(store) as (c, _sim):
        service = c.service
        await service.ask(Question(DM_THREAD, "What is grace?", user_id="U1"))
        await service.ask(Question(CHANNEL_THREAD, "What is hope?", user_id="U1"))
        await service.ask(Question(DM_THREAD, "And mercy?", user_id="U1"))
        await service.ask(Question(CHANNEL_THREAD, "Someone else", user_id="U2"))

        found = await service.recent_conversations("slack", "T1", "U1")
        assert [(s.thread, s.first_question, s.questions) for s in found] == [
            (DM_THREAD, "What is grace?", 2),
            (CHANNEL_THREAD, "What is hope?", 1),
        ]
        assert found[0].chat_id == await store.get_chat_id(DM_THREAD)
        assert (await service.conversation_of(DM_THREAD, "U1")) == found[0]
        assert await service.conversation_of(DM_THREAD, "U2") is None

        await service.reset(DM_THREAD)
        assert [s.thread for s in await service.recent_conversations("slack", "T1", "U1")] == [
            CHANNEL_THREAD
        ]
        assert await service.conversation_of(DM_THREAD, "U1") is None


async def test_stored_settings_come_by_channel(store: SqlStore) -> None:
    async with core_on_simulator(store) as (c, _sim):
        assert await c.service.stored_settings("slack", "T1") == {}
        await c.service.update_settings("slack", "T1", "C1", sources_limit=2)
        assert await c.service.stored_settings("slack", "T1") == {
            "C1": ChannelSettings(sources_limit=2)
        }
