"""Per-channel Completions V2 settings (tradition, model_family): validated with the allowed
values named, stored, described, and sent. The values are those of Gloo's V2 reference
(docs.gloo.com Grounded Completions: tradition evangelical, catholic, mainline,
not_faith_specific; model_family openai, anthropic, google, open source)."""

from __future__ import annotations

import pytest

from core.store.sql import SqlStore
from core.types import Question, ThreadKey
from tests.harness import core_on_simulator

THREAD = ThreadKey("slack", "T1", "C1", "1.1")


async def test_tradition_and_family_are_validated_stored_and_sent(store: SqlStore) -> None:
    async with core_on_simulator(store, gloo_backend="completions", gloo_publishers=()) as (
        c,
        sim,
    ):
        with pytest.raises(ValueError, match="evangelical, catholic, mainline, not_faith_specific"):
            await c.service.update_settings("slack", "T1", "C1", tradition="orthodox")
        with pytest.raises(ValueError, match="openai, anthropic, google, open source"):
            await c.service.update_settings("slack", "T1", "C1", model_family="mistral")
        await c.service.update_settings(
            "slack", "T1", "C1", tradition="catholic", model_family="open source"
        )
        stored = await c.service.settings_for("slack", "T1", "C1")
        lines = dict(c.service.describe_settings(stored))
        await c.service.ask(Question(THREAD, "What is grace?"))
        [asked] = sim.completion_records
    assert (stored.tradition, stored.model_family) == ("catholic", "open source")
    assert lines["Tradition"] == "catholic"
    assert lines["Model family"] == "open source"
    assert asked.body is not None
    assert asked.body["tradition"] == "catholic"
    assert asked.body["model_family"] == "open source"
    assert "auto_routing" not in asked.body


async def test_service_defaults_come_from_settings(store: SqlStore) -> None:
    async with core_on_simulator(
        store,
        gloo_backend="completions",
        gloo_tradition="evangelical",
        gloo_temperature=0.2,
        gloo_max_tokens=600,
        gloo_grounded_by_default=False,
    ) as (c, sim):
        await c.service.ask(Question(THREAD, "What is hope?"))
        [asked] = sim.completion_records
    assert asked.body is not None
    assert asked.body["tradition"] == "evangelical"
    assert (asked.body["temperature"], asked.body["max_tokens"]) == (0.2, 600)
