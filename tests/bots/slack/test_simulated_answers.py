"""GLOO_BACKEND=simulator on Slack: the process serves, and every answer says it is simulated.

(Written with issue 10's section 4, by the Discord/production helper: only the shared
fixtures of this folder are used.)
"""

from __future__ import annotations

from bots.slack.adapter import SlackAdapter
from core.adapters import serving
from core.bootstrap import SIMULATED_NOTE
from tests.bots.slack.fake_slack import BOT_USER_ID, FakeSlack
from tests.bots.slack.support import (
    ALICE,
    CHANNEL,
    SlackProcess,
    event,
    no_sleep,
    slack_settings,
)
from tests.harness import builtin_simulator_settings


async def test_every_answer_from_the_built_in_simulator_says_it_is_simulated(
    sqlite_url: str, fake_slack: FakeSlack
) -> None:
    adapter = SlackAdapter(update_interval=0.0, retry_sleep=no_sleep)
    settings = slack_settings(sqlite_url, fake_slack, **builtin_simulator_settings())
    async with serving(settings, [adapter]) as runtime:  # no transport: the core's simulator
        assert runtime.container.simulator is not None
        slack = SlackProcess(
            runtime=runtime, adapter=adapter, fake=fake_slack, sim=runtime.container.simulator
        )
        root = "1700000100.000100"
        mention = event("app_mention", ts=root, user=ALICE, text=f"<@{BOT_USER_ID}> What is grace?")
        assert (await slack.event(mention)).status == 200
        await slack.settle()
        follow_up = event(
            "message_channels", ts="1700000200.000100", thread_ts=root, text="And mercy?"
        )
        assert (await slack.event(follow_up)).status == 200
        await slack.settle()
    answers = fake_slack.in_thread(CHANNEL, root)
    assert len(answers) == 2
    for answer in answers:
        assert SIMULATED_NOTE in answer.markdown, answer.markdown
        assert len(answer.markdown) > len(SIMULATED_NOTE) + 20
