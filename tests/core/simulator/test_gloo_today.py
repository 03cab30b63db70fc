"""The simulator speaks Gloo's shapes as published today (issue 11): both V2 route forms,
item_url citations (and the older variant), the model registry, a stream without chat_id,
and the spending-limit and guardrail refusals.

Sources: GlooDeveloper/gloo-ai-docs-cookbook completions-grounded recipes (the documented
``/ai/v2/chat/completions/grounded`` and the newer ``/ai/v2/grounded/chat/completions`` /
``/ai/v2/guarded/chat/completions``); docs.gloo.com Grounded Completions reference;
glooai/typescript-example canary/src/fixtures/v2-models.ts (``GET /platform/v2/models``
without auth: ``{"data": [{id, family, name, output_modalities}]}``); docs.gloo.com Errors
(429 = "request rate or spending limit").
"""

from __future__ import annotations

import pytest

from core.simulator import SimulatorConfig
from core.simulator.config import V2Routes
from tests.core.simulator.conftest import HarnessFactory
from tests.core.simulator.support import Harness
from tests.core.simulator.test_completions import complete, complete_stream, user

DOCUMENTED = "/ai/v2/chat/completions"
DOCUMENTED_GROUNDED = "/ai/v2/chat/completions/grounded"
GUARDED = "/ai/v2/guarded/chat/completions"
GROUNDED_NEWER = "/ai/v2/grounded/chat/completions"


@pytest.mark.parametrize(
    ("routes", "answering", "missing"),
    [
        ("both", {DOCUMENTED, DOCUMENTED_GROUNDED, GUARDED, GROUNDED_NEWER}, set()),
        ("documented", {DOCUMENTED, DOCUMENTED_GROUNDED}, {GUARDED, GROUNDED_NEWER}),
        ("newer", {GUARDED, GROUNDED_NEWER}, {DOCUMENTED, DOCUMENTED_GROUNDED}),
    ],
)
async def test_which_v2_route_forms_answer(
    make_harness: HarnessFactory, routes: V2Routes, answering: set[str], missing: set[str]
) -> None:
    harness = await make_harness(SimulatorConfig(v2_routes=routes))
    for path in answering:
        assert (await complete(harness, [user("What is grace?")], path=path)).status_code == 200
    for path in missing:
        assert (await complete(harness, [user("What is grace?")], path=path)).status_code == 404


async def test_newer_grounded_route_grounds_like_the_documented_one(harness: Harness) -> None:
    body = (
        await complete(
            harness, [user("What is hope?")], path=GROUNDED_NEWER, include_citations=True
        )
    ).json()
    assert body["sources_returned"] is True
    assert all(c["item_url"].startswith("https://") for c in body["citations"])


async def test_the_legacy_citation_variant(make_harness: HarnessFactory) -> None:
    harness = await make_harness(SimulatorConfig(citation_style="legacy"))
    events, _ = await complete_stream(
        harness, [user("What is hope?")], path=DOCUMENTED_GROUNDED, include_citations=True
    )
    citations = events[0]["citations"]
    assert all(c["url"].startswith("https://") and c["title"] for c in citations)
    assert all("item_url" not in c for c in citations)


async def test_the_model_registry_answers_without_auth(harness: Harness) -> None:
    response = await harness.client.get("/platform/v2/models")
    assert response.status_code == 200
    entries = response.json()["data"]
    assert {"id", "family", "name", "output_modalities"} <= set(entries[0])
    assert harness.simulator.config.model in {entry["id"] for entry in entries}


async def test_a_message_stream_can_carry_no_chat_id(make_harness: HarnessFactory) -> None:
    harness = await make_harness(SimulatorConfig(stream_chat_id=False))
    streamed = await harness.ask_stream("What is grace?")
    assert streamed.status == 200
    assert streamed.events
    assert all("chat_id" not in event for event in streamed.events)
    plain = (await harness.ask("What is grace?")).json()
    assert plain["chat_id"]  # the non-streamed answer still names its chat


async def test_spending_limit_and_guardrail_faults(harness: Harness) -> None:
    harness.simulator.inject("usage_limit", "blocked")
    limited = await complete(harness, [user("Q")], path=DOCUMENTED)
    assert limited.status_code == 429
    assert "Spending limit" in limited.json()["error"]
    assert "retry-after" not in limited.headers
    blocked = await harness.ask("Q")
    assert blocked.status_code == 403
    assert "blocked" in blocked.json()["detail"]


async def test_config_rejects_unknown_route_and_citation_modes() -> None:
    with pytest.raises(ValueError, match="v2_routes"):
        SimulatorConfig(v2_routes="all")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="citation_style"):
        SimulatorConfig(citation_style="fancy")  # type: ignore[arg-type]
    assert SimulatorConfig.from_mapping({"stream_chat_id": "false"}).stream_chat_id is False
