"""The whole adapter against the fake Discord and the Gloo simulator, from recorded payloads."""

from __future__ import annotations

import copy

import pytest

from bots.discord import messages as texts
from core import messages
from core.simulator import Simulator, content
from tests.bots.discord.conftest import (
    CHANNEL_ID,
    DM_CHANNEL_ID,
    OTHER_BOT,
    ROLE_ID,
    USER,
    assert_final_buttons,
    assert_no_pings,
    custom_ids,
    link_buttons,
    running,
)
from tests.bots.discord.fake_discord import FakeDiscord
from tests.harness import question_path, simulator_api

EPHEMERAL = 64


async def test_dm_is_answered_with_links_and_buttons(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        question = await bot.dm("What is grace?")
        [answer] = await bot.answered(DM_CHANNEL_ID)
        metrics = bot.runtime.container.metrics.render().decode()
    assert fake.calls_to("POST", rf"/channels/{DM_CHANNEL_ID}/typing")
    # REST calls are counted by route, ids folded away, at /metrics.
    assert (
        'gloo_bots_platform_calls_total{method="POST /channels/:id/messages",'
        'platform="discord",result="ok"}' in metrics
    )
    assert [(r.path, r.query) for r in sim.asked] == [(question_path(), "What is grace?")]
    [message] = bot.bot_messages(DM_CHANNEL_ID)
    assert message["message_reference"]["message_id"] == question["id"]
    # The Message API gives at least three sources for intent 1; grounded V2 cites 1 to 5.
    assert len(link_buttons(answer)) >= (3 if simulator_api() == "message" else 1)
    assert all(b["url"].startswith("https://") for b in link_buttons(answer))
    assert_final_buttons(answer)
    assert answer["content"].strip()
    assert_no_pings(fake)


async def test_guild_mention_starts_a_thread_and_follow_ups_need_no_mention(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    long_question = "Why " + "does grace matter so much " * 8 + "in everyday life?"
    async with running(fake, sim, sqlite_url) as bot:
        question = await bot.say(long_question, mention_bot=True)
        thread_id = int(question["id"])  # a thread started from a message has its id
        [first] = await bot.answered(thread_id)
        await bot.say("And how do I practise it?", channel_id=thread_id)
        answers = await bot.answered(thread_id, count=2)
        # Without a mention, a message in the channel itself is not for the bot.
        await bot.say("just chatting here", channel_id=CHANNEL_ID)
        await bot.dm("sentinel")
        await bot.answered(DM_CHANNEL_ID)

    [create] = fake.calls_to("POST", rf"/channels/{CHANNEL_ID}/messages/{thread_id}/threads")
    assert 0 < len(create.body["name"]) <= 100
    assert create.body["name"].startswith("Why does grace matter")
    assert fake.channels[thread_id]["parent_id"] == str(CHANNEL_ID)
    assert bot.bot_messages(CHANNEL_ID) == []  # everything went into the thread
    assert "message_reference" not in first  # the question is the thread's starter message
    records = sim.asked
    assert [r.query for r in records] == [
        " ".join(long_question.split()),
        "And how do I practise it?",
        "sentinel",
    ]
    assert records[0].chat_id is None
    assert records[1].chat_id == records[0].response_chat_id  # same conversation
    assert answers[1]["message_reference"]["channel_id"] == str(thread_id)
    assert_no_pings(fake)


async def test_everyone_here_roles_bots_and_own_messages_are_ignored(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        await bot.say("@everyone what is grace?", mention_everyone=True)
        await bot.say("@here what is grace?", mention_everyone=True)
        await bot.say(f"<@&{ROLE_ID}> what is grace?", mention_roles=[str(ROLE_ID)])
        await bot.say("what is grace?", mention_bot=True, user=OTHER_BOT)
        await bot.dm("what is grace?", user={**OTHER_BOT})
        own = {**fake.bot_user}
        await bot.say("what is grace?", mention_bot=True, user=own)
        await bot.dm("sentinel")
        await bot.answered(DM_CHANNEL_ID)
    # The bot's own answer was echoed back by the gateway too, and ignored.
    assert [r.query for r in sim.asked] == ["sentinel"]
    assert not fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")
    assert bot.bot_messages(CHANNEL_ID) == []


@pytest.mark.message_api
async def test_suggestion_click_is_deferred_and_continues_the_same_chat(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        question = await bot.say("What is grace?", mention_bot=True)
        thread_id = int(question["id"])
        [answer] = await bot.answered(thread_id)
        suggestion_id = custom_ids(answer, "gloo:s:")[1]
        click = await bot.click(answer, suggestion_id)
        callback = await bot.callback_for(click)
        answers = await bot.answered(thread_id, count=2)

    assert callback["type"] == 6  # deferred at once
    [asked] = [
        m for m in fake.channel_messages(thread_id) if m.get("interaction_token") == click["token"]
    ]
    records = sim.asked
    suggestion = records[1].query
    assert suggestion
    assert asked["content"] == f"**{USER['username']}** asked: *{suggestion}*"
    assert records[1].chat_id == records[0].response_chat_id
    assert answers[1]["message_reference"]["message_id"] == asked["id"]
    assert_no_pings(fake)


@pytest.mark.message_api
async def test_an_old_button_works_after_a_restart(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        await bot.dm("What is grace?")
        [answer] = await bot.answered(DM_CHANNEL_ID)
    async with running(fake, sim, sqlite_url) as restarted:
        click = await restarted.click(answer, custom_ids(answer, "gloo:s:")[0])
        assert (await restarted.callback_for(click))["type"] == 6
        await restarted.answered(DM_CHANNEL_ID, count=2)
    records = sim.asked
    assert len(records) == 2
    assert records[1].chat_id == records[0].response_chat_id


@pytest.mark.parametrize(
    ("custom_id", "sentence"),
    [
        ("gloo:s:forged-answer:0", messages.UNKNOWN_SUGGESTION),
        ("gloo:s:not a ref", messages.UNKNOWN_SUGGESTION),
        ("gloo:f:forged-answer:up", texts.UNKNOWN_FEEDBACK),
        ("gloo:f:whatever", texts.UNKNOWN_FEEDBACK),
    ],
)
async def test_a_forged_custom_id_gets_a_polite_ephemeral_note(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, custom_id: str, sentence: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        await bot.dm("What is grace?")
        [answer] = await bot.answered(DM_CHANNEL_ID)
        forged = copy.deepcopy(answer)
        forged["components"][-1]["components"][0]["custom_id"] = custom_id
        fake.messages[int(forged["id"])] = forged
        click = await bot.click(forged, custom_id)
        await bot.callback_for(click)
        if custom_id.startswith("gloo:s:"):
            [note] = await bot.followups(click)
        else:
            note = await bot.response(click)
        await bot.runtime.dispatcher.drain()
    callback = fake.callbacks[int(click["id"])]
    # Acknowledged before any database work: a suggestion with a silent deferral (6), as it
    # may post the question; feedback with an ephemeral "thinking…" (5), then filled in.
    assert callback["type"] == (6 if custom_id.startswith("gloo:s:") else 5)
    assert note["content"] == sentence
    assert note["flags"] & EPHEMERAL
    assert len(sim.asked) == 1  # nothing was asked
    assert_no_pings(fake)


@pytest.mark.message_api  # suggestions are a Message API feature
@pytest.mark.parametrize("digit", ["\u00b2", "\u0661"])
async def test_a_suggestion_ref_ending_in_a_unicode_digit_is_unknown(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, digit: str
) -> None:
    # "²" made int() raise ValueError; "١" (Arabic-Indic one) was read as suggestion 1.
    async with running(fake, sim, sqlite_url) as bot:
        await bot.dm("What is grace?")
        [answer] = await bot.answered(DM_CHANNEL_ID)
        real = custom_ids(answer, "gloo:s:")[0]
        custom_id = f"{real.rpartition(':')[0]}:{digit}"
        forged = copy.deepcopy(answer)
        forged["components"][-1]["components"][0]["custom_id"] = custom_id
        fake.messages[int(forged["id"])] = forged
        click = await bot.click(forged, custom_id)
        await bot.callback_for(click)
        [note] = await bot.followups(click)
        await bot.runtime.dispatcher.drain()
    assert note["content"] == messages.UNKNOWN_SUGGESTION
    assert note["flags"] & EPHEMERAL
    assert len(sim.asked) == 1
    assert_no_pings(fake)


async def test_feedback_is_stored_with_the_answer(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        await bot.dm("What is grace?")
        [answer] = await bot.answered(DM_CHANNEL_ID)
        up, down = custom_ids(answer, "gloo:f:")
        click = await bot.click(answer, up)
        callback = await bot.callback_for(click)
        thanks = await bot.response(click)
        answer_id = up.split(":")[2]
        stored = await bot.runtime.container.store.get_feedback(answer_id)
        await bot.response(
            await bot.click(answer, down, user={**USER, "id": "1300000000000000077"})
        )
        both = await bot.runtime.container.store.get_feedback(answer_id)
    assert callback["type"] == 5
    assert callback["data"]["flags"] & EPHEMERAL
    assert thanks["content"] == texts.FEEDBACK_THANKS
    assert thanks["flags"] & EPHEMERAL
    assert stored == {USER["id"]: 1}
    assert both == {USER["id"]: 1, "1300000000000000077": -1}
    assert_no_pings(fake)


async def test_a_long_answer_continues_in_new_messages_under_2000_characters(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    paragraph = (
        "Grace is a gift that nobody earns. It meets people where they are, and it changes "
        "how they treat each other. "
    ) * 6
    long_text = "\n\n".join(f"**Part {n}.** {paragraph.strip()}" for n in range(1, 9))
    assert len(long_text) > 5000
    monkeypatch.setattr(content, "compose_answer", lambda rng, query, previous: long_text)
    async with running(fake, sim, sqlite_url) as bot:
        await bot.dm("Tell me everything about grace")
        await bot.answered(DM_CHANNEL_ID)
    messages_ = bot.bot_messages(DM_CHANNEL_ID)
    assert len(messages_) >= 3
    assert all(len(m["content"]) <= 2000 for m in messages_)
    assert all(call.status < 400 for call in fake.calls), "Discord refused a message"
    assert [bool(m["components"]) for m in messages_] == [False] * (len(messages_) - 1) + [True]
    assert "".join(m["content"] for m in messages_).replace("\n", "").replace(" ", "") == (
        long_text.replace("\n", "").replace(" ", "")
    )
    assert all(m["content"].rstrip().endswith(".") for m in messages_)  # cut at sentences
    assert_no_pings(fake)


@pytest.mark.parametrize("fault", ["429", "500"])
async def test_a_gloo_failure_is_a_plain_sentence_and_the_next_question_works(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, fault: str
) -> None:
    sim.inject(fault, fault, fault)  # every Gloo retry of the first question fails
    async with running(fake, sim, sqlite_url, inbox_max_attempts=1) as bot:
        await bot.dm("What is grace?")

        async def told() -> bool:
            return bool(bot.bot_messages(DM_CHANNEL_ID))

        await fake.wait_for(told)
        await bot.runtime.dispatcher.drain()
        [failure] = bot.bot_messages(DM_CHANNEL_ID)
        await bot.dm("What is hope?")
        await bot.answered(DM_CHANNEL_ID)
    sentence = (
        "Gloo usage limit has been reached"  # a 429 outlasting the retries (issue 11)
        if fault == "429"
        else "I couldn't get an answer from Gloo just now."
    )
    assert sentence in failure["content"]
    assert not failure["components"]
    assert sim.asked[-1].status == 200
    assert_no_pings(fake)


async def test_a_mention_inside_a_thread_is_answered_there(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    thread_id = int(fake.add_thread(CHANNEL_ID, "people's thread")["id"])
    async with running(fake, sim, sqlite_url) as bot:
        question = await bot.say("What is grace?", channel_id=thread_id, mention_bot=True)
        [answer] = await bot.answered(thread_id)
    assert not fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")
    assert answer["message_reference"]["message_id"] == question["id"]


async def test_without_thread_permission_the_answer_goes_in_the_channel(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    fake.refuse_threads = True
    async with running(fake, sim, sqlite_url) as bot:
        question = await bot.say("What is grace?", mention_bot=True)
        [answer] = await bot.answered(CHANNEL_ID)
    assert fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")[0].status == 403
    assert answer["message_reference"]["message_id"] == question["id"]
    assert_no_pings(fake)


async def test_a_malformed_gateway_event_is_dropped_and_the_bot_keeps_answering(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        await fake.dispatch("MESSAGE_CREATE", {"id": "1", "channel_id": str(DM_CHANNEL_ID)})
        await fake.dispatch("THREAD_CREATE", {"id": "2", "guild_id": "3"})
        await bot.dm("Still there?")
        await bot.answered(DM_CHANNEL_ID)
        assert not bot.runtime.stopping.is_set()  # the process is still serving
    assert [r.query for r in sim.asked] == ["Still there?"]


async def test_a_slow_gloo_keeps_the_typing_indicator_going(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    sim.config.first_chunk_latency = 0.35
    async with running(fake, sim, sqlite_url, slow_notice_after=0.1) as bot:
        await bot.dm("What is grace?")
        await bot.answered(DM_CHANNEL_ID)
    # Once at the start, then again while Gloo has not started answering.
    assert len(fake.calls_to("POST", rf"/channels/{DM_CHANNEL_ID}/typing")) >= 2
