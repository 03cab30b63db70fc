"""The Discord responder's recovery after a crash (``recover``), against the fake Discord."""

from __future__ import annotations

from bots.discord import messages as texts
from bots.discord.bot import chain_key
from bots.discord.responder import DiscordResponder
from core.simulator import Simulator
from core.types import Job, Question
from tests.bots.discord.conftest import CHANNEL_ID, GUILD_ID, running
from tests.bots.discord.fake_discord import FakeDiscord


async def test_recovery_adopts_a_dead_attempt_s_answer_but_not_the_no_threads_note(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        client = bot.adapter.client
        assert client is not None
        question_id = fake.snowflake()  # the person's question, before the bot's messages
        channel = client.get_partial_messageable(CHANNEL_ID, guild_id=GUILD_ID)
        await channel.send(texts.NO_THREAD_PERMISSION)
        piece = await channel.send("Grace is a gift that nobody earns.")
        job = Job(
            key=f"discord:{question_id}",
            question=Question(
                thread=chain_key(GUILD_ID, CHANNEL_ID, question_id),
                text="What is grace?",
                message_ref=str(question_id),
            ),
        )
        found = await DiscordResponder(client).recover(job, known=set())
    assert found == [str(piece.id)]
