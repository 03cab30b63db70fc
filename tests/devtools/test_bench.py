"""``gloo-bots bench`` in miniature: every figure P1–P6, through the real paths, in seconds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from devtools.bench import BenchResult, edit_rates
from devtools.benchhttp import HttpConfig
from devtools.benchmain import run_bench
from devtools.benchscale import ScaleConfig
from tests.harness import settings_for_tests


def test_edit_rates_counts_edits_within_the_window() -> None:
    assert edit_rates([0.0, 1.0, 2.0], 1.0) == (1, 1.0)
    most, gap = edit_rates([0.0, 0.5, 0.9, 3.0], 1.0)
    assert most == 3
    assert gap == pytest.approx(0.4)
    assert edit_rates([5.0], 1.2) == (1, math.inf)


async def test_bench_measures_p1_to_p5_and_writes_results(tmp_path: Path) -> None:
    lines: list[str] = []
    progress: list[str] = []
    output = tmp_path / "results.json"
    results = await run_bench(
        settings_for_tests(),
        latency=0.05,
        conversations=4,
        questions=2,
        in_flight=30,
        platform_conversations=2,
        chunk_latency=0.002,
        output=output,
        echo=lines.append,
        progress_to=progress.append,
        # Issue 13's W rows in miniature: 3 people in 2 channels, Gloo answering at once.
        scale=ScaleConfig(people=3, channels=2, spread=0.1, first_chunk=0.05, chunk_latency=0.002),
        # Issue 12's rows with Gloo over HTTP, in miniature.
        http=HttpConfig(
            cost_answers=3, cost_threads=2, steady_rate=5, steady_seconds=1, steady_latency=0.05
        ),
    )
    by: dict[tuple[str, str], BenchResult] = {(r.key, r.platform): r for r in results}
    assert {key for key, _ in by} == {
        *("P1", "P2", "P3", "P4", "P5", "P6"),
        *("W1", "W2", "W3", "W4", "W5", "W6"),
        *("C1", "C2", "S1"),
    }
    # W5 (issue 23), a sign of work for everyone, on both; W6, new messages a channel, Slack's.
    assert {platform for key, platform in by if key == "W5"} == {"slack x3", "discord x3"}
    assert {platform for key, platform in by if key == "W6"} == {"slack x3"}
    assert by["W5", "slack x3"].detail["shown"] == 3
    assert by["W5", "discord x3"].detail["shown"] == 3
    assert "global_429" in by["W4", "discord x3"].detail
    assert [r.errors for r in results if r.measured] == [0] * len(
        [r for r in results if r.measured]
    )

    p1 = by["P1", "core/sqlite"]
    assert p1.answers == 8
    assert p1.unit == "ratio"
    assert p1.detail["simulated_s"] == 0.05
    assert float(p1.detail["mean_s"]) >= 0.05  # never faster than the simulated latency
    assert p1.met == (p1.figure <= 0.02)

    p3 = by["P3", "core/sqlite"]
    assert p3.answers == 30
    assert 0 < p3.figure < 10_000  # MB of peak RSS
    assert p3.met == (p3.figure <= 300)

    p4 = by["P4", "core/sqlite"]
    assert p4.answers == 8
    assert p4.figure > 0
    p4_postgres = by["P4", "core/postgres"]
    assert p4_postgres.target == ">= 1000"
    assert p4_postgres.met == (p4_postgres.measured and p4_postgres.figure >= 1000)

    for platform in ("slack", "discord"):
        p2, p5 = by["P2", platform], by["P5", platform]
        assert p2.answers == p5.answers == 2, platform
        assert p2.unit == "ms"
        assert p2.figure > -1000  # first text after (or at worst just before) the first chunk
        assert p2.target.startswith("<= ")
        assert p5.figure >= 2  # at least the answer's post and its final edit, per answer
        most, refused = p5.detail["max_edits_per_message_per_window"], p5.detail["http_429"]
        assert isinstance(most, int)
        assert isinstance(refused, int)
        assert most >= 1
        assert refused >= 0
        assert p5.met == (most <= 1 and refused == 0)
        p6 = by["P6", platform]  # issue 15: complete text - the simulator's stream end
        assert p6.answers == 2, platform
        assert p6.detail["measured"] == 2
        assert p6.figure > -1000  # complete after (or at worst just before) the stream's end
        assert p6.met == (p6.figure <= 150)

    for platform in ("slack x3", "discord x3"):
        w1, w2, w3, w4 = (by[key, platform] for key in ("W1", "W2", "W3", "W4"))
        assert w1.figure == 3, platform  # every answer complete
        assert w1.met
        assert 0.05 <= w2.figure < 60  # no text before Gloo's first chunk
        # Issue 23's targets per platform: Slack's first text median, p90 and slowest,
        # Discord's median and slowest; the complete answer's p95.
        median, p90, slowest = (float(w2.detail[k]) for k in ("median_s", "p90_s", "max_s"))
        assert w2.figure == pytest.approx(median, abs=0.001)
        if platform.startswith("slack"):
            assert w2.met == (median <= 1.5 and p90 <= 4 and slowest <= 7.5)
        else:
            assert w2.met == (median <= 2 and slowest <= 8)
        assert w3.figure >= median
        assert w3.met == (w3.figure <= (9 if platform.startswith("slack") else 12))
        assert isinstance(w4.detail["calls"], int)
        assert w4.detail["calls"] >= 3 * 2  # at least a post and a final change per answer
        assert w4.met == (w4.figure <= 1)

    # C1/C2 (cost per answer, Gloo over HTTP, core and Slack) and S1 (steady load).
    for key, platform in (("C1", "core/postgres"), ("C2", "slack/postgres")):
        cost = by[key, platform]
        assert cost.answers == 3, key
        assert cost.unit == "ms"
        assert cost.figure > 0
        assert float(cost.detail["transactions_per_answer"]) > 0
        assert cost.met == (cost.figure <= 8 and float(cost.detail["transactions_per_answer"]) <= 5)
    steady = by["S1", "core/postgres"]
    assert steady.answers == 5
    assert steady.unit == "ms"
    assert math.isfinite(steady.figure)

    saved = json.loads(output.read_text())
    assert [(r["key"], r["platform"]) for r in saved] == [(r.key, r.platform) for r in results]
    assert all({"figure", "target", "met", "unit", "detail"} <= set(r) for r in saved)
    table = "\n".join(lines)
    assert table.startswith("    benchmark")
    for key in ("P1", "P2", "P3", "P4", "P5"):
        assert f"\n{key} " in table
    assert any("[1/" in line for line in progress)
    assert any("answers" in line for line in progress)


def test_the_scale_bench_counts_new_messages_in_any_window() -> None:
    from devtools.benchscale import most_in_window

    assert most_in_window([], 2.0) == 0
    assert most_in_window([0.0, 0.5, 1.9, 2.0, 2.1], 2.0) == 4  # 0.5 … 2.1
    assert most_in_window([0.0, 2.0, 4.0], 2.0) == 1
