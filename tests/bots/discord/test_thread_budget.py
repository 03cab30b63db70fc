"""A busy channel's thread starts and typing stay inside Discord's per-channel buckets.

Discord limits each route per top-level resource and publishes no numbers ("rate limits
should not be hard coded", discord-api-docs topics/rate-limits); starting threads and typing
are commonly seen at 5 per 5 s per channel, which the fake enforces (devtools.discord.fake
``THREAD_START``, ``TYPING``) with ``X-RateLimit-*`` headers and 429s. Where a channel's
thread starts are spent, the bot answers the mention as a reply at once (a reply chain,
discord-api-docs resources/message: ``message_reference`` of type 0) instead of meeting the
429 or waiting for the bucket while Gloo is already answering.
"""

from __future__ import annotations

import asyncio
import itertools

from bots.discord.bot import chain_key
from bots.discord.responder import DiscordResponder, TypingShown
from core.simulator import Simulator
from core.types import Job, Question
from tests.bots.discord.conftest import CHANNEL_ID, GUILD_ID, running
from tests.bots.discord.fake_discord import FakeDiscord
from tests.bots.discord.test_reply_chains import reply

THREADS = rf"/channels/{CHANNEL_ID}/messages/\d+/threads"


async def test_mentions_past_the_channels_thread_bucket_are_answered_as_replies(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        questions = await asyncio.gather(
            *(bot.say(f"Question {n}?", mention_bot=True) for n in range(7))
        )
        ids = {q["id"] for q in questions}

        async def all_answered() -> bool:
            return ids <= {str(k) for k in fake.completed_at}

        await fake.wait_for(all_answered, 20)
        await bot.runtime.dispatcher.drain()
        replies = [m for m in bot.final_answers(CHANNEL_ID) if m.get("message_reference")]
        # A reply to a reply-chain answer goes on in that conversation.
        [first_reply] = replies[:1]
        await reply(bot, first_reply, "And then?")
        await bot.answered(CHANNEL_ID, count=len(replies) + 1)

    starts = fake.calls_to("POST", THREADS)
    # 4 of the bucket's 5 (bots.discord.limits), none refused.
    assert [c.status for c in starts] == [201] * 4
    assert fake.count_429() == 0
    threaded = {c.path.split("/")[4] for c in starts}
    # The other three questions were answered in the channel, each as a reply to itself.
    assert {r["message_reference"]["message_id"] for r in replies} == ids - threaded
    assert len(replies) == 3
    asked = {r.query: r for r in sim.asked}
    assert len(asked) == 8  # seven questions and the reply
    replied_question = next(
        q["content"].split("> ", 1)[1]
        for q in questions
        if q["id"] == first_reply["message_reference"]["message_id"]
    )
    assert asked["And then?"].chat_id == asked[replied_question].response_chat_id


async def test_typing_in_one_channel_keeps_to_its_bucket(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    # No threads at all: every answer is in the one channel, so is every typing indicator.
    fake.refuse_threads = True
    async with running(fake, sim, sqlite_url) as bot:
        questions = await asyncio.gather(
            *(bot.say(f"Question {n}?", mention_bot=True) for n in range(8))
        )
        await bot.answered(CHANNEL_ID, count=8, within=30)

    typing = fake.calls_to("POST", rf"/channels/{CHANNEL_ID}/typing")
    assert typing
    times = [c.at for c in typing]
    # 4 of the bucket's 5: discord.py sleeps out the reset in the call that spends the last.
    assert all(sum(t <= u < t + 5.0 for u in times) <= 4 for t in times)
    assert all(c.status == 204 for c in typing)
    # Where typing was spent and none shows, a 👀 on the question (reactions: 1 a second per
    # channel). Whether any question meets that here depends on how the answers interleave
    # (typing shows until the bot's first post): the case itself is the next test's.
    reacted = fake.calls_to("PUT", rf"/channels/{CHANNEL_ID}/messages/\d+/reactions/.+/@me")
    assert {emoji for emojis in fake.reactions.values() for emoji in emojis} <= {"\N{EYES}"}
    assert set(fake.reactions) <= {int(q["id"]) for q in questions}
    at = sorted(c.at for c in reacted)
    assert all(b - a >= 0.99 for a, b in itertools.pairwise(at))
    assert fake.count_429() == 0


async def test_where_typing_is_spent_and_none_shows_the_question_gets_eyes(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        client = bot.adapter.client
        assert client is not None
        channel = client.get_partial_messageable(CHANNEL_ID, guild_id=GUILD_ID)
        responder = DiscordResponder(client)
        jobs = []
        for n in range(6):
            question = await channel.send(f"Question {n}?")  # stands in for a person's
            jobs.append(
                Job(
                    key=f"discord:{question.id}",
                    question=Question(
                        thread=chain_key(GUILD_ID, CHANNEL_ID, question.id),
                        text=f"Question {n}?",
                        message_ref=str(question.id),
                    ),
                )
            )
        for job in jobs[:4]:  # 4 of the bucket's 5: each types
            await responder.working(job)
        await responder.working(jobs[4])  # typing spent, but it shows: nothing more
        responder.typing.posted(str(CHANNEL_ID))  # the bot posted: typing no longer shows
        await responder.working(jobs[5])
        await asyncio.gather(*responder._signs)
    assert len(fake.calls_to("POST", rf"/channels/{CHANNEL_ID}/typing")) == 4
    assert fake.reactions == {int(jobs[5].question.message_ref or 0): ["\N{EYES}"]}


def test_typing_shows_for_ten_seconds_or_until_the_bot_posts() -> None:
    # discord-api-docs resources/channel, Trigger Typing Indicator: "expires after 10
    # seconds"; a message from the bot ends it (the client stops showing "typing…").
    now = [0.0]
    shown = TypingShown(clock=lambda: now[0])
    assert not shown.showing("10")
    shown.typed("10")
    now[0] = 9.9
    assert shown.showing("10")
    assert not shown.showing("11")  # per channel
    shown.posted("10")
    assert not shown.showing("10")
    shown.typed("10")
    now[0] = 20.0
    assert not shown.showing("10")
