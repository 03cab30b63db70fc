"""The console playground on a terminal: Markdown as it streams, a spinner until the first
text, Gloo's text and sources free of control bytes (``terminal=True`` on a ``StringIO``)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import cast

from core.console import THINKING, Console
from core.service import ConversationService, StreamEvent
from core.store.sql import SqlStore
from core.types import Question, Reply, Source, TextDelta
from tests.core.test_console import feed
from tests.harness import core_on_simulator

#: What rich's live display writes before it redraws: erase the line (then cursor up).
ERASE_LINE = "\x1b[2K"


def last_frame(text: str) -> str:
    """What stays on the screen of the last live display: the text after its last redraw."""
    return text.rsplit(ERASE_LINE, 1)[-1]


class ScriptedService:
    """Answers every question with ``pieces`` streamed, then ``reply`` (only ``stream``)."""

    def __init__(self, pieces: list[str], reply: Reply) -> None:
        self.pieces = pieces
        self.reply = reply

    async def stream(self, question: Question) -> AsyncIterator[StreamEvent]:
        text = ""
        for piece in self.pieces:
            text += piece
            yield TextDelta(piece, text)
        yield self.reply


def scripted(pieces: list[str], **reply: object) -> ConversationService:
    fields: dict[str, object] = {
        "text": "".join(pieces),
        "sources": (),
        "suggestions": (),
        "answer_id": "a1",
        "chat_id": "c1",
    }
    fields.update(reply)
    return cast(ConversationService, ScriptedService(pieces, Reply(**fields)))  # type: ignore[arg-type]


async def test_a_terminal_renders_the_answer_as_markdown() -> None:
    pieces = [
        "Grace is **a gift**.\n\n",
        "- one\n- two\n\n",
        "See [the page](https://ex.example/g) ",
        "and `code`.",
    ]
    out = io.StringIO()
    code = await Console(scripted(pieces), out, terminal=True).run(feed(["What is grace?"]))
    frame = last_frame(out.getvalue())
    assert code == 0
    assert "\x1b[1ma gift\x1b[0m" in frame  # bold, without its asterisks
    assert "**" not in frame
    assert " • \x1b[0mone" in frame
    assert " • \x1b[0mtwo" in frame
    # The link keeps its address in sight (hyperlinks=False): no OSC 8, just "text (url)".
    assert "the page\x1b[0m (\x1b[4;34mhttps://ex.example/g\x1b[0m)" in frame
    assert "\x1b]8" not in out.getvalue()
    assert "`" not in frame
    assert "code" in frame


async def test_piped_output_stays_plain_text(store: SqlStore) -> None:
    out = io.StringIO()
    async with core_on_simulator(store) as (c, _):
        code = await Console(c.service, out).run(feed(["What is grace?"]))
    text = out.getvalue()
    assert code == 0
    assert "Gloo: **" in text  # the simulator answers in Markdown; a pipe gets it as written
    assert "\x1b" not in text
    assert THINKING not in text  # a transcript holds what was said, not the wait


async def test_the_spinner_stands_until_text_arrives_then_gives_way(store: SqlStore) -> None:
    out = io.StringIO()
    async with core_on_simulator(store, gloo_intent=1) as (c, _):  # sources every time
        code = await Console(c.service, out, terminal=True).run(feed(["What is grace?"]))
    text = out.getvalue()
    assert code == 0
    assert THINKING in text
    answer = text.index("Gloo:")
    assert text.index(THINKING) < answer
    assert THINKING not in text[answer:]  # the answer's frames replaced it
    assert "Sources:" in text
    assert "Suggestions (type a number to ask):" in text


async def test_a_failure_removes_the_spinner_and_says_one_sentence(store: SqlStore) -> None:
    out = io.StringIO()
    async with core_on_simulator(store, gloo_retry_attempts=1) as (c, sim):
        sim.inject("500")
        code = await Console(c.service, out, terminal=True).run(feed(["What is grace?"]))
    text = out.getvalue()
    assert code == 0
    assert THINKING in text
    after = last_frame(text)
    assert THINKING not in after
    assert "(!) I couldn't get an answer from Gloo just now." in after
    assert "Gloo:" not in text


async def test_control_bytes_from_gloo_never_reach_a_terminal_or_a_pipe() -> None:
    pieces = [
        "Red \x1b[31mtext\x1b[0m",
        " and a bell\x07 \x1b]8;;https://evil.example\x07here\x1b]8;;\x07",
    ]
    service = scripted(
        pieces,
        sources=(Source("Title \x1b[2Jcleared", "https://ex.example/\x1b[5mblink"),),
        suggestions=("Ask \x9b31m more",),
    )
    for terminal in (True, False):
        out = io.StringIO()
        await Console(service, out, terminal=terminal).run(feed(["Hi"]))
        text = out.getvalue()
        for control in ("\x1b[31m", "\x1b[2J", "\x1b[5m", "\x1b]", "\x07", "\x9b"):
            assert control not in text, (terminal, control)
        assert "Title cleared - https://ex.example/blink" in text
        assert "Ask 31m more" in text
