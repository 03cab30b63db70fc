"""devtools.benchsteady at tiny sizes: the structure of its result, never its speed."""

from __future__ import annotations

import cProfile
import dataclasses
import json
import math
import pstats

import pytest

from devtools.benchcost import _simulator
from devtools.benchsteady import (
    SteadyResult,
    _follow_up_of,
    measure_steady,
    profile_by_package,
    quantiles,
    steady_result,
    to_json,
)

QUANTILES = ("p50", "p95", "p99", "max")


def test_quantiles_are_nearest_rank_in_ms() -> None:
    values = [i / 1000 for i in range(1, 101)]  # 1 ms … 100 ms
    got = quantiles(values)
    assert (got["p50"], got["p95"], got["p99"], got["max"]) == (50.0, 95.0, 99.0, 100.0)
    assert got["mean"] == pytest.approx(50.5)
    assert all(math.isnan(v) for v in quantiles([]).values())


def test_a_fifth_of_the_questions_follow_up_in_an_earlier_thread() -> None:
    chosen = {i: _follow_up_of(i, rate=5, share=0.2, after=1.0) for i in range(15)}
    assert chosen[4] is None  # no question was asked a second before it
    assert chosen[9] == 4
    assert chosen[14] == 9
    assert [i for i, earlier in chosen.items() if earlier is not None] == [9, 14]
    assert _follow_up_of(9, rate=5, share=0.0, after=1.0) is None


@pytest.mark.postgres
async def test_a_tiny_steady_run_answers_every_question(postgres_url: str) -> None:
    with _simulator(0.0, 0.05) as gloo:
        result = await measure_steady(postgres_url, gloo, rate=5, seconds=1, latency=0.05)

    assert (result.questions, result.answers, result.errors) == (5, 5, 0)
    assert (result.timeouts, result.failures, result.follow_ups) == (0, 0, 0)
    added = [result.added_ms[q] for q in QUANTILES]
    assert all(math.isfinite(v) for v in added)
    assert added == sorted(added)
    assert all(math.isfinite(result.submit_late_ms[q]) for q in QUANTILES)
    assert result.simulated_s == pytest.approx(0.05)
    assert math.isnan(result.chunks_per_answer)  # chunks are counted only with a chunk latency
    assert result.inbox_concurrency == 200  # the product's default
    assert result.transactions_per_answer > 0
    assert result.cpu_utilisation > 0
    assert result.wall_seconds >= 0.8  # the last question is due 0.8 s after the first

    row = steady_result(result)
    assert (row.key, row.unit, row.platform) == ("S1", "ms", "core/postgres")
    assert row.figure == result.added_ms["p95"]
    assert (row.answers, row.errors) == (5, 0)
    assert row.met == (result.added_ms["p95"] <= 100)
    parsed = json.loads(to_json(result))
    assert parsed["answers"] == 5
    assert parsed["chunks_per_answer"] is None


@pytest.mark.postgres
async def test_chunks_are_counted_and_follow_ups_share_threads(postgres_url: str) -> None:
    with _simulator(0.002, 0.02) as gloo:
        result = await measure_steady(
            postgres_url,
            gloo,
            rate=5,
            seconds=2,
            latency=0.02,
            chunk_latency=0.002,
            follow_ups=0.5,
            follow_up_after=1.0,
        )

    assert (result.questions, result.answers, result.errors) == (10, 10, 0)
    assert result.follow_ups == 3  # questions 5, 7 and 9 follow up in 0, 2 and 4
    assert result.chunks_per_answer > 1  # streamed, new chats too (the warm-up taught it)
    assert result.simulated_s > result.latency
    assert all(math.isfinite(result.after_last_chunk_ms[q]) for q in QUANTILES)


def test_the_row_misses_its_target_on_any_error() -> None:
    fine = {q: 10.0 for q in (*QUANTILES, "mean")}
    result = SteadyResult(
        rate=50,
        seconds=60,
        latency=0.5,
        chunk_latency=0.0,
        inbox_concurrency=200,
        questions=3000,
        follow_ups=600,
        answers=2999,
        errors=1,
        timeouts=1,
        failures=0,
        added_ms=fine,
        first_text_added_ms=fine,
        submit_late_ms=fine,
        accepted_ms=fine,
        after_last_chunk_ms=fine,
        simulated_s=0.5,
        chunks_per_answer=math.nan,
        wall_seconds=60.6,
        cpu_utilisation=0.8,
        cpu_ms_per_answer=16.0,
        transactions_per_answer=4.2,
        statements_per_answer=9.0,
        statement_ms=fine,
        loop_lag_ms=fine,
        pool_checked_out_max=3,
        pool_checked_out_mean=1.0,
        in_flight_max=30,
        in_flight_mean=25.0,
        load_average=(1.0, 1.0),
    )
    assert not steady_result(result).met
    assert steady_result(dataclasses.replace(result, answers=3000, errors=0, timeouts=0)).met


def test_the_profile_is_summed_by_package() -> None:
    profile = cProfile.Profile()
    profile.enable()
    json.dumps({"a": [quantiles([0.001, 0.002])]})
    profile.disable()
    summary = profile_by_package(pstats.Stats(profile))
    assert summary.startswith("own time by package")
    assert "devtools.benchsteady" in summary
    assert "stdlib json" in summary
