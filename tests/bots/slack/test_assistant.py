"""The assistant view: suggested prompts when a thread starts, status while answering."""

from __future__ import annotations

from core.simulator import Simulator
from tests.bots.slack.fake_slack import FakeSlack
from tests.bots.slack.support import DM, assert_final_buttons, event, slack_process

THREAD = "1700000400.000100"


async def test_assistant_thread_gets_prompts_then_answers_with_status(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
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
