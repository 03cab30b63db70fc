"""Prometheus metrics, on a registry of the process's own (served at ``/metrics``).

One :class:`Metrics` object is built by the composition root and handed to whatever
records: the Gloo retry policy (retries), the conversation service (Gloo timings, errors),
the dispatcher (questions, answers, end-to-end latency), the scheduler (inbox depth) and the
adapters (platform API calls and rate limits). Names follow Prometheus conventions; label
values are few and fixed (platform names, Gloo status codes, outcomes), never ids of people,
channels, threads or messages.

One exception: the platform rate budget (:mod:`core.budget`) is per workspace, so its metrics
carry the workspace id (a Slack team or enterprise id, a Discord guild id, ``@dm`` or
``global``) as the ``scope`` label. Its cardinality is bounded by the installations the
service has (one bot serves a known set of workspaces), and without it an operator cannot see
which workspace is running out of budget. Per-channel scopes (``chat.postMessage``, Discord
message routes) are folded into their workspace: channel ids never become labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from core.budget import BudgetUse, workspace_of

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

# Answers take seconds; the buckets cover a fast first chunk to a slow, long answer.
_LATENCY_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120)
_INBOX_STATUSES: Final = (
    "gathering",
    "pending",
    "answering",
    "answered",
    "failed",
    "withdrawn",
)
_BUDGET_LABELS: Final = ("platform", "scope", "method")


class BudgetSource(Protocol):
    """Anything with the budget's :meth:`core.budget.Budget.snapshot`."""

    def snapshot(self) -> list[BudgetUse]: ...


class _BudgetCollector(Collector):
    """The budgets' state at scrape time, summed per workspace (channels folded in)."""

    def __init__(self) -> None:
        self.sources: list[BudgetSource] = []

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        used, limit, reserved = self._families()
        sums: dict[tuple[str, str, str], list[int]] = {}
        for source in self.sources:
            for use in source.snapshot():
                row = sums.setdefault(
                    (use.platform, workspace_of(use.scope), use.method), [0, 0, 0]
                )
                row[0] += use.used
                row[1] += use.limit or 0
                row[2] += use.reserved
        for key, (u, lim, r) in sorted(sums.items()):
            used.add_metric(list(key), u)
            if lim:
                limit.add_metric(list(key), lim)
            reserved.add_metric(list(key), r)
        return iter((used, limit, reserved))

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "gloo_bots_platform_budget_used",
                "Platform calls spent in the current rate window, per workspace and method.",
                labels=_BUDGET_LABELS,
            ),
            GaugeMetricFamily(
                "gloo_bots_platform_budget_limit",
                "This process's part of the rate (summed over the workspace's channels for "
                "per-channel limits), per workspace and method.",
                labels=_BUDGET_LABELS,
            ),
            GaugeMetricFamily(
                "gloo_bots_platform_budget_reserved",
                "Calls held for answers' final changes, per workspace and method.",
                labels=_BUDGET_LABELS,
            ),
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.questions = Counter(
            "gloo_bots_questions", "Questions accepted.", ["platform"], registry=r
        )
        self.answers = Counter(
            "gloo_bots_answers",
            "Questions finished, by outcome (answered, failed, quota).",
            ["platform", "outcome"],
            registry=r,
        )
        self.redrives = Counter(
            "gloo_bots_redrives", "Questions taken up again after a failure or a crash.", registry=r
        )
        self.end_to_end = Histogram(
            "gloo_bots_end_to_end_seconds",
            "From accepting a question to its answer being shown.",
            ["platform"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.gloo_errors = Counter(
            "gloo_bots_gloo_errors",
            "Gloo failures after retries, by HTTP status or error kind.",
            ["code"],
            registry=r,
        )
        self.gloo_usage_limits = Counter(
            "gloo_bots_gloo_usage_limit",
            "Questions refused because the organisation's Gloo usage limit was reached "
            "(a 429 that speaks of a spending limit, or that outlasted the retries).",
            registry=r,
        )
        self.gloo_retries = Counter(
            "gloo_bots_gloo_retries", "Gloo calls retried.", ["code"], registry=r
        )
        self.gloo_first_chunk = Histogram(
            "gloo_bots_gloo_first_chunk_seconds",
            "From asking Gloo to its first streamed text.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.gloo_total = Histogram(
            "gloo_bots_gloo_answer_seconds",
            "From asking Gloo to its complete answer.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.platform_calls = Counter(
            "gloo_bots_platform_calls",
            "Slack/Discord API calls, by method and result (ok, error, rate_limited).",
            ["platform", "method", "result"],
            registry=r,
        )
        self.inbox_depth = Gauge(
            "gloo_bots_inbox", "Questions in the inbox, by status.", ["status"], registry=r
        )
        # The shared platform rate budget (core.budget); scope is a workspace id.
        self.budget_spent_calls = Counter(
            "gloo_bots_platform_budget_spent",
            "Platform calls spent from the rate budget, per workspace and method.",
            list(_BUDGET_LABELS),
            registry=r,
        )
        self.budget_refusals = Counter(
            "gloo_bots_platform_refused",
            "Platform 429 answers (Retry-After honoured), per workspace and method.",
            list(_BUDGET_LABELS),
            registry=r,
        )
        self.answers_degraded = Counter(
            "gloo_bots_answers_degraded",
            "Answers that showed their text as a posted message instead of streaming it "
            "(the streaming budget of the workspace was spent), per workspace.",
            ["platform", "scope"],
            registry=r,
        )
        self._budgets = _BudgetCollector()
        r.register(self._budgets)

    def set_inbox_counts(self, counts: dict[str, int]) -> None:
        for status in _INBOX_STATUSES:
            self.inbox_depth.labels(status).set(counts.get(status, 0))

    def platform_call(self, platform: str, method: str, result: str) -> None:
        """Count one platform API call; ``result`` is ``ok``, ``error`` or ``rate_limited``."""
        self.platform_calls.labels(platform, method, result).inc()

    def budget_spent(self, platform: str, scope: str, method: str) -> None:
        """:class:`core.budget.BudgetMetrics`: one call spent (``scope``: a workspace id)."""
        self.budget_spent_calls.labels(platform, scope, method).inc()

    def budget_refused(self, platform: str, scope: str, method: str) -> None:
        """:class:`core.budget.BudgetMetrics`: one 429 from the platform."""
        self.budget_refusals.labels(platform, scope, method).inc()

    def answer_degraded(self, platform: str, scope: str) -> None:
        """:class:`core.budget.BudgetMetrics`: one answer posted instead of streamed."""
        self.answers_degraded.labels(platform, scope).inc()

    def watch_budget(self, budget: BudgetSource) -> None:
        """Show ``budget``'s state (used, limit, reserved per workspace) on ``/metrics``."""
        self._budgets.sources.append(budget)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
