"""devtools.benchprobes: the CPU snapshots and the PostgreSQL sampler, on this machine."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import psycopg
import pytest
from sqlalchemy.engine import make_url

from devtools.benchprobes import PostgresSampler, cpu_between, cpu_snapshot, process_cpu_ticks

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux
def test_cpu_between_two_snapshots_sees_the_machine_and_a_child() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])
    try:
        start = cpu_snapshot()
        deadline = time.perf_counter() + 0.2
        while time.perf_counter() < deadline:  # keep a CPU busy
            pass
        figures = cpu_between(start, cpu_snapshot())
    finally:
        child.kill()
        child.wait()
    assert child.pid in start.children
    assert figures["cpus"] >= 1
    assert 0 < figures["machine_busy_share"] <= 1
    assert figures["loop_thread_run_queue_wait_share"] >= 0 or math.isnan(
        figures["loop_thread_run_queue_wait_share"]
    )
    assert figures["children_cpu_utilisation"] >= 0


@linux
def test_process_cpu_ticks_of_this_process_and_of_none() -> None:
    assert (process_cpu_ticks(os.getpid()) or 0) >= 0
    assert process_cpu_ticks(2**31 - 1) is None


@linux
@pytest.mark.postgres
def test_the_sampler_sees_a_backend_idle_in_a_transaction(postgres_url: str) -> None:
    libpq = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    sampler = PostgresSampler(postgres_url, interval=0.02)
    with psycopg.connect(libpq) as conn:
        conn.execute("SELECT 1")  # a transaction left open: idle in transaction
        sampler.start()
        time.sleep(0.3)
        sampler.stop()
        sampler.stop()  # again: nothing happens
    backends = sampler.backends()
    assert sampler.samples > 0
    assert backends.get("idle in transaction") == pytest.approx(1.0)
    assert sampler.cpu_utilisation() >= 0
