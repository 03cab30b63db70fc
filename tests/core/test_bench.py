from __future__ import annotations

import json
from pathlib import Path

from core.bench import run_bench
from tests.harness import settings_for_tests


async def test_bench_measures_and_writes_results(tmp_path: Path) -> None:
    lines: list[str] = []
    output = tmp_path / "results.json"
    results = await run_bench(
        settings_for_tests(),
        latency=0.05,
        conversations=4,
        questions=2,
        output=output,
        echo=lines.append,
    )
    assert [r.errors for r in results] == [0, 0]
    overhead, throughput = results
    assert overhead.answers == 8
    assert overhead.unit == "ratio"
    assert overhead.detail["mean_s"] >= 0.05  # never faster than the simulated latency
    assert throughput.answers == 24
    assert throughput.figure > 0
    saved = json.loads(output.read_text())
    assert [r["name"] for r in saved] == [r.name for r in results]
    assert any(line.startswith("benchmark") for line in lines)
