"""The event loop a process runs on: uvloop where it is installed, else asyncio's own.

uvloop (libuv under asyncio's API) is a dependency on Linux and macOS; Windows has none and
runs asyncio's loop. ``EVENT_LOOP`` (:attr:`core.settings.Settings.event_loop`) is the one
switch: ``auto`` (uvloop when importable), ``uvloop`` (required: a start-up sentence when it
is missing) or ``asyncio``. The figures behind the default are in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

from core.failures import StartupError

__all__ = ["EventLoopChoice", "loop_factory", "loop_name", "run"]

EventLoopChoice = Literal["auto", "uvloop", "asyncio"]
T = TypeVar("T")

NO_UVLOOP = (
    "EVENT_LOOP=uvloop, but uvloop is not installed here (it has no Windows build) — "
    "set EVENT_LOOP=auto or asyncio, or install the project with uvloop ('make install')."
)


def loop_factory(choice: EventLoopChoice) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes the process's loop for ``choice``; ``None`` is asyncio's default."""
    if choice == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise StartupError(NO_UVLOOP) from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: which loop runs (for the start-up log line and doctor)."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], choice: EventLoopChoice) -> T:
    """``asyncio.run(main)`` on the loop ``choice`` selects."""
    try:
        factory = loop_factory(choice)
    except BaseException:
        main.close()  # never awaited: say so quietly, not with a RuntimeWarning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
