"""Ctrl-C in ``gloo-bots chat`` on a terminal, as a person presses it: a real process on a
pseudo-terminal, real SIGINTs (tests/core/test_console_interrupt.py drives the same paths
in-process)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from core.console import STOPPED
from tests.core.test_cli import clean_env


class Terminal:
    """The person's side of a pseudo-terminal: what the program wrote so far."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.seen = b""

    def wait_for(self, marker: bytes, *, after: int = 0, within: float = 30.0) -> int:
        """Read until ``marker`` shows after offset ``after``; where it ends."""
        deadline = time.monotonic() + within
        while (found := self.seen.find(marker, after)) < 0:
            left = deadline - time.monotonic()
            assert left > 0, f"{marker!r} never came; the terminal shows {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:  # the program closed the terminal
                    break
        assert found >= 0, f"{marker!r} never came; the terminal shows {self.seen!r}"
        return found + len(marker)


def test_ctrl_c_stops_the_answer_then_ctrl_c_at_the_prompt_leaves(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 80, 0, 0))
    before = termios.tcgetattr(slave)
    # The first piece of the answer at once, the next an hour later: mid-answer for sure.
    env = clean_env(
        GLOO_BACKEND="simulator",
        GLOO_SIMULATOR_CHUNK_LATENCY="3600",
        TERM="xterm-256color",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "chat"],
        cwd=tmp_path,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    terminal = Terminal(master)
    try:
        at = terminal.wait_for(b"Type /help for commands.")
        at = terminal.wait_for(b"> ", after=at)
        os.write(master, b"What is grace?\r")
        at = terminal.wait_for("Gloo is thinking\u2026".encode(), after=at)
        at = terminal.wait_for(b"Gloo:", after=at)  # the first text, rendered
        process.send_signal(signal.SIGINT)
        at = terminal.wait_for(STOPPED.encode(), after=at)
        at = terminal.wait_for(b"> ", after=at)  # back at the prompt
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
        after = termios.tcgetattr(slave)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(slave)
        os.close(master)
    assert code == 0, terminal.seen
    assert b"Traceback" not in terminal.seen
    # readline left the terminal in its own mode on the read thread; it is given back.
    assert after == before
