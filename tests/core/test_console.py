"""The console playground, driven line by line against the real core on the simulator."""

from __future__ import annotations

import io
from collections.abc import Iterable

from core.console import TYPE_A_QUESTION, Console, LineReader, render_history
from core.messages import EMPTY_QUESTION
from core.simulator import SimulatorConfig
from core.store.sql import SqlStore
from core.types import ChatHistory, HistoryMessage
from tests.harness import core_on_simulator


def feed(lines: Iterable[str]) -> LineReader:
    """A reader that answers the console's prompts with ``lines``, then ends."""
    remaining = iter(lines)

    async def read(prompt: str) -> str | None:
        return next(remaining, None)

    return read


async def run_console(store: SqlStore, lines: list[str], **config: object) -> tuple[str, int]:
    out = io.StringIO()
    async with core_on_simulator(store, SimulatorConfig(**config)) as (c, _):  # type: ignore[arg-type]
        code = await Console(c.service, out).run(feed(lines))
    return out.getvalue(), code


async def test_a_question_then_a_suggestion_number_continues_the_chat(store: SqlStore) -> None:
    out = io.StringIO()
    async with core_on_simulator(store, gloo_intent=1) as (c, sim):
        console = Console(c.service, out)
        code = await console.run(feed(["What is grace?", "1"]))
        records = sim.message_records
    text = out.getvalue()
    assert code == 0
    assert "You: What is grace?" in text
    assert text.count("Gloo: ") == 2
    assert "Sources:\n  [1] " in text
    assert "https://" in text
    assert "Suggestions (type a number to ask):\n  1. " in text
    first_suggestion = text.split("Suggestions (type a number to ask):\n  1. ")[1].split("\n")[0]
    assert f"You (suggestion 1): {first_suggestion}" in text
    assert len(records) == 2
    assert records[1].chat_id == records[0].response_chat_id
    assert records[1].query == first_suggestion


async def test_commands(store: SqlStore) -> None:
    text, code = await run_console(
        store,
        ["/help", "/history", "What is hope?", "/history", "/reset", "/history", "/nope", "9"],
    )
    assert code == 0
    assert "/reset       start a new conversation" in text
    assert text.count("No conversation yet; ask something first.") == 2
    assert "Conversation c" in text
    assert "You: What is hope?" in text
    assert "Started a new conversation." in text
    assert "Unknown command /nope. Type /help for commands." in text
    assert "There are no suggestions to pick from yet; type a question." in text


async def test_out_of_range_suggestion_number(store: SqlStore) -> None:
    text, _ = await run_console(store, ["What is peace?", "4"])
    assert "Pick a suggestion between 1 and 3, or type a question." in text


async def test_a_non_ascii_digit_is_a_question_not_a_suggestion_number(store: SqlStore) -> None:
    # "\u00b2".isdigit() is true but int() refuses it: the console stopped with ValueError.
    text, code = await run_console(store, ["What is peace?", "\u00b2"])
    assert code == 0
    assert "You (suggestion" not in text
    assert "You: \u00b2" in text
    assert text.count("Gloo: ") == 2


async def test_quit_stops_reading(store: SqlStore) -> None:
    text, code = await run_console(store, ["/quit", "What is joy?"])
    assert code == 0
    assert "What is joy?" not in text


async def test_a_gloo_failure_prints_one_sentence_and_the_next_question_works(
    store: SqlStore,
) -> None:
    out = io.StringIO()
    async with core_on_simulator(store, gloo_retry_attempts=1) as (c, sim):
        sim.inject("500")
        code = await Console(c.service, out).run(feed(["What is grace?", "What is grace?"]))
    text = out.getvalue()
    assert code == 0
    assert "(!) I couldn't get an answer from Gloo just now. Please try again in a moment." in text
    assert text.count("Gloo: ") == 1
    assert "Traceback" not in text


def test_render_history() -> None:
    history = ChatHistory(
        chat_id="c1",
        title="About grace",
        messages=(HistoryMessage("user", "What is grace?"), HistoryMessage("assistant", "A gift.")),
    )
    assert render_history(history) == (
        "Conversation c1 - About grace\nYou: What is grace?\nGloo: A gift."
    )


async def test_control_bytes_in_input_are_never_echoed(store: SqlStore) -> None:
    text, code = await run_console(store, ["What is \x1b[31mgrace\x07?\x9b"])
    assert code == 0
    assert "You: What is grace?" in text
    for control in ("\x1b", "\x07", "\x9b"):
        assert control not in text


async def test_a_line_with_nothing_visible_gets_the_console_s_sentence(store: SqlStore) -> None:
    # Zero-width space, word joiner, BOM, Hangul filler: the intake's invisible characters.
    # There is no mention in the console, so not core.messages.EMPTY_QUESTION.
    out = io.StringIO()
    async with core_on_simulator(store) as (c, sim):
        code = await Console(c.service, out).run(feed(["\u200b\u2060\ufeff\u3164", "\u200b"]))
        asked = sim.message_records
    text = out.getvalue()
    assert code == 0
    assert text.count(f"{TYPE_A_QUESTION}\n") == 2
    assert EMPTY_QUESTION not in text
    assert "You:" not in text
    assert asked == []


async def test_piped_commands_are_echoed_as_typed_at_the_prompt(store: SqlStore) -> None:
    text, code = await run_console(
        store, ["/help", "What is hope?", "1", "9", "/history", "/reset", "/nope", "/quit"]
    )
    assert code == 0
    for typed in ("/help", "1", "9", "/history", "/reset", "/nope", "/quit"):
        assert f"\n> {typed}\n" in text, typed
    assert text.index("> /help\n") < text.index("Commands:")
    assert text.index("> 1\n") < text.index("You (suggestion 1): ")
    assert text.index("> /reset\n") < text.index("Started a new conversation.")
    assert text.endswith("> /quit\n")


async def test_piped_commands_echo_without_control_bytes(store: SqlStore) -> None:
    text, _ = await run_console(store, ["/he\x1b[2Jlp\x07", "/no\x9bpe"])
    assert "\n> /help\n" in text
    assert "\n> /nope\n" in text
    for control in ("\x1b", "\x07", "\x9b"):
        assert control not in text


async def test_an_interactive_console_does_not_echo_what_the_terminal_showed(
    store: SqlStore,
) -> None:
    out = io.StringIO()
    async with core_on_simulator(store) as (c, _):
        await Console(c.service, out, interactive=True).run(feed(["/help", "/reset"]))
    text = out.getvalue()
    assert "Commands:" in text
    assert "\n> " not in text
