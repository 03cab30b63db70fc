"""The C rows judge transactions by PostgreSQL's own count where there is one (issue 21:
pg_stat_database over the run), else by the engine's."""

from __future__ import annotations

from dataclasses import replace

from devtools.benchcost_common import CostResult
from devtools.benchhttp import COST_TRANSACTIONS_TARGET, cost_row

ON_SQLITE = CostResult(
    answers=10,
    errors=0,
    seconds=1.0,
    cpu_ms_per_answer=5.0,
    transactions_per_answer=COST_TRANSACTIONS_TARGET - 1,
    statements_per_answer=8.0,
    responder_calls_per_answer=3.0,
    statements={},
)


def test_without_a_server_count_the_engines_count_is_judged() -> None:
    row = cost_row("C2", "slack", ON_SQLITE)
    assert row.met
    assert "server_transactions_per_answer" not in row.detail


def test_postgresqls_own_count_is_judged_where_there_is_one() -> None:
    over = replace(ON_SQLITE, server_transactions_per_answer=COST_TRANSACTIONS_TARGET + 1)
    row = cost_row("C2", "slack", over)
    assert not row.met  # the engine saw fewer: PostgreSQL's count decides
    assert row.detail["server_transactions_per_answer"] == COST_TRANSACTIONS_TARGET + 1
    within = replace(over, server_transactions_per_answer=COST_TRANSACTIONS_TARGET)
    assert cost_row("C2", "slack", within).met
