"""SqlStore: a person's conversations and a workspace's stored settings (the Home tab)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.ports import AnswerRecord
from core.store.sql import SqlStore
from core.types import ChannelSettings, ThreadKey

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
A = ThreadKey("slack", "T1", "D1", "1700000001.000100")
B = ThreadKey("slack", "T1", "C1", "1700000002.000100")
OTHER_TEAM = ThreadKey("slack", "T2", "D9", "1700000003.000100")


def answer(
    answer_id: str, thread: ThreadKey, chat: str, question: str, minutes: int, user: str
) -> AnswerRecord:
    return AnswerRecord(
        answer_id=answer_id,
        thread=thread,
        chat_id=chat,
        question=question,
        text="…",
        user_id=user,
        created_at=T0 + timedelta(minutes=minutes),
    )


async def test_conversations_are_the_persons_current_chats_newest_first(store: SqlStore) -> None:
    await store.bind_chat_id(A, "chat-a")
    await store.bind_chat_id(B, "chat-b")
    await store.bind_chat_id(OTHER_TEAM, "chat-o")
    for record in (
        answer("1", A, "chat-a", "What is grace?", 0, "alice"),
        answer("2", B, "chat-b", "And mercy?", 5, "alice"),
        answer("3", A, "chat-a", "Say more", 10, "alice"),
        answer("4", B, "chat-b", "Bob's question", 20, "bob"),
        answer("5", OTHER_TEAM, "chat-o", "elsewhere", 30, "alice"),
    ):
        await store.save_answer(record)

    found = await store.user_conversations("slack", "T1", "alice", 10)

    assert [c.thread for c in found] == [A, B]  # A's last question (10) is newer than B's (5)
    first = found[0]
    assert (first.first_question, first.chat_id, first.questions) == ("What is grace?", "chat-a", 2)
    assert (first.started_at, first.last_at) == (T0, T0 + timedelta(minutes=10))
    assert [c.thread for c in await store.user_conversations("slack", "T1", "alice", 1)] == [A]
    assert [c.thread for c in await store.user_conversations("slack", "T1", "bob", 10)] == [B]
    assert await store.user_conversations("slack", "T1", "carol", 10) == []


async def test_a_reset_thread_lists_only_its_new_chat(store: SqlStore) -> None:
    await store.bind_chat_id(A, "chat-old")
    await store.save_answer(answer("1", A, "chat-old", "Old question", 0, "alice"))
    await store.forget_thread(A)
    assert await store.user_conversations("slack", "T1", "alice", 10) == []

    await store.bind_chat_id(A, "chat-new")
    await store.save_answer(answer("2", A, "chat-new", "New question", 5, "alice"))
    (found,) = await store.user_conversations("slack", "T1", "alice", 10)
    assert (found.first_question, found.questions) == ("New question", 1)


async def test_stored_settings_of_a_workspace_by_channel(store: SqlStore) -> None:
    assert await store.list_channel_settings("slack", "T1") == {}
    workspace = ChannelSettings(enable_suggestions=False)
    channel = ChannelSettings(sources_limit=2, publishers=("P",))
    await store.save_channel_settings("slack", "T1", "", workspace)
    await store.save_channel_settings("slack", "T1", "C1", channel)
    await store.save_channel_settings("slack", "T2", "C9", channel)
    await store.save_channel_settings("discord", "T1", "C2", channel)
    assert await store.list_channel_settings("slack", "T1") == {"": workspace, "C1": channel}
