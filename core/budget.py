"""One shared rate budget per scope and method: spend platform calls before the platform refuses.

Slack limits Web API methods per workspace and method (Tier 2 is 20 a minute, …), Discord
per bot (50 requests a second) and per channel and route. Every answer the process is giving
in a workspace spends from the same :class:`Budget`, so many live answers fit together inside
the published limits instead of each pacing only itself until the platform answers 429.

**Scopes and methods.** A *scope* is where the platform counts: a Slack workspace id, or
``"<workspace>/<channel>"`` for a per-channel limit (``chat.postMessage``); a Discord
``"<guild>/<channel>"`` or ``"global"``. The part before the first ``/`` is the scope's
*workspace*, the only part used as a metric label (bounded by installations). A *method* is a
platform method name (``chat.update``) or route name; the platform's tables live in
``bots/slack/limits.py`` and ``bots/discord/limits.py``. Methods without a :class:`Rate` are
unlimited (a 429 is still honoured for them).

**Sliding-window log.** Per (scope, method) the budget keeps the times of the calls spent in
the last ``window`` seconds and allows at most ``calls`` of them in any rolling window
(a call counts while ``now < spent_at + window``). That is conservative against both a token
bucket (which would allow more after a burst) and a fixed window on the platform's side
(which would allow up to twice as many across a boundary); a token bucket on our side would
trip a platform that enforces a sliding window.

**Several processes.** ``share`` is how many processes serve the same workspaces
(``SERVING_PROCESSES``): each process spends ``max(1, calls // share)`` of every rate. A
documented static split, without coordination: together the processes stay within the rate
(except that a rate smaller than ``share`` still gives each process one call).

**Reservations.** The final change of an answer (the last text with its buttons) must land at
once. :meth:`Budget.reserve` holds one future call of a method; held calls count against
ordinary takes, so ordinary calls can never eat them, and ``take(..., final=True)`` spends the
held one: it always fits in the window (``len(log) + reserved <= limit`` holds at all times).
When the budget cannot promise a call, ``reserve`` says so and the caller picks another
method for its final change.

**A 429.** :meth:`Budget.refused` records the platform's ``Retry-After``: nothing of that
method goes to that scope until then, ordinary or final, and it is counted.

**Pacing shared by live answers.** :meth:`Budget.answering` marks one answer live in a scope
for as long as it runs; :meth:`Budget.interval` gives one answer's pacing for its repeated
calls of a method so that all live answers in the scope fit the rate together, and
:meth:`Budget.pace` applies it once half the window's calls are spent (before that, the
caller's own floor).

**Memory.** Logs are pruned to the window on every use, a sweep over all keys runs at most
once per longest window, and a key with nothing left (no call in the window, no reservation,
no 429 hold) is dropped, as are scopes with no live answer.

The budget lives on one event loop and is not thread-safe; nothing here awaits except
:meth:`Budget.acquire` (between attempts). Time comes from an injected ``clock`` and waiting
from an injected ``sleep``, so tests never wait.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final, Protocol

__all__ = ["Budget", "BudgetMetrics", "BudgetUse", "Rate", "Reservation", "workspace_of"]

Sleep = Callable[[float], Awaitable[object]]

#: The longest single wait in :meth:`Budget.acquire` when the budget is full of reservations
#: (their release cannot be foreseen): it looks again this often.
RECHECK_SECONDS: Final = 1.0


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``calls`` calls in any rolling ``window`` seconds."""

    calls: int
    window: float

    def __post_init__(self) -> None:
        if self.calls < 1:
            raise ValueError(f"Rate.calls must be at least 1, not {self.calls}")
        if not self.window > 0:
            raise ValueError(f"Rate.window must be positive, not {self.window}")

    def split(self, share: int) -> Rate:
        """This process's part when ``share`` processes spend the same rate."""
        return Rate(max(1, self.calls // share), self.window)


@dataclass(frozen=True, slots=True)
class BudgetUse:
    """One (scope, method) of a budget now, for ``/metrics``, doctor and benchmarks.

    ``limit`` is this process's part of the rate (``None``: the method is unlimited),
    ``used`` the calls spent in the current window, ``reserved`` the calls held for final
    changes, ``refused`` the 429s recorded since the key was last dropped, and ``held_for``
    the seconds left of a 429's ``Retry-After``.
    """

    platform: str
    scope: str
    method: str
    used: int
    limit: int | None
    reserved: int
    refused: int
    held_for: float


class BudgetMetrics(Protocol):
    """What a budget records (:class:`core.metrics.Metrics` implements it).

    ``scope`` is always a workspace (:func:`workspace_of`), never a channel.
    """

    def budget_spent(self, platform: str, scope: str, method: str) -> None:
        """One call of ``method`` spent in ``scope``."""

    def budget_refused(self, platform: str, scope: str, method: str) -> None:
        """The platform answered 429 to ``method`` in ``scope``."""

    def answer_degraded(self, platform: str, scope: str) -> None:
        """One answer in ``scope`` showed its text by posting instead of streaming."""


def workspace_of(scope: str) -> str:
    """``"T1/C1"`` → ``"T1"``; ``"T1"`` → ``"T1"``: the workspace part of a scope."""
    return scope.partition("/")[0]


@dataclass(slots=True)
class _Key:
    log: deque[float] = field(default_factory=deque)
    reserved: int = 0
    held_until: float = -math.inf
    refused: int = 0

    def prune(self, now: float, window: float | None) -> None:
        if window is None:
            self.log.clear()
            return
        log = self.log
        while log and log[0] + window <= now:
            log.popleft()

    def empty(self, now: float) -> bool:
        return not self.log and self.reserved == 0 and self.held_until <= now


class Reservation:
    """One call held for a final change (:meth:`Budget.reservation`)."""

    __slots__ = ("_budget", "held", "method", "scope")

    def __init__(self, budget: Budget, scope: str, method: str, held: bool) -> None:
        self._budget = budget
        self.scope = scope
        self.method = method
        #: True while the call is held (False: the budget could not promise it, or it is spent).
        self.held = held

    def spend(self) -> bool:
        """The final call now: the held one (False only during a 429 hold), or, when none is
        held, an ordinary :meth:`Budget.take` (it never takes another answer's reservation)."""
        if not self._budget.take(self.scope, self.method, final=self.held):
            return False
        self.held = False
        return True

    async def acquire(self, *, timeout: float, sleep: Sleep = asyncio.sleep) -> bool:  # noqa: ASYNC109 - on the budget's clock
        """Wait (a 429 hold) until the final call goes, or ``timeout`` passes."""
        done = await self._budget.acquire(
            self.scope, self.method, final=self.held, timeout=timeout, sleep=sleep
        )
        if done:
            self.held = False
        return done

    def close(self) -> None:
        """Give the call back if it is still held."""
        if self.held:
            self.held = False
            self._budget.release(self.scope, self.method)


class Budget:
    """The shared call budget of one platform (see the module docstring)."""

    def __init__(
        self,
        rates: Mapping[str, Rate],
        *,
        share: int = 1,
        clock: Callable[[], float] = time.monotonic,
        metrics: BudgetMetrics | None = None,
        platform: str = "",
    ) -> None:
        if share < 1:
            raise ValueError(f"share must be at least 1, not {share}")
        self.share = share
        self.platform = platform
        self._rates: dict[str, Rate] = {m: r.split(share) for m, r in rates.items()}
        self._clock = clock
        self._metrics = metrics
        self._keys: dict[tuple[str, str], _Key] = {}
        self._live: dict[str, int] = {}
        longest = max((r.window for r in self._rates.values()), default=1.0)
        self._sweep_every = max(1.0, longest)
        self._swept_at = clock()

    # --- the rates --------------------------------------------------------------------------

    def limit(self, method: str) -> Rate | None:
        """This process's part of ``method``'s rate (``None``: unlimited)."""
        return self._rates.get(method)

    # --- spending ---------------------------------------------------------------------------

    def take(self, scope: str, method: str, *, final: bool = False) -> bool:
        """Spend one call of ``method`` in ``scope`` now, if the budget allows it.

        An ordinary call fits when the calls in the window plus the held reservations leave
        room. ``final=True`` spends a reservation held for this (scope, method) when there is
        one (it always fits), else it is an ordinary call. Nothing goes during a 429 hold.
        Reservations are counted, not named: pass ``final=True`` only for a call that holds
        one (:class:`Reservation` does this for you).
        """
        now = self._clock()
        rate = self._rates.get(method)
        key = self._keys.get((scope, method))
        if key is not None:
            key.prune(now, rate.window if rate else None)
            if key.held_until > now:
                return False
        if rate is None:
            if key is not None:
                self._drop_if_empty(scope, method, key, now)
            self._spent(scope, method)
            self._maybe_sweep(now)
            return True
        if key is None:
            key = self._keys[(scope, method)] = _Key()
        if final and key.reserved > 0:
            key.reserved -= 1
        elif len(key.log) + key.reserved >= rate.calls:
            return False
        key.log.append(now)
        self._spent(scope, method)
        self._maybe_sweep(now)
        return True

    def delay(self, scope: str, method: str) -> float:
        """Seconds until an ordinary :meth:`take` would succeed (0: now).

        ``math.inf`` when held reservations alone fill the rate: when they are spent or
        released cannot be foreseen.
        """
        return self._delay(scope, method, final=False)

    def _delay(self, scope: str, method: str, *, final: bool) -> float:
        now = self._clock()
        rate = self._rates.get(method)
        key = self._keys.get((scope, method))
        if key is None:
            return 0.0
        key.prune(now, rate.window if rate else None)
        hold = max(0.0, key.held_until - now)
        if rate is None or (final and key.reserved > 0):
            return hold
        over = len(key.log) + key.reserved - rate.calls  # calls that must leave first, less one
        if over < 0:
            return hold
        if over >= len(key.log):
            return math.inf
        return max(hold, key.log[over] + rate.window - now)

    async def acquire(
        self,
        scope: str,
        method: str,
        *,
        final: bool = False,
        timeout: float,  # noqa: ASYNC109 - on the injected clock, which asyncio.timeout ignores
        sleep: Sleep = asyncio.sleep,
    ) -> bool:
        """Wait until :meth:`take` succeeds (True) or ``timeout`` seconds have passed (False)."""
        deadline = self._clock() + timeout
        while True:
            if self.take(scope, method, final=final):
                return True
            left = deadline - self._clock()
            if left <= 0:
                return False
            wait = self._delay(scope, method, final=final)
            await sleep(min(left, RECHECK_SECONDS if math.isinf(wait) else wait))

    # --- reservations -----------------------------------------------------------------------

    def reserve(self, scope: str, method: str) -> bool:
        """Hold one future call of ``method`` in ``scope`` for a final change.

        True when held (spend it with ``take(..., final=True)`` or give it back with
        :meth:`release`); False when the budget cannot promise it now (the rate is full, or a
        429 holds the method): then the caller chooses another method. An unlimited method
        needs no reservation: True, and nothing is held.
        """
        now = self._clock()
        rate = self._rates.get(method)
        key = self._keys.get((scope, method))
        if key is not None:
            key.prune(now, rate.window if rate else None)
            if key.held_until > now:
                return False
        if rate is None:
            return True
        if key is None:
            key = self._keys[(scope, method)] = _Key()
        if len(key.log) + key.reserved >= rate.calls:
            self._drop_if_empty(scope, method, key, now)
            return False
        key.reserved += 1
        return True

    def release(self, scope: str, method: str) -> None:
        """Give back one unused reservation of ``method`` in ``scope`` (none held: nothing)."""
        key = self._keys.get((scope, method))
        if key is None or key.reserved == 0:
            return
        key.reserved -= 1
        self._drop_if_empty(scope, method, key, self._clock())

    @contextmanager
    def reservation(self, scope: str, method: str) -> Iterator[Reservation]:
        """:meth:`reserve` for the block, released at its end unless spent (even on errors).

        ``with budget.reservation(ws, "chat.stopStream") as final: ... final.held ...
        final.spend()``; a reservation lost by a crashed answer would hold a call forever.
        """
        held = Reservation(self, scope, method, self.reserve(scope, method))
        try:
            yield held
        finally:
            held.close()

    # --- the platform's word ----------------------------------------------------------------

    def refused(self, scope: str, method: str, retry_after: float) -> None:
        """The platform answered 429: nothing of ``method`` in ``scope`` for ``retry_after`` s."""
        now = self._clock()
        key = self._keys.get((scope, method))
        if key is None:
            key = self._keys[(scope, method)] = _Key()
        key.held_until = max(key.held_until, now + max(0.0, retry_after))
        key.refused += 1
        if self._metrics is not None:
            self._metrics.budget_refused(self.platform, workspace_of(scope), method)

    def degraded(self, scope: str) -> None:
        """Count one answer in ``scope`` that posted its text instead of streaming it."""
        if self._metrics is not None:
            self._metrics.answer_degraded(self.platform, workspace_of(scope))

    # --- live answers -----------------------------------------------------------------------

    @contextmanager
    def answering(self, scope: str) -> Iterator[None]:
        """One answer is live in ``scope`` while the block runs."""
        self._live[scope] = self._live.get(scope, 0) + 1
        try:
            yield
        finally:
            left = self._live[scope] - 1
            if left:
                self._live[scope] = left
            else:
                del self._live[scope]

    def sharing(self, scope: str) -> int:
        """How many answers are live in ``scope`` now."""
        return self._live.get(scope, 0)

    def interval(self, scope: str, method: str, *, floor: float) -> float:
        """Seconds between one answer's repeated calls of ``method`` in ``scope``.

        All the live answers of the scope, each calling this often, fit ``method``'s rate:
        ``window * sharing / calls``, never below ``floor`` (an unlimited method: ``floor``).
        """
        rate = self._rates.get(method)
        if rate is None:
            return floor
        return max(floor, rate.window * max(1, self.sharing(scope)) / rate.calls)

    def pace(self, scope: str, method: str, *, floor: float) -> float:
        """:meth:`interval` once the window is half spent; ``floor`` while more than half of
        the window's calls are still spare (an answer alone at a quiet moment need not ration
        what nobody else is asking for, and the rationing starts well before the limit)."""
        rate = self._rates.get(method)
        if rate is None:
            return floor
        spare = self.spare(scope, method)
        if spare is None or spare * 2 > rate.calls:
            return floor
        return self.interval(scope, method, floor=floor)

    def spare(self, scope: str, method: str) -> int | None:
        """Calls of ``method`` an ordinary take could still spend in the window now, held
        reservations deducted (``None``: unlimited)."""
        rate = self._rates.get(method)
        if rate is None:
            return None
        key = self._keys.get((scope, method))
        if key is None:
            return rate.calls
        key.prune(self._clock(), rate.window)
        return max(0, rate.calls - len(key.log) - key.reserved)

    # --- looking --------------------------------------------------------------------------

    def snapshot(self) -> list[BudgetUse]:
        """Every (scope, method) with calls in the window, reservations or a 429 hold."""
        now = self._clock()
        self._sweep(now)
        uses = []
        for (scope, method), key in sorted(self._keys.items()):
            rate = self._rates.get(method)
            uses.append(
                BudgetUse(
                    platform=self.platform,
                    scope=scope,
                    method=method,
                    used=len(key.log),
                    limit=rate.calls if rate else None,
                    reserved=key.reserved,
                    refused=key.refused,
                    held_for=max(0.0, key.held_until - now),
                )
            )
        return uses

    def kept(self) -> int:
        """How many (scope, method) keys the budget keeps now (to check the pruning)."""
        return len(self._keys)

    # --- inside -----------------------------------------------------------------------------

    def _spent(self, scope: str, method: str) -> None:
        if self._metrics is not None:
            self._metrics.budget_spent(self.platform, workspace_of(scope), method)

    def _drop_if_empty(self, scope: str, method: str, key: _Key, now: float) -> None:
        if key.empty(now):
            self._keys.pop((scope, method), None)

    def _maybe_sweep(self, now: float) -> None:
        if now - self._swept_at >= self._sweep_every:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        self._swept_at = now
        for (scope, method), key in list(self._keys.items()):
            rate = self._rates.get(method)
            key.prune(now, rate.window if rate else None)
            self._drop_if_empty(scope, method, key, now)
