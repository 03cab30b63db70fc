"""The older assistant view (SLACK_MESSAGING=assistant, config/slack-manifest-assistant.yaml):
suggested prompts when a thread starts, status while answering, and top-level DMs as the
DM's one conversation, as before agent view."""

from __future__ import annotations

from core.simulator import Simulator
from tests.bots.slack.fake_slack import FakeSlack
from tests.bots.slack.support import DM, assert_final_buttons, event, slack_process

THREAD = "1700000400.000100"


async def test_assistant_thread_gets_prompts_then_answers_with_status(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim, slack_messaging="assistant") as slack:
        assert (await slack.event(event("assistant_thread_started"))).status == 200
        await slack.settle()
        (prompts,) = fake_slack.calls_to("assistant.threads.setSuggestedPrompts")
        assert prompts.args["thread_ts"] == THREAD
        assert len(prompts.args["prompts"]) == 3
        (greeting,) = fake_slack.in_thread(DM, THREAD)

        for ts, text in (("1700000410.000100", "What is grace?"), ("1700000420.000100", "More?")):
            body = event("message_im", ts=ts, thread_ts=THREAD, text=text)
            assert (await slack.event(body)).status == 200
            await slack.settle()
    statuses = fake_slack.calls_to("assistant.threads.setStatus")
    assert [s.args["thread_ts"] for s in statuses] == [THREAD, THREAD]
    answers = fake_slack.in_thread(DM, THREAD)[1:]
    assert len(answers) == 2
    assert_final_buttons(answers[0])
    first, second = sim.asked
    assert second.chat_id == first.response_chat_id
    assert greeting.markdown.startswith("Hi!")
    # The first question titles the assistant thread, the next one does not
    # (docs.slack.dev/reference/methods/assistant.threads.setTitle).
    (title,) = fake_slack.calls_to("assistant.threads.setTitle")
    assert title.args["thread_ts"] == THREAD
    assert fake_slack.titles == {(DM, THREAD): "What is grace?"}


async def test_top_level_direct_messages_continue_one_conversation(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    # chat.update per chunk of a zero-latency Gloo: over Tier 3 (devtools.slack.fake.SlackLimits);
    # the limits are not what this test checks, so they are off.
    fake_slack.limits = None
    async with slack_process(sqlite_url, fake_slack, sim, slack_messaging="assistant") as slack:
        await slack.event(event("message_im", ts="1700000300.000100", text="Tell me about hope"))
        await slack.settle()
        await slack.event(event("message_im", ts="1700000310.000100", text="And about joy?"))
        await slack.settle()
    first, second = sim.asked
    assert second.chat_id == first.response_chat_id
    answers = fake_slack.in_thread(DM, None)  # top level of the DM, not in threads
    assert len(answers) == 2
    assert "hope" in answers[0].markdown.lower()
    assert_final_buttons(answers[1])
    assert not fake_slack.calls_to("chat.startStream")  # no thread: placeholder + chat.update
    assert fake_slack.calls_to("chat.update")
