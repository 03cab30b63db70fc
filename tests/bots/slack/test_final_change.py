"""Issue 15: the answer is complete on Slack when Gloo's stream ends, not a pacing turn later.

Driven through the core's answer loop (:func:`core.answering.show_answer`), the real
:class:`SlackResponder`'s surface and slack_sdk against the fake Slack, both on
one fake clock (no real waiting): Gloo's first chunk at 0.5 s, 60 chunks 40 ms apart. The
contract (docs.slack.dev reference/methods chat.appendStream, chat.stopStream): appends add
``markdown_text``; ``chat.stopStream`` ends the stream with the last text and "blocks that will
be rendered at the bottom of the finalized message" — one call. Slack publishes no per-message
edit limit; our pacing (at most one change a second while streaming) is what the fake
enforces, the final change excepted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError

from bots.slack.clients import WebClients
from bots.slack.responder import SlackResponder
from core.answering import show_answer
from core.service import StreamEvent
from core.types import Job, Question, Reply, Source, TextDelta, ThreadKey
from tests.bots.slack.fake_slack import BOT_TOKEN, TEAM_ID, FakeSlack, Message
from tests.bots.slack.support import slack_settings

CHANNEL = "C0FINAL01"
THREAD_TS = "1700000500.000100"
WINDOW = 1.0


class Clock:
    """A fake monotonic clock; sleeping advances it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


REPLY_TEXT = "".join(f"Word{i} " for i in range(60)).strip()


def reply() -> Reply:
    return Reply(
        text=REPLY_TEXT,
        sources=(Source("Grace", "https://example.org/grace"),),
        suggestions=("What is mercy?",),
        answer_id="AbCdEfGhIjKl",
        chat_id="chat-1",
    )


class Gloo:
    """The answer stream, on the clock: first chunk at 0.5 s, then one every 40 ms."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.first_chunk_at = 0.0
        self.ended_at = 0.0

    async def answer(self) -> AsyncIterator[StreamEvent]:
        words = [f"Word{i} " for i in range(60)]
        text = ""
        for i, word in enumerate(words):
            self.clock.now += 0.5 if i == 0 else 0.04
            if i == 0:
                self.first_chunk_at = self.clock.now
            text += word
            yield TextDelta(delta=word, text=text.strip() if i == len(words) - 1 else text)
        self.ended_at = self.clock.now
        yield reply()


def job() -> Job:
    thread = ThreadKey("slack", TEAM_ID, CHANNEL, THREAD_TS)
    return Job(key="slack:final", question=Question(thread, "What is grace?", user_id="U1"))


def paced_windows(message: Message) -> int:
    """The most non-final changes of ``message`` within any ``WINDOW`` seconds."""
    times = sorted(message.paced_edit_times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= WINDOW:
            start += 1
        most = max(most, end - start + 1)
    return most


async def run(streaming: bool) -> tuple[FakeSlack, Gloo, Clock]:
    clock = Clock()
    fake = await FakeSlack(edit_interval=WINDOW, clock=clock).start()
    try:
        settings = slack_settings("sqlite+aiosqlite:///:memory:", fake, slack_bot_token=BOT_TOKEN)
        responder = SlackResponder(
            WebClients(settings, retry_sleep=clock.sleep),
            update_interval=WINDOW,
            streaming=streaming,
        )
        gloo = Gloo(clock)

        async def posted(ids: object) -> None:
            return None

        # The core's answer loop, on the same clock, paces the surface.
        surface = await responder.open(job(), posted)
        await show_answer(surface, gloo.answer(), clock=clock)
    finally:
        await fake.close()
    return fake, gloo, clock


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "placeholder"])
async def test_the_final_change_goes_when_the_stream_ends(streaming: bool) -> None:
    fake, gloo, clock = await run(streaming)
    (message,) = fake.in_thread(CHANNEL, THREAD_TS)
    # Complete (text and buttons) at the stream's end, not a pacing turn later.
    assert message.completed_at == gloo.ended_at == clock.now
    assert message.markdown.startswith(REPLY_TEXT)
    assert message.feedback_buttons()
    assert message.buttons("gloo_suggest")
    # The first text showed with the first chunk.
    assert fake.first_text_at[(CHANNEL, THREAD_TS)] == gloo.first_chunk_at
    # One final change, sooner than the window after the last paced one (it was not held).
    final = [c for c in fake.calls if c.final]
    assert len(final) == 1
    assert final[0].method == ("chat.stopStream" if streaming else "chat.update")
    assert final[0].at - max(message.paced_edit_times) < WINDOW
    # Otherwise at most one change a second, and Slack refused nothing.
    assert paced_windows(message) == 1
    assert len(message.paced_edit_times) >= 2
    assert not [c for c in fake.calls if c.status == 429]


async def test_the_fake_refuses_a_second_quick_update_but_not_the_final_one() -> None:
    clock = Clock()
    fake = await FakeSlack(edit_interval=WINDOW, clock=clock).start()
    try:
        settings = slack_settings("sqlite+aiosqlite:///:memory:", fake, slack_bot_token=BOT_TOKEN)
        client = WebClients(settings, retry_sleep=clock.sleep).build(
            BOT_TOKEN, wait_on_rate_limit=False
        )
        posted = await client.chat_postMessage(channel=CHANNEL, text="Thinking…")
        ts = str(posted["ts"])
        clock.now += 0.1
        await client.chat_update(channel=CHANNEL, ts=ts, text="Grace")  # first change
        clock.now += 0.1
        await client.chat_update(channel=CHANNEL, ts=ts, text="Grace is")  # the final one
        clock.now += 0.1
        with pytest.raises(SlackApiError) as refused:
            await client.chat_update(channel=CHANNEL, ts=ts, text="Grace is a")
    finally:
        await fake.close()
    assert refused.value.response.status_code == 429
    assert [c.final for c in fake.calls_to("chat.update")] == [False, True, False]
    assert fake.messages[ts].text == "Grace is"
