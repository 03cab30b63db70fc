"""The console playground: talk to the core from a terminal (or a pipe).

Answers stream as they arrive, then show numbered sources and suggestions; typing a
suggestion's number continues the same chat exactly like a button click would.

On a terminal the answer is rendered as Markdown while it streams (:mod:`rich`), after a
"Gloo is thinking…" spinner that stands until the first text arrives. Anywhere else (a pipe,
a file, a test's ``StringIO``) everything is plain text, so a transcript reads as typed.
Ctrl-C stops the answer being written and returns to the prompt; Ctrl-C at the prompt leaves.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

from rich.console import Console as RichConsole
from rich.console import ConsoleOptions, Group, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.segment import Segment
from rich.spinner import Spinner
from rich.text import Text

from core.intake import is_blank
from core.service import AnswerFailed, ConversationService, StreamEvent, UnknownSuggestion
from core.settings import Settings
from core.types import (
    ChatHistory,
    Question,
    Reply,
    SearchingSources,
    SourcesFound,
    TextDelta,
    ThreadKey,
    whole_number,
)

HELP = """Commands:
  <question>   ask Gloo
  <number>     ask the numbered suggestion of the last answer
  /history     show this conversation as Gloo stored it
  /reset       start a new conversation
  /help        this text
  /quit        leave (Ctrl-D, or Ctrl-C at the prompt, works too)
  Ctrl-C       stop the answer being written"""

#: What the console says to a line with nothing visible in it: there is no mention to put
#: a question after (the sentence the platforms use, core.messages.EMPTY_QUESTION).
TYPE_A_QUESTION = "Type a question, or /help for commands."
#: Printed when Ctrl-C stopped the answer (or command) being written.
STOPPED = "(stopped)"
THINKING = "Gloo is thinking\u2026"

SIMULATOR_BANNER = """\
======================================================================
  SIMULATOR MODE - answers come from the built-in Gloo simulator,
  not from Gloo AI. Set GLOO_CLIENT_ID and GLOO_CLIENT_SECRET (or
  GLOO_API_KEY) in the environment or .env to talk to the real Gloo.
======================================================================"""
#: The banner when GLOO_BACKEND=simulator chose the simulator on purpose.
SIMULATOR_BANNER_CHOSEN = """\
======================================================================
  SIMULATOR MODE (GLOO_BACKEND=simulator) - answers come from the
  built-in Gloo simulator, not from Gloo AI. To talk to the real Gloo,
  set GLOO_BACKEND=message (or completions) with GLOO_CLIENT_ID and
  GLOO_CLIENT_SECRET (or GLOO_API_KEY).
======================================================================"""


def simulator_banner(settings: Settings) -> str:
    """The banner that says why the simulator answers: chosen, or no credentials set."""
    return SIMULATOR_BANNER_CHOSEN if settings.simulator_requested else SIMULATOR_BANNER


_CONTROL = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.)?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def strip_control(text: str) -> str:
    """``text`` without C0/C1 control characters (newline and tab kept) or ESC sequences."""
    return _CONTROL.sub("", text)


T = TypeVar("T")

LineReader = Callable[[str], Awaitable[str | None]]
"""Reads one line, showing the prompt; ``None`` at the end of input."""


async def read_stdin(prompt: str) -> str | None:
    """One line from standard input without blocking the event loop.

    With a prompt (a terminal) it uses ``input()``, so line editing and history work once
    :mod:`readline` is imported. The read runs on a daemon thread, not the loop's executor,
    so Ctrl-C at the prompt ends the program at once instead of waiting for Enter.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str | None] = loop.create_future()

    def settle(value: str | None) -> None:
        if not future.done():
            future.set_result(value)

    def read() -> None:
        try:
            line: str | None = input(prompt) if prompt else (sys.stdin.readline() or None)
        except EOFError:
            line = None
        loop.call_soon_threadsafe(settle, line)

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return await future


@contextmanager
def terminal_mode_kept(stream: TextIO | None) -> Iterator[None]:
    """Give the terminal of ``stream`` back in the mode it had (``None``: not a terminal).

    Ctrl-C at the prompt leaves while :func:`input` is still reading on its daemon thread,
    where :mod:`readline` holds the terminal in its own mode (no echo, no line editing by
    the terminal); nothing would restore it, and the shell after us would echo nothing.
    """
    if stream is None:
        yield
        return
    import termios  # POSIX only, as the signal handling of Console.run

    saved = termios.tcgetattr(stream)
    try:
        yield
    finally:
        termios.tcsetattr(stream, termios.TCSADRAIN, saved)


