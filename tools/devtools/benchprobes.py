"""What a load bench observes besides its answers: who had the CPU, and what PostgreSQL did.

* :func:`cpu_snapshot` / :func:`cpu_between` (Linux ``/proc``): the machine's busy share over
  a run (every process, other people's too), how long this process's main thread — the
  event loop's — was ready to run but waiting for a CPU (``schedstat``), and the CPU of this
  process's child processes (the Gloo simulator a bench starts).
* :class:`PostgresSampler`: a thread with its own connection that samples
  ``pg_stat_activity`` for the bench's database every 100 ms: how many client backends were
  running a statement, waiting for a lock (``wait_event_type`` ``Lock``/``LWLock``…), idle
  in a transaction (holding it while the application has not sent the next statement), or
  idle; and those backends' CPU (``/proc/<pid>/stat``), PostgreSQL running on this machine.

Where ``/proc`` cannot be read the figures are NaN; a sampler that cannot connect reports
no samples.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import psycopg
from sqlalchemy.engine import make_url

from core.store.engine import normalize_database_url

__all__ = ["CpuSnapshot", "PostgresSampler", "cpu_between", "cpu_snapshot"]

_PROC: Final = Path("/proc")
_BACKENDS: Final = (
    "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend'"
)


def _ticks_per_second() -> int:
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_CLK_TCK")
    return 100


def process_cpu_ticks(pid: int) -> int | None:
    """User + system CPU of process ``pid`` so far, in clock ticks (None: gone or no /proc)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after "pid (comm) ": state is field 3
    try:
        return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    except (IndexError, ValueError):
        return None


def _children() -> list[int]:
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for task in (_PROC / "self" / "task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                pids.extend(int(p) for p in (task / "children").read_text().split())
    return pids


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    machine_busy: int  # jiffies, every CPU
    machine_total: int
    run_queue_wait_ns: int  # this process's main thread, ready but not running
    children: dict[int, int]  # child pid → CPU ticks so far


def cpu_snapshot() -> CpuSnapshot:
    busy = total = wait = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        values = [int(v) for v in (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
        total = sum(values[:8])  # user nice system idle iowait irq softirq steal
        busy = total - values[3] - values[4]
    with contextlib.suppress(OSError, ValueError, IndexError):
        wait = int((_PROC / "self" / "schedstat").read_text().split()[1])
    children = {pid: t for pid in _children() if (t := process_cpu_ticks(pid)) is not None}
    return CpuSnapshot(time.perf_counter(), busy, total, wait, children)


def cpu_between(start: CpuSnapshot, end: CpuSnapshot) -> dict[str, float]:
    """The machine's busy share (of all its CPUs), the event loop thread's share of the wall
    time spent waiting for a CPU, and the child processes' CPU utilisation (cores)."""
    wall = end.at - start.at
    total = end.machine_total - start.machine_total
    ticks = sum(t - start.children.get(pid, t) for pid, t in end.children.items())
    return {
        "cpus": float(os.cpu_count() or 0),
        "machine_busy_share": round((end.machine_busy - start.machine_busy) / total, 3)
        if total > 0
        else math.nan,
        "loop_thread_run_queue_wait_share": round(
            (end.run_queue_wait_ns - start.run_queue_wait_ns) / 1e9 / wall, 3
        )
        if wall > 0 and end.run_queue_wait_ns
        else math.nan,
        "children_cpu_utilisation": round(ticks / _ticks_per_second() / wall, 3)
        if wall > 0 and end.children
        else math.nan,
    }


@dataclass
class PostgresSampler:
    """Samples the backends of ``database_url``'s database in a thread until :meth:`stop`."""

    database_url: str
    interval: float = 0.1
    samples: int = 0
    states: collections.Counter[str] = field(default_factory=collections.Counter)
    _first_cpu: dict[int, int] = field(default_factory=dict)
    _last_cpu: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = 0.0
    _stopped: float = 0.0

    def start(self) -> None:
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="postgres-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling (again: nothing happens)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._stopped = time.perf_counter()

    def _run(self) -> None:
        url = make_url(normalize_database_url(self.database_url))
        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            connection = psycopg.connect(libpq, autocommit=True, connect_timeout=3)
        except psycopg.Error:
            return
        with connection:
            while not self._stop.wait(self.interval):
                try:
                    rows = connection.execute(_BACKENDS).fetchall()
                except psycopg.Error:
                    return
                self._record(rows)

    def _record(self, rows: list[tuple[int, str | None, str | None, str | None]]) -> None:
        self.samples += 1
        for pid, state, wait_type, wait in rows:
            if state == "active":
                label = f"active, waiting {wait_type}:{wait}" if wait_type else "active, running"
            else:
                label = state or "unknown"
            self.states[label] += 1
            ticks = process_cpu_ticks(pid)
            if ticks is not None:
                self._first_cpu.setdefault(pid, ticks)
                self._last_cpu[pid] = ticks

    def backends(self) -> dict[str, float]:
        """The mean number of backends in each state (or wait) per sample."""
        if not self.samples:
            return {}
        return {k: round(v / self.samples, 2) for k, v in self.states.most_common()}

    def cpu_utilisation(self) -> float:
        """The bench database's backends' CPU over the sampled time, in cores."""
        wall = self._stopped - self._started
        if wall <= 0 or not self._last_cpu:
            return math.nan
        ticks = sum(t - self._first_cpu[pid] for pid, t in self._last_cpu.items())
        return round(ticks / _ticks_per_second() / wall, 3)
