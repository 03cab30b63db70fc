"""Prometheus metrics, on a registry of the process's own (served at ``/metrics``).

One :class:`Metrics` object is built by the composition root and handed to whatever
records: the Gloo retry policy (retries), the conversation service (Gloo timings, errors),
the dispatcher (questions, answers, end-to-end latency), the scheduler (inbox depth) and the
adapters (platform API calls and rate limits). Names follow Prometheus conventions; label
values are few and fixed (platform names, Gloo status codes, outcomes), never ids.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

# Answers take seconds; the buckets cover a fast first chunk to a slow, long answer.
_LATENCY_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120)
_INBOX_STATUSES: Final = ("pending", "answering", "answered", "failed")


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

    def set_inbox_counts(self, counts: dict[str, int]) -> None:
        for status in _INBOX_STATUSES:
            self.inbox_depth.labels(status).set(counts.get(status, 0))

    def platform_call(self, platform: str, method: str, result: str) -> None:
        """Count one platform API call; ``result`` is ``ok``, ``error`` or ``rate_limited``."""
        self.platform_calls.labels(platform, method, result).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
