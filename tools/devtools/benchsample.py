"""Where a bench's CPU went, by sampling stacks: inclusive time per subsystem that adds up.

:class:`StackSampler` takes the main thread's Python stack every ``interval`` seconds of
the process's CPU time (``SIGPROF`` from ``setitimer(ITIMER_PROF)``), between
:meth:`~StackSampler.enable` and :meth:`~StackSampler.disable` (the same two calls as a
:class:`cProfile.Profile`, so a bench's ``profile`` argument takes either). A stack runs
from the running frame down through every coroutine awaiting it to the event loop, and on
through SQLAlchemy's greenlets to the coroutine that spawned them (``greenlet.parent``),
so unlike cProfile's ``cumtime`` — which greenlet switches garble — each sample lands in
exactly the callers it ran under. From the samples :func:`summary` reports:

* **by root**: the outermost frame of each sample that the event loop called and that is
  not the loop's own (an aiohttp server request, a dispatcher job, an aiohttp client's
  protocol callback…), or ``event loop`` when the loop itself ran: a partition, adding up
  to 100 %;
* **by package**: the package of the running Python frame (a C function's time goes to the
  Python frame that called it): a partition too;
* **by subsystem**: the innermost frame of each sample that one of the ``subsystems``
  entry points names (the database under a bolt listener counts as the database), else
  ``other`` and its root: a partition;
* **entry points**: each :class:`~devtools.benchprofile.EntryPoint`'s inclusive share (the
  samples with it anywhere on the stack); they nest and overlap.

Times are the samples' share of the CPU measured between ``enable`` and ``disable``.
"""

from __future__ import annotations

import io
import math
import signal
import time
from collections import Counter
from collections.abc import Sequence
from types import CodeType, FrameType
from typing import Any, Final

import greenlet

from devtools.benchprofile import EntryPoint, package_of

__all__ = ["StackSampler", "summary"]

#: Packages whose frames are the event loop's own, not a task's.
LOOP_PACKAGES: Final = frozenset({"asyncio", "selectors", "contextvars", "~"})

Stack = tuple[CodeType, ...]  # innermost first


class StackSampler:
    """Samples the main thread's stacks every ``interval`` s of process CPU time."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.samples: Counter[Stack] = Counter()
        self.cpu = 0.0
        self._started: float | None = None
        self._previous: Any = None

    def enable(self) -> None:
        self._previous = signal.signal(signal.SIGPROF, self._sample)
        self._started = time.process_time()
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def disable(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, self._previous or signal.SIG_DFL)
        if self._started is not None:
            self.cpu += time.process_time() - self._started
            self._started = None

    def _sample(self, signum: int, frame: FrameType | None) -> None:
        codes: list[CodeType] = []
        current: greenlet.greenlet | None = greenlet.getcurrent()
        while True:
            while frame is not None:
                codes.append(frame.f_code)
                frame = frame.f_back
            # Inside a greenlet (SQLAlchemy's sync code): go on in the one that switched to it.
            current = current.parent if current is not None else None
            if current is None:
                break
            frame = current.gr_frame
        self.samples[tuple(codes)] += 1


def _tasks_part(stack: Stack) -> Stack | None:
    """The frames the event loop ran (inner of its innermost ``_run_once``); ``None`` for a
    sample outside the loop."""
    for index, code in enumerate(stack):
        if code.co_name == "_run_once" and package_of(code.co_filename) == "asyncio":
            return stack[:index]
    return None


def _root(stack: Stack) -> str:
    """The outermost frame the event loop called that is not the loop's own, as
    ``package: function``; ``event loop`` when the loop itself was running."""
    inner = _tasks_part(stack)
    if inner is None:
        return "outside the event loop"
    for code in reversed(inner):
        package = package_of(code.co_filename)
        if package not in LOOP_PACKAGES:
            return f"{package}: {code.co_qualname}"
    return "event loop"


def _matches(code: CodeType, point: EntryPoint) -> bool:
    """``code`` is ``point``'s function (``function="*"``: any function of a file whose path
    contains ``point.file``)."""
    path = code.co_filename.replace("\\", "/")
    if point.function == "*":
        return point.file in path
    return code.co_name == point.function and path.endswith(point.file)


def _subsystem(stack: Stack, subsystems: Sequence[EntryPoint]) -> str:
    """The label of the innermost frame the event loop ran that matches one of
    ``subsystems`` (else ``other`` and the sample's root)."""
    for code in _tasks_part(stack) or ():
        for point in subsystems:
            if _matches(code, point):
                return point.label
    return f"other: {_root(stack)}"


def summary(
    sampler: StackSampler,
    *,
    points: Sequence[EntryPoint] = (),
    subsystems: Sequence[EntryPoint] = (),
    per: int = 1,
    roots: int = 25,
    packages: int = 25,
) -> str:
    """The views as text, in ms per answer over ``per`` answers and in percent."""
    total = sum(sampler.samples.values())
    out = io.StringIO()
    cpu_ms = sampler.cpu * 1000 / per
    # The kernel's timer ticks (4 ms at HZ=250) may space the samples wider than asked.
    every = sampler.cpu * 1000 / total if total else math.nan
    out.write(
        f"Stack samples: {total}, one every {every:.2f} ms of CPU (asked "
        f"{sampler.interval * 1000:g}); {cpu_ms:.2f} ms CPU per answer over {per} answers.\n"
    )
    if not total:
        return out.getvalue()

    def row(count: int, label: str) -> str:
        share = count / total
        return f"  {share * cpu_ms:8.2f} ms  {100 * share:5.1f} %  {label}\n"

    by_root: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    inclusive: Counter[int] = Counter()
    by_subsystem: Counter[str] = Counter()
    for stack, count in sampler.samples.items():
        by_root[_root(stack)] += count
        if subsystems:
            by_subsystem[_subsystem(stack, subsystems)] += count
        by_package[package_of(stack[0].co_filename) if stack else "~"] += count
        for index, point in enumerate(points):
            if any(_matches(code, point) for code in stack):
                inclusive[index] += count
    if subsystems:
        out.write("\nBy subsystem (the innermost frame that names one; adds up):\n")
        for label, count in by_subsystem.most_common():
            out.write(row(count, label))
    out.write("\nBy root (the outermost frame above the event loop; adds up):\n")
    for label, count in by_root.most_common(roots):
        out.write(row(count, label))
    out.write("\nBy package of the running frame (C time charged to its caller; adds up):\n")
    for label, count in by_package.most_common(packages):
        out.write(row(count, label))
    if points:
        out.write("\nInclusive time of entry points (nested; they do not add up):\n")
        for index, point in enumerate(points):
            out.write(row(inclusive[index], f"{point.label}  ({point.file}:{point.function})"))
    return out.getvalue()
