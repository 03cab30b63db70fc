"""A clock tests move by hand, for anything that takes an injectable ``clock``."""

from __future__ import annotations


class FakeClock:
    """Returns ``now`` (seconds); only :meth:`advance` moves it."""

    def __init__(self, now: float = 1_752_500_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
