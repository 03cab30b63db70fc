"""The retry policy for Gloo calls, on top of stamina.

Only errors marked ``retryable`` in :mod:`core.gloo.errors` are retried. A server-given
``Retry-After`` (or ``X-RateLimit-Reset``) replaces the exponential backoff, unless it is
longer than ``max_retry_after``: then we give up at once and let the caller decide, rather
than park a coroutine for minutes. ``deadline`` bounds the whole call, waits included.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, TypeVar

import stamina
import structlog

from core.gloo.errors import (
    GlooError,
    GlooRateLimited,
    GlooStreamInterrupted,
    GlooTimeout,
    GlooUsageLimited,
)

if TYPE_CHECKING:
    from core.settings import Settings

log = structlog.get_logger(__name__)

T = TypeVar("T")

# X-RateLimit-Reset values at or above this are Unix timestamps, not seconds-from-now.
_EPOCH_SECONDS_MIN = 1e9
# ... and at or above this, Unix timestamps in milliseconds.
_EPOCH_MILLIS_MIN = 1e12


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait before retrying, from the response headers, or ``None``.

    ``Retry-After`` is either delay-seconds or an HTTP date. Without a usable one,
    ``X-RateLimit-Reset`` (or ``RateLimit-Reset``) is read as seconds-from-now when small,
    else as a Unix timestamp in seconds (or milliseconds when above 10^12). ``now`` is the
    current Unix time (default :func:`time.time`). Never negative.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    current = time.time() if now is None else now

    retry_after = lowered.get("retry-after", "").strip()
    if retry_after:
        seconds = _number(retry_after)
        if seconds is not None:
            return max(0.0, seconds)
        try:
            when = parsedate_to_datetime(retry_after)
        except (TypeError, ValueError, IndexError, OverflowError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - current)

    for name in ("x-ratelimit-reset", "ratelimit-reset"):
        reset = _number(lowered.get(name, "").strip())
        if reset is None:
            continue
        if reset >= _EPOCH_MILLIS_MIN:
            return max(0.0, reset / 1000.0 - current)
        if reset >= _EPOCH_SECONDS_MIN:
            return max(0.0, reset - current)
        return max(0.0, reset)
    return None


def _number(text: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def set_instant_retries(enabled: bool = True) -> AbstractContextManager[None]:
    """Make every retry wait zero seconds (tests), keeping each policy's attempt count.

    Usable as a plain call or as a context manager that restores the previous mode.
    """
    return stamina.set_testing(enabled, attempts=1000, cap=True)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``attempts`` counts the first try; times are seconds."""

    attempts: int = 4
    deadline: float = 90.0
    wait_initial: float = 0.5
    wait_max: float = 10.0
    wait_jitter: float = 1.0
    max_retry_after: float = 30.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    #: Called with the error each time a call is about to be retried (metrics).
    on_retry: Callable[[BaseException], None] | None = field(
        default=None, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.deadline <= 0:
            raise ValueError("RetryPolicy.deadline must be positive")
        if min(self.wait_initial, self.wait_max, self.wait_jitter, self.max_retry_after) < 0:
            raise ValueError("RetryPolicy waits must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(attempts=settings.gloo_retry_attempts, deadline=settings.gloo_retry_deadline)

    def backoff_for(self, exc: BaseException) -> bool | float:
        """stamina backoff hook: ``False`` = give up, ``True`` = default backoff, a float =
        wait exactly that long (the server's ``Retry-After``)."""
        if not isinstance(exc, GlooError) or not exc.retryable:
            return False
        if isinstance(exc, GlooStreamInterrupted):
            return False  # text already reached the user: a retry would double it
        retry_after: object = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and not isinstance(retry_after, bool):
            if retry_after > self.max_retry_after:
                return False
            return max(0.0, float(retry_after))
        return True

    def backoff_wait(self, retry_number: int) -> float:
        """Exponential backoff before retry ``retry_number`` (1-based), with jitter."""
        jitter = random.uniform(0.0, self.wait_jitter) if self.wait_jitter else 0.0
        try:
            wait = self.wait_initial * (2.0 ** (retry_number - 1)) + jitter
        except OverflowError:
            return self.wait_max
        return min(self.wait_max, wait)

    async def run(self, fn: Callable[[], Awaitable[T]], *, operation: str = "gloo") -> T:
        """Await ``fn()`` until it succeeds, retrying under this policy.

        Raises the last error when it is not retryable, attempts run out, or the next wait
        would end past the deadline; :class:`GlooTimeout` when the deadline itself expires
        while an attempt or a wait is in progress. A 429 that outlasted the budget -- one
        answered again after its retry, or with a ``Retry-After`` past ``max_retry_after``
        -- is raised as :class:`GlooUsageLimited`: Gloo uses 429 for an organisation's
        spending limit too, and a rate limit clears within seconds. A single 429 that
        merely ended a budget other failures spent stays a (retryable) rate limit.
        """
        hook = _AttemptHook(self, operation)
        try:
            return await self._run(fn, hook)
        except GlooRateLimited as exc:
            if isinstance(exc, GlooUsageLimited) or not hook.limit_outlasted(exc):
                raise
            log.warning(
                "gloo.usage_limit.assumed",
                operation=operation,
                reason="the 429 outlasted the retry budget",
                retry_after=exc.retry_after,
            )
            raise GlooUsageLimited(
                f"{exc.message} (still refused after the retry budget)",
                status_code=exc.status_code,
                detail=exc.detail,
                code=exc.code,
                retry_after=exc.retry_after,
            ) from exc

    async def _run(self, fn: Callable[[], Awaitable[T]], hook: _AttemptHook) -> T:
        operation = hook.operation
        timeout = asyncio.timeout(self.deadline)
        try:
            async with timeout:
                async for attempt in stamina.retry_context(
                    on=hook,
                    attempts=self.attempts,
                    timeout=self.deadline,
                    wait_initial=self.wait_initial,
                    wait_max=self.wait_max,
                    wait_jitter=self.wait_jitter,
                ):
                    with attempt:
                        return await fn()
        except TimeoutError as exc:
            if not timeout.expired():
                raise
            log.warning(
                "gloo.retry.deadline_expired",
                operation=operation,
                attempt=hook.failures + 1,
                deadline=self.deadline,
            )
            raise GlooTimeout(
                f"Gloo did not answer within {self.deadline:g} s (all attempts)"
            ) from exc
        raise AssertionError("unreachable: stamina ends with a result or an exception")


class _AttemptHook:
    """The per-call backoff hook: counts failures, enforces attempts and the deadline, logs."""

    def __init__(self, policy: RetryPolicy, operation: str) -> None:
        self._policy = policy
        self._operation = operation
        self._started = policy.clock()
        self.failures = 0
        self.rate_limited_in_a_row = 0  # the 429s that ended the run, one after another

    @property
    def operation(self) -> str:
        return self._operation

    def limit_outlasted(self, exc: GlooRateLimited) -> bool:
        """Whether the 429 ``exc`` that ended the run outlasted the budget: refused again
        after a retry, or with a ``Retry-After`` longer than the policy waits."""
        retry_after = exc.retry_after
        too_long = retry_after is not None and retry_after > self._policy.max_retry_after
        return self.rate_limited_in_a_row >= 2 or too_long

    def __call__(self, exc: BaseException) -> bool | float:
        if not isinstance(exc, Exception):  # cancellation passes through tenacity too
            return False
        self.failures += 1
        limited = isinstance(exc, GlooRateLimited)
        self.rate_limited_in_a_row = self.rate_limited_in_a_row + 1 if limited else 0
        policy = self._policy
        decision = policy.backoff_for(exc)
        status: object = getattr(exc, "status_code", None)
        if decision is False:
            retry_after: object = getattr(exc, "retry_after", None)
            if retry_after is not None and isinstance(exc, GlooError) and exc.retryable:
                log.warning(
                    "gloo.retry.retry_after_too_long",
                    operation=self._operation,
                    status=status,
                    retry_after=retry_after,
                    max_retry_after=policy.max_retry_after,
                )
            return False
        if self.failures >= policy.attempts:
            log.warning(
                "gloo.retry.exhausted",
                operation=self._operation,
                status=status,
                error=type(exc).__name__,
                attempts=self.failures,
            )
            return False
        wait = policy.backoff_wait(self.failures) if decision is True else float(decision)
        elapsed = policy.clock() - self._started
        if elapsed + wait > policy.deadline:
            log.warning(
                "gloo.retry.deadline",
                operation=self._operation,
                status=status,
                error=type(exc).__name__,
                attempt=self.failures,
                elapsed=round(elapsed, 3),
                wait=round(wait, 3),
                deadline=policy.deadline,
            )
            return False
        log.warning(
            "gloo.retry",
            operation=self._operation,
            status=status,
            error=type(exc).__name__,
            attempt=self.failures,
            wait=round(wait, 3),
        )
        if policy.on_retry is not None:
            policy.on_retry(exc)
        return wait
