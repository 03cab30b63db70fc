"""Rate-limit rules the fake platforms enforce, kept per key with the time passed in.

Two shapes cover what Slack and Discord publish:

* :class:`Window` — at most ``calls`` in any ``seconds`` (a sliding window: Slack's tiers,
  "N per minute per workspace and method"; Discord's global "50 requests per second").
* :class:`Bucket` — a token bucket of ``burst`` tokens refilled at ``rate`` a second
  (Slack's ``chat.postMessage``: "1 per second per channel, short bursts allowed").

:class:`Limiter` holds the state per key. It never reads a clock: the caller passes ``now``,
so a fake platform built with an injected clock makes every limit instant to test. A call
that is refused does not spend the budget (it is answered 429 and changes nothing).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["Bucket", "Limiter", "Rule", "Window", "retry_after_seconds"]


@dataclass(frozen=True)
class Window:
    """At most ``calls`` calls in any ``seconds`` seconds."""

    calls: int
    seconds: float = 60.0


@dataclass(frozen=True)
class Bucket:
    """``burst`` calls at once, then ``rate`` calls a second (a token bucket)."""

    rate: float
    burst: int


Rule = Window | Bucket


class Limiter:
    """Admits or refuses calls per key under a :data:`Rule`, at the times given."""

    def __init__(self) -> None:
        self._times: defaultdict[Hashable, deque[float]] = defaultdict(deque)
        #: key → (tokens left, when they were counted)
        self._tokens: dict[Hashable, tuple[float, float]] = {}

    def take(self, key: Hashable, rule: Rule, now: float) -> float | None:
        """Spend one call of ``key`` at ``now``: ``None`` when admitted, else the seconds
        until a call would be admitted (nothing is spent then)."""
        if isinstance(rule, Window):
            return self._window(key, rule, now)
        return self._bucket(key, rule, now)

    def used(self, key: Hashable, rule: Window, now: float) -> int:
        """Calls of ``key`` admitted within the window ending at ``now``."""
        times = self._times[key]
        while times and now - times[0] >= rule.seconds:
            times.popleft()
        return len(times)

    def _window(self, key: Hashable, rule: Window, now: float) -> float | None:
        times = self._times[key]
        if self.used(key, rule, now) >= rule.calls:
            return times[0] + rule.seconds - now
        times.append(now)
        return None

    def _bucket(self, key: Hashable, rule: Bucket, now: float) -> float | None:
        tokens, since = self._tokens.get(key, (float(rule.burst), now))
        tokens = min(float(rule.burst), tokens + max(0.0, now - since) * rule.rate)
        if tokens < 1.0:
            self._tokens[key] = (tokens, now)
            return (1.0 - tokens) / rule.rate
        self._tokens[key] = (tokens - 1.0, now)
        return None


def retry_after_seconds(wait: float) -> int:
    """``Retry-After`` as Slack sends it: whole seconds, at least 1 (RFC 9110 delay-seconds)."""
    return max(1, math.ceil(wait))
