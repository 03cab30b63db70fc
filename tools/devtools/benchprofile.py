"""Where a bench's CPU went, from a cProfile run: the top functions and own time by package.

``--profile`` (:func:`report`) prints two views of one :class:`cProfile.Profile`:

* the top functions by their own time (``pstats``, ``tottime``);
* **own time by package**: every Python function's own time charged to the package its file
  belongs to (``slack_sdk``, ``aiohttp``, ``sqlalchemy``, the stdlib's ``asyncio``, the
  project's ``core.delivery``…); a C function's (``~``) own time is split among the packages
  of the Python functions that called it, in proportion to what each call cost (cProfile
  keeps the time per caller). The rows add up to the whole profile.

Inclusive times (``cumtime``) are not reported: SQLAlchemy's async layer runs its sync code
in greenlets, and cProfile's one call stack per thread does not follow a greenlet switch, so
the ``cumtime`` of anything awaiting the database swallows other tasks' time. For inclusive
time per subsystem, sample the stacks instead (:mod:`devtools.benchsample`, ``--sample``).
A bench's ``profile`` argument takes either (:class:`Profiler`).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = ["EntryPoint", "Profiler", "by_package", "package_of", "report"]

_SITE: Final = re.compile(r"[/\\](?:site|dist)-packages[/\\]([^/\\]+)")
_STDLIB: Final = re.compile(r"[/\\]python3\.\d+[/\\]([^/\\]+)")
_PROJECT: Final = re.compile(r"(?:^|[/\\])((?:core|bots|devtools)(?:[/\\][^/\\]+)+)\.py$")


class Profiler(Protocol):
    """What a bench asks of a profiler: on for the measured phase, then off."""

    def enable(self) -> None: ...

    def disable(self) -> None: ...


@dataclass(frozen=True)
class EntryPoint:
    """A function whose inclusive time stands for a subsystem: ``label``, and the function
    (the end of its file name, and its name; ``"*"``: every function of the files whose
    path contains ``file``)."""

    label: str
    file: str
    function: str


def package_of(file: str) -> str:
    """The package a function's file belongs to, as the summary names it."""
    if file == "~":
        return "~"
    if found := _SITE.search(file):
        return found.group(1).removesuffix(".py")
    if found := _PROJECT.search(file):
        return ".".join(re.split(r"[/\\]", found.group(1))[:2])
    if found := _STDLIB.search(file):
        return found.group(1).removesuffix(".py")
    return file


def by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own time (seconds) per package, C functions charged to their callers; most first."""
    table = stats.stats  # type: ignore[attr-defined]
    totals: defaultdict[str, float] = defaultdict(float)
    for func, (_, _, own, _, callers) in table.items():
        file = func[0]
        if file != "~":
            totals[package_of(file)] += own
            continue
        shares = {caller: entry[2] for caller, entry in callers.items()}
        paid = sum(shares.values())
        if paid <= 0:
            totals[f"~ {func[2]}"] += own
            continue
        for caller, share in shares.items():
            totals[package_of(caller[0])] += own * share / paid
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)


def report(profile: cProfile.Profile, *, top: int = 30, per: int = 1, packages: int = 25) -> str:
    """Both views as text; ``per`` answers divide the package times into ms per answer."""
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    total = sum(entry[2] for entry in stats.stats.values())  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    out.write(f"Own time by package (C functions charged to their callers), of {total:.3f} s")
    out.write(f" profiled, ms per answer over {per} answers:\n")
    for package, seconds in by_package(stats)[:packages]:
        share = 100 * seconds / total if total else 0.0
        out.write(f"  {seconds * 1000 / per:8.2f} ms  {share:5.1f} %  {package}\n")
    return out.getvalue()
