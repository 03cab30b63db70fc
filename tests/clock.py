"""A clock tests move by hand, for anything that takes an injectable ``clock``."""

from __future__ import annotations

from collections.abc import Callable


class FakeClock:
    """Returns ``now`` (seconds); only :meth:`advance` moves it."""

    def __init__(self, now: float = 1_752_500_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTimer:
    """One timer of :class:`FakeTimers`."""

    def __init__(self, at: float, callback: Callable[[], None]) -> None:
        self.at = at
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeTimers:
    """``call_later`` on a :class:`FakeClock`: a timer fires when :meth:`advance` passes it."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.timers: list[FakeTimer] = []

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(self.clock.now + delay, callback)
        self.timers.append(timer)
        return timer

    @property
    def pending(self) -> list[FakeTimer]:
        return [t for t in self.timers if not t.cancelled]

    def advance(self, seconds: float) -> None:
        """Move the clock on, firing the timers due by then in order."""
        until = self.clock.now + seconds
        while True:
            due = sorted((t for t in self.pending if t.at <= until), key=lambda t: t.at)
            if not due:
                break
            timer = due[0]
            timer.cancelled = True
            self.clock.now = max(self.clock.now, timer.at)
            timer.callback()
        self.clock.now = until
