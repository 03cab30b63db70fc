"""core.budget: the shared sliding-window budget, on an injected clock (no test waits)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.budget import Budget, BudgetUse, Rate, workspace_of
from core.metrics import Metrics
from core.settings import Settings


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Recorder:
    def __init__(self) -> None:
        self.spent: list[tuple[str, str, str]] = []
        self.refusals: list[tuple[str, str, str]] = []
        self.degraded: list[tuple[str, str]] = []

    def budget_spent(self, platform: str, scope: str, method: str) -> None:
        self.spent.append((platform, scope, method))

    def budget_refused(self, platform: str, scope: str, method: str) -> None:
        self.refusals.append((platform, scope, method))

    def answer_degraded(self, platform: str, scope: str) -> None:
        self.degraded.append((platform, scope))


def budget(clock: Clock, **rates: Rate) -> Budget:
    return Budget({k.replace("_", "."): v for k, v in rates.items()}, clock=clock)


# --- Rate --------------------------------------------------------------------------------------


def test_rate_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="calls"):
        Rate(0, 60)
    with pytest.raises(ValueError, match="window"):
        Rate(1, 0)
    with pytest.raises(ValueError, match="share"):
        Budget({}, share=0)


# --- the sliding window ------------------------------------------------------------------------


def test_the_nth_call_passes_the_next_is_refused_until_the_oldest_leaves() -> None:
    clock = Clock()
    b = budget(clock, chat_update=Rate(3, 60))
    assert b.take("T1", "chat.update")  # t=0
    clock.now += 10
    assert b.take("T1", "chat.update")  # t=10
    clock.now += 10
    assert b.take("T1", "chat.update")  # t=20: the 3rd passes
    assert not b.take("T1", "chat.update")  # the 4th is refused
    assert b.delay("T1", "chat.update") == pytest.approx(40.0)  # the t=0 call leaves at 60
    clock.now = 1000.0 + 59.999
    assert not b.take("T1", "chat.update")  # the oldest is still in the window
    clock.now = 1000.0 + 60.0
    assert b.delay("T1", "chat.update") == 0.0
    assert b.take("T1", "chat.update")  # it has left: one more
    assert not b.take("T1", "chat.update")
    assert b.delay("T1", "chat.update") == pytest.approx(10.0)  # next: the t=10 call leaves


def test_no_more_than_the_rate_in_any_rolling_window() -> None:
    """A steady stream of attempts: every window of 60 s holds at most 5 spent calls."""
    clock = Clock(0.0)
    b = budget(clock, chat_update=Rate(5, 60))
    spent: list[float] = []
    for _ in range(1000):
        if b.take("T1", "chat.update"):
            spent.append(clock.now)
        clock.now += 0.7
    assert len(spent) >= 5 * (700 // 60)
    for i, t in enumerate(spent):
        in_window = [s for s in spent[i:] if s < t + 60]
        assert len(in_window) <= 5


def test_scopes_and_methods_are_counted_apart() -> None:
    clock = Clock()
    b = budget(clock, chat_update=Rate(1, 60), reactions_add=Rate(1, 60))
    assert b.take("T1", "chat.update")
    assert not b.take("T1", "chat.update")
    assert b.take("T2", "chat.update")  # another workspace
    assert b.take("T1", "reactions.add")  # another method


def test_methods_without_a_rate_are_unlimited() -> None:
    clock = Clock()
    b = budget(clock, chat_update=Rate(1, 60))
    assert all(b.take("T1", "auth.test") for _ in range(1000))
    assert b.delay("T1", "auth.test") == 0.0
    assert b.reserve("T1", "auth.test")  # nothing to hold
    assert b.take("T1", "auth.test", final=True)
    assert b.limit("auth.test") is None
    assert b.kept() == 0  # and nothing is kept for them


# --- several processes -------------------------------------------------------------------------


def test_share_splits_every_rate_rounding_down_but_never_below_one() -> None:
    clock = Clock()
    b = Budget({"a": Rate(20, 60), "b": Rate(100, 60), "c": Rate(1, 60)}, share=3, clock=clock)
    assert b.limit("a") == Rate(6, 60)
    assert b.limit("b") == Rate(33, 60)
    assert b.limit("c") == Rate(1, 60)  # 1 // 3 would be 0: each process keeps one call
    assert sum(b.take("T1", "a") for _ in range(20)) == 6
    assert sum(b.take("T1", "c") for _ in range(5)) == 1


def test_share_of_one_is_the_whole_rate() -> None:
    b = Budget({"a": Rate(20, 60)}, clock=Clock())
    assert b.limit("a") == Rate(20, 60)


# --- reservations ------------------------------------------------------------------------------


def test_ordinary_takes_cannot_eat_reservations_and_the_final_change_always_goes() -> None:
    clock = Clock()
    b = budget(clock, chat_stopStream=Rate(3, 60))
    assert b.reserve("T1", "chat.stopStream")
    assert b.reserve("T1", "chat.stopStream")
    assert b.take("T1", "chat.stopStream")  # one ordinary call is left
    assert not b.take("T1", "chat.stopStream")  # the two held calls are not for it
    assert not b.take("T1", "chat.stopStream", final=False)
    assert not b.reserve("T1", "chat.stopStream")  # nothing more can be promised
    assert b.delay("T1", "chat.stopStream") == pytest.approx(60.0)
    assert b.take("T1", "chat.stopStream", final=True)  # a held one, at once
    assert b.take("T1", "chat.stopStream", final=True)
    assert not b.take("T1", "chat.stopStream", final=True)  # none held now: an ordinary call
    [use] = b.snapshot()
    assert (use.used, use.reserved, use.limit) == (3, 0, 3)


def test_a_final_change_without_a_reservation_is_an_ordinary_call() -> None:
    clock = Clock()
    b = budget(clock, chat_update=Rate(2, 60))
    assert b.take("T1", "chat.update", final=True)
    assert b.take("T1", "chat.update", final=True)
    assert not b.take("T1", "chat.update", final=True)


def test_a_reservation_is_for_its_own_scope_and_method() -> None:
    clock = Clock()
    b = budget(clock, chat_stopStream=Rate(1, 60), chat_update=Rate(1, 60))
    assert b.reserve("T1", "chat.stopStream")
    assert b.take("T2", "chat.stopStream", final=True)  # T2 has its own room
    assert not b.take("T2", "chat.stopStream")  # ... now spent
    assert b.take("T1", "chat.update")  # another method is not held
    assert b.take("T1", "chat.stopStream", final=True)


def test_release_gives_an_unused_reservation_back() -> None:
    clock = Clock()
    b = budget(clock, chat_stopStream=Rate(1, 60))
    assert b.reserve("T1", "chat.stopStream")
    assert not b.take("T1", "chat.stopStream")
    assert b.delay("T1", "chat.stopStream") == math.inf  # only a reservation fills it
    b.release("T1", "chat.stopStream")
    assert b.delay("T1", "chat.stopStream") == 0.0
    assert b.take("T1", "chat.stopStream")
    b.release("T1", "chat.stopStream")  # none held: nothing happens
    b.release("T9", "chat.stopStream")
    assert not b.take("T1", "chat.stopStream")


def test_reservations_fit_the_window_even_after_the_log_moves_on() -> None:
    """Held calls stay counted while older calls leave: spending them never exceeds the rate."""
    clock = Clock(0.0)
    b = budget(clock, chat_stopStream=Rate(2, 60))
    assert b.take("T1", "chat.stopStream")  # t=0
    assert b.reserve("T1", "chat.stopStream")  # held
    clock.now = 30.0
    assert not b.take("T1", "chat.stopStream")
    clock.now = 61.0  # the t=0 call has left
    assert b.take("T1", "chat.stopStream")  # t=61: one ordinary
    assert b.take("T1", "chat.stopStream", final=True)  # t=61: the held one
    assert [u.used for u in b.snapshot()] == [2]


# --- the platform refuses ----------------------------------------------------------------------


def test_a_429_holds_the_method_in_the_scope_ordinary_and_final_until_retry_after() -> None:
    clock = Clock()
    rec = Recorder()
    b = Budget({"chat.update": Rate(50, 60)}, clock=clock, metrics=rec, platform="slack")
    assert b.reserve("T1/C1", "chat.update")
    b.refused("T1/C1", "chat.update", retry_after=30)
    assert not b.take("T1/C1", "chat.update")
    assert not b.take("T1/C1", "chat.update", final=True)  # even a reserved final change
    assert not b.reserve("T1/C1", "chat.update")
    assert b.delay("T1/C1", "chat.update") == pytest.approx(30.0)
    assert b.take("T2", "chat.update")  # other scopes go on
    [held, _] = b.snapshot()
    assert (held.scope, held.refused) == ("T1/C1", 1)
    assert held.held_for == pytest.approx(30.0)
    clock.now += 30
    assert b.take("T1/C1", "chat.update", final=True)
    assert rec.refusals == [("slack", "T1", "chat.update")]  # labelled by workspace


def test_a_shorter_retry_after_does_not_shorten_a_hold_and_unrated_methods_are_held_too() -> None:
    clock = Clock()
    b = budget(clock)
    b.refused("T1", "auth.test", retry_after=10)
    b.refused("T1", "auth.test", retry_after=2)
    assert not b.take("T1", "auth.test")
    assert b.delay("T1", "auth.test") == pytest.approx(10.0)
    clock.now += 10
    assert b.take("T1", "auth.test")
    assert b.kept() == 0  # the hold is over and nothing else is kept


# --- live answers share the pacing -------------------------------------------------------------


def test_interval_spreads_the_rate_over_the_live_answers_never_below_the_floor() -> None:
    b = Budget({"chat.update": Rate(50, 60), "chat.appendStream": Rate(100, 60)}, clock=Clock())
    assert b.sharing("T1") == 0
    assert b.interval("T1", "chat.update", floor=1.0) == 1.2  # alone: 60 * 1 / 50
    with b.answering("T1"), b.answering("T1"), b.answering("T1"):
        assert b.sharing("T1") == 3
        assert b.interval("T1", "chat.update", floor=1.0) == pytest.approx(3.6)
        assert b.interval("T1", "chat.appendStream", floor=1.0) == pytest.approx(1.8)
        assert b.interval("T1", "chat.appendStream", floor=2.5) == 2.5
        assert b.interval("T1", "auth.test", floor=1.0) == 1.0  # unlimited: the floor
        assert b.sharing("T2") == 0
        with b.answering("T2"):
            assert b.interval("T2", "chat.update", floor=0.5) == pytest.approx(1.2)
    assert b.sharing("T1") == 0


def test_pace_is_the_floor_until_half_the_window_is_spent_then_the_shared_interval() -> None:
    clock = Clock()
    b = Budget({"chat.appendStream": Rate(10, 60)}, clock=clock)
    with b.answering("T1"), b.answering("T1"):
        assert b.spare("T1", "chat.appendStream") == 10
        for _ in range(4):
            assert b.take("T1", "chat.appendStream")
        assert b.pace("T1", "chat.appendStream", floor=0.5) == 0.5  # 6 of 10 spare
        assert b.take("T1", "chat.appendStream")
        assert b.spare("T1", "chat.appendStream") == 5
        assert b.pace("T1", "chat.appendStream", floor=0.5) == pytest.approx(12.0)  # 60*2/10
        assert b.reserve("T1", "chat.appendStream")
        assert b.spare("T1", "chat.appendStream") == 4  # held calls are not spare
        clock.now += 60  # the window empties
        assert b.pace("T1", "chat.appendStream", floor=0.5) == 0.5
    assert b.spare("T1", "auth.test") is None
    assert b.pace("T1", "auth.test", floor=0.25) == 0.25


def test_interval_uses_this_processs_share() -> None:
    b = Budget({"chat.update": Rate(50, 60)}, share=2, clock=Clock())
    with b.answering("T1"):
        assert b.interval("T1", "chat.update", floor=0.0) == pytest.approx(60 / 25)


def test_an_answer_leaving_by_an_exception_is_no_longer_live() -> None:
    b = Budget({}, clock=Clock())
    seen: list[int] = []

    def answer() -> None:
        with b.answering("T1"):
            seen.append(b.sharing("T1"))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        answer()
    assert seen == [1]
    assert b.sharing("T1") == 0


# --- waiting -----------------------------------------------------------------------------------


async def test_acquire_waits_for_the_oldest_call_to_leave() -> None:
    clock = Clock(0.0)
    b = budget(clock, chat_update=Rate(2, 60))
    assert b.take("T1", "chat.update")
    clock.now = 15.0
    assert b.take("T1", "chat.update")
    clock.now = 20.0
    assert await b.acquire("T1", "chat.update", timeout=100, sleep=clock.sleep)
    assert clock.slept == [pytest.approx(40.0)]
    assert clock.now == pytest.approx(60.0)


async def test_acquire_now_does_not_sleep() -> None:
    clock = Clock()
    b = budget(clock, chat_update=Rate(2, 60))
    assert await b.acquire("T1", "chat.update", timeout=0, sleep=clock.sleep)
    assert clock.slept == []


async def test_acquire_gives_up_at_the_timeout() -> None:
    clock = Clock(0.0)
    b = budget(clock, chat_update=Rate(1, 60))
    assert b.take("T1", "chat.update")
    assert not await b.acquire("T1", "chat.update", timeout=5, sleep=clock.sleep)
    assert sum(clock.slept) == pytest.approx(5.0)
    assert not await b.acquire("T1", "chat.update", timeout=0, sleep=clock.sleep)


async def test_acquire_waits_out_a_429_even_for_a_final_change() -> None:
    clock = Clock(0.0)
    b = budget(clock, chat_stopStream=Rate(20, 60))
    assert b.reserve("T1", "chat.stopStream")
    b.refused("T1", "chat.stopStream", retry_after=3)
    assert await b.acquire("T1", "chat.stopStream", final=True, timeout=10, sleep=clock.sleep)
    assert clock.now == pytest.approx(3.0)
    assert [u.reserved for u in b.snapshot()] == [0]  # the held call was the one spent


async def test_acquire_looks_again_while_reservations_fill_the_rate() -> None:
    clock = Clock(0.0)
    b = budget(clock, chat_stopStream=Rate(1, 60))
    assert b.reserve("T1", "chat.stopStream")

    async def sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        if len(clock.slept) == 3:
            b.release("T1", "chat.stopStream")  # the answer ended another way

    assert await b.acquire("T1", "chat.stopStream", timeout=30, sleep=sleep)
    assert clock.slept == [1.0, 1.0, 1.0]


# --- memory ------------------------------------------------------------------------------------


def test_empty_keys_are_dropped_and_old_calls_pruned() -> None:
    clock = Clock(0.0)
    b = budget(clock, chat_update=Rate(50, 60), reactions_add=Rate(50, 60))
    for n in range(200):
        assert b.take(f"T{n}", "chat.update")
    assert b.kept() == 200
    clock.now = 59.0
    assert b.take("T0", "reactions.add")  # no sweep due yet (one per longest window)
    assert b.kept() == 201
    clock.now = 60.0  # every chat.update call has left its window
    assert b.take("T0", "reactions.add")  # a sweep is due: the idle keys go
    assert b.kept() == 1
    assert b.snapshot() == [
        BudgetUse("", "T0", "reactions.add", used=2, limit=50, reserved=0, refused=0, held_for=0)
    ]
    clock.now = 120.0
    assert b.snapshot() == []
    assert b.kept() == 0


def test_a_released_reservation_leaves_nothing_behind() -> None:
    b = budget(Clock(), chat_stopStream=Rate(20, 60))
    assert b.reserve("T1", "chat.stopStream")
    b.release("T1", "chat.stopStream")
    assert b.kept() == 0


# --- metrics -----------------------------------------------------------------------------------


def test_spent_and_degraded_are_recorded_by_workspace() -> None:
    rec = Recorder()
    b = Budget({"chat.postMessage": Rate(1, 1)}, clock=Clock(), metrics=rec, platform="slack")
    assert b.take("T1/C1", "chat.postMessage")
    assert not b.take("T1/C1", "chat.postMessage")  # refused by the budget: nothing spent
    assert b.take("E1:T2", "users.info")
    b.degraded("T1/C1")
    assert rec.spent == [("slack", "T1", "chat.postMessage"), ("slack", "E1:T2", "users.info")]
    assert rec.degraded == [("slack", "T1")]


def test_workspace_of() -> None:
    assert workspace_of("T1/C1") == "T1"
    assert workspace_of("E1:T1") == "E1:T1"
    assert workspace_of("global") == "global"


def test_metrics_shows_budget_use_429s_and_degraded_answers_per_workspace() -> None:
    clock = Clock()
    metrics = Metrics()
    b = Budget(
        {"chat.postMessage": Rate(1, 1), "chat.stopStream": Rate(20, 60)},
        clock=clock,
        metrics=metrics,
        platform="slack",
    )
    metrics.watch_budget(b)
    assert b.take("T1/C1", "chat.postMessage")
    assert b.take("T1/C2", "chat.postMessage")
    assert b.reserve("T1", "chat.stopStream")
    b.refused("T1", "chat.stopStream", retry_after=5)
    b.degraded("T1/C1")
    text = metrics.render().decode()
    labels = 'method="chat.postMessage",platform="slack",scope="T1"'
    assert f"gloo_bots_platform_budget_spent_total{{{labels}}} 2.0" in text
    assert f"gloo_bots_platform_budget_used{{{labels}}} 2.0" in text
    assert f"gloo_bots_platform_budget_limit{{{labels}}} 2.0" in text  # two channels, 1 each
    stop = 'method="chat.stopStream",platform="slack",scope="T1"'
    assert f"gloo_bots_platform_budget_reserved{{{stop}}} 1.0" in text
    assert f"gloo_bots_platform_refused_total{{{stop}}} 1.0" in text
    assert 'gloo_bots_answers_degraded_total{platform="slack",scope="T1"} 1.0' in text
    assert "C1" not in text  # channel ids never become labels


def test_metrics_with_several_budgets_render_one_family_each() -> None:
    metrics = Metrics()
    clock = Clock()
    slack = Budget({"chat.update": Rate(50, 60)}, clock=clock, platform="slack")
    discord = Budget({"request": Rate(50, 1)}, clock=clock, platform="discord")
    metrics.watch_budget(slack)
    metrics.watch_budget(discord)
    assert slack.take("T1", "chat.update")
    assert discord.take("global", "request")
    text = metrics.render().decode()
    assert text.count("# TYPE gloo_bots_platform_budget_used gauge") == 1
    assert 'gloo_bots_platform_budget_used{method="request",platform="discord",scope="global"}' in (
        text
    )


# --- the setting -------------------------------------------------------------------------------


def test_serving_processes_is_the_share_at_least_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("SERVING_PROCESSES", raising=False)
    assert Settings().serving_processes == 1
    monkeypatch.setenv("SERVING_PROCESSES", "3")
    assert Settings().serving_processes == 3
    monkeypatch.setenv("SERVING_PROCESSES", "0")
    with pytest.raises(ValidationError, match="serving_processes"):
        Settings()


# --- Reservation -------------------------------------------------------------------------------


def test_a_reservation_block_gives_back_what_it_did_not_spend() -> None:
    b = Budget({"chat.stopStream": Rate(2, 60)}, clock=Clock())
    with b.reservation("T1", "chat.stopStream") as final:
        assert final.held
        assert b.take("T1", "chat.stopStream")
        assert not b.take("T1", "chat.stopStream")  # the held one is not for ordinary calls
    assert b.snapshot()[0].reserved == 0
    assert b.take("T1", "chat.stopStream")  # the released call is free again
    assert not b.take("T1", "chat.stopStream")
    with pytest.raises(RuntimeError), b.reservation("T2", "chat.stopStream"):
        raise RuntimeError  # held in T2, then the answer fails
    assert [u.scope for u in b.snapshot()] == ["T1"]  # T2's call was given back


def test_a_spent_reservation_is_not_given_back_twice() -> None:
    b = Budget({"chat.stopStream": Rate(2, 60)}, clock=Clock())
    with b.reservation("T1", "chat.stopStream") as first, b.reservation("T1", "chat.stopStream"):
        assert first.spend()
        assert not first.held
    [use] = b.snapshot()
    assert (use.used, use.reserved) == (1, 0)


def test_an_unheld_reservation_never_takes_another_answers_call() -> None:
    b = Budget({"chat.stopStream": Rate(1, 60)}, clock=Clock())
    with b.reservation("T1", "chat.stopStream") as mine:
        with b.reservation("T1", "chat.stopStream") as other:
            assert mine.held
            assert not other.held  # the budget could not promise a second one
            assert not other.spend()  # an ordinary call: the rate is held for `mine`
        assert mine.spend()


async def test_a_reservation_waits_out_a_429() -> None:
    clock = Clock(0.0)
    b = Budget({"chat.stopStream": Rate(20, 60)}, clock=clock)
    with b.reservation("T1", "chat.stopStream") as final:
        b.refused("T1", "chat.stopStream", retry_after=2)
        assert not final.spend()
        assert final.held
        assert await final.acquire(timeout=5, sleep=clock.sleep)
        assert not final.held
    assert clock.now == pytest.approx(2.0)
    assert [(u.used, u.reserved) for u in b.snapshot()] == [(1, 0)]


# --- the promise, for any sequence of calls ---------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    calls=st.integers(min_value=1, max_value=6),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("wait"), st.floats(min_value=0, max_value=40)),
            st.tuples(st.sampled_from(["take", "final", "reserve", "release"]), st.just(0.0)),
        ),
        max_size=80,
    ),
)
def test_never_more_than_the_rate_and_a_held_final_change_always_goes(
    calls: int, steps: list[tuple[str, float]]
) -> None:
    clock = Clock(0.0)
    b = Budget({"m": Rate(calls, 60)}, clock=clock)
    spent: list[float] = []
    held = 0
    for op, dt in steps:
        if op == "wait":
            clock.now += dt
        elif op == "take":
            if b.take("S", "m"):
                spent.append(clock.now)
        elif op == "final":
            ok = b.take("S", "m", final=True)
            if held:
                assert ok  # a held call always goes at once
                held -= 1
            if ok:
                spent.append(clock.now)
        elif op == "reserve":
            held += b.reserve("S", "m")
        elif held:
            b.release("S", "m")
            held -= 1
    for i, t in enumerate(spent):
        assert len([s for s in spent[i:] if s < t + 60]) <= calls