class _Answer:
    """The live view of an answer on a terminal: a spinner until text arrives, then the text
    so far as Markdown under a "Gloo:" label.

    While it streams only the last screenful is drawn, so the newest text stays in sight
    however long the answer grows; once ``whole`` is set (the answer ended or was stopped)
    :class:`rich.live.Live` draws it all one last time and leaves it in the scrollback.
    """

    def __init__(self) -> None:
        self.text: str | None = None  # None: nothing arrived yet (thinking)
        self.whole = False
        self._spinner = Spinner("dots", text=THINKING)

    def __rich_console__(self, console: RichConsole, options: ConsoleOptions) -> RenderResult:
        if self.text is None:
            if not self.whole:
                yield self._spinner
            return
        # Links show their address: a terminal may not make them clickable, and the reader
        # should see where a link goes before opening it.
        answer = Group(Text("Gloo:", style="bold cyan"), Markdown(self.text, hyperlinks=False))
        if self.whole:
            yield answer
            return
        lines = console.render_lines(answer, options, pad=False)
        for line in lines[-max(console.size.height - 1, 1) :]:
            yield from line
            yield Segment.line()


class Console:
    def __init__(
        self,
        service: ConversationService,
        out: TextIO,
        *,
        interactive: bool = False,
        user_id: str = "console-user",
        terminal: bool | None = None,
    ) -> None:
        """``terminal``: render for a terminal (Markdown, a spinner); by default when ``out``
        is one."""
        self._service = service
        self._out = out
        self._interactive = interactive
        self._user_id = user_id
        self._thread = self._new_thread()
        self._last: Reply | None = None
        self._rich: RichConsole | None = None
        if out.isatty() if terminal is None else terminal:
            self._rich = RichConsole(
                file=out, force_terminal=True, highlight=False, markup=False, emoji=False
            )
        self._task: asyncio.Future[Any] | None = None  # the read or the answer under way
        self._answering = False  # whether _task is an answer (else the prompt's read)
        self._leaving = False

    @staticmethod
    def _new_thread() -> ThreadKey:
        return ThreadKey("console", "local", "console", uuid.uuid4().hex[:12])

    @property
    def thread(self) -> ThreadKey:
        return self._thread

    def _print(self, text: str = "", *, end: str = "\n") -> None:
        self._out.write(text + end)
        self._out.flush()

    def interrupt(self) -> None:
        """What Ctrl-C does: stop the answer being written (the console goes on to the next
        line), or, at the prompt, leave."""
        if self._answering and self._task is not None and not self._task.done():
            self._task.cancel()
            return
        self._leaving = True
        if self._task is not None:
            self._task.cancel()

    async def run(self, read: LineReader, *, interrupts: bool = False) -> int:
        """Serve until /quit, end of input or Ctrl-C at the prompt. Returns the exit code.

        ``interrupts``: Ctrl-C (SIGINT) calls :meth:`interrupt` while this runs, where the
        loop can take signal handlers (not on Windows: there Ctrl-C quits, as Python does).
        """
        loop = asyncio.get_running_loop()
        handled = False
        if interrupts:
            try:
                loop.add_signal_handler(signal.SIGINT, self.interrupt)
                handled = True
            except NotImplementedError:
                handled = False
        try:
            await self._serve(read)
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGINT)
        if self._interactive:
            self._print()
        return 0

    async def _serve(self, read: LineReader) -> None:
        self._print("Ask me anything. Type /help for commands.")
        prompt = "> " if self._interactive else ""
        while not self._leaving:
            ok, raw = await self._interruptible(read(prompt), answering=False)
            if not ok or raw is None:
                return
            line = strip_control(raw).strip()
            if line in ("/quit", "/exit"):
                self._echo_command(line)
                return
            if line:
                ok, _ = await self._interruptible(self.handle(line), answering=True)
                if not ok:
                    self._print(STOPPED)

    async def _interruptible(self, step: Awaitable[T], *, answering: bool) -> tuple[bool, T | None]:
        """``(True, result)`` of ``step``, or ``(False, None)`` when :meth:`interrupt`
        cancelled it (a cancellation of the console itself propagates)."""
        task = asyncio.ensure_future(step)
        self._task, self._answering = task, answering
        try:
            return True, await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            return False, None
        finally:
            self._task, self._answering = None, False

    def _echo_command(self, line: str) -> None:
        """Piped input: show a command as typed at the prompt, so a transcript reads right."""
        if not self._interactive:
            self._print(f"> {line}")

    async def handle(self, line: str) -> None:
        if line.startswith("/") or whole_number(line) is not None:
            self._echo_command(line)
        if line == "/help":
            self._print(HELP)
        elif line == "/reset":
            await self._service.reset(self._thread)
            self._thread, self._last = self._new_thread(), None
            self._print("Started a new conversation.")
        elif line == "/history":
            await self._history()
        elif line.startswith("/"):
            self._print(f"Unknown command {line.split()[0]}. Type /help for commands.")
        elif (number := whole_number(line)) is not None:
            await self._suggestion(number)
        elif is_blank(line):  # the intake's rule: nothing visible is no question
            self._print(TYPE_A_QUESTION)
        else:
            if not self._interactive:
                self._print(f"You: {line}")
            await self._ask(Question(self._thread, line, user_id=self._user_id))

    async def _ask(self, question: Question) -> None:
        await self._show(self._service.stream(question))

    async def _suggestion(self, number: int) -> None:
        if self._last is None or not 1 <= number <= len(self._last.suggestions):
            count = len(self._last.suggestions) if self._last else 0
            if count:
                self._print(f"Pick a suggestion between 1 and {count}, or type a question.")
            else:
                self._print("There are no suggestions to pick from yet; type a question.")
            return
        try:
            click, events = await self._service.answer_suggestion(
                self._last.suggestion_ref(number - 1), user_id=self._user_id
            )
        except UnknownSuggestion as exc:
            self._print(exc.user_message)
            return
        self._print(f"You (suggestion {number}): {strip_control(click.text)}")
        await self._show(events)

    async def _show(self, events: AsyncIterator[StreamEvent]) -> None:
        if self._rich is not None:
            await self._show_rendered(events, self._rich)
            return
        started = False
        shown = ""
        try:
            async for event in events:
                if isinstance(event, SearchingSources | SourcesFound):
                    continue  # steps are for surfaces that show them (Slack's task cards)
                if isinstance(event, TextDelta):
                    if not started:
                        self._print("Gloo: ", end="")
                        started = True
                    self._print(strip_control(event.delta), end="")
                    shown = event.text
                else:
                    if not started:
                        self._print(f"Gloo: {strip_control(event.text)}", end="")
                    elif event.text.startswith(shown):
                        # What the answer adds after its stream (the simulator's note).
                        self._print(strip_control(event.text[len(shown) :]), end="")
                    self._print()
                    self._render_extras(event)
                    self._last = event
        except AnswerFailed as exc:
            if started:
                self._print()
            self._print(f"(!) {exc.user_message}")
        except asyncio.CancelledError:
            if started:  # stopped mid-line: what follows starts on a line of its own
                self._print()
            raise

    async def _show_rendered(self, events: AsyncIterator[StreamEvent], rich: RichConsole) -> None:
        """The answer on a terminal: the spinner, then Markdown as it streams."""
        answer = _Answer()
        reply: Reply | None = None
        failed: AnswerFailed | None = None
        live = Live(
            answer,
            console=rich,
            refresh_per_second=10,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        with live:  # entering draws the spinner at once
            try:
                async for event in events:
                    if isinstance(event, SearchingSources | SourcesFound):
                        continue
                    first = answer.text is None
                    answer.text = strip_control(event.text)
                    if first:
                        live.refresh()  # the spinner gives way as soon as text arrives
                    if isinstance(event, Reply):
                        reply = event
            except AnswerFailed as exc:
                failed = exc
            finally:
                answer.whole = True  # leaving draws all of it (or, with no text, nothing)
        if failed is not None:
            self._print(f"(!) {failed.user_message}")
        if reply is not None:
            self._render_extras(reply)
            self._last = reply

    def _render_extras(self, reply: Reply) -> None:
        if reply.sources:
            self._print()
            self._heading("Sources:")
            for i, source in enumerate(reply.sources, 1):
                label, url = strip_control(source.label), strip_control(source.url or "")
                where = f" - {url}" if url and source.title else ""
                self._print(f"  [{i}] {label}{where}")
        if reply.suggestions:
            self._print()
            self._heading("Suggestions (type a number to ask):")
            for i, suggestion in enumerate(reply.suggestions, 1):
                self._print(f"  {i}. {strip_control(suggestion)}")
        self._print()

    def _heading(self, text: str) -> None:
        if self._rich is None:
            self._print(text)
        else:
            self._rich.print(Text(text, style="bold"))

    async def _history(self) -> None:
        try:
            history = await self._service.history(self._thread)
        except AnswerFailed as exc:
            self._print(f"(!) {exc.user_message}")
            return
        if history is None:
            self._print("No conversation yet; ask something first.")
            return
        self._print(strip_control(render_history(history)))


def render_history(history: ChatHistory) -> str:
    lines = [f"Conversation {history.chat_id}" + (f" - {history.title}" if history.title else "")]
    for message in history.messages:
        who = "You" if message.role == "user" else "Gloo"
        lines.append(f"{who}: {message.text}")
    return "\n".join(lines)
