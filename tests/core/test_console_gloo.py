"""The console playground on Completions V2 as Gloo answers today: a channel without
publishers is grounded on Gloo's default publisher, and citations in the
``{item_title, item_url, snippets[]}`` shape (a public Gloo client's GlooCitation; the
docs.gloo.com Grounded Completions reference) show as numbered links."""

from __future__ import annotations

import io
import re

from core.console import Console
from core.simulator import SimulatorConfig
from core.store.sql import SqlStore
from tests.core.test_console import feed
from tests.harness import core_on_simulator


async def test_v2_citations_are_numbered_links(store: SqlStore) -> None:
    out = io.StringIO()
    config = SimulatorConfig(seed=3)
    async with core_on_simulator(store, config, gloo_backend="completions", gloo_publishers=()) as (
        c,
        sim,
    ):
        code = await Console(c.service, out).run(feed(["What is grace?"]))
        [asked] = sim.completion_records
    text = out.getvalue()
    assert code == 0
    assert asked.body is not None
    assert asked.body["rag_publisher"] == "GlooGrounded"
    links = re.findall(r"^  \[(\d+)\] (.+) - (https://\S+)$", text, flags=re.MULTILINE)
    assert links
    assert [int(number) for number, _, _ in links] == list(range(1, len(links) + 1))
    assert all(title.strip() for _, title, _ in links)
