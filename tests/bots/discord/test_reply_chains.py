"""Where the bot may not start threads, a reply chain is the conversation.

Discord answers a thread start without Create Public Threads with 403 / 50013 "You lack
permissions to perform that action" (discord-api-docs topics/opcodes-and-status-codes; the
fake: ``refuse_threads``). The bot then answers as a reply to the question, and a reply to
one of its answers continues that answer's chat. A reply is MESSAGE_CREATE with ``type`` 19,
a ``message_reference`` of type 0 (DEFAULT) and, usually, the replied-to message in
``referenced_message``; when that field is absent "the backend did not attempt to fetch the
message that was being replied to" (discord-api-docs resources/message.mdx, message object
note 4, and Message Reference Types). payloads/message_create_reply.json is
message_create_guild.json with those fields.
"""

from __future__ import annotations

from typing import Any

import pytest

from bots.discord import messages as texts
from core.simulator import Simulator, content
from tests.bots.discord.conftest import (
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    USER,
    Bot,
    assert_no_pings,
    custom_ids,
    running,
)
from tests.bots.discord.fake_discord import FakeDiscord, payload
from tests.bots.discord.test_commands import command

BOB = {"id": "1300000000000000003", "username": "bob", "global_name": "Bob"}


async def reply(
    bot: Bot,
    replied: dict[str, Any],
    text: str,
    *,
    user: dict[str, Any] = USER,
    resolved: bool = True,
    mention_bot: bool = False,
) -> dict[str, Any]:
    """``user`` replies to ``replied`` in the channel, as Discord dispatches a reply."""
    fake = bot.fake
    if mention_bot:
        text = f"<@{fake.bot_id}> {text}"
    data = payload(
        "message_create_reply",
        message_id=str(fake.snowflake()),
        channel_id=replied["channel_id"],
        guild_id=str(GUILD_ID),
        replied_id=replied["id"],
        content=text,
        user_id=user["id"],
        user_name=user["username"],
    )
    if resolved:
        data["referenced_message"] = fake.messages.get(int(replied["id"]), replied)
    await fake.dispatch("MESSAGE_CREATE", data)
    return data


def notes(bot: Bot) -> list[dict[str, Any]]:
    return [m for m in bot.bot_messages(CHANNEL_ID) if m["content"] == texts.NO_THREAD_PERMISSION]


async def test_without_thread_permission_each_reply_chain_is_one_conversation(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    fake.refuse_threads = True
    async with running(fake, sim, sqlite_url) as bot:
        first_q = await bot.say("What is grace?", mention_bot=True)
        [a1] = await bot.answered(CHANNEL_ID)
        # A reply to the answer, no mention needed: the same conversation.
        follow_up = await reply(bot, a1, "And how do I practise it?")
        a2 = (await bot.answered(CHANNEL_ID, count=2))[1]
        # Another person's new mention in the channel starts a conversation of its own.
        second_q = await bot.say("What is hope?", mention_bot=True, user=BOB)
        b1 = (await bot.answered(CHANNEL_ID, count=3))[2]
        # Replies further down each chain keep to their chain, whoever replies; one without
        # referenced_message makes the bot fetch the replied-to message.
        await reply(bot, a2, "Why does that matter?", user=BOB, resolved=False)
        await bot.answered(CHANNEL_ID, count=4)
        await reply(bot, b1, "Tell me more", mention_bot=True)
        answers = await bot.answered(CHANNEL_ID, count=5)
        # A reply to a person, not to the bot, is not for the bot.
        await reply(bot, first_q, "nice question")
        await bot.dm("sentinel")
        await bot.answered(DM_CHANNEL_ID)

    asked = sim.asked
    assert [r.query for r in asked] == [
        "What is grace?",
        "And how do I practise it?",
        "What is hope?",
        "Why does that matter?",
        "Tell me more",
        "sentinel",
    ]
    grace, practise, hope, matter, more, _ = asked
    assert grace.chat_id is None
    assert practise.chat_id == grace.response_chat_id
    assert hope.chat_id is None  # not the first chain's chat
    assert hope.response_chat_id != grace.response_chat_id
    assert matter.chat_id == grace.response_chat_id
    assert more.chat_id == hope.response_chat_id
    # Every answer replies to its question, in the channel.
    assert a1["message_reference"]["message_id"] == first_q["id"]
    assert a2["message_reference"]["message_id"] == follow_up["id"]
    assert b1["message_reference"]["message_id"] == second_q["id"]
    assert all(m["channel_id"] == str(CHANNEL_ID) for m in answers)
    assert fake.calls_to("GET", rf"/channels/{CHANNEL_ID}/messages/{a2['id']}")
    # Told once for the channel, plainly, as a reply to the first question.
    [note] = notes(bot)
    assert note["message_reference"]["message_id"] == first_q["id"]
    assert "Create Public Threads" in note["content"]
    assert "Send Messages in Threads" in note["content"]
    assert_no_pings(fake)


async def test_a_reply_to_an_earlier_piece_of_a_long_answer_continues_its_chain(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.refuse_threads = True
    paragraph = "Grace is a gift that nobody earns, and it changes how people live. " * 8
    long_text = "\n\n".join(f"**Part {n}.** {paragraph.strip()}" for n in range(1, 7))
    monkeypatch.setattr(content, "compose_answer", lambda rng, query, previous: long_text)
    async with running(fake, sim, sqlite_url) as bot:
        await bot.say("Tell me everything about grace", mention_bot=True)
        await bot.answered(CHANNEL_ID)
        pieces = [m for m in bot.bot_messages(CHANNEL_ID) if m not in notes(bot)]
        await reply(bot, pieces[0], "Say that again, shorter")
        await bot.answered(CHANNEL_ID, count=2)
    assert len(pieces) >= 2
    assert not pieces[0]["components"]  # the buttons are on the last piece only
    first, second = sim.asked
    assert second.query == "Say that again, shorter"
    assert second.chat_id == first.response_chat_id


async def test_ask_without_thread_permission_roots_a_chain_at_the_asked_line(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    fake.refuse_threads = True
    async with running(fake, sim, sqlite_url) as bot:
        ask = await command(bot, "ask", question="What is hope?")
        asked = await bot.response(ask)
        [answer] = await bot.answered(CHANNEL_ID)
        await reply(bot, answer, "And patience?")
        await bot.answered(CHANNEL_ID, count=2)
        await bot.say("What is grace?", mention_bot=True)
        await bot.answered(CHANNEL_ID, count=3)
    hope, patience, grace = sim.asked
    assert answer["message_reference"]["message_id"] == asked["id"]
    assert patience.chat_id == hope.response_chat_id
    assert grace.chat_id is None
    [note] = notes(bot)  # once for the channel, whichever way the bot was asked
    assert note["message_reference"]["message_id"] == asked["id"]


@pytest.mark.message_api
async def test_a_suggestion_clicked_in_a_chain_continues_it(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    fake.refuse_threads = True
    async with running(fake, sim, sqlite_url) as bot:
        await bot.say("What is grace?", mention_bot=True)
        [answer] = await bot.answered(CHANNEL_ID)
        await bot.click(answer, custom_ids(answer, "gloo:s:")[0])
        second = (await bot.answered(CHANNEL_ID, count=2))[1]
        await reply(bot, second, "Thanks, and then?")
        await bot.answered(CHANNEL_ID, count=3)
    first, clicked, then = sim.asked
    assert clicked.chat_id == first.response_chat_id
    assert then.chat_id == first.response_chat_id
