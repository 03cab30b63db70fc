"""gloo-bots doctor on Gloo as it is today: which V2 routes answer, the model against Gloo's
registry, and --probe's report of the wire format.

Sources: docs.gloo.com Grounded Completions reference ("An explicit empty messages array is
invalid and returns 400": the route probe sends exactly that, so nothing is generated);
glooai/typescript-example canary/src/fixtures/v2-models.ts (``GET /platform/v2/models``,
"unauthenticated", ``{"data": [{id, family, name, ...}]}``); docs.gloo.com Completions
streaming tutorial (the SSE example below).
"""

from __future__ import annotations

import io
from typing import Any

from core.doctor import describe_wire, run_doctor
from core.settings import Settings
from core.simulator import Simulator, SimulatorConfig, SimulatorTransport
from core.store.migrate import upgrade
from tests.harness import settings_for_tests, unwrapped

# The docs' Completions streaming tutorial: "Each token arrives as a line formatted
# data: <json>, with blank lines separating events" and no [DONE].
TUTORIAL_STREAM = [
    'data: {"choices":[{"delta":{"content":"The"},"finish_reason":null}]}',
    "",
    'data: {"choices":[{"delta":{"content":" resurrection"},"finish_reason":null}]}',
    "",
    'data: {"choices":[{"delta":{"content":" is"},"finish_reason":null}]}',
    "",
    'data: {"choices":[{"delta":{"content":"..."},"finish_reason":"stop"}]}',
    "",
]


async def doctor(settings: Settings, sim: Simulator, *, probe: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_doctor(settings, [], out=out, transport=SimulatorTransport(sim), probe=probe)
    return code, unwrapped(out.getvalue())


def v2_settings(sqlite_url: str, **values: Any) -> Settings:
    return settings_for_tests(
        database_url=sqlite_url,
        gloo_backend="completions",
        gloo_api_url="http://gloo.test",
        gloo_client_id="bot",
        gloo_client_secret="secret",
        **values,
    )


async def test_the_routes_the_account_answers_are_reported(sqlite_url: str) -> None:
    await upgrade(sqlite_url)
    code, out = await doctor(v2_settings(sqlite_url), Simulator(SimulatorConfig()))
    assert code == 0, out
    assert (
        "[  ok] Gloo routes: completions: /ai/v2/chat/completions answers (400), "
        "/ai/v2/guarded/chat/completions answers (400)"
    ) in out
    assert "[  ok] Gloo routes: grounded: /ai/v2/chat/completions/grounded answers (400)" in out


async def test_a_route_only_in_its_newer_form_is_a_warning_with_the_setting(
    sqlite_url: str,
) -> None:
    await upgrade(sqlite_url)
    sim = Simulator(SimulatorConfig(v2_routes="newer"))
    code, out = await doctor(v2_settings(sqlite_url), sim)
    assert code == 0, out
    assert (
        "[WARN] Gloo routes: grounded: /ai/v2/chat/completions/grounded does not answer (404), "
        "/ai/v2/grounded/chat/completions answers (400); the bot falls back to "
        "/ai/v2/grounded/chat/completions"
    ) in out
    assert "-> Set GLOO_GROUNDED_PATH=/ai/v2/grounded/chat/completions" in out
    # The probes generated nothing: every one was refused (400) or found no route (404).
    assert {r.status for r in sim.completion_records} == {400, 404}


async def test_the_model_is_checked_against_gloos_registry(sqlite_url: str) -> None:
    await upgrade(sqlite_url)
    sim = Simulator(SimulatorConfig())
    code, out = await doctor(
        v2_settings(sqlite_url, gloo_completions_model="gloo-openai-gpt-5-mini"), sim
    )
    assert code == 0, out
    assert "GLOO_COMPLETIONS_MODEL gloo-openai-gpt-5-mini is in Gloo's registry" in out
    code, out = await doctor(v2_settings(sqlite_url, gloo_completions_model="gpt-9-ultra"), sim)
    assert code == 1
    assert "[FAIL] Gloo model: GLOO_COMPLETIONS_MODEL gpt-9-ultra is not in" in out
    assert "or unset it for Gloo's automatic routing" in out


async def test_probe_prints_the_wire_format_of_a_plain_and_a_streamed_answer(
    sqlite_url: str,
) -> None:
    await upgrade(sqlite_url)
    settings = settings_for_tests(
        database_url=sqlite_url,
        gloo_backend="message",
        gloo_api_url="http://gloo.test",
        gloo_client_id="bot",
        gloo_client_secret="secret",
    )
    sim = Simulator(SimulatorConfig(stream_chat_id=False))
    code, out = await doctor(settings, sim, probe=True)
    assert code == 0, out
    plain, streamed = out.split("Probe: http://gloo.test/ai/v1/message stream=")[1:]
    assert "format: one JSON document, 1 event(s)" in plain
    assert "chat_id: in event(s) 1" in plain
    assert "suggestions: in event(s) 1" in plain
    assert "content-type: text/event-stream" in streamed
    assert "ends with [DONE]" in streamed
    assert "text: delta" in streamed
    assert "chat_id: absent" in streamed  # what an operator would report to us


def test_describe_wire_reads_the_documented_v2_stream() -> None:
    report = describe_wire("text/event-stream", TUTORIAL_STREAM)
    assert report[1] == "format: SSE, 4 event(s)"
    assert report[2] == "text: delta (4 pieces)"
    assert "chat_id: absent" in report


def test_describe_wire_tells_cumulative_ndjson() -> None:
    lines = ['{"chat_id": "c1", "message": "Gr"}', '{"message": "Grace"}', '{"message": "Grace!"}']
    report = describe_wire("application/x-ndjson", lines)
    assert report[1] == "format: NDJSON, 3 event(s)"
    assert report[2] == "text: cumulative (3 pieces)"
    assert "chat_id: in event(s) 1" in report
